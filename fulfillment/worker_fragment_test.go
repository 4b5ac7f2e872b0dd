package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// crashingShop is the real shop with a process death injected: the save of
// a delivery at step dieAfter is committed, then the "process" dies (a
// panic unwinds the worker's delivery, as far as the worker's recover).
type crashingShop struct {
	*shop.Service
	mu        sync.Mutex
	dieAfter  string
	failBatch bool // SaveDeliveries fails, saving nothing
}

func (s *crashingShop) SaveDeliveries(ctx context.Context, ds []*shop.Delivery) error {
	s.mu.Lock()
	fail := s.failBatch
	s.mu.Unlock()
	if fail {
		return errors.New("disk full")
	}
	return s.Service.SaveDeliveries(ctx, ds)
}

func (s *crashingShop) SaveDelivery(ctx context.Context, d *shop.Delivery) error {
	if err := s.Service.SaveDelivery(ctx, d); err != nil {
		return err
	}
	s.mu.Lock()
	die := s.dieAfter != "" && d.Step == s.dieAfter
	if die {
		s.dieAfter = ""
	}
	s.mu.Unlock()
	if die {
		panic("process dies after saving step " + d.Step)
	}
	return nil
}

// alertLog records admin alerts.
type alertLog struct {
	mu     sync.Mutex
	alerts []shop.Alert
}

func (a *alertLog) Alert(_ context.Context, al shop.Alert) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.alerts = append(a.alerts, al)
}

type fragmentWorkerEnv struct {
	t      *testing.T
	svc    *shop.Service
	shop   *crashingShop
	srv    *fragmenttest.Server
	wallet *fakeWallet
	alerts *alertLog
	now    time.Time
}

func newFragmentWorkerEnv(t *testing.T) *fragmentWorkerEnv {
	t.Helper()
	e := &fragmentWorkerEnv{t: t, now: time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC), alerts: &alertLog{}}
	svc := shoptest.New(t, &shoptest.Options{Start: e.now, DepositAddress: testWalletInfo.Address}).Service
	svc.Now = func() time.Time { return e.now } // the clock e.worker() gives the Worker
	ctx := context.Background()
	if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: 1001, Username: "alice_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AdminCredit(ctx, 9, 1001, 100*shop.TON, "test funds"); err != nil {
		t.Fatal(err)
	}
	e.svc, e.shop = svc, &crashingShop{Service: svc}
	e.srv = fragmenttest.New(t)
	e.srv.AddUser(testRecipient)
	e.srv.SetRequirePayment(true)
	e.srv.SetStarPrice(3_000_000)      // 100 Stars: Fragment asks 0.3 TON, the buyer pays 0.4178
	e.srv.SetMonthPrice(1_000_000_000) // 3 months: 3 TON, the buyer pays 3.34
	e.wallet = newFakeWallet(t, e.srv)
	return e
}

// worker is a worker and provider as a freshly started process builds them.
func (e *fragmentWorkerEnv) worker() *Worker {
	f := NewFragment(FragmentConfig{BaseURL: e.srv.URL, Cookies: fragmenttest.Cookies, Wallet: e.wallet, HTTP: e.srv.Client(), Tolerance: 10_000_000, Logger: slog.New(slog.DiscardHandler)})
	return mustWorker(e.t, WorkerConfig{Shop: e.shop, Provider: f, Name: "fragment", Notifier: e.alerts, Now: func() time.Time { return e.now }, Logger: slog.New(slog.DiscardHandler)})
}

