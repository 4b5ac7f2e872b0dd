package bot_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
	"starsbot/ton"
)

const (
	token       = "123456:TEST-secret-token_abcdefghijklmnop"
	depositAddr = "UQBFJTkJ5hZdH7i6rWQTnm43zn6h2dPBV9lFZ2e98WvWABy_"
	publicURL   = "https://api.example.test"
	testRate    = shop.MicroUSD(3_590_000) // 3.59 USD/TON: 100 stars cost 0.417827299 TON, 0.418 at PRICE_STEP_TON 0.001
	price100    = shop.NanoTON(418_000_000)
	adminID     = int64(9)
)

var (
	alice  = bottest.User{ID: 1001, Username: "alice_buyer", FirstName: "Alice", LanguageCode: "en"}
	ivan   = bottest.User{ID: 1002, Username: "ivan_petrov", FirstName: "Иван", LanguageCode: "ru"}
	nobody = bottest.User{ID: 1003, FirstName: "Nobody", LanguageCode: "en-GB"}
	owner  = bottest.User{ID: adminID, Username: "shop_owner", FirstName: "Owner", LanguageCode: "en"}
)

// env is the real bot on a real service and bbolt store, talking to the
// fake Bot API.
type env struct {
	t     *testing.T
	fake  *bottest.Server
	svc   *shop.Service
	db    *store.DB
	shop  bot.Shop // what the bot is given; svc unless a test wraps it
	state *bottest.MemState
	clock *shoptest.Clock

	logMu     sync.Mutex
	logs      bytes.Buffer
	logChange chan struct{} // closed and replaced at every write; nil until waited on

	sleepMu sync.Mutex
	slept   []time.Duration

	cur  atomic.Pointer[bot.Bot]
	stop func()
	txn  atomic.Int64

	// The sandbox's chain, deposit watcher and fulfillment worker, the
	// same code main runs; tests drive them step by step.
	sim     *ton.SimChain
	watcher *ton.Watcher
	worker  *fulfillment.Worker
	rest    *httptest.Server // the partner REST API over the same shop, when a test needs it

	// wallet, when set before the bot starts, is the hot wallet's balance
	// the admin screens show.
	wallet func(context.Context) (shop.NanoTON, error)
	notice func() string // the provider's notice for /stats; nil: none

	backupDir string // where /backup stages its snapshot
}

// alertBot hands alerts to whichever bot is running, as main wires the
// bot into the worker and the alarms.
type alertBot struct{ e *env }

func (a alertBot) Alert(ctx context.Context, al shop.Alert) {
	if b := a.e.cur.Load(); b != nil {
		b.Alert(ctx, al)
	}
}

type lockedWriter struct{ e *env }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.e.logMu.Lock()
	defer w.e.logMu.Unlock()
	if w.e.logChange != nil {
		close(w.e.logChange)
		w.e.logChange = nil
	}
	return w.e.logs.Write(p)
}

// waitLog waits until the log contains substr at least n times, woken by
// each write, and fails the test after bottest.DefaultWait.
func (e *env) waitLog(substr string, n int) {
	e.t.Helper()
	deadline := time.NewTimer(bottest.DefaultWait)
	defer deadline.Stop()
	for {
		e.logMu.Lock()
		if strings.Count(e.logs.String(), substr) >= n {
			e.logMu.Unlock()
			return
		}
		if e.logChange == nil {
			e.logChange = make(chan struct{})
		}
		ch := e.logChange
		e.logMu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			e.t.Fatalf("the log never contained %q %d times:\n%s", substr, n, e.logText())
		}
	}
}

func (e *env) logText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.logs.String()
}

