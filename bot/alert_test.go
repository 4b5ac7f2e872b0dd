package bot_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/shop"
	"starsbot/ton"
)

// alertSent returns the messages successfully sent to chat whose text
// contains substr, oldest first. Alerts to one chat go out in the order
// they were raised, so once a later message has arrived, alertSent also
// covers every earlier one.
func alertSent(e *env, chat int64, substr string) []bottest.Call {
	var out []bottest.Call
	for _, c := range e.fake.CallsTo("sendMessage") {
		if c.ChatID == chat && c.Status == 200 && strings.Contains(c.Text, substr) {
			out = append(out, c)
		}
	}
	return out
}

// alertExpectCount fails the test unless exactly n messages containing
// substr were sent to chat.
func alertExpectCount(t *testing.T, e *env, chat int64, substr string, n int) {
	t.Helper()
	if got := alertSent(e, chat, substr); len(got) != n {
		var texts []string
		for _, c := range got {
			texts = append(texts, c.Text)
		}
		t.Errorf("%d messages containing %q in chat %d, want %d:\n%s", len(got), substr, chat, n, strings.Join(texts, "\n---\n"))
	}
}

// alertExpectQuiet fails the test if anything was sent to chat, beyond
// the messages already waited for, once the bot is idle.
func alertExpectQuiet(t *testing.T, e *env, chat int64) {
	t.Helper()
	for _, c := range e.quiet(chat) {
		t.Errorf("unexpected %s to chat %d: %q", c.Method, chat, c.Text)
	}
}

// alertWaitLog waits until the log contains substr n times.
func alertWaitLog(t *testing.T, e *env, substr string, n int) {
	t.Helper()
	e.waitLog(substr, n)
}

// alertLogger writes to the env's log, like the harness's loggers.
func alertLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{e}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// alertRunBot replaces the env's running bot with one whose Admins are
// admins, runs it until the test ends, and returns it.
func alertRunBot(t *testing.T, e *env, admins []int64) *bot.Bot {
	t.Helper()
	return e.restart(func(c *bot.Config) { c.Admins = admins })
}

// alertBuy creates a paid balance order in the bot for u.
func alertBuy(t *testing.T, e *env, u bottest.User, recipient string) *shop.Order {
	t.Helper()
	o, err := e.svc.CreateOrder(context.Background(), shop.CreateOrderRequest{
		UserID:        u.ID,
		Type:          shop.OrderStars,
		Stars:         100,
		Recipient:     recipient,
		PaymentMethod: shop.PayBalance,
		Source:        "bot",
	})
	if err != nil {
		t.Fatalf("create order: %v", err)
	}
	if o.Status != shop.StatusPaid {
		t.Fatalf("order %d is %s, want paid", o.ID, o.Status)
	}
	return o
}

// alertCheckHTML checks that text is valid Bot API HTML and returns what
// the admin sees.
func alertCheckHTML(t *testing.T, text string) string {
	t.Helper()
	plain, err := bottest.CheckHTML(text)
	if err != nil {
		t.Fatalf("alert is not valid HTML: %v\n%s", err, text)
	}
	return plain
}

func TestAlert_ManualNeeded(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", shop.TON)
	e.fake.Wait(alice.ID, "Deposit received")

	o := alertBuy(t, e, alice, fulfillment.SandboxManual)
	e.deliver()

	c := e.fake.Wait(owner.ID, "Manual delivery needed")
	plain := alertCheckHTML(t, c.Text)
	for _, want := range []string{
		fmt.Sprintf("Order %d needs manual delivery", o.ID),
		"100 Stars for @" + fulfillment.SandboxManual,
		"paid " + price100.String() + " TON",
		"the sandbox provider asks for manual delivery",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("alert lacks %q:\n%s", want, plain)
		}
	}
	var texts []string
	for _, row := range c.Keyboard {
		for _, b := range row {
			texts = append(texts, b.Text)
			if b.Data == "" || b.URL != "" {
				t.Errorf("button %q is not a callback button: %+v", b.Text, b)
			}
		}
	}
	id := fmt.Sprint(o.ID)
	if want := []string{"✅ #" + id + " delivered", "↩ Refund #" + id}; fmt.Sprint(texts) != fmt.Sprint(want) {
		t.Errorf("alert buttons = %q, want %q", texts, want)
	}
	if got, err := e.svc.FindOrder(context.Background(), 0, o.ID); err != nil || got.Status != shop.StatusManual {
		t.Fatalf("order after delivery: %+v, %v", got, err)
	}

	// The order is held: another pass of the worker does nothing, and no
	// second alert goes out.
	e.deliver()
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Manual delivery needed", 1)

	// The buyer is told her order waits, in her words, but never sees the
	// admin alert or its buttons.
	e.fake.Wait(alice.ID, "needs a manual step")
	for _, call := range e.fake.Calls() {
		if call.ChatID != alice.ID {
			continue
		}
		if strings.Contains(call.Text, "Manual delivery needed") || strings.Contains(call.Text, "needs manual delivery") {
			t.Errorf("alice was sent the admin alert: %q", call.Text)
		}
		for _, row := range call.Keyboard {
			for _, b := range row {
				if strings.Contains(b.Text, "delivered") || strings.Contains(b.Text, "Refund #") {
					t.Errorf("alice was sent an admin button %q", b.Text)
				}
			}
		}
	}

	// The alert's button leads to the admin's confirmation.
	e.fake.Press(owner, "#"+id+" delivered")
	e.fake.Wait(owner.ID, "Mark order #"+id+" delivered?")
	e.assertKeyboardData()
}