func mustWorker(t testing.TB, cfg WorkerConfig) *Worker {
	t.Helper()
	w, err := NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (e *fragmentWorkerEnv) order(kind shop.OrderType, recipient string) *shop.Order {
	e.t.Helper()
	req := shop.CreateOrderRequest{UserID: 1001, Type: kind, Recipient: recipient, PaymentMethod: shop.PayBalance, Source: "api"}
	if kind == shop.OrderStars {
		req.Stars = 100
	} else {
		req.Months = 3
	}
	o, err := e.svc.CreateOrder(context.Background(), req)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *fragmentWorkerEnv) get(id int64) *shop.Order {
	e.t.Helper()
	o, err := e.svc.FindOrder(context.Background(), 0, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func (e *fragmentWorkerEnv) runOnce(w *Worker) {
	e.t.Helper()
	if _, err := w.RunOnce(context.Background()); err != nil {
		e.t.Fatalf("RunOnce: %v", err)
	}
}

// TestWorker_FragmentCrashAtEveryStep stops the worker at every step of a
// Fragment delivery and restarts it: in every case exactly one payment is
// sent, Fragment confirms it once, and the order ends completed.
func TestWorker_FragmentCrashAtEveryStep(t *testing.T) {
	for _, kind := range []shop.OrderType{shop.OrderStars, shop.OrderPremium} {
		for _, step := range []string{fragmentStepInitiated, fragmentStepLinked, fragmentStepSigned, fragmentStepPaid, fragmentStepConfirmed, "broadcast"} {
			t.Run(fmt.Sprintf("%s/after_%s", kind, step), func(t *testing.T) {
				e := newFragmentWorkerEnv(t)
				o := e.order(kind, testRecipient)
				if step == "broadcast" {
					e.wallet.setMode(walletPending) // broadcast, then the process stops waiting
				} else {
					e.shop.dieAfter = step
				}
				e.runOnce(e.worker())
				if got := e.get(o.ID).Status; got != shop.StatusProcessing {
					t.Fatalf("after the crash the order is %s, want processing", got)
				}
				e.wallet.setMode(walletNormal)
				e.now = e.now.Add(time.Hour) // past the retry backoff
				e.runOnce(e.worker())        // the restarted process
				got := e.get(o.ID)
				if got.Status != shop.StatusCompleted || got.FulfillmentRef == "" {
					t.Fatalf("after the restart: %s %q (%s)", got.Status, got.FulfillmentRef, got.FailureReason)
				}
				if sigs, _ := e.wallet.counts(); sigs != 1 {
					t.Errorf("%d payments signed, want 1", sigs)
				}
				confirmed := 0
				for _, r := range e.srv.Requests() {
					if r.Payments > 1 {
						t.Errorf("request %s paid %d times", r.ID, r.Payments)
					}
					if r.Confirmed {
						confirmed++
					}
				}
				if confirmed != 1 {
					t.Errorf("%d requests confirmed, want 1", confirmed)
				}
			})
		}
	}
}

func TestWorker_FragmentOutcomes(t *testing.T) {
	t.Run("MarginCheck", func(t *testing.T) {
		e := newFragmentWorkerEnv(t)
		e.srv.SetStarPrice(5_000_000) // 0.5 TON for 100 Stars sold at 0.4178
		o := e.order(shop.OrderStars, testRecipient)
		e.runOnce(e.worker())
		got := e.get(o.ID)
		if got.Status != shop.StatusManual || !strings.Contains(got.FailureReason, "Fragment asks 0.5 TON") {
			t.Fatalf("order = %s %q", got.Status, got.FailureReason)
		}
		if sigs, _ := e.wallet.counts(); sigs != 0 {
			t.Fatal("paid despite the margin check")
		}
		if len(e.alerts.alerts) != 1 || e.alerts.alerts[0].Kind != shop.AlertManualNeeded {
			t.Fatalf("alerts = %+v", e.alerts.alerts)
		}
	})
	t.Run("RecipientNotFoundRefunds", func(t *testing.T) {
		e := newFragmentWorkerEnv(t)
		o := e.order(shop.OrderStars, "nobody_here")
		before, _ := e.svc.FindUser(context.Background(), 1001)
		e.runOnce(e.worker())
		got := e.get(o.ID)
		if got.Status != shop.StatusRefunded {
			t.Fatalf("order = %s %q", got.Status, got.FailureReason)
		}
		after, _ := e.svc.FindUser(context.Background(), 1001)
		if after.Balance != before.Balance+o.PriceTON {
			t.Fatalf("balance %s → %s, want the price back", before.Balance, after.Balance)
		}
		entries, _, _ := e.svc.Ledger(context.Background(), shop.LedgerFilter{UserID: 1001, Limit: 1})
		if entries[0].Type != shop.LedgerRefund || entries[0].OrderID != o.ID {
			t.Fatalf("last entry = %+v", entries[0])
		}
	})
	t.Run("NeedVerifyPausesProvider", func(t *testing.T) {
		e := newFragmentWorkerEnv(t)
		e.srv.Fail("initBuyStarsRequest", fragmenttest.NeedVerify)
		o1, o2 := e.order(shop.OrderStars, testRecipient), e.order(shop.OrderStars, testRecipient)
		w := e.worker()
		e.runOnce(w)
		for _, o := range []*shop.Order{o1, o2} {
			if got := e.get(o.ID); got.Status != shop.StatusManual {
				t.Fatalf("order %d = %s", o.ID, got.Status)
			}
		}
		if ok, _ := w.Health(); ok {
			t.Fatal("provider not paused")
		}
		if n := e.srv.Calls("initBuyStarsRequest"); n != 1 {
			t.Fatalf("Fragment asked %d times while paused", n)
		}
		var kinds []shop.AlertKind
		for _, a := range e.alerts.alerts {
			kinds = append(kinds, a.Kind)
		}
		if len(kinds) != 3 || kinds[0] != shop.AlertProviderUnhealthy {
			t.Fatalf("alerts = %v", kinds)
		}
	})
	t.Run("RateLimitedRetriesThenDelivers", func(t *testing.T) {
		e := newFragmentWorkerEnv(t)
		e.srv.Fail("searchStarsRecipient", fragmenttest.HTTP429)
		o := e.order(shop.OrderStars, testRecipient)
		w := e.worker()
		e.runOnce(w)
		if got := e.get(o.ID); got.Status != shop.StatusProcessing {
			t.Fatalf("after 429: %s", got.Status)
		}
		e.now = e.now.Add(time.Hour)
		e.runOnce(w)
		if got := e.get(o.ID); got.Status != shop.StatusCompleted {
			t.Fatalf("after the retry: %s", got.Status)
		}
	})
}
