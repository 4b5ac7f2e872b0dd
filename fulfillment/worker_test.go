package fulfillment_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/fulfillment"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

const buyer = int64(1001)

var t0 = time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC)

// recorder collects alerts.
type recorder struct {
	mu     sync.Mutex
	alerts []shop.Alert
}

func (r *recorder) Alert(ctx context.Context, a shop.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a)
}

func (r *recorder) kinds() []shop.AlertKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []shop.AlertKind
	for _, a := range r.alerts {
		out = append(out, a.Kind)
	}
	return out
}

// scripted is a provider whose Deliver runs fn.
type scripted struct {
	mu    sync.Mutex
	calls int
	fn    func(ctx context.Context, job *fulfillment.Job) (string, error)
}

func (p *scripted) CheckRecipient(ctx context.Context, kind shop.OrderType, u string) (*shop.RecipientCheck, error) {
	return &shop.RecipientCheck{Username: u, CanReceive: true}, nil
}

func (p *scripted) Deliver(ctx context.Context, job *fulfillment.Job) (string, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	return p.fn(ctx, job)
}

func (p *scripted) count() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }

type env struct {
	t      *testing.T
	svc    *shop.Service
	w      *fulfillment.Worker
	alerts *recorder
	shop   *shoptest.Shop
}

func newEnv(t *testing.T, p fulfillment.Provider) *env {
	t.Helper()
	// Retry: every transaction of the worker's shop calls runs twice, the
	// first rolled back, as in a commit group where another update fails.
	e := &env{t: t, alerts: &recorder{}, shop: shoptest.New(t, &shoptest.Options{Start: t0, Retry: true})}
	svc := e.shop.Service
	ctx := context.Background()
	if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: buyer, Username: "alice_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AdminCredit(ctx, 9, buyer, 100*shop.TON, "test funds"); err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	w, err := fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: svc, Provider: p, Name: "test", Notifier: e.alerts, Now: e.clock, Backoff: time.Second, MaxBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	return e
}

func (e *env) clock() time.Time { return e.shop.Clock.Now() }

func (e *env) advance(d time.Duration) { e.shop.Clock.Advance(d) }

func (e *env) order(recipient string) *shop.Order {
	e.t.Helper()
	o, err := e.svc.CreateOrder(context.Background(), shop.CreateOrderRequest{UserID: buyer, Type: shop.OrderStars, Stars: 100, Recipient: recipient, PaymentMethod: shop.PayBalance, Source: "bot"})
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) run() int {
	e.t.Helper()
	n, err := e.w.RunOnce(context.Background())
	if err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
	return n
}