// alertProvider is a scripted provider: unhealthy or working, as the test
// says.
type alertProvider struct {
	mu        sync.Mutex
	unhealthy bool
	calls     int
}

func (p *alertProvider) set(unhealthy bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.unhealthy = unhealthy
}

func (p *alertProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func (p *alertProvider) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	return &shop.RecipientCheck{Username: username, CanReceive: true}, nil
}

func (p *alertProvider) Deliver(ctx context.Context, job *fulfillment.Job) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.unhealthy {
		return "", fulfillment.Errorf(fulfillment.Unhealthy, "session expired <login again> & retry")
	}
	return fmt.Sprintf("ref-%d", job.Order.ID), nil
}

func TestAlert_ProviderUnhealthy(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", 10*shop.TON)
	p := &alertProvider{unhealthy: true}
	const pause = 15 * time.Minute
	w := must(fulfillment.NewWorker(fulfillment.WorkerConfig{
		Shop: e.svc, Provider: p, Name: "fragment", Now: e.clock.Now,
		Logger: alertLogger(e), Notifier: alertBot{e}, PauseFor: pause,
	}))
	// deliver buys once and runs the worker, and waits for the order's
	// manual alert (which follows any provider alert of that pass).
	deliver := func() *shop.Order {
		t.Helper()
		o := alertBuy(t, e, alice, "friend_of_alice")
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatalf("worker: %v", err)
		}
		return o
	}
	waitManual := func(o *shop.Order) {
		t.Helper()
		e.fake.Wait(owner.ID, fmt.Sprintf("Order %d needs manual delivery", o.ID))
	}

	// The first unhealthy answer: one alert, then the order's manual alert.
	o := deliver()
	c := e.fake.Wait(owner.ID, "Provider unhealthy")
	plain := alertCheckHTML(t, c.Text)
	if !strings.Contains(plain, "The fragment provider is unhealthy") || !strings.Contains(plain, "session expired <login again> & retry") {
		t.Errorf("unhealthy alert:\n%s", plain)
	}
	if len(c.Keyboard) != 0 {
		t.Errorf("unhealthy alert has buttons: %v", c.Keyboard)
	}
	waitManual(o)
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 1)

	// More unhealthy answers within the hour (each after the worker's
	// pause has run out, so the worker raises the alert again): the bot
	// keeps quiet about the provider; only the orders' alerts go out.
	for range 3 {
		e.clock.Advance(pause + time.Minute) // +16m, +32m, +48m
		o := deliver()
		waitManual(o)
	}
	if n := p.count(); n != 4 {
		t.Fatalf("provider called %d times, want 4", n)
	}
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 1)
	if !strings.Contains(e.logText(), "admin alert not repeated yet") {
		t.Errorf("suppressed alert not logged")
	}

	// An hour after the first alert: one reminder.
	e.clock.Advance(pause + time.Minute) // +64m
	o = deliver()
	waitManual(o)
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 2)

	// The provider works again: admins are told once.
	p.set(false)
	e.clock.Advance(pause + time.Minute) // +80m: the pause is over
	o = deliver()
	c = e.fake.Wait(owner.ID, "Provider healthy")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, "The fragment provider works again") {
		t.Errorf("healthy alert:\n%s", plain)
	}
	e.fake.Wait(alice.ID, fmt.Sprintf("Order #%d completed", o.ID))
	alertExpectCount(t, e, owner.ID, "Provider healthy", 1)

	// Unhealthy again, 16 minutes after the reminder: alerted at once.
	p.set(true)
	o = deliver()
	e.fake.Wait(owner.ID, "Provider unhealthy")
	waitManual(o)
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 3)
	alertExpectQuiet(t, e, owner.ID)
	e.assertKeyboardData()
}

