package bot_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/shop"
	"starsbot/ton"
	"starsbot/ton/tontest"
)

// fakeTimers replaces Bot.AfterFunc: a test ends a batch window by firing
// the armed function instead of waiting.
type fakeTimers struct {
	mu    sync.Mutex
	waits []time.Duration
	fns   []func()
}

func (f *fakeTimers) AfterFunc(d time.Duration, fn func()) func() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := len(f.fns)
	f.waits = append(f.waits, d)
	f.fns = append(f.fns, fn)
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		armed := f.fns[i] != nil
		f.fns[i] = nil
		return armed
	}
}

// armed returns the waits of the timers armed so far.
func (f *fakeTimers) armed() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// fire runs every armed function that was not stopped.
func (f *fakeTimers) fire() {
	f.mu.Lock()
	var due []func()
	for i, fn := range f.fns {
		if fn != nil {
			due = append(due, fn)
			f.fns[i] = nil
		}
	}
	f.mu.Unlock()
	for _, fn := range due {
		fn()
	}
}

// batchBot restarts the env's bot with fake timers and a 1-minute batch
// window.
func batchBot(t *testing.T, e *env) *fakeTimers {
	t.Helper()
	timers := &fakeTimers{}
	e.restart(func(c *bot.Config) {
		c.AfterFunc = timers.AfterFunc
		c.AlertBatchWindow = time.Minute
	})
	return timers
}