func (e *env) status(id int64) *shop.Order {
	e.t.Helper()
	o, err := e.svc.FindOrder(context.Background(), 0, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *env) balance() shop.NanoTON {
	e.t.Helper()
	u, err := e.svc.FindUser(context.Background(), buyer)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Balance
}

func (e *env) eventTypes(orderID int64) []shop.EventType {
	var out []shop.EventType
	for _, ev := range e.shop.Events.All() {
		if ev.OrderID == orderID {
			out = append(out, ev.Type)
		}
	}
	return out
}

func TestWorker_Sandbox(t *testing.T) {
	e := newEnv(t, fulfillment.Sandbox{Delay: -1})
	ok := e.order("pandus")
	notFound := e.order(fulfillment.SandboxNotFound)
	fail := e.order(fulfillment.SandboxFail)
	manual := e.order(fulfillment.SandboxManual)
	slow := e.order(fulfillment.SandboxSlow)
	paid := e.balance()

	if n := e.run(); n != 5 {
		t.Fatalf("first pass attempted %d orders", n)
	}
	if o := e.status(ok.ID); o.Status != shop.StatusCompleted || o.FulfillmentRef == "" {
		t.Errorf("plain order: %s %q", o.Status, o.FulfillmentRef)
	}
	for _, id := range []int64{notFound.ID, fail.ID} {
		if o := e.status(id); o.Status != shop.StatusRefunded || o.FailureReason == "" {
			t.Errorf("order %d: %s %q", id, o.Status, o.FailureReason)
		}
	}
	if got := e.balance(); got != paid+2*ok.PriceTON {
		t.Errorf("balance = %s, want two refunds on %s", got, paid)
	}
	if o := e.status(manual.ID); o.Status != shop.StatusManual {
		t.Errorf("manual order: %s", o.Status)
	}
	if k := e.alerts.kinds(); len(k) != 1 || k[0] != shop.AlertManualNeeded {
		t.Errorf("alerts = %v", k)
	} else if a := e.alerts.alerts[0]; a.OrderID != manual.ID || !strings.Contains(a.Message, "100 Stars for @sandbox_manual") || !strings.Contains(a.Message, manual.PriceTON.String()) {
		t.Errorf("alert = %+v", a)
	}

	// sandbox_slow: retryable twice, then delivered; not before its time.
	if o := e.status(slow.ID); o.Status != shop.StatusProcessing {
		t.Fatalf("slow order: %s", o.Status)
	}
	if n := e.run(); n != 0 {
		t.Fatalf("retried %d orders before the backoff", n)
	}
	e.advance(time.Minute)
	e.run()
	if o := e.status(slow.ID); o.Status != shop.StatusProcessing {
		t.Fatalf("slow order after the second attempt: %s", o.Status)
	}
	e.advance(time.Minute)
	e.run()
	if o := e.status(slow.ID); o.Status != shop.StatusCompleted {
		t.Fatalf("slow order after the third attempt: %s", o.Status)
	}
	if got := e.eventTypes(slow.ID); len(got) != 2 || got[1] != shop.EventOrderCompleted {
		t.Errorf("slow order events = %v", got)
	}
	if got := e.eventTypes(fail.ID); len(got) != 2 || got[1] != shop.EventOrderRefunded {
		t.Errorf("failed order events = %v", got)
	}
	if got := e.eventTypes(manual.ID); len(got) != 2 || got[1] != shop.EventOrderManual {
		t.Errorf("manual order events = %v", got)
	}
	if n := e.run(); n != 0 {
		t.Fatalf("queue not empty: %d", n)
	}
}

func TestWorker_RetriesThenManual(t *testing.T) {
	p := &scripted{fn: func(context.Context, *fulfillment.Job) (string, error) {
		return "", errors.New("connection reset")
	}}
	e := newEnv(t, p)
	e.w.MaxAttempts = 4
	o := e.order("pandus")
	var delays []time.Duration
	for range 10 {
		e.run()
		if e.status(o.ID).Status == shop.StatusManual {
			break
		}
		q, _ := e.svc.Queue(context.Background(), 0)
		delays = append(delays, q[0].Delivery.NextAttemptAt.Sub(e.clock()))
		if q[0].Delivery.LastError != "temporary delivery error" {
			t.Errorf("LastError = %q: a raw error reached the record", q[0].Delivery.LastError)
		}
		e.advance(time.Hour)
	}
	if p.count() != 4 {
		t.Fatalf("provider called %d times, want 4", p.count())
	}
	if got := e.status(o.ID); got.Status != shop.StatusManual || !strings.Contains(got.FailureReason, "failed 4 times") {
		t.Fatalf("order = %s %q", got.Status, got.FailureReason)
	}
	// 1s, 2s, 4s with ±25% jitter.
	for i, d := range delays {
		base := time.Second << i
		if d < base*3/4 || d > base*5/4 {
			t.Errorf("delay %d = %v, want %v ±25%%", i+1, d, base)
		}
	}
	if k := e.alerts.kinds(); len(k) != 1 || k[0] != shop.AlertManualNeeded {
		t.Errorf("alerts = %v", k)
	}
}

func TestWorker_UnhealthyPauses(t *testing.T) {
	healthy := false
	p := &scripted{fn: func(context.Context, *fulfillment.Job) (string, error) {
		if !healthy {
			return "", fulfillment.Errorf(fulfillment.Unhealthy, "session expired")
		}
		return "ref", nil
	}}
	e := newEnv(t, p)
	e.w.PauseFor = 10 * time.Minute
	o1, o2 := e.order("pandus"), e.order("pandus")
	e.run()
	for _, o := range []*shop.Order{o1, o2} {
		if got := e.status(o.ID); got.Status != shop.StatusManual || !strings.Contains(got.FailureReason, "session expired") {
			t.Fatalf("order %d = %s %q", o.ID, got.Status, got.FailureReason)
		}
	}
	if p.count() != 1 {
		t.Fatalf("provider called %d times while paused", p.count())
	}
	if ok, reason := e.w.Health(); ok || reason != "session expired" {
		t.Fatalf("Health = %v %q", ok, reason)
	}
	want := []shop.AlertKind{shop.AlertProviderUnhealthy, shop.AlertManualNeeded, shop.AlertManualNeeded}
	if k := e.alerts.kinds(); len(k) != 3 || k[0] != want[0] || k[1] != want[1] || k[2] != want[2] {
		t.Fatalf("alerts = %v, want %v", k, want)
	}
	// After the pause the provider is tried again.
	e.advance(11 * time.Minute)
	healthy = true
	o3 := e.order("pandus")
	e.run()
	if got := e.status(o3.ID); got.Status != shop.StatusCompleted {
		t.Fatalf("order after the pause = %s", got.Status)
	}
	if ok, _ := e.w.Health(); !ok {
		t.Fatal("still unhealthy")
	}
}

// outcomes is a provider that answers with the next scripted outcome; a nil
// error is a delivery.
type outcomes struct {
	mu   sync.Mutex
	next []error
}

func (p *outcomes) then(errs ...error) { p.mu.Lock(); p.next = append(p.next, errs...); p.mu.Unlock() }

func (p *outcomes) CheckRecipient(ctx context.Context, kind shop.OrderType, u string) (*shop.RecipientCheck, error) {
	return &shop.RecipientCheck{Username: u, CanReceive: true}, nil
}

func (p *outcomes) Deliver(ctx context.Context, job *fulfillment.Job) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.next) == 0 {
		return "", errors.New("no outcome scripted")
	}
	err := p.next[0]
	p.next = p.next[1:]
	return "ref", err
}