// TestAlert_ProviderUnhealthyRepeatPolicy drives the bot's repeat policy
// directly, at the edges of AlertRepeat.
func TestAlert_ProviderUnhealthyRepeatPolicy(t *testing.T) {
	e := newEnv(t)
	b := e.cur.Load()
	ctx := context.Background()
	unhealthy := func(n int) {
		b.Alert(ctx, shop.Alert{Kind: shop.AlertProviderUnhealthy, Message: fmt.Sprintf("down %d", n)})
	}
	// A marker: it is sent, and after it every earlier alert has been.
	marker := func(n int) {
		t.Helper()
		msg := fmt.Sprintf("marker %d", n)
		b.Alert(ctx, shop.Alert{Kind: shop.AlertWalletLow, Message: msg})
		e.fake.Wait(owner.ID, msg)
	}

	unhealthy(1)
	e.clock.Advance(time.Minute)
	unhealthy(2)
	e.clock.Advance(bot.DefaultAlertRepeat - time.Minute - time.Second)
	unhealthy(3) // 59m59s after the first
	marker(1)
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 1)
	alertExpectCount(t, e, owner.ID, "down 1", 1)

	e.clock.Advance(time.Second)
	unhealthy(4) // exactly an hour after the first
	unhealthy(5)
	marker(2)
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 2)
	alertExpectCount(t, e, owner.ID, "down 4", 1)

	b.Alert(ctx, shop.Alert{Kind: shop.AlertProviderHealthy, Message: "up again"})
	unhealthy(6)
	unhealthy(7)
	marker(3)
	alertExpectCount(t, e, owner.ID, "Provider healthy", 1)
	alertExpectCount(t, e, owner.ID, "Provider unhealthy", 3)
	alertExpectCount(t, e, owner.ID, "down 6", 1)

	// Other kinds are never held back by the bot: their sources dedupe.
	alertExpectCount(t, e, owner.ID, "marker", 3)
	alertExpectQuiet(t, e, owner.ID)
}

// alertWallet is a hot wallet whose balance the test sets.
type alertWallet struct {
	mu      sync.Mutex
	balance shop.NanoTON
}

func (w *alertWallet) set(b shop.NanoTON) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.balance = b
}

func (w *alertWallet) Balance(context.Context) (shop.NanoTON, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.balance, nil
}

func TestAlert_WalletLow(t *testing.T) {
	e := newEnv(t)
	wallet := &alertWallet{balance: 10 * shop.TON}
	alarm := must(fulfillment.NewBalanceAlarm(fulfillment.BalanceAlarmConfig{Wallet: wallet, Threshold: 5 * shop.TON, Notifier: alertBot{e}, Logger: alertLogger(e)}))
	ctx := context.Background()
	check := func(b shop.NanoTON) {
		t.Helper()
		wallet.set(b)
		if err := alarm.Check(ctx); err != nil {
			t.Fatalf("check at %s TON: %v", b, err)
		}
	}

	check(10 * shop.TON) // above: nothing
	check(5 * shop.TON)  // at the threshold: nothing
	alertExpectQuiet(t, e, owner.ID)

	check(5*shop.TON/2 - 1) // below: one alert
	c := e.fake.Wait(owner.ID, "Hot wallet low")
	plain := alertCheckHTML(t, c.Text)
	if !strings.Contains(plain, "The hot wallet has 2.499999999 TON, below the 5 TON threshold") {
		t.Errorf("wallet alert:\n%s", plain)
	}
	check(shop.TON)      // still below: nothing
	check(10 * shop.TON) // back above: nothing
	check(3 * shop.TON)  // below again: a second alert
	c = e.fake.Wait(owner.ID, "Hot wallet low")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, "The hot wallet has 3 TON") {
		t.Errorf("second wallet alert:\n%s", plain)
	}
	check(2 * shop.TON)
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Hot wallet low", 2)
}

// alertLag is a deposit watcher whose lag the test sets.
type alertLag struct {
	mu  sync.Mutex
	lag time.Duration
	ok  bool
}

func (l *alertLag) set(lag time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lag, l.ok = lag, ok
}

func (l *alertLag) Lag() (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lag, l.ok
}