func TestAlert_UnmatchedBatched(t *testing.T) {
	e := newEnv(t)
	timers := batchBot(t, e)

	// The first in a quiet period goes out at once, alone.
	e.deposit(alice, "first-unknown", shop.TON)
	first := e.fake.Wait(owner.ID, "Unmatched deposit")
	if plain := alertCheckHTML(t, first.Text); !strings.Contains(plain, `Deposit #1 of 1 TON`) || !strings.Contains(plain, `"first-unknown"`) {
		t.Errorf("first alert:\n%s", plain)
	}

	// Three more within the window wait for it to end.
	e.deposit(alice, "second\u202eunknown", 2*shop.TON) // a bidirectional override, from the chain
	e.deposit(alice, "third", 3*shop.TON)
	e.deposit(alice, "fourth", 4*shop.TON)
	alertWaitLog(t, e, "unmatched deposit alert batched", 3)
	alertExpectCount(t, e, owner.ID, "Unmatched deposit", 1)
	if got := timers.armed(); len(got) != 1 || got[0] != time.Minute {
		t.Fatalf("timers armed %v, want one of 1m", got)
	}

	e.clock.Advance(time.Minute)
	timers.fire()
	c := e.fake.Wait(owner.ID, "3 deposits")
	plain := alertCheckHTML(t, c.Text)
	for _, want := range []string{
		"3 deposits, 9 TON in total, match no user or order",
		"#2 · 2 TON · from ", "memo \"second\ufffdunknown\"",
		"#3 · 3 TON", `memo "third"`,
		"#4 · 4 TON", `memo "fourth"`,
		"/unmatched", "/assign <deposit> <user id or @username>",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("batched alert lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "more.") || strings.Contains(c.Text, "\u202e") {
		t.Errorf("batched alert:\n%s", plain)
	}

	// A quiet window later, the next one goes out at once again.
	e.clock.Advance(time.Minute)
	e.deposit(alice, "fifth", shop.TON)
	e.fake.Wait(owner.ID, "Deposit #5 of 1 TON")
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Unmatched deposit", 3)
	if got := timers.armed(); len(got) != 1 {
		t.Errorf("timers armed %v, want still one", got)
	}
}

// TestAlert_UnmatchedFixtures is the mainnet block through the
// real deposit watcher: the 27 real transactions plus 200 copies of the
// real 1-nanoTON spam message. With TON_MIN_DEPOSIT at 0.01 TON the dust
// alerts nobody, the 3 jetton notifications (none from our USDT jetton
// wallet: this watcher knows none) are rejected without an alert, and the
// 12 real transfers that match nothing (text comments, an empty body, an
// empty comment and excesses carrying TON) reach the admins in two
// messages: the first at once, the other 11 together when the window ends.
func TestAlert_UnmatchedFixtures(t *testing.T) {
	e := newEnv(t)
	timers := batchBot(t, e)
	e.svc.MinDeposit = 10_000_000
	chain := &tontest.Chain{}
	fs := tontest.Transactions(t, tontest.TransactionsPath)
	for _, f := range fs {
		chain.Add(f.Tx)
	}
	spam := tontest.Find(t, fs, "dust_1_nanoton_spam_a")
	for i := range 200 {
		chain.Add(tontest.Deliver(t, spam.In(t), uint64(1_000_000+i), time.Unix(spam.Now, 0)))
	}
	w := must(ton.NewWatcher(ton.WatcherConfig{Chain: chain, Shop: e.svc, Account: "fixtures", FromStart: true, Now: e.clock.Now, Logger: alertLogger(e)}))
	if n, err := w.Poll(context.Background()); err != nil || n != 227 {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	unmatched, err := e.svc.FindDeposits(context.Background(), shop.DepositUnmatched, 0, 0)
	if err != nil || len(unmatched) != 12 {
		t.Fatalf("%d unmatched deposits, %v; want 12", len(unmatched), err)
	}
	e.fake.Wait(owner.ID, "Unmatched deposit")
	alertWaitLog(t, e, "unmatched deposit alert batched", 11)
	e.clock.Advance(time.Minute)
	timers.fire()
	c := e.fake.Wait(owner.ID, "11 deposits")
	plain := alertCheckHTML(t, c.Text)
	if !strings.Contains(plain, "…and 1 more.") || strings.Count(plain, "\n#") != 10 {
		t.Errorf("batched alert lists not 10 and 1 more:\n%s", plain)
	}
	var total shop.NanoTON
	for _, d := range unmatched[:11] { // newest first; the oldest went out alone
		total += d.Amount
	}
	if want := fmt.Sprintf("11 deposits, %s TON in total", total); !strings.Contains(plain, want) {
		t.Errorf("batched alert lacks %q:\n%s", want, plain)
	}
	if strings.Contains(plain, "LiveFeed") {
		t.Errorf("dust in the alert:\n%s", plain)
	}
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Unmatched deposit", 2)

	// The admin screens: every unmatched one with what came instead of a
	// memo, and the dust on request.
	e.fake.Send(owner, "/unmatched")
	screen := alertCheckHTML(t, e.fake.Wait(owner.ID, "Unmatched deposits</b>").Text)
	for _, want := range []string{
		"memo boss", "memo Hi", "memo ميزو", "memo 100 Telegram Stars   Ref#bvq2qiNYM",
		"an empty comment", "no comment", "a message that is not a comment",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("/unmatched lacks %q:\n%s", want, screen)
		}
	}
	if n := strings.Count(screen, "\n#"); n != 12 {
		t.Errorf("/unmatched lists %d deposits, want 12:\n%s", n, screen)
	}
	e.fake.Send(owner, "/unmatched rejected")
	screen = alertCheckHTML(t, e.fake.Wait(owner.ID, "Rejected jettons</b>").Text)
	if n := strings.Count(screen, "\n#"); n != 3 || !strings.Contains(screen, "fake jetton: 432151000000 units from") || !strings.Contains(screen, "memo ton_drift - telegram") {
		t.Errorf("/unmatched rejected:\n%s", screen)
	}
	e.fake.Send(owner, "/unmatched dust")
	screen = alertCheckHTML(t, e.fake.Wait(owner.ID, "Dust</b>").Text)
	if !strings.Contains(screen, "205 transfers below the minimum deposit") || !strings.Contains(screen, "memo TG: @LiveFeed") {
		t.Errorf("/unmatched dust:\n%s", screen)
	}
	e.fake.Send(owner, "/stats")
	screen = alertCheckHTML(t, e.fake.Wait(owner.ID, "Shop statistics").Text)
	if !strings.Contains(screen, "Unmatched deposits: 12,") || !strings.Contains(screen, "Dust ignored (below the minimum deposit, not counted above): 205,") ||
		!strings.Contains(screen, "Fake jettons rejected (not counted above): 3") || !strings.Contains(screen, "USDT received: 0 deposits, 0 USDT") {
		t.Errorf("/stats:\n%s", screen)
	}
}

// TestAlert_UnmatchedAtShutdown: a batch still waiting for its window when
// the bot stops is sent on the way out, not dropped.
func TestAlert_UnmatchedAtShutdown(t *testing.T) {
	e := newEnv(t)
	batchBot(t, e)
	e.deposit(alice, "one", shop.TON)
	e.fake.Wait(owner.ID, "Deposit #1")
	e.deposit(alice, "two", shop.TON)
	e.deposit(alice, "three", shop.TON)
	alertWaitLog(t, e, "unmatched deposit alert batched", 2)
	e.stop()
	c := e.fake.Wait(owner.ID, "2 deposits")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, `memo "two"`) || !strings.Contains(plain, `memo "three"`) {
		t.Errorf("alert at shutdown:\n%s", plain)
	}
}