func count(alerts []shop.Alert, kind shop.AlertKind) int {
	n := 0
	for _, a := range alerts {
		if a.Kind == kind {
			n++
		}
	}
	return n
}

const healthyMessage = "The test provider works again; deliveries resumed."

// newAlerts returns the alerts recorded since the last call.
func (e *env) newAlerts(seen *int) []shop.Alert {
	e.alerts.mu.Lock()
	defer e.alerts.mu.Unlock()
	out := append([]shop.Alert(nil), e.alerts.alerts[*seen:]...)
	*seen = len(e.alerts.alerts)
	return out
}

func TestWorker_HealthyAgain(t *testing.T) {
	p := &outcomes{}
	e := newEnv(t, p)
	e.w.PauseFor = 10 * time.Minute
	seen := 0

	// Never unhealthy: a delivery says nothing.
	p.then(nil)
	e.order("pandus")
	e.run()
	if got := e.newAlerts(&seen); len(got) != 0 {
		t.Fatalf("alerts for a plain delivery = %+v", got)
	}

	p.then(fulfillment.Errorf(fulfillment.Unhealthy, "session expired"))
	e.order("pandus")
	e.run()
	if got := e.newAlerts(&seen); len(got) != 2 || got[0].Kind != shop.AlertProviderUnhealthy || got[1].Kind != shop.AlertManualNeeded {
		t.Fatalf("alerts on unhealthy = %+v", got)
	}

	// After the pause a delivery works: one healthy alert.
	e.advance(11 * time.Minute)
	p.then(nil)
	o := e.order("pandus")
	e.run()
	if got := e.status(o.ID); got.Status != shop.StatusCompleted {
		t.Fatalf("order after the pause = %s", got.Status)
	}
	if got := e.newAlerts(&seen); len(got) != 1 || got[0].Kind != shop.AlertProviderHealthy || got[0].Message != healthyMessage {
		t.Fatalf("alerts on recovery = %+v", got)
	}

	// Another delivery: nothing more.
	p.then(nil)
	e.order("pandus")
	e.run()
	if got := e.newAlerts(&seen); len(got) != 0 {
		t.Fatalf("alerts on the next delivery = %+v", got)
	}
}