// newEnv builds the service and the fake server; wrap, if given, wraps the
// service the bot sees. The bot is started.
func newEnv(t *testing.T, wrap ...func(bot.Shop) bot.Shop) *env {
	t.Helper()
	s := shoptest.New(t, &shoptest.Options{Start: time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)})
	db, svc := s.DB, s.Service
	e := &env{t: t, state: &bottest.MemState{}, clock: s.Clock, backupDir: t.TempDir()}
	e.fake = bottest.New(t, token)
	e.fake.Now = e.clock.Now
	e.fake.Idle = e.idle
	logger := slog.New(slog.NewTextHandler(lockedWriter{e}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc.Logger = logger
	svc.Recipients = fulfillment.Sandbox{}
	svc.Subscribe(func(ev shop.Event) {
		if b := e.cur.Load(); b != nil {
			b.HandleEvent(ev)
		}
	})
	e.svc, e.shop, e.db = svc, svc, db
	e.sim = ton.NewSimChain(db, depositAddr)
	e.sim.Now = e.clock.Now
	e.watcher = must(ton.NewWatcher(ton.WatcherConfig{Chain: e.sim, Shop: svc, Account: depositAddr, FromStart: true, Now: e.clock.Now, Logger: logger}))
	e.worker = must(fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: svc, Provider: fulfillment.Sandbox{Delay: -1}, Name: "sandbox", Now: e.clock.Now, Logger: logger, Notifier: alertBot{e}}))
	for _, w := range wrap {
		e.shop = w(e.shop)
	}
	e.start()
	t.Cleanup(func() {
		e.stop()
		e.checkSecrets()
		e.checkButtonWidths()
		e.checkBotAPICalls()
	})
	return e
}