// TestAlert_UnmatchedNoMemo: a transfer without a text comment is alerted
// with what came instead.
func TestAlert_UnmatchedNoMemo(t *testing.T) {
	e := newEnv(t)
	bodies := tontest.Bodies(t, tontest.BodiesPath)
	chain := &tontest.Chain{}
	chain.Add(tontest.Deliver(t, tontest.Message(t, 2*shop.TON, bodies[0].Cell), 1000, e.clock.Now()))
	w := must(ton.NewWatcher(ton.WatcherConfig{Chain: chain, Shop: e.svc, Account: "fixtures", FromStart: true, Now: e.clock.Now}))
	if _, err := w.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := e.fake.Wait(owner.ID, "Unmatched deposit")
	plain := alertCheckHTML(t, c.Text)
	if !strings.Contains(plain, "Deposit #1 of 2 TON from EQ") || !strings.Contains(plain, "arrived with an encrypted comment, which the shop cannot read") {
		t.Errorf("alert:\n%s", plain)
	}
}

// TestAlert_UnmatchedBatchFits: however long the memos (each escapes to
// ten characters a rune), a batch is one message that keeps its end.
func TestAlert_UnmatchedBatchFits(t *testing.T) {
	e := newEnv(t)
	timers := batchBot(t, e)
	e.deposit(alice, "first", shop.TON)
	e.fake.Wait(owner.ID, "Deposit #1")
	for i := range 15 {
		e.deposit(alice, fmt.Sprint(i)+strings.Repeat("\U0010fffd", 200), shop.TON)
	}
	alertWaitLog(t, e, "unmatched deposit alert batched", 15)
	timers.fire()
	c := e.fake.Wait(owner.ID, "15 deposits")
	plain := alertCheckHTML(t, c.Text)
	listed := strings.Count(plain, "\n#")
	if listed < 1 || !strings.Contains(plain, fmt.Sprintf("…and %d more.", 15-listed)) || !strings.HasSuffix(plain, "<user id or @username>.") {
		t.Errorf("batch of long memos lost its end (%d listed):\n%s", listed, plain)
	}
	if n := len([]rune(plain)); n > 3000 {
		t.Errorf("alert of %d characters", n)
	}
}

// TestIdle checks the test seam the quiet checks stand on: Idle is not
// satisfied while an unmatched-deposit batch waits for its timer, returns
// only once the batch's message has been sent, and returns at once after
// Run, even with an event the stopped bot will never sort.
func TestIdle(t *testing.T) {
	e := newEnv(t)
	timers := batchBot(t, e)
	b := e.cur.Load()
	e.deposit(alice, "one", shop.TON)   // alerted at once
	e.deposit(alice, "two", 2*shop.TON) // batched: a timer is armed
	alertWaitLog(t, e, "unmatched deposit alert batched", 1)

	// With the timer armed the bot cannot become idle: a short deadline
	// only bounds how long the test waits for the error.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Idle(short); err == nil || !strings.Contains(err.Error(), "waiting for its timer: true") {
		t.Fatalf("Idle with a batch pending = %v, want an error naming it", err)
	}

	timers.fire()
	ctx, cancel := context.WithTimeout(context.Background(), bottest.DefaultWait)
	defer cancel()
	if err := b.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	// No wait: once idle, the batch's message has been sent.
	alertExpectCount(t, e, owner.ID, "Deposit #2 of 2 TON", 1)
	alertExpectCount(t, e, owner.ID, "Unmatched deposit", 2)

	e.stop()
	b.HandleEvent(shop.Event{Type: shop.EventDepositCredited, UserID: alice.ID, Amount: shop.TON})
	if err := b.Idle(ctx); err != nil {
		t.Fatalf("Idle after Run returned = %v", err)
	}
}
