package bot_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"starsbot/bot"
	"starsbot/shop"
)

// panicky panics inside a handler with a value that is neither an error
// nor a string (telebot's own Recover middleware would miss it).
type panicky struct{ bot.Shop }

type weird struct{ n int }

func (panicky) Ledger(context.Context, shop.LedgerFilter) ([]*shop.LedgerEntry, uint64, error) {
	panic(weird{42})
}

func TestPanicInHandler_Recovered(t *testing.T) {
	e := newEnv(t, func(s bot.Shop) bot.Shop { return panicky{s} })
	e.startChat(alice)
	e.fake.Press(alice, "Balance") // answered despite the panic
	e.fake.Wait(alice.ID, "Something went wrong")
	if !strings.Contains(e.logText(), "telegram handler panicked") || !strings.Contains(e.logText(), "{42}") {
		t.Errorf("panic not logged:\n%s", e.logText())
	}
	e.startChat(alice) // the bot still works
}

func TestFloodControl_RetryAfterHonoured(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext("sendMessage", 3)
	e.startChat(alice)
	if got := len(e.fake.CallsTo("sendMessage")); got != 2 {
		t.Errorf("%d sendMessage calls, want a 429 and a retry", got)
	}
	found := false
	for _, d := range e.sleeps() {
		found = found || d == 3*time.Second
	}
	if !found {
		t.Errorf("slept %v, want a 3s flood wait", e.sleeps())
	}

	// A retry_after beyond MaxRetryAfter drops the message instead of
	// stalling the chat for an hour.
	e.fake.FailNext("sendMessage", 3600)
	e.fake.Send(alice, "/help")
	e.fake.Send(alice, "/help")
	// A chat's updates are handled in order: once the second is answered,
	// the first has been dealt with.
	e.fake.Wait(alice.ID, "How it works")
	sent := 0
	for _, c := range e.fake.CallsTo("sendMessage") {
		if c.Status == 200 && strings.Contains(c.Text, "How it works") {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("%d help messages sent, want only the second: the first waited out a 1h flood wait", sent)
	}
	for _, d := range e.sleeps() {
		if d >= time.Hour {
			t.Errorf("slept %s", d)
		}
	}
}

// blocking holds Ledger until released, to stop the bot mid-handler.
type blocking struct {
	bot.Shop
	entered chan struct{}
	release chan struct{}
}

func (s blocking) Ledger(ctx context.Context, f shop.LedgerFilter) ([]*shop.LedgerEntry, uint64, error) {
	s.entered <- struct{}{}
	<-s.release
	return s.Shop.Ledger(ctx, f)
}

func TestRun_DrainsInFlightUpdate(t *testing.T) {
	bl := blocking{entered: make(chan struct{}, 1), release: make(chan struct{})}
	e := newEnv(t, func(s bot.Shop) bot.Shop { bl.Shop = s; return bl })
	e.startChat(alice)
	m, b, _ := e.fake.FindButton(alice.ID, "Balance")
	id := e.fake.Callback(alice, alice.ID, m.ID, b.Data)
	<-bl.entered
	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	e.waitLog("telegram bot stopping", 1) // Run has seen the cancel and is draining
	select {
	case <-stopped:
		t.Fatal("Run returned with a handler in flight")
	default:
	}
	close(bl.release)
	<-stopped
	e.fake.WaitAnswer(id)
	e.fake.Wait(alice.ID, "Balance: 0 TON")
}

// evil returns hostile text where the service would return data from
// outside (a provider's reason) or stored data (a memo).
type evil struct{ bot.Shop }

const evilMemo = `<b>AP&1"'</b>`

func (s evil) EnsureUser(ctx context.Context, u shop.UserUpdate) (*shop.User, error) {
	user, err := s.Shop.EnsureUser(ctx, u)
	if err != nil {
		return nil, err
	}
	cp := *user
	cp.Memo = evilMemo
	return &cp, nil
}

func (s evil) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	return &shop.RecipientCheck{Username: username, CanReceive: false, Reason: `<script>alert("x")</script> & <i>co`}, nil
}

func TestHTMLEscaping(t *testing.T) {
	e := newEnv(t, func(s bot.Shop) bot.Shop { return evil{s} })
	e.startChat(alice)
	e.fake.Press(alice, "Balance")
	c := e.fake.Wait(alice.ID, "Balance: 0 TON")
	if !strings.Contains(c.Text, "&lt;b&gt;AP&amp;1&#34;&#39;&lt;/b&gt;") {
		t.Errorf("memo not escaped:\n%s", c.Text)
	}
	_, b, _ := e.fake.FindButton(alice.ID, "Tonkeeper")
	if !strings.HasSuffix(b.URL, "?text=%3Cb%3EAP%261%22%27%3C%2Fb%3E") {
		t.Errorf("Tonkeeper URL = %s", b.URL)
	}
	e.fake.Press(alice, "Menu")
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Someone else")
	e.fake.Send(alice, "@someone_x")
	r := e.fake.Wait(alice.ID, "cannot receive Stars")
	if !strings.Contains(r.Text, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;i&gt;co") {
		t.Errorf("reason not escaped:\n%s", r.Text)
	}
	e.fake.Send(alice, "/api")
	e.fake.Wait(alice.ID, "Partner API")
	e.fake.Press(alice, "Create an orders API key")
	e.fake.Wait(alice.ID, "Your new osk_ API key")
	// The fake server rejects (and fails the test on) malformed HTML.
}