func (e *env) botConfig() bot.Config {
	return bot.Config{
		Shop:           e.shop,
		State:          e.state,
		Token:          token,
		APIURL:         e.fake.URL,
		PublicURL:      publicURL,
		Logger:         slog.New(slog.NewTextHandler(lockedWriter{e}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "bot"),
		Now:            e.clock.Now,
		PollTimeout:    time.Second,
		GlobalRate:     -1,
		ChatRate:       -1,
		Sleep:          e.sleep,
		Admins:         []int64{adminID},
		WalletBalance:  e.wallet,
		WatcherLag:     e.watcher.Lag,
		ProviderHealth: e.worker.Health,
		ProviderNotice: e.notice,
		ProviderQueue:  func() (int, time.Duration) { return e.worker.QueueStats() },
		Backup:         e.db.WriteTo,
		BackupDir:      e.backupDir,
		DefaultPricing: shop.DefaultPricing(),
	}
}

// start runs a new Bot, adjusted by configure; stop cancels it and checks
// that Run returns nil promptly.
func (e *env) start(configure ...func(*bot.Config)) *bot.Bot {
	cfg := e.botConfig()
	for _, c := range configure {
		c(&cfg)
	}
	b, err := bot.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	e.cur.Store(b)
	var once sync.Once
	e.stop = func() { once.Do(func() { e.stopRun(b, cancel, done) }) }
	return b
}

// stopRun cancels b's Run and checks that it returns nil promptly. It may
// run outside the test goroutine, so it reports with Errorf.
func (e *env) stopRun(b *bot.Bot, cancel func(), done chan error) {
	cancel()
	select {
	case err := <-done:
		if err != nil {
			e.t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		e.t.Errorf("Run did not return within 5s of cancel")
	}
	e.cur.CompareAndSwap(b, nil)
}

// restart stops the bot and starts a new one over the same store and
// state, as a process restart would, adjusted by configure.
func (e *env) restart(configure ...func(*bot.Config)) *bot.Bot {
	e.stop()
	return e.start(configure...)
}

// idle waits until the running bot is idle (bot.Bot.Idle): what it was
// handed has been processed and sent. With no bot running, nothing is
// sent.
func (e *env) idle(ctx context.Context) error {
	if b := e.cur.Load(); b != nil {
		return b.Idle(ctx)
	}
	return nil
}

// quiet returns the calls to chat after the ones already waited for, once
// the bot has fetched every update and is idle: a test asserts that
// nothing more is sent by checking that it is empty.
func (e *env) quiet(chat int64) []bottest.Call {
	e.t.Helper()
	return e.fake.Quiet(chat, e.idle)
}

func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.sleepMu.Lock()
	e.slept = append(e.slept, d)
	e.sleepMu.Unlock()
	return ctx.Err()
}

func (e *env) sleeps() []time.Duration {
	e.sleepMu.Lock()
	defer e.sleepMu.Unlock()
	return append([]time.Duration(nil), e.slept...)
}

// user returns the shop's record of u.
func (e *env) user(u bottest.User) *shop.User {
	e.t.Helper()
	got, err := e.svc.FindUser(context.Background(), u.ID)
	if err != nil {
		e.t.Fatalf("find user %d: %v", u.ID, err)
	}
	return got
}

// start sends /start and waits for the menu.
func (e *env) startChat(u bottest.User) bottest.Call {
	e.t.Helper()
	e.fake.Send(u, "/start")
	want := "Stars &amp; Premium"
	if u.LanguageCode == "ru" {
		want = "Звёзды и Telegram Premium"
	}
	return e.fake.Wait(u.ID, want)
}

// deposit sends amount with memo (default u's personal memo) on the
// simulated chain and lets the deposit watcher credit it, as in the
// sandbox; it returns the tx hash.
func (e *env) deposit(u bottest.User, memo string, amount shop.NanoTON) string {
	e.t.Helper()
	if memo == "" {
		memo = e.user(u).Memo
	}
	ctx := context.Background()
	hash, err := e.sim.Deposit(ctx, memo, amount, fmt.Sprintf("%064x", e.txn.Add(1)))
	if err != nil {
		e.t.Fatalf("simulated transfer: %v", err)
	}
	if _, err := e.watcher.Poll(ctx); err != nil {
		e.t.Fatalf("watcher: %v", err)
	}
	return hash
}

// deliver runs the fulfillment worker over the queue once.
func (e *env) deliver() {
	e.t.Helper()
	if _, err := e.worker.RunOnce(context.Background()); err != nil {
		e.t.Fatalf("worker: %v", err)
	}
}

// orders returns u's orders, newest first.
func (e *env) orders(u bottest.User) []*shop.Order {
	e.t.Helper()
	os, _, err := e.svc.FindOrders(context.Background(), shop.OrderFilter{UserID: u.ID, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return os
}

func (e *env) ledger(u bottest.User) []*shop.LedgerEntry {
	e.t.Helper()
	es, _, err := e.svc.Ledger(context.Background(), shop.LedgerFilter{UserID: u.ID, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

var fullKeyRE = regexp.MustCompile(`\b(?:osk|sk)_[A-Za-z0-9_-]{43}\b`)

// checkSecrets asserts that no call carries the bot token, that every full
// API key appears in exactly one outbound message (the one-time key
// message), and that neither reaches the logs.
func (e *env) checkSecrets() {
	logs := e.logText()
	if strings.Contains(logs, token) {
		e.t.Errorf("the bot token appears in the logs")
	}
	seen := map[string]int{}
	for _, c := range e.fake.Calls() {
		for k, v := range c.Params {
			if strings.Contains(v, token) {
				e.t.Errorf("call %s parameter %s contains the bot token", c.Method, k)
			}
		}
		inCall := map[string]bool{}
		for _, key := range fullKeyRE.FindAllString(c.Text, -1) {
			inCall[key] = true
		}
		for key := range inCall {
			seen[key]++
		}
	}
	for key, n := range seen {
		if n != 1 {
			e.t.Errorf("full API key %s… appears in %d messages, want only the one-time key message", key[:8], n)
		}
		if strings.Contains(logs, key) {
			e.t.Errorf("full API key %s… appears in the logs", key[:8])
		}
	}
}

// assertKeyboardData checks every callback button the bot ever sent.
func (e *env) assertKeyboardData() {
	e.t.Helper()
	for _, c := range e.fake.Calls() {
		for _, row := range c.Keyboard {
			for _, b := range row {
				if b.URL == "" && (len(b.Data) == 0 || len(b.Data) > bot.MaxCallbackData) {
					e.t.Errorf("button %q has %d bytes of callback data", b.Text, len(b.Data))
				}
			}
		}
	}
}

// must returns v, panicking on err: for constructors that fail only on a
// missing required field, which is a mistake in the test.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// tonIn is n as the bot shows it to u: a decimal comma in Russian (for
// amounts below 10 000, which need no digit groups).
func tonIn(u bottest.User, n shop.NanoTON) string {
	if u.LanguageCode == "ru" {
		return strings.Replace(n.String(), ".", ",", 1)
	}
	return n.String()
}

// checkButtonWidths checks every button the bot sent against
// bot.MaxButtonRunes.
func (e *env) checkButtonWidths() {
	for _, c := range e.fake.Calls() {
		for _, row := range c.Keyboard {
			for _, b := range row {
				if n := utf8.RuneCountInString(b.Text); n > bot.MaxButtonRunes(len(row)) {
					e.t.Errorf("%s: button %q has %d characters, more than %d for a row of %d", c.Method, b.Text, n, bot.MaxButtonRunes(len(row)), len(row))
				}
			}
		}
	}
}