// Any answer but Unhealthy counts: a retryable, manual or permanent
// failure means the provider is reachable again.
func TestWorker_HealthyAgainOnFailure(t *testing.T) {
	for name, answer := range map[string]error{
		"retryable": errors.New("connection reset"),
		"manual":    fulfillment.Errorf(fulfillment.Manual, "needs a human"),
		"permanent": fulfillment.Errorf(fulfillment.Permanent, "recipient not found"),
	} {
		t.Run(name, func(t *testing.T) {
			p := &outcomes{}
			e := newEnv(t, p)
			e.w.PauseFor = 10 * time.Minute
			seen := 0
			p.then(fulfillment.Errorf(fulfillment.Unhealthy, "blocked"))
			e.order("pandus")
			e.run()
			e.newAlerts(&seen)

			e.advance(11 * time.Minute)
			p.then(answer)
			e.order("pandus")
			e.run()
			got := e.newAlerts(&seen)
			if len(got) == 0 || got[0].Kind != shop.AlertProviderHealthy || got[0].Message != healthyMessage {
				t.Fatalf("alerts = %+v, want the healthy alert first", got)
			}
			if count(got, shop.AlertProviderHealthy) != 1 {
				t.Fatalf("alerts = %+v: healthy more than once", got)
			}

			// Unhealthy again: a new pause, a new alert, a new recovery.
			e.advance(time.Hour)
			p.then(fulfillment.Errorf(fulfillment.Unhealthy, "blocked"), nil)
			e.order("pandus")
			e.run()
			// (A retryable order from before is due again and meets the
			// outage first; the new one is held for the pause.)
			if got := e.newAlerts(&seen); len(got) == 0 || got[0].Kind != shop.AlertProviderUnhealthy || count(got, shop.AlertProviderHealthy) != 0 {
				t.Fatalf("alerts on the second outage = %+v", got)
			}
			e.advance(11 * time.Minute)
			e.order("pandus")
			e.run()
			if got := e.newAlerts(&seen); len(got) != 1 || got[0].Kind != shop.AlertProviderHealthy {
				t.Fatalf("alerts on the second recovery = %+v", got)
			}
		})
	}
}

// A payout resumed while the provider is paused proves nothing about new
// deliveries: no healthy alert until one works after the pause.
func TestWorker_NoHealthyAlertDuringPause(t *testing.T) {
	var mu sync.Mutex
	unhealthy := false
	p := &scripted{fn: func(ctx context.Context, job *fulfillment.Job) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case job.Delivery.Step == "signed":
			return "ref", nil // the resumed payout went through
		case unhealthy:
			return "", fulfillment.Errorf(fulfillment.Unhealthy, "session expired")
		}
		job.Delivery.Payout = &shop.SignedPayout{Hash: "ab", Seqno: 1}
		job.Delivery.Step = "signed"
		if err := job.Save(ctx); err != nil {
			return "", err
		}
		return "", errors.New("timeout waiting for the chain")
	}}
	e := newEnv(t, p)
	e.w.PauseFor = 10 * time.Minute
	seen := 0
	paid := e.order("pandus")
	e.run() // paid waits for its retry with a recorded payout
	mu.Lock()
	unhealthy = true
	mu.Unlock()
	e.order("pandus")
	e.run() // paid is not due yet; the new order makes the provider unhealthy
	if got := e.newAlerts(&seen); len(got) != 2 || got[0].Kind != shop.AlertProviderUnhealthy {
		t.Fatalf("alerts = %+v", got)
	}

	e.advance(time.Minute) // paid is due, the pause goes on
	e.run()
	if got := e.status(paid.ID); got.Status != shop.StatusCompleted {
		t.Fatalf("resumed payout order = %s", got.Status)
	}
	if ok, _ := e.w.Health(); ok {
		t.Fatal("the pause ended early")
	}
	if got := e.newAlerts(&seen); len(got) != 0 {
		t.Fatalf("alerts during the pause = %+v", got)
	}

	e.advance(10 * time.Minute)
	mu.Lock()
	unhealthy = false
	mu.Unlock()
	// A fresh order goes through the first step and a retryable failure:
	// the provider answered.
	e.order("pandus")
	e.run()
	if got := e.newAlerts(&seen); len(got) != 1 || got[0].Kind != shop.AlertProviderHealthy {
		t.Fatalf("alerts after the pause = %+v", got)
	}
}

func TestWorker_NeverRefundsAfterPayment(t *testing.T) {
	p := &scripted{fn: func(ctx context.Context, job *fulfillment.Job) (string, error) {
		job.Delivery.Payout = &shop.SignedPayout{Hash: "ab", Seqno: 1}
		job.Delivery.Step = "signed"
		if err := job.Save(ctx); err != nil {
			return "", err
		}
		return "", fulfillment.Errorf(fulfillment.Permanent, "recipient not found")
	}}
	e := newEnv(t, p)
	o := e.order("pandus")
	before := e.balance()
	e.run()
	if got := e.status(o.ID); got.Status != shop.StatusManual {
		t.Fatalf("order = %s, want manual", got.Status)
	}
	if e.balance() != before {
		t.Fatal("refunded although a payment may have left")
	}
}

