package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/shop"
	"starsbot/store"
)

// notifyToken is the bot token of the notifier tests' fake Bot API.
const notifyToken = "123456789:AAnotifynotifynotifynotifynotify"

// startBot runs a bot of svc on the fake Bot API tg, as wire makes it,
// until ctx ends; it never polls (these tests send it no updates: the
// gate never opens). It returns the bot and a channel closed when Run has
// returned.
func startBot(t *testing.T, ctx context.Context, svc *shop.Service, state bot.StateStore, tg *bottest.Server) (*bot.Bot, <-chan struct{}) {
	t.Helper()
	b, err := bot.New(bot.Config{Shop: svc, State: state, Token: notifyToken, APIURL: tg.URL, Logger: slog.New(slog.DiscardHandler),
		PollGate: func(ctx context.Context) (context.Context, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	return b, done
}

// startNotifier runs a notifier of svc through b, as wire does on the
// leader (poked by every event svc emits), until ctx ends.
func startNotifier(t *testing.T, ctx context.Context, svc *shop.Service, b *bot.Bot) {
	t.Helper()
	n, err := shop.NewNotifier(shop.NotifierConfig{Shop: svc, Teller: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc.Subscribe(func(shop.Event) { n.Poke() })
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	t.Cleanup(func() { <-done })
	// A first run starts at the outbox's end: wait for it to be there,
	// so that what the test does next is after it (a busy machine may
	// run the goroutine late).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok, err := n.Saved(ctx); err != nil {
			t.Fatal(err)
		} else if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the notifier saved no cursor")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// creditNote is the text of the bot's notice of an admin credit of tons
// TON (each test credits distinct whole amounts, so that each notice is
// told apart).
func creditNote(tons int) string { return fmt.Sprintf("credited: +%d TON.", tons) }

// told counts the messages to chat that contain text, on every server.
func told(chat int64, text string, servers ...*bottest.Server) int {
	n := 0
	for _, s := range servers {
		for _, m := range s.Messages(chat) {
			if strings.Contains(m.Text, text) {
				n++
			}
		}
	}
	return n
}

// waitTold waits (up to 15 s) until chat has had a message containing
// each of texts, on any of servers; it fails the test otherwise.
func waitTold(t *testing.T, chat int64, texts []string, servers ...*bottest.Server) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, text := range texts {
		for told(chat, text, servers...) == 0 {
			if time.Now().After(deadline) {
				var all []string
				for _, s := range servers {
					for _, m := range s.Messages(chat) {
						all = append(all, m.Text)
					}
				}
				t.Fatalf("chat %d was never told %q; its messages: %q", chat, text, all)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// toldOnce checks that chat was told each of texts exactly once, over
// all servers.
func toldOnce(t *testing.T, chat int64, texts []string, servers ...*bottest.Server) {
	t.Helper()
	for _, text := range texts {
		if n := told(chat, text, servers...); n != 1 {
			t.Errorf("chat %d was told %q %d times, want once", chat, text, n)
		}
	}
}

// boltProcess is one run of the shop on a bbolt file, as wire makes it
// with a bot: the one process always leads (alwaysLeader), and its
// notifier runs as the leader's singleton, poked by every event.
type boltProcess struct {
	svc    *shop.Service
	bot    *bot.Bot
	n      *shop.Notifier
	cancel context.CancelFunc
	wg     sync.WaitGroup
	db     *store.DB
}

// startBoltProcess opens path and runs the bot and the notifier as wire
// does.
func startBoltProcess(t *testing.T, path string, tg *bottest.Server) *boltProcess {
	t.Helper()
	db, svc := openBolt(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	p := &boltProcess{svc: svc, cancel: cancel, db: db}
	b, botDone := startBot(t, ctx, svc, db, tg)
	n, err := shop.NewNotifier(shop.NotifierConfig{Shop: svc, Teller: b, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc.Subscribe(func(shop.Event) { n.Poke() })
	p.bot, p.n = b, n
	p.wg.Go(func() { <-botDone })
	p.wg.Go(func() {
		_ = runWhileLeader(ctx, alwaysLeader{}, slog.New(slog.DiscardHandler), "buyer notifier", n.Run)
	})
	return p
}

// openBolt opens the store at path and a service on it.
func openBolt(t *testing.T, path string) (*store.DB, *shop.Service) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return db, newQuietService(t, db)
}

// waitCursor waits (up to 10 s) until n's cursor is in the store: its
// first run has placed it (at the outbox's end), and every later event is
// told.
func waitCursor(t *testing.T, n *shop.Notifier) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, ok, err := n.Saved(context.Background())
		if err != nil {
			t.Fatal(err)
		} else if ok {
			return
		} else if time.Now().After(deadline) {
			t.Fatal("the notifier saved no cursor within 10 s")
		}
	}
}

// stop stops the process — its notifier finishes the page in hand and
// saves its cursor — and closes its store after the invariant check.
func (p *boltProcess) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	p.wg.Wait()
	closeBolt(t, p.db)
}

func closeBolt(t *testing.T, db *store.DB) {
	t.Helper()
	if err := db.Check(context.Background()); err != nil {
		t.Errorf("check: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// credit credits user tons TON as an admin.
func credit(t *testing.T, svc *shop.Service, user int64, tons int) {
	t.Helper()
	if _, err := svc.AdminCredit(context.Background(), 1, user, shop.NanoTON(tons)*shop.TON, "notifier test"); err != nil {
		t.Fatal(err)
	}
}

// TestNotifier_Bolt_OnceAcrossRestarts (the bbolt path, one process):
// each credit is told exactly once — while the process runs; after the
// process stopped between a commit and its message (the commit made with
// no notifier running: the next start tells it, from the stored cursor);
// and across clean restarts (nothing told again).
func TestNotifier_Bolt_OnceAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starsbot.db")
	tg := bottest.New(t, notifyToken)
	const buyer = 7_100_001
	ctx := context.Background()

	p := startBoltProcess(t, path, tg)
	if _, err := p.svc.EnsureUser(ctx, shop.UserUpdate{ID: buyer, Username: "bolt_buyer", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	waitCursor(t, p.n)
	credit(t, p.svc, buyer, 1)
	credit(t, p.svc, buyer, 2)
	waitTold(t, buyer, []string{creditNote(1), creditNote(2)}, tg)
	p.stop(t)

	// Committed, and the process gone before anything told it.
	db, svc := openBolt(t, path)
	credit(t, svc, buyer, 3)
	closeBolt(t, db)

	p = startBoltProcess(t, path, tg)
	waitTold(t, buyer, []string{creditNote(3)}, tg)
	credit(t, p.svc, buyer, 4)
	waitTold(t, buyer, []string{creditNote(4)}, tg)
	p.stop(t)

	p = startBoltProcess(t, path, tg)
	credit(t, p.svc, buyer, 5)
	waitTold(t, buyer, []string{creditNote(5)}, tg)
	if err := p.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	toldOnce(t, buyer, []string{creditNote(1), creditNote(2), creditNote(3), creditNote(4), creditNote(5)}, tg)
	if v := tg.Violations(); len(v) > 0 {
		t.Errorf("Bot API violations: %v", v)
	}
}

// TestNotifier_Bolt_FirstStart: on a store with events but no notifier
// cursor (one made before the notifier existed), the notifier starts at
// the outbox's end: the old events are not told, the next ones are.
func TestNotifier_Bolt_FirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starsbot.db")
	tg := bottest.New(t, notifyToken)
	const buyer = 7_200_001
	ctx := context.Background()
	db, svc := openBolt(t, path)
	if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: buyer, Username: "first_buyer", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	credit(t, svc, buyer, 1)
	closeBolt(t, db)

	p := startBoltProcess(t, path, tg)
	waitCursor(t, p.n)
	credit(t, p.svc, buyer, 2)
	waitTold(t, buyer, []string{creditNote(2)}, tg)
	if err := p.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	if n := told(buyer, creditNote(1), tg); n != 0 {
		t.Errorf("a credit from before the first start was told %d times", n)
	}
	toldOnce(t, buyer, []string{creditNote(2)}, tg)
}

// TestNotifier_Bolt_SkipsOldEvents: an event older than a day when the
// notifier reads it (the shop was down that long) is skipped, not told; a
// recent one after it is told.
func TestNotifier_Bolt_SkipsOldEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starsbot.db")
	tg := bottest.New(t, notifyToken)
	const buyer = 7_250_001
	ctx := context.Background()
	p := startBoltProcess(t, path, tg)
	if _, err := p.svc.EnsureUser(ctx, shop.UserUpdate{ID: buyer, Username: "late_buyer", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	waitCursor(t, p.n)
	p.stop(t)

	db, svc := openBolt(t, path)
	svc.Now = func() time.Time { return time.Now().Add(-shop.DefaultNotifyMaxAge - time.Hour) }
	credit(t, svc, buyer, 1)
	svc.Now = time.Now
	credit(t, svc, buyer, 2)
	closeBolt(t, db)

	p = startBoltProcess(t, path, tg)
	waitTold(t, buyer, []string{creditNote(2)}, tg)
	if err := p.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	if n := told(buyer, creditNote(1), tg); n != 0 {
		t.Errorf("a credit older than a day was told %d times", n)
	}
	toldOnce(t, buyer, []string{creditNote(2)}, tg)
}