func TestTokenNeverLogged(t *testing.T) {
	dead := httptest.NewServer(nil)
	dead.Close() // every call fails with a URL error that quotes the token
	e := &env{t: t}
	logger := slog.New(slog.NewTextHandler(lockedWriter{e}, nil))
	if _, err := bot.New(bot.Config{Shop: &shop.Service{}, State: nil, Token: token, APIURL: dead.URL, Logger: logger}); err == nil || !strings.Contains(err.Error(), "State is required") {
		t.Fatalf("New without State = %v", err)
	}
	b, err := bot.New(bot.Config{Shop: &shop.Service{}, State: nopState{}, Token: token, APIURL: dead.URL, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	e.waitLog("getMe failed", 1)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	logs := e.logText()
	if !strings.Contains(logs, "getMe failed") || !strings.Contains(logs, "<token>") {
		t.Errorf("logs:\n%s", logs)
	}
	if strings.Contains(logs, token) {
		t.Errorf("token logged:\n%s", logs)
	}
	if err := b.Run(context.Background()); err == nil {
		t.Errorf("second Run succeeded")
	}
}

type nopState struct{}

func (nopState) LoadChatState(context.Context, int64) ([]byte, error)       { return nil, nil }
func (nopState) SaveChatState(context.Context, int64, []byte) error         { return nil }
func (nopState) TakeChatState(context.Context, int64, []byte) (bool, error) { return false, nil }

// TestPoll_BacksOff checks that a failing getUpdates is retried after a
// 429's retry_after, then with a doubling back-off up to 30s (a 409: another
// process polls with the token), logged without the token, and that a
// success resets the back-off.
func TestPoll_BacksOff(t *testing.T) {
	e := newEnv(t)
	e.fake.FailNext("getUpdates", 7)
	e.fake.Conflict(3)
	// A poll already waiting may fetch the first /start; the second is
	// fetched after the failures.
	e.startChat(alice)
	e.startChat(alice)
	e.fake.Conflict(1)
	e.startChat(alice)
	e.startChat(alice)
	want := []time.Duration{7 * time.Second, 14 * time.Second, 28 * time.Second, 30 * time.Second, 500 * time.Millisecond}
	if got := e.sleeps(); !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	logs := e.logText()
	if n := strings.Count(logs, "telegram getUpdates failed"); n != 5 || !strings.Contains(logs, "Conflict: terminated by other getUpdates request") {
		t.Errorf("%d getUpdates failures logged:\n%s", n, logs)
	}
}

// TestRun_StopsLongPollAtOnce checks that Run does not wait for a long
// poll to run out when its context is done.
func TestRun_StopsLongPollAtOnce(t *testing.T) {
	e := newEnv(t)
	e.restart(func(c *bot.Config) { c.PollTimeout = time.Minute })
	e.startChat(alice)
	start := time.Now()
	e.stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %s to stop", d)
	}
	if n := e.fake.Pending(); n != 0 {
		t.Errorf("%d updates left unconfirmed", n)
	}
}

// TestBot_LastPoll: the bot reports when it last reached the Bot API
// (getMe, then each getUpdates) and whether its latest call failed, for
// the health probe.
func TestBot_LastPoll(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	sleeping := make(chan struct{}, 1)
	b := e.restart(func(c *bot.Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			sleeping <- struct{}{}
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	e.startChat(alice) // a successful poll
	if last, failing := b.LastPoll(); last.IsZero() || failing {
		t.Fatalf("after a successful poll: LastPoll = %v, %t", last, failing)
	}
	e.fake.Conflict(1)
	<-sleeping // a poll failed and backs off
	last, failing := b.LastPoll()
	if last.IsZero() || !failing {
		t.Errorf("while failing: LastPoll = %v, %t; want the last success, true", last, failing)
	}
	e.clock.Advance(time.Minute)
	close(release)
	e.startChat(alice)
	if got, failing := b.LastPoll(); !got.After(last) || failing {
		t.Errorf("after recovering: LastPoll = %v, %t", got, failing)
	}
}

// TestPoll_Gated: with a PollGate (a replica that polls only while it
// leads), the bot takes no update while the gate is shut, polls while it
// is open, stops when it closes (leadership lost) and resumes when it
// opens again, in the same Run.
func TestPoll_Gated(t *testing.T) {
	e := newEnv(t)
	asked := make(chan struct{}, 4)
	open := make(chan struct{})
	leads := make(chan context.CancelFunc, 4)
	e.restart(func(c *bot.Config) {
		c.PollGate = func(ctx context.Context) (context.Context, error) {
			asked <- struct{}{}
			select {
			case <-open:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			lctx, cancel := context.WithCancel(ctx)
			leads <- cancel
			return lctx, nil
		}
	})
	<-asked                  // Run is waiting to lead
	before := e.fake.Polls() // the earlier bot's, which has stopped
	e.fake.Send(alice, "/start")
	if n, p := e.fake.Polls()-before, e.fake.Pending(); n != 0 || p != 1 {
		t.Fatalf("gate shut: %d polls, %d pending updates; want 0 and 1", n, p)
	}
	open <- struct{}{}
	e.fake.Wait(alice.ID, "Stars &amp; Premium")
	(<-leads)() // leadership lost
	<-asked     // polling stopped; waiting to lead again
	e.fake.Send(alice, "/help")
	if p := e.fake.Pending(); p != 1 {
		t.Fatalf("gate shut again: %d pending updates, want 1", p)
	}
	polls := e.fake.Polls()
	open <- struct{}{}
	e.startChat(alice)
	if e.fake.Polls() <= polls {
		t.Error("no poll after the gate opened again")
	}
	e.stop()
	if p := e.fake.Pending(); p != 0 {
		t.Errorf("%d updates left unconfirmed", p)
	}
}