func TestWorker_ResumesProcessingOrder(t *testing.T) {
	var steps []string
	p := &scripted{fn: func(ctx context.Context, job *fulfillment.Job) (string, error) {
		steps = append(steps, job.Delivery.Step)
		if job.Delivery.Step == "" {
			job.Delivery.Step, job.Delivery.RequestID = "initiated", "req-1"
			if err := job.Save(ctx); err != nil {
				return "", err
			}
			panic("process dies here") // a crash mid-delivery
		}
		return job.Delivery.RequestID, nil
	}}
	e := newEnv(t, p)
	o := e.order("pandus")
	e.run() // the panic is contained; the order stays processing at its step
	if got := e.status(o.ID); got.Status != shop.StatusProcessing {
		t.Fatalf("after the crash: %s", got.Status)
	}
	// A new worker (a restart) resumes from the saved step.
	w, err := fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: e.svc, Provider: p, Name: "test", Notifier: e.alerts, Now: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	e.w = w
	e.advance(time.Hour)
	e.run()
	if got := e.status(o.ID); got.Status != shop.StatusCompleted || got.FulfillmentRef != "req-1" {
		t.Fatalf("after the restart: %s %q", got.Status, got.FulfillmentRef)
	}
	if len(steps) != 2 || steps[1] != "initiated" {
		t.Fatalf("steps seen = %q", steps)
	}
}

func TestWorker_ShutdownParksStep(t *testing.T) {
	started := make(chan struct{})
	p := &scripted{fn: func(ctx context.Context, job *fulfillment.Job) (string, error) {
		if job.Delivery.Step == "parked" {
			return "done", nil
		}
		close(started)
		<-ctx.Done() // the grace period ends
		job.Delivery.Step = "parked"
		if err := job.Save(context.WithoutCancel(ctx)); err != nil {
			return "", err
		}
		return "", fulfillment.Wrap(fulfillment.Retryable, "interrupted", ctx.Err())
	}}
	e := newEnv(t, p)
	e.w.Grace = 10 * time.Millisecond
	o := e.order("pandus")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.w.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	q, _ := e.svc.Queue(context.Background(), 0)
	if len(q) != 1 || q[0].Delivery.Step != "parked" || q[0].Delivery.Attempts != 0 {
		t.Fatalf("queue after shutdown = %+v", q)
	}
	e.run()
	if got := e.status(o.ID); got.Status != shop.StatusCompleted {
		t.Fatalf("after restart: %s", got.Status)
	}
}

func TestWorker_RunPoke(t *testing.T) {
	e := newEnv(t, fulfillment.Sandbox{Delay: -1})
	e.w.Interval = time.Hour
	e.svc.Subscribe(func(ev shop.Event) {
		if ev.Type == shop.EventOrderPaid {
			e.w.Poke()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.w.Run(ctx)
	// A ton_memo order paid by a transfer is delivered without waiting
	// for the hour-long interval.
	o, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: buyer, Type: shop.OrderPremium, Months: 3, Recipient: "pandus", PaymentMethod: shop.PayTONMemo, Source: "bot"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("ab", 32), LT: 5, Time: t0, From: "EQx", Amount: o.PriceTON, Memo: o.PaymentMemo}, nil); err != nil {
		t.Fatal(err)
	}
	e.shop.Events.Wait(t, shop.EventOrderCompleted, 1)
	if got := e.status(o.ID); got.ID != o.ID || got.Status != shop.StatusCompleted {
		t.Fatalf("order %d is %s after its order_completed event", o.ID, got.Status)
	}
}

func TestManualProvider(t *testing.T) {
	e := newEnv(t, fulfillment.ManualProvider{})
	o := e.order("pandus")
	e.run()
	if got := e.status(o.ID); got.Status != shop.StatusManual {
		t.Fatalf("order = %s", got.Status)
	}
	if _, err := (fulfillment.ManualProvider{}).CheckRecipient(context.Background(), shop.OrderStars, "pandus"); !errors.Is(err, fulfillment.ErrNoLookup) {
		t.Fatalf("CheckRecipient = %v", err)
	}
}