func TestAlert_WatcherLag(t *testing.T) {
	e := newEnv(t)
	src := &alertLag{lag: 30 * time.Second, ok: true}
	alarm := must(ton.NewLagAlarm(ton.LagAlarmConfig{Watcher: src, Max: 5 * time.Minute, Alert: alertBot{e}.Alert, Now: e.clock.Now, Logger: alertLogger(e)}))
	ctx := context.Background()

	alarm.Check(ctx) // under Max: nothing
	src.set(5*time.Minute, true)
	alarm.Check(ctx) // at Max: nothing
	alertExpectQuiet(t, e, owner.ID)

	src.set(10*time.Minute, true)
	alarm.Check(ctx)
	c := e.fake.Wait(owner.ID, "Deposit watcher behind")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, "The deposit watcher is 10m behind the chain (alert threshold 5m)") {
		t.Errorf("lag alert:\n%s", plain)
	}
	src.set(12*time.Minute, true)
	alarm.Check(ctx)
	e.clock.Advance(time.Minute)
	alarm.Check(ctx)

	src.set(time.Minute, true)
	alarm.Check(ctx)
	c = e.fake.Wait(owner.ID, "Deposit watcher caught up")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, "The deposit watcher caught up (lag 1m)") {
		t.Errorf("caught-up alert:\n%s", plain)
	}
	alarm.Check(ctx)
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Deposit watcher behind", 1)
	alertExpectCount(t, e, owner.ID, "caught up", 1)
}

func TestAlert_WatcherNeverPolled(t *testing.T) {
	e := newEnv(t)
	src := &alertLag{}
	alarm := must(ton.NewLagAlarm(ton.LagAlarmConfig{Watcher: src, Max: 5 * time.Minute, Alert: alertBot{e}.Alert, Now: e.clock.Now, Logger: alertLogger(e)}))
	ctx := context.Background()

	alarm.Check(ctx) // just started: nothing
	e.clock.Advance(5 * time.Minute)
	alarm.Check(ctx) // not yet over Max: nothing
	e.clock.Advance(time.Minute)
	alarm.Check(ctx)
	c := e.fake.Wait(owner.ID, "Deposit watcher behind")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, "has not completed a poll since it started 6m ago") {
		t.Errorf("lag alert:\n%s", plain)
	}
	e.clock.Advance(time.Hour)
	alarm.Check(ctx)
	src.set(0, true)
	alarm.Check(ctx)
	e.fake.Wait(owner.ID, "Deposit watcher caught up")
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Deposit watcher behind", 1)
}

func TestAlert_UnmatchedDeposit(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "no-such-memo", 2*shop.TON)

	deps, err := e.svc.FindDeposits(context.Background(), shop.DepositUnmatched, 0, 10)
	if err != nil || len(deps) != 1 {
		t.Fatalf("unmatched deposits: %+v, %v", deps, err)
	}
	d := deps[0]
	c := e.fake.Wait(owner.ID, "Unmatched deposit")
	plain := alertCheckHTML(t, c.Text)
	for _, want := range []string{
		fmt.Sprintf("Deposit #%d of 2 TON", d.ID),
		"from " + d.From,
		`"no-such-memo"`,
		fmt.Sprintf("/assign %d <user id or @username>", d.ID),
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("unmatched alert lacks %q:\n%s", want, plain)
		}
	}
	if d.From == "" {
		t.Errorf("deposit has no sender")
	}
	if len(c.Keyboard) != 0 {
		t.Errorf("unmatched alert has buttons: %v", c.Keyboard)
	}

	// Polling again finds nothing new and alerts nobody.
	if _, err := e.watcher.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	alertExpectQuiet(t, e, owner.ID)
	alertExpectCount(t, e, owner.ID, "Unmatched deposit", 1)
	// The sender cannot be told, and alice, who merely uses the bot, is
	// not.
	alertExpectQuiet(t, e, alice.ID)
	if got := e.user(alice).Balance; got != 0 {
		t.Errorf("alice's balance = %s, want 0", got)
	}
}

func TestAlert_NoAdmins(t *testing.T) {
	e := newEnv(t)
	b := alertRunBot(t, e, nil)
	// The bot runs and talks to users…
	e.startChat(alice)
	// …but an alert, from any source, is only logged.
	b.Alert(context.Background(), shop.Alert{Kind: shop.AlertManualNeeded, OrderID: 7, Message: "order 7 waits"})
	alertWaitLog(t, e, "no admin to alert", 1)
	if logs := e.logText(); !strings.Contains(logs, "level=WARN msg=\"admin alert\"") || !strings.Contains(logs, "order 7 waits") {
		t.Errorf("alert not logged:\n%s", logs)
	}
	e.deposit(nobody, "nobody-knows", shop.TON)
	alertWaitLog(t, e, "no admin to alert", 2)
	if logs := e.logText(); !strings.Contains(logs, "kind=unmatched_deposit order_id=0 message=\"Deposit #1 of 1 TON") {
		t.Errorf("unmatched deposit alert not logged:\n%s", logs)
	}

	e.quiet(alice.ID)
	for _, c := range e.fake.CallsTo("sendMessage") {
		if c.ChatID != alice.ID {
			t.Errorf("sendMessage to chat %d without any admin: %q", c.ChatID, c.Text)
		}
	}
}

func TestAlert_EveryAdmin(t *testing.T) {
	e := newEnv(t)
	const second = int64(77)
	b := alertRunBot(t, e, []int64{adminID, second})
	b.Alert(context.Background(), shop.Alert{Kind: shop.AlertManualNeeded, OrderID: 3, Message: "order 3 waits"})
	for _, chat := range []int64{adminID, second} {
		c := e.fake.Wait(chat, "order 3 waits")
		if len(c.Keyboard) != 1 || len(c.Keyboard[0]) != 2 {
			t.Errorf("chat %d: buttons %v", chat, c.Keyboard)
		}
		alertExpectQuiet(t, e, chat)
	}
}

func TestAlert_HTMLEscaped(t *testing.T) {
	e := newEnv(t)
	b := e.cur.Load()
	msg := `Order <b>#1</b> & "co" <script>alert(1)</script> &amp;`
	b.Alert(context.Background(), shop.Alert{Kind: shop.AlertManualNeeded, Message: msg})
	c := e.fake.Wait(owner.ID, "Manual delivery needed")
	if !strings.Contains(c.Text, html.EscapeString(msg)) {
		t.Errorf("alert text is not the escaped message:\n%s", c.Text)
	}
	if !strings.Contains(c.Text, "&lt;b&gt;#1&lt;/b&gt; &amp; ") || strings.Contains(c.Text, "<script>") {
		t.Errorf("alert text not escaped:\n%s", c.Text)
	}
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, msg) {
		t.Errorf("admin sees %q, want the message %q verbatim", plain, msg)
	}
	if len(c.Keyboard) != 0 {
		t.Errorf("manual alert without an order has buttons: %v", c.Keyboard)
	}

	// The same through a real source: a memo is whatever the sender typed.
	e.deposit(alice, `<i>gift</i> & "thanks"`, shop.TON)
	c = e.fake.Wait(owner.ID, "Unmatched deposit")
	if plain := alertCheckHTML(t, c.Text); !strings.Contains(plain, `<i>gift</i> & \"thanks\"`) {
		t.Errorf("unmatched alert shows:\n%s", plain)
	}
	if v := e.fake.Violations(); len(v) != 0 {
		t.Errorf("Bot API violations: %v", v)
	}
}

// TestAlert_LostUnhealthyAlertIsNotCounted checks that an unhealthy alert
// that reached no admin (Telegram asked for a longer wait than the bot
// honours) does not hold back the next one for an hour.
func TestAlert_LostUnhealthyAlertIsNotCounted(t *testing.T) {
	e := newEnv(t)
	b := e.cur.Load()
	ctx := context.Background()
	e.fake.FailNext("sendMessage", 3600)
	b.Alert(ctx, shop.Alert{Kind: shop.AlertProviderUnhealthy, Message: "down 1"})
	alertWaitLog(t, e, "admin alert not delivered", 1)
	e.clock.Advance(10 * time.Minute)
	b.Alert(ctx, shop.Alert{Kind: shop.AlertProviderUnhealthy, Message: "down 2"})
	e.fake.Wait(owner.ID, "down 2")
	// That one was delivered: the next is held back again.
	b.Alert(ctx, shop.Alert{Kind: shop.AlertProviderUnhealthy, Message: "down 3"})
	b.Alert(ctx, shop.Alert{Kind: shop.AlertWalletLow, Message: "marker"})
	e.fake.Wait(owner.ID, "marker")
	alertExpectCount(t, e, owner.ID, "down 3", 0)
}

// TestAlert_LongMessage checks that an alert with an unbounded reason
// still fits one Telegram message.
func TestAlert_LongMessage(t *testing.T) {
	e := newEnv(t)
	e.cur.Load().Alert(context.Background(), shop.Alert{Kind: shop.AlertManualNeeded, OrderID: 5, Message: "reason: " + strings.Repeat("<x>", 3000)})
	c := e.fake.Wait(owner.ID, "Manual delivery needed")
	if plain := alertCheckHTML(t, c.Text); len([]rune(plain)) > 4096 {
		t.Errorf("alert of %d characters", len([]rune(plain)))
	}
}
