package shop_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

const (
	depositAddr = shoptest.DepositAddress
	rate        = shoptest.Rate
	price100    = shop.NanoTON(418_000_000) // 0.417827299 rounded up to the default PRICE_STEP_TON, 0.001
	alice       = int64(1001)
	bob         = int64(1002)
	admin       = int64(9)
)

// env is a shoptest.Shop, with helpers. Every Update runs its fn twice
// (shoptest.Options.Retry), as the store does when another update of the
// commit group fails, so that an operation that keeps a result from a
// rolled-back run fails its test.
type env struct {
	t      *testing.T
	db     *store.DB      // nil on PostgreSQL
	st     shoptest.Store // db, or the PostgreSQL store
	svc    *shop.Service
	clock  *shoptest.Clock
	events *shoptest.Events
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, false)
}

// newPGEnv is newEnv on PostgreSQL (package pgstore).
func newPGEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, true)
}

func newEnvOn(t *testing.T, postgres bool) *env {
	t.Helper()
	s := shoptest.New(t, &shoptest.Options{Retry: true, Postgres: postgres})
	return &env{t: t, db: s.DB, st: s.Store, svc: s.Service, clock: s.Clock, events: s.Events}
}

func (e *env) advance(d time.Duration) { e.clock.Advance(d) }

func (e *env) takeEvents() []shop.Event { return e.events.Take() }

// user creates a user with a balance funded by an admin credit.
func (e *env) user(id int64, name string, balance shop.NanoTON) *shop.User {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: id, Username: name, LanguageCode: "en"}); err != nil {
		e.t.Fatal(err)
	}
	if balance > 0 {
		if _, err := e.svc.AdminCredit(ctx, admin, id, balance, "test funding"); err != nil {
			e.t.Fatal(err)
		}
	}
	e.takeEvents()
	u, err := e.svc.FindUser(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) balance(id int64) shop.NanoTON {
	e.t.Helper()
	u, err := e.svc.FindUser(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Balance
}

func (e *env) check() {
	e.t.Helper()
	if err := e.st.Check(context.Background()); err != nil {
		e.t.Fatalf("Check: %v", err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := shop.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %q), want code %q", err, got, code)
	}
}

type failingRates struct{}

func (failingRates) Rate(context.Context) (shop.Rate, error) {
	return shop.Rate{}, fmt.Errorf("rate source down")
}

func starsReq(user int64, method shop.PaymentMethod) shop.CreateOrderRequest {
	return shop.CreateOrderRequest{UserID: user, Type: shop.OrderStars, Stars: 100, Recipient: "@pandus", PaymentMethod: method, Source: "api"}
}

func TestService_EnsureUser(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t)
		u, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: alice, Username: "@Alice_1", LanguageCode: "ru-RU", StartPayload: "ref42"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "Alice_1" || u.Language != "ru" || u.StartPayload != "ref42" || u.Balance != 0 {
			t.Errorf("user = %+v", u)
		}
		if len(u.Memo) != 11 || !strings.HasPrefix(u.Memo, "AP") || strings.Trim(u.Memo[2:], "0123456789") != "" {
			t.Errorf("memo = %q, want AP + 9 digits", u.Memo)
		}
		// Second contact: same memo, username updated, language kept.
		u2, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: alice, Username: "alice_new", LanguageCode: "en", StartPayload: "other"})
		if err != nil {
			t.Fatal(err)
		}
		if u2.Memo != u.Memo || u2.Username != "alice_new" || u2.Language != "ru" || u2.StartPayload != "ref42" {
			t.Errorf("second contact = %+v", u2)
		}
		if got, err := e.svc.FindUserByUsername(ctx, "@ALICE_NEW"); err != nil || got.ID != alice {
			t.Errorf("FindUserByUsername = %v, %v", got, err)
		}
		if _, err := e.svc.FindUserByUsername(ctx, "Alice_1"); shop.ErrorCode(err) != shop.ENOTFOUND {
			t.Errorf("old username still resolves: %v", err)
		}
		if u, err := e.svc.SetLanguage(ctx, alice, "en"); err != nil || u.Language != "en" {
			t.Errorf("SetLanguage = %v, %v", u, err)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: 0})
		wantCode(t, err, shop.EVALIDATION)
		e.user(alice, "alice_1", 0)
		_, err = e.svc.SetLanguage(ctx, alice, "de")
		wantCode(t, err, shop.EVALIDATION)
		_, err = e.svc.FindUserByUsername(ctx, "x")
		wantCode(t, err, shop.EVALIDATION)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.svc.FindUser(ctx, 5)
		wantCode(t, err, shop.ENOTFOUND)
		_, err = e.svc.SetLanguage(ctx, 5, "en")
		wantCode(t, err, shop.ENOTFOUND)
		_, err = e.svc.SetBanned(ctx, 5, true)
		wantCode(t, err, shop.ENOTFOUND)
	})
}

func TestService_Quote(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	q, err := e.svc.Quote(ctx, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
	if err != nil {
		t.Fatal(err)
	}
	if q.PriceTON != price100 || q.PriceUSD != 1_500_000 || q.Rate.TONUSD != rate || q.Rate.Source != "static" {
		t.Errorf("quote = %+v", q)
	}
	if got := q.PriceTON.String(); got != "0.418" {
		t.Errorf("100 stars = %s TON, want the contract's 0.418 (1.5 USD at 3.59, rounded up to 0.001)", got)
	}
	q, err = e.svc.Quote(ctx, shop.QuoteRequest{Type: shop.OrderPremium, Months: 12})
	if err != nil || q.PriceUSD != 28_990_000 || q.Months != 12 {
		t.Fatalf("premium quote = %+v, %v", q, err)
	}

	t.Run("ErrValidation", func(t *testing.T) {
		for _, req := range []shop.QuoteRequest{
			{Type: shop.OrderStars, Stars: 49},
			{Type: shop.OrderStars, Stars: 1_000_001},
			{Type: shop.OrderPremium, Months: 1},
			{Type: "gift"},
		} {
			_, err := e.svc.Quote(ctx, req)
			wantCode(t, err, shop.EVALIDATION)
		}
		_, err := e.svc.Quote(ctx, shop.QuoteRequest{Type: shop.OrderStars, Stars: 10})
		if msg := shop.ErrorMessage(err); msg != "quantity must be between 50 and 1000000" {
			t.Errorf("message = %q", msg)
		}
	})
	t.Run("ErrInternal", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		e.svc.Rates = failingRates{}
		_, err := e.svc.Quote(ctx, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
		wantCode(t, err, shop.EINTERNAL)
		if msg := shop.ErrorMessage(err); msg != "Internal error." {
			t.Errorf("message = %q leaks internals", msg)
		}
		_, err = e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		wantCode(t, err, shop.EINTERNAL)
		if e.balance(alice) != shop.TON {
			t.Errorf("balance = %s", e.balance(alice))
		}
	})
	t.Run("Fee", func(t *testing.T) {
		p := shop.DefaultPricing()
		p.FeePPM = 50_000 // 5%
		if err := e.svc.SetPricing(p); err != nil {
			t.Fatal(err)
		}
		q, err := e.svc.Quote(ctx, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
		if err != nil || q.PriceTON <= price100 || q.FeeTON != q.PriceTON-price100 {
			t.Errorf("quote with fee = %+v, %v", q, err)
		}
		p.StarsMin = 0
		wantCode(t, e.svc.SetPricing(p), shop.EVALIDATION)
	})
}

func TestService_CreateOrder(t *testing.T) {
	ctx := context.Background()
	t.Run("OK/Balance", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		o, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != shop.StatusPaid || o.PriceTON != price100 || o.Recipient != "pandus" || o.PaidAt.IsZero() || o.PaymentMemo != "" || !o.ExpiresAt.IsZero() {
			t.Errorf("order = %+v", o)
		}
		if got := e.balance(alice); got != shop.TON-price100 {
			t.Errorf("balance = %s", got)
		}
		entries, _, err := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice})
		if err != nil || len(entries) != 2 || entries[0].Type != shop.LedgerOrder || entries[0].Amount != -price100 || entries[0].OrderID != o.ID || entries[0].BalanceAfter != shop.TON-price100 {
			t.Errorf("ledger = %+v, %v", entries, err)
		}
		var queued []int64
		e.st.View(ctx, func(tx shop.Tx) (err error) { queued, err = tx.Queued(10); return err })
		if len(queued) != 1 || queued[0] != o.ID {
			t.Errorf("queue = %v", queued)
		}
		if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventOrderPaid || ev[0].OrderID != o.ID {
			t.Errorf("events = %+v", ev)
		}
	})
	t.Run("OK/TONMemo", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", 0)
		req := shop.CreateOrderRequest{UserID: alice, Type: shop.OrderPremium, Months: 6, Recipient: "t.me/pandus", PaymentMethod: shop.PayTONMemo, ClientReference: "invoice-42"}
		o, err := e.svc.CreateOrder(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != shop.StatusPendingPayment || o.PaymentAddress != depositAddr || !strings.HasPrefix(o.PaymentMemo, "PREMIUM-") || len(o.PaymentMemo) != 14 ||
			!o.ExpiresAt.Equal(o.CreatedAt.Add(15*time.Minute)) || o.ClientReference != "invoice-42" || o.Months != 6 {
			t.Errorf("order = %+v", o)
		}
		st, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
		if err != nil || !strings.HasPrefix(st.PaymentMemo, "STARS-") || st.ID <= o.ID {
			t.Errorf("stars order = %+v, %v", st, err)
		}
		if ev := e.takeEvents(); len(ev) != 0 {
			t.Errorf("events = %+v", ev)
		}
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", price100-1)
		_, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		wantCode(t, err, shop.EINSUFFICIENT)
		if got := e.balance(alice); got != price100-1 {
			t.Errorf("balance changed to %s", got)
		}
		orders, _, _ := e.svc.FindOrders(ctx, shop.OrderFilter{UserID: alice})
		if len(orders) != 0 {
			t.Errorf("an order was created: %+v", orders)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		mods := map[string]func(*shop.CreateOrderRequest){
			"recipient":     func(r *shop.CreateOrderRequest) { r.Recipient = "ab" },
			"method":        func(r *shop.CreateOrderRequest) { r.PaymentMethod = "card" },
			"quantity":      func(r *shop.CreateOrderRequest) { r.Stars = 49 },
			"months":        func(r *shop.CreateOrderRequest) { r.Type, r.Months = shop.OrderPremium, 5 },
			"type":          func(r *shop.CreateOrderRequest) { r.Type = "gift" },
			"reference":     func(r *shop.CreateOrderRequest) { r.ClientReference = strings.Repeat("x", 129) },
			"reference ctl": func(r *shop.CreateOrderRequest) { r.ClientReference = "a\nb" },
			"reference utf": func(r *shop.CreateOrderRequest) { r.ClientReference = "\xff" },
			"idem long":     func(r *shop.CreateOrderRequest) { r.IdempotencyKey = strings.Repeat("k", 129) },
			"idem space":    func(r *shop.CreateOrderRequest) { r.IdempotencyKey = "a b" },
			"user":          func(r *shop.CreateOrderRequest) { r.UserID = 0 },
		}
		for name, mod := range mods {
			req := starsReq(alice, shop.PayBalance)
			mod(&req)
			_, err := e.svc.CreateOrder(ctx, req)
			if shop.ErrorCode(err) != shop.EVALIDATION {
				t.Errorf("%s: err = %v, want VALIDATION_ERROR", name, err)
			}
		}
		// 128 characters of reference is fine, even multi-byte.
		req := starsReq(alice, shop.PayTONMemo)
		req.ClientReference = strings.Repeat("я", 128)
		if _, err := e.svc.CreateOrder(ctx, req); err != nil {
			t.Errorf("128-char reference: %v", err)
		}
		if got := e.balance(alice); got != shop.TON {
			t.Errorf("balance changed to %s", got)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		e := newEnv(t)
		_, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		wantCode(t, err, shop.ENOTFOUND)
	})
	t.Run("ErrBanned", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		if _, err := e.svc.SetBanned(ctx, alice, true); err != nil {
			t.Fatal(err)
		}
		_, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		wantCode(t, err, shop.EUNAUTHORIZED)
		if got := e.balance(alice); got != shop.TON {
			t.Errorf("balance changed to %s", got)
		}
	})
}

func TestService_CreateOrder_Idempotency(t *testing.T) { testCreateOrderIdempotency(t, newEnv) }

func testCreateOrderIdempotency(t *testing.T, newEnv func(*testing.T) *env) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		e.user(bob, "bob_the_2", shop.TON)
		req := starsReq(alice, shop.PayBalance)
		req.IdempotencyKey = "550e8400-e29b-41d4-a716-446655440000"
		o1, err := e.svc.CreateOrder(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		req.Recipient = "PANDUS" // the same request, written differently
		o2, err := e.svc.CreateOrder(ctx, req)
		if err != nil || o2.ID != o1.ID {
			t.Fatalf("replay = %+v, %v; want order %d", o2, err, o1.ID)
		}
		if got := e.balance(alice); got != shop.TON-price100 {
			t.Errorf("balance = %s, charged twice?", got)
		}
		// Keys are per user: bob's identical key is his own.
		breq := req
		breq.UserID = bob
		o3, err := e.svc.CreateOrder(ctx, breq)
		if err != nil || o3.ID == o1.ID {
			t.Errorf("bob's order = %+v, %v", o3, err)
		}
		// After 24 h the key is forgotten and makes a new order.
		e.advance(24*time.Hour + time.Second)
		if _, err := e.svc.ExpireOrders(ctx); err != nil {
			t.Fatal(err)
		}
		o4, err := e.svc.CreateOrder(ctx, req)
		if err != nil || o4.ID == o1.ID {
			t.Errorf("after 24h = %+v, %v", o4, err)
		}
	})
	// A retry returns the original order whatever changed since: the
	// limits (an admin raised STARS_MIN above its quantity), the rate source.
	t.Run("ReplayAfterPricingChanged", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		req := starsReq(alice, shop.PayBalance)
		req.IdempotencyKey = "paid-1"
		o1, err := e.svc.CreateOrder(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p := shop.DefaultPricing()
		p.StarsMin = req.Stars + 100
		if err := e.svc.SetPricing(p); err != nil {
			t.Fatal(err)
		}
		e.svc.Rates = failingRates{}
		o2, err := e.svc.CreateOrder(ctx, req)
		if err != nil || o2.ID != o1.ID {
			t.Fatalf("replay after STARS_MIN raised = %+v, %v; want order %d", o2, err, o1.ID)
		}
		// A new key is validated against the limits of now.
		req.IdempotencyKey = "paid-2"
		_, err = e.svc.CreateOrder(ctx, req)
		wantCode(t, err, shop.EVALIDATION)
		// A different request under the old key is still a conflict.
		req.IdempotencyKey, req.Stars = "paid-1", 101
		_, err = e.svc.CreateOrder(ctx, req)
		wantCode(t, err, shop.ECONFLICT)
		if got := e.balance(alice); got != shop.TON-price100 {
			t.Errorf("balance = %s", got)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		req := starsReq(alice, shop.PayBalance)
		req.IdempotencyKey = "key-1"
		if _, err := e.svc.CreateOrder(ctx, req); err != nil {
			t.Fatal(err)
		}
		req.Stars = 101
		_, err := e.svc.CreateOrder(ctx, req)
		wantCode(t, err, shop.ECONFLICT)
		if got := e.balance(alice); got != shop.TON-price100 {
			t.Errorf("balance = %s", got)
		}
	})
	t.Run("CallerFingerprint", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		req := starsReq(alice, shop.PayBalance)
		req.IdempotencyKey, req.Fingerprint = "k", `{"quantity":100,"recipient_username":"pandus"}`
		o1, err := e.svc.CreateOrder(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if o2, err := e.svc.CreateOrder(ctx, req); err != nil || o2.ID != o1.ID {
			t.Errorf("replay = %v, %v", o2, err)
		}
		req.Fingerprint = `{"recipient_username":"pandus","quantity":100}` // another body, same fields
		_, err = e.svc.CreateOrder(ctx, req)
		wantCode(t, err, shop.ECONFLICT)
	})
	t.Run("Concurrent", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		req := starsReq(alice, shop.PayBalance)
		req.IdempotencyKey = "same-key"
		const n = 20
		ids := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				o, err := e.svc.CreateOrder(ctx, req)
				errs[i] = err
				if err == nil {
					ids[i] = o.ID
				}
			})
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("call %d: id %d, err %v; want id %d", i, ids[i], errs[i], ids[0])
			}
		}
		orders, _, _ := e.svc.FindOrders(ctx, shop.OrderFilter{UserID: alice})
		if len(orders) != 1 || e.balance(alice) != shop.TON-price100 {
			t.Errorf("%d orders, balance %s; want 1 order", len(orders), e.balance(alice))
		}
		// A different body under the same key, concurrently with replays.
		other := req
		other.Stars = 200
		_, err := e.svc.CreateOrder(ctx, other)
		wantCode(t, err, shop.ECONFLICT)
	})
}

// TestService_CreateOrder_Race: 200 buyers race for a balance that pays for
// exactly 50 orders.
func TestService_CreateOrder_Race(t *testing.T) { testCreateOrderRace(t, newEnv) }

func testCreateOrderRace(t *testing.T, newEnv func(*testing.T) *env) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 50*price100)
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for range n {
		wg.Go(func() {
			_, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
			mu.Lock()
			codes[shop.ErrorCode(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[""] != 50 || codes[shop.EINSUFFICIENT] != 150 || len(codes) != 2 {
		t.Errorf("outcomes = %v; want 50 OK and 150 INSUFFICIENT_BALANCE", codes)
	}
	if got := e.balance(alice); got != 0 {
		t.Errorf("balance = %s, want 0", got)
	}
	e.check()
}

func TestService_CancelOrder(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	e.user(bob, "bob_the_2", 0)
	pending, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.CancelOrder(ctx, bob, pending.ID) // not the owner
		wantCode(t, err, shop.ENOTFOUND)
		_, err = e.svc.CancelOrder(ctx, alice, 999)
		wantCode(t, err, shop.ENOTFOUND)
	})
	t.Run("OK", func(t *testing.T) {
		o, err := e.svc.CancelOrder(ctx, alice, pending.ID)
		if err != nil || o.Status != shop.StatusCancelled {
			t.Fatalf("cancel = %+v, %v", o, err)
		}
	})
	t.Run("Again", func(t *testing.T) {
		o, err := e.svc.CancelOrder(ctx, alice, pending.ID) // a retry
		if err != nil || o.Status != shop.StatusCancelled {
			t.Fatalf("cancel again = %+v, %v", o, err)
		}
	})
	t.Run("ErrNotCancellable", func(t *testing.T) {
		paid, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.CancelOrder(ctx, alice, paid.ID)
		wantCode(t, err, shop.ENOTCANCELLABLE)
	})
}

func TestService_ExpireOrders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	o1, _ := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	e.advance(10 * time.Minute)
	o2, _ := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	e.advance(5 * time.Minute) // o1 is exactly at its TTL
	n, err := e.svc.ExpireOrders(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireOrders = %d, %v; want 1", n, err)
	}
	if o, _ := e.svc.FindOrder(ctx, alice, o1.ID); o.Status != shop.StatusExpired {
		t.Errorf("o1 = %s", o.Status)
	}
	if o, _ := e.svc.FindOrder(ctx, alice, o2.ID); o.Status != shop.StatusPendingPayment {
		t.Errorf("o2 = %s", o.Status)
	}
	if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventOrderExpired || ev[0].OrderID != o1.ID {
		t.Errorf("events = %+v", ev)
	}
	if n, _ := e.svc.ExpireOrders(ctx); n != 0 {
		t.Errorf("second sweep expired %d", n)
	}
}

// TestService_CreditDeposit covers every way a transfer can end, per SPEC.
func TestService_CreditDeposit(t *testing.T) { testCreditDeposit(t, newEnv) }

func testCreditDeposit(t *testing.T, newEnv func(*testing.T) *env) {
	ctx := context.Background()
	hash := func(i int) string { return fmt.Sprintf("%064x", i) }

	type setup struct {
		e     *env
		user  *shop.User
		order *shop.Order
	}
	newSetup := func(t *testing.T) setup {
		e := newEnv(t)
		u := e.user(alice, "alice_1", 0)
		o, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
		if err != nil {
			t.Fatal(err)
		}
		return setup{e, u, o}
	}

	tests := []struct {
		name        string
		memo        func(s setup) string
		amount      shop.NanoTON
		before      func(s setup) // runs before the transfer
		sentAt      time.Duration // chain time of the transfer, relative to order creation
		wantStatus  shop.DepositStatus
		wantOrder   shop.OrderStatus
		wantBalance shop.NanoTON
		wantEvents  []shop.EventType
	}{
		{"personal memo", func(s setup) string { return s.user.Memo }, 2 * shop.TON, nil, time.Minute,
			shop.DepositCredited, shop.StatusPendingPayment, 2 * shop.TON, []shop.EventType{shop.EventDepositCredited}},
		{"personal memo, lower case and spaces", func(s setup) string { return "  " + strings.ToLower(s.user.Memo) + "\n" }, shop.TON, nil, time.Minute,
			shop.DepositCredited, shop.StatusPendingPayment, shop.TON, []shop.EventType{shop.EventDepositCredited}},
		{"order exact", func(s setup) string { return s.order.PaymentMemo }, price100, nil, time.Minute,
			shop.DepositOrderPaid, shop.StatusPaid, 0, []shop.EventType{shop.EventOrderPaid}},
		{"order memo case-insensitive", func(s setup) string { return strings.ToLower(s.order.PaymentMemo) }, price100, nil, time.Minute,
			shop.DepositOrderPaid, shop.StatusPaid, 0, []shop.EventType{shop.EventOrderPaid}},
		{"order overpaid: surplus to balance", func(s setup) string { return s.order.PaymentMemo }, shop.TON, nil, time.Minute,
			shop.DepositOrderPaid, shop.StatusPaid, shop.TON - price100, []shop.EventType{shop.EventOrderPaid, shop.EventDepositCredited}},
		{"order underpaid: all to balance", func(s setup) string { return s.order.PaymentMemo }, price100 - 1, nil, time.Minute,
			shop.DepositCredited, shop.StatusPendingPayment, price100 - 1, []shop.EventType{shop.EventDepositCredited}},
		{"order late: all to balance", func(s setup) string { return s.order.PaymentMemo }, price100,
			func(s setup) { s.e.advance(20 * time.Minute); s.e.svc.ExpireOrders(ctx); s.e.takeEvents() }, 16 * time.Minute,
			shop.DepositCredited, shop.StatusExpired, price100, []shop.EventType{shop.EventDepositCredited}},
		{"order swept but sent in time: paid", func(s setup) string { return s.order.PaymentMemo }, price100,
			func(s setup) { s.e.advance(20 * time.Minute); s.e.svc.ExpireOrders(ctx); s.e.takeEvents() }, 14 * time.Minute,
			shop.DepositOrderPaid, shop.StatusPaid, 0, []shop.EventType{shop.EventOrderPaid}},
		{"order cancelled: all to balance", func(s setup) string { return s.order.PaymentMemo }, price100,
			func(s setup) { s.e.svc.CancelOrder(ctx, alice, s.order.ID) }, time.Minute,
			shop.DepositCredited, shop.StatusCancelled, price100, []shop.EventType{shop.EventDepositCredited}},
		{"unknown memo: unmatched", func(s setup) string { return "hello" }, shop.TON, nil, time.Minute,
			shop.DepositUnmatched, shop.StatusPendingPayment, 0, []shop.EventType{shop.EventUnmatchedDeposit}},
		{"no memo: unmatched", func(s setup) string { return "" }, shop.TON, nil, time.Minute,
			shop.DepositUnmatched, shop.StatusPendingPayment, 0, []shop.EventType{shop.EventUnmatchedDeposit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			if tt.before != nil {
				tt.before(s)
				s.e.takeEvents() // the deposit's events are what follow
			}
			tr := shop.Transfer{Hash: hash(1), LT: 100, Time: s.order.CreatedAt.Add(tt.sentAt), From: "UQsender", Amount: tt.amount, Memo: tt.memo(s)}
			cur := &shop.Cursor{Account: depositAddr, LT: 100, Hash: hash(1)}
			dep, err := s.e.svc.CreditDeposit(ctx, tr, cur)
			if err != nil {
				t.Fatal(err)
			}
			if dep.Status != tt.wantStatus {
				t.Errorf("deposit status = %s, want %s", dep.Status, tt.wantStatus)
			}
			if o, _ := s.e.svc.FindOrder(ctx, 0, s.order.ID); o.Status != tt.wantOrder {
				t.Errorf("order status = %s, want %s", o.Status, tt.wantOrder)
			}
			if got := s.e.balance(alice); got != tt.wantBalance {
				t.Errorf("balance = %s, want %s", got, tt.wantBalance)
			}
			var types []shop.EventType
			for _, ev := range s.e.takeEvents() {
				types = append(types, ev.Type)
				if ev.DepositID != dep.ID && ev.Type != shop.EventOrderPaid {
					t.Errorf("event %s has deposit %d, want %d", ev.Type, ev.DepositID, dep.ID)
				}
			}
			if fmt.Sprint(types) != fmt.Sprint(tt.wantEvents) {
				t.Errorf("events = %v, want %v", types, tt.wantEvents)
			}
			if got, err := s.e.svc.Cursor(ctx, depositAddr); err != nil || got.LT != 100 {
				t.Errorf("cursor = %+v, %v", got, err)
			}

			// The same transaction again, even with another memo: nothing changes.
			before := s.e.balance(alice)
			tr.Memo = s.user.Memo
			again, err := s.e.svc.CreditDeposit(ctx, tr, nil)
			if err != nil || again.ID != dep.ID || again.Status != dep.Status {
				t.Errorf("replay = %+v, %v", again, err)
			}
			if got := s.e.balance(alice); got != before {
				t.Errorf("replay changed balance %s → %s", before, got)
			}
			if ev := s.e.takeEvents(); len(ev) != 0 {
				t.Errorf("replay events = %+v", ev)
			}
			entries, _, _ := s.e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice})
			var sum shop.NanoTON
			for _, en := range entries {
				sum += en.Amount
			}
			if sum != s.e.balance(alice) {
				t.Errorf("ledger sum %s != balance %s", sum, s.e.balance(alice))
			}
		})
	}

	t.Run("ErrValidation", func(t *testing.T) {
		s := newSetup(t)
		for name, tr := range map[string]shop.Transfer{
			"empty hash": {Hash: "", Amount: 1},
			"bad hash":   {Hash: "zz", Amount: 1},
			"long hash":  {Hash: strings.Repeat("a", 130), Amount: 1},
			"zero":       {Hash: hash(2), Amount: 0},
			"negative":   {Hash: hash(2), Amount: -5},
			"long from":  {Hash: hash(2), Amount: 1, From: strings.Repeat("x", 200)},
		} {
			if _, err := s.e.svc.CreditDeposit(ctx, tr, nil); shop.ErrorCode(err) != shop.EVALIDATION {
				t.Errorf("%s: %v", name, err)
			}
		}
		// An oversized or invalid-UTF-8 memo is kept, safely, as unmatched.
		dep, err := s.e.svc.CreditDeposit(ctx, shop.Transfer{Hash: hash(3), Amount: 1, Memo: strings.Repeat("я", 400) + "\xff"}, nil)
		if err != nil || dep.Status != shop.DepositUnmatched || len(dep.Memo) > 512 {
			t.Errorf("big memo = %v, %v", dep, err)
		}
	})
}

func TestService_AssignDeposit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	dep, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: "ab", Amount: 3 * shop.TON, Memo: "forgot"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	unmatched, err := e.svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 0)
	if err != nil || len(unmatched) != 1 || unmatched[0].ID != dep.ID {
		t.Fatalf("unmatched = %+v, %v", unmatched, err)
	}
	if got, err := e.svc.FindDeposit(ctx, dep.ID); err != nil || got.Memo != "forgot" || got.Amount != 3*shop.TON {
		t.Fatalf("FindDeposit = %+v, %v", got, err)
	}
	_, err = e.svc.FindDeposit(ctx, dep.ID+100)
	wantCode(t, err, shop.ENOTFOUND)
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.AssignDeposit(ctx, admin, dep.ID+100, alice)
		wantCode(t, err, shop.ENOTFOUND)
		_, err = e.svc.AssignDeposit(ctx, admin, dep.ID, 424242)
		wantCode(t, err, shop.ENOTFOUND)
	})
	t.Run("OK", func(t *testing.T) {
		e.takeEvents()
		got, err := e.svc.AssignDeposit(ctx, admin, dep.ID, alice)
		if err != nil || got.Status != shop.DepositAssigned || got.UserID != alice || got.AdminID != admin {
			t.Fatalf("assign = %+v, %v", got, err)
		}
		if e.balance(alice) != 3*shop.TON {
			t.Errorf("balance = %s", e.balance(alice))
		}
		if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventDepositCredited || ev[0].Amount != 3*shop.TON {
			t.Errorf("events = %+v", ev)
		}
	})
	t.Run("ErrInvalidState", func(t *testing.T) {
		_, err := e.svc.AssignDeposit(ctx, admin, dep.ID, alice) // twice
		wantCode(t, err, shop.EINVALIDSTATE)
		if e.balance(alice) != 3*shop.TON {
			t.Errorf("balance = %s", e.balance(alice))
		}
	})
}

func TestService_Keys(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	t.Run("OK", func(t *testing.T) {
		plain, key, err := e.svc.IssueKey(ctx, alice, shop.KeyPrefixOrders)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(plain, "osk_") || len(plain) != 4+43 || key.Hash != shop.HashKey(plain) || strings.Contains(key.Hint, plain[8:]) {
			t.Errorf("key = %q %+v", plain, key)
		}
		u, k, err := e.svc.Authenticate(ctx, plain)
		if err != nil || u.ID != alice || k.Prefix != "osk_" {
			t.Fatalf("Authenticate = %v %v %v", u, k, err)
		}
		splain, _, err := e.svc.IssueKey(ctx, alice, shop.KeyPrefixSimple)
		if err != nil || !strings.HasPrefix(splain, "sk_") {
			t.Fatal(err)
		}
		// Rotating the osk_ key revokes the old osk_ key only.
		plain2, _, err := e.svc.IssueKey(ctx, alice, shop.KeyPrefixOrders)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.svc.Authenticate(ctx, plain)
		wantCode(t, err, shop.EUNAUTHORIZED)
		for _, p := range []string{plain2, splain} {
			if _, _, err := e.svc.Authenticate(ctx, p); err != nil {
				t.Errorf("Authenticate(%s…) = %v", p[:6], err)
			}
		}
		n, err := e.svc.RevokeKey(ctx, alice, "")
		if err != nil || n != 2 {
			t.Errorf("RevokeKey = %d, %v", n, err)
		}
		_, _, err = e.svc.Authenticate(ctx, splain)
		wantCode(t, err, shop.EUNAUTHORIZED)
		keys, _ := e.svc.Keys(ctx, alice)
		if len(keys) != 3 {
			t.Errorf("keys = %d", len(keys))
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		for _, k := range []string{"", "osk_", "osk_nope", "pk_x", "sk_" + strings.Repeat("a", 200)} {
			_, _, err := e.svc.Authenticate(ctx, k)
			wantCode(t, err, shop.EUNAUTHORIZED)
		}
		plain, _, _ := e.svc.IssueKey(ctx, alice, shop.KeyPrefixOrders)
		e.svc.SetBanned(ctx, alice, true)
		_, _, err := e.svc.Authenticate(ctx, plain)
		wantCode(t, err, shop.EUNAUTHORIZED)
		_, _, err = e.svc.IssueKey(ctx, alice, shop.KeyPrefixOrders)
		wantCode(t, err, shop.EUNAUTHORIZED)
		e.svc.SetBanned(ctx, alice, false)
	})
	t.Run("ErrValidation", func(t *testing.T) {
		_, _, err := e.svc.IssueKey(ctx, alice, "pk_")
		wantCode(t, err, shop.EVALIDATION)
		_, err = e.svc.RevokeKey(ctx, alice, "pk_")
		wantCode(t, err, shop.EVALIDATION)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, _, err := e.svc.IssueKey(ctx, 4242, shop.KeyPrefixOrders)
		wantCode(t, err, shop.ENOTFOUND)
		e.svc.RevokeKey(ctx, alice, "")
		_, err = e.svc.RevokeKey(ctx, alice, "")
		wantCode(t, err, shop.ENOTFOUND)
	})
}

func TestService_Refund(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	paid, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	e.takeEvents()
	t.Run("ErrValidation", func(t *testing.T) {
		_, err := e.svc.Refund(ctx, admin, paid.ID, "  ")
		wantCode(t, err, shop.EVALIDATION)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.Refund(ctx, admin, 999, "x")
		wantCode(t, err, shop.ENOTFOUND)
	})
	t.Run("ErrInvalidState", func(t *testing.T) {
		_, err := e.svc.Refund(ctx, admin, pending.ID, "no")
		wantCode(t, err, shop.EINVALIDSTATE)
	})
	t.Run("OK", func(t *testing.T) {
		o, err := e.svc.Refund(ctx, admin, paid.ID, "recipient cannot receive stars")
		if err != nil || o.Status != shop.StatusRefunded || o.FailureReason == "" {
			t.Fatalf("refund = %+v, %v", o, err)
		}
		if e.balance(alice) != shop.TON {
			t.Errorf("balance = %s", e.balance(alice))
		}
		entries, _, _ := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice, Limit: 1})
		if entries[0].Type != shop.LedgerRefund || entries[0].OrderID != paid.ID || entries[0].AdminID != admin || entries[0].Amount != price100 {
			t.Errorf("entry = %+v", entries[0])
		}
		var queued []int64
		e.st.View(ctx, func(tx shop.Tx) (err error) { queued, err = tx.Queued(10); return err })
		if len(queued) != 0 {
			t.Errorf("refunded order still queued: %v", queued)
		}
		if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventOrderRefunded {
			t.Errorf("events = %+v", ev)
		}
		_, err = e.svc.Refund(ctx, admin, paid.ID, "again") // refunds once
		wantCode(t, err, shop.EINVALIDSTATE)
		if e.balance(alice) != shop.TON {
			t.Errorf("balance = %s", e.balance(alice))
		}
	})
}

func TestService_AdminCreditDebit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	t.Run("OK", func(t *testing.T) {
		en, err := e.svc.AdminCredit(ctx, admin, alice, 2*shop.TON, "bonus")
		if err != nil || en.BalanceAfter != 2*shop.TON || en.AdminID != admin || en.Reason != "bonus" || en.Type != shop.LedgerAdminCredit {
			t.Fatalf("credit = %+v, %v", en, err)
		}
		if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventAdminCredit {
			t.Errorf("events = %+v", ev)
		}
		en, err = e.svc.AdminDebit(ctx, admin, alice, 2*shop.TON, "chargeback")
		if err != nil || en.BalanceAfter != 0 || en.Amount != -2*shop.TON {
			t.Fatalf("debit = %+v, %v", en, err)
		}
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		_, err := e.svc.AdminDebit(ctx, admin, alice, 1, "too much")
		wantCode(t, err, shop.EINSUFFICIENT)
	})
	t.Run("ErrValidation", func(t *testing.T) {
		_, err := e.svc.AdminCredit(ctx, admin, alice, 0, "x")
		wantCode(t, err, shop.EVALIDATION)
		_, err = e.svc.AdminCredit(ctx, admin, alice, -1, "x")
		wantCode(t, err, shop.EVALIDATION)
		_, err = e.svc.AdminDebit(ctx, admin, alice, -1, "x")
		wantCode(t, err, shop.EVALIDATION)
		_, err = e.svc.AdminCredit(ctx, admin, alice, 1, "")
		wantCode(t, err, shop.EVALIDATION)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.svc.AdminCredit(ctx, admin, 4242, 1, "x")
		wantCode(t, err, shop.ENOTFOUND)
	})
}

func TestService_Queries(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 10*shop.TON)
	e.user(bob, "bob_the_2", 0)
	var memoOrder *shop.Order
	for i := range 7 {
		req := starsReq(alice, shop.PayBalance)
		if i%2 == 0 {
			req.PaymentMethod = shop.PayTONMemo
		}
		if i < 3 {
			req.ClientReference = "invoice-42"
		}
		o, err := e.svc.CreateOrder(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if o.PaymentMemo != "" {
			memoOrder = o
		}
	}
	if _, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: alice, Type: shop.OrderPremium, Months: 3, Recipient: "pandus", PaymentMethod: shop.PayBalance}); err != nil {
		t.Fatal(err)
	}

	t.Run("FindOrder", func(t *testing.T) {
		if o, err := e.svc.FindOrder(ctx, alice, memoOrder.ID); err != nil || o.ID != memoOrder.ID {
			t.Errorf("own = %v, %v", o, err)
		}
		_, err := e.svc.FindOrder(ctx, bob, memoOrder.ID)
		wantCode(t, err, shop.ENOTFOUND)
		if o, err := e.svc.FindOrderByMemo(ctx, alice, strings.ToLower(memoOrder.PaymentMemo)); err != nil || o.ID != memoOrder.ID {
			t.Errorf("by memo = %v, %v", o, err)
		}
		_, err = e.svc.FindOrderByMemo(ctx, bob, memoOrder.PaymentMemo)
		wantCode(t, err, shop.ENOTFOUND)
		_, err = e.svc.FindOrderByMemo(ctx, alice, "STARS-000000x")
		wantCode(t, err, shop.ENOTFOUND)
	})
	t.Run("FindOrdersByReference", func(t *testing.T) {
		got, err := e.svc.FindOrdersByReference(ctx, alice, "invoice-42")
		if err != nil || len(got) != 3 || got[0].ID < got[2].ID {
			t.Errorf("by reference = %d orders, %v", len(got), err)
		}
		if got, _ := e.svc.FindOrdersByReference(ctx, bob, "invoice-42"); len(got) != 0 {
			t.Errorf("bob sees %d of alice's orders", len(got))
		}
		_, err = e.svc.FindOrdersByReference(ctx, alice, strings.Repeat("x", 129))
		wantCode(t, err, shop.EVALIDATION)
	})
	t.Run("FindOrders", func(t *testing.T) {
		var all []int64
		before := int64(0)
		for pages := 0; ; pages++ {
			page, next, err := e.svc.FindOrders(ctx, shop.OrderFilter{UserID: alice, Limit: 3, Before: before})
			if err != nil || pages > 5 {
				t.Fatal(err)
			}
			for _, o := range page {
				all = append(all, o.ID)
			}
			if next == 0 {
				break
			}
			before = next
		}
		if len(all) != 8 {
			t.Errorf("paged through %d orders, want 8: %v", len(all), all)
		}
		for i := 1; i < len(all); i++ {
			if all[i] >= all[i-1] {
				t.Errorf("not newest first: %v", all)
			}
		}
		pending, _, _ := e.svc.FindOrders(ctx, shop.OrderFilter{UserID: alice, Status: shop.StatusPendingPayment})
		premium, _, _ := e.svc.FindOrders(ctx, shop.OrderFilter{UserID: alice, Type: shop.OrderPremium})
		if len(pending) != 4 || len(premium) != 1 {
			t.Errorf("pending %d (want 4), premium %d (want 1)", len(pending), len(premium))
		}
		for _, f := range []shop.OrderFilter{{Status: "lost"}, {Type: "gift"}, {Before: -1}} {
			_, _, err := e.svc.FindOrders(ctx, f)
			wantCode(t, err, shop.EVALIDATION)
		}
	})
	t.Run("OrderStats", func(t *testing.T) {
		st, err := e.svc.OrderStats(ctx, alice)
		if err != nil || st.Total != 8 || st.ByStatus[shop.StatusPaid] != 4 || st.ByStatus[shop.StatusPendingPayment] != 4 || st.SpentTON <= 3*price100 {
			t.Errorf("stats = %+v, %v", st, err)
		}
	})
	t.Run("Ledger", func(t *testing.T) {
		entries, next, err := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice, Limit: 2})
		if err != nil || len(entries) != 2 || next == 0 {
			t.Fatalf("ledger = %d, next %d, %v", len(entries), next, err)
		}
		rest, next2, _ := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice, Before: next, Limit: 100})
		if len(rest) != 3 || next2 != 0 { // 1 credit + 4 balance orders = 5 entries
			t.Errorf("rest = %d, next %d", len(rest), next2)
		}
	})
}

// TestService_Reopen closes the store and opens the file again: every
// record, index and balance is still there.
func TestService_Reopen(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/starsbot.db"
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	svc := shoptest.New(t, &shoptest.Options{DB: db, Retry: true}).Service
	u, _ := svc.EnsureUser(ctx, shop.UserUpdate{ID: alice, Username: "alice_1"})
	svc.AdminCredit(ctx, admin, alice, shop.TON, "funding")
	req := starsReq(alice, shop.PayTONMemo)
	req.ClientReference, req.IdempotencyKey = "ref-1", "idem-1"
	order, err := svc.CreateOrder(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, _ := svc.IssueKey(ctx, alice, shop.KeyPrefixOrders)
	svc.CreditDeposit(ctx, shop.Transfer{Hash: "01", Amount: 5, Memo: "???"}, &shop.Cursor{Account: depositAddr, LT: 7, Hash: "01"})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc = shoptest.New(t, &shoptest.Options{DB: db, Retry: true}).Service
	if err := db.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.FindUserByUsername(ctx, "alice_1"); err != nil || got.Memo != u.Memo || got.Balance != shop.TON {
		t.Errorf("user = %+v, %v", got, err)
	}
	if o, err := svc.FindOrderByMemo(ctx, alice, order.PaymentMemo); err != nil || o.ID != order.ID {
		t.Errorf("by memo = %v, %v", o, err)
	}
	if os, _ := svc.FindOrdersByReference(ctx, alice, "ref-1"); len(os) != 1 {
		t.Errorf("by reference = %d", len(os))
	}
	if o, err := svc.CreateOrder(ctx, req); err != nil || o.ID != order.ID {
		t.Errorf("idempotent replay after reopen = %v, %v", o, err)
	}
	if _, _, err := svc.Authenticate(ctx, plain); err != nil {
		t.Errorf("key after reopen: %v", err)
	}
	if c, err := svc.Cursor(ctx, depositAddr); err != nil || c.LT != 7 {
		t.Errorf("cursor = %v, %v", c, err)
	}
	if deps, _ := svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 0); len(deps) != 1 {
		t.Errorf("unmatched = %d", len(deps))
	}
	next, _ := svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if next.ID <= order.ID {
		t.Errorf("order id %d reused after reopen (previous %d)", next.ID, order.ID)
	}
}

func TestService_CreditDeposits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := e.user(alice, "alice_1", 0)
	o, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil {
		t.Fatal(err)
	}
	tr := func(i int, memo string, amount shop.NanoTON) shop.Transfer {
		return shop.Transfer{Hash: fmt.Sprintf("%064x", i), LT: uint64(i), Time: e.clock.Now(), Amount: amount, Memo: memo}
	}

	t.Run("ErrValidation_NothingBooked", func(t *testing.T) {
		cur := &shop.Cursor{Account: depositAddr, LT: 9, Hash: fmt.Sprintf("%064x", 9)}
		_, err := e.svc.CreditDeposits(ctx, []shop.Transfer{tr(1, u.Memo, shop.TON), tr(2, u.Memo, 0)}, cur)
		wantCode(t, err, shop.EVALIDATION)
		if !strings.Contains(shop.ErrorMessage(err), "transfer 1") {
			t.Errorf("message %q", shop.ErrorMessage(err))
		}
		if b := e.balance(alice); b != 0 {
			t.Errorf("balance %s", b)
		}
		if c, err := e.svc.Cursor(ctx, depositAddr); err == nil {
			t.Errorf("cursor saved: %+v", c)
		}
	})
	t.Run("OK", func(t *testing.T) {
		cur := &shop.Cursor{Account: depositAddr, LT: 4, Hash: strings.ToUpper(fmt.Sprintf("%064x", 4))}
		deps, err := e.svc.CreditDeposits(ctx, []shop.Transfer{
			tr(1, u.Memo, shop.TON),
			tr(2, o.PaymentMemo, o.PriceTON),
			tr(1, u.Memo, shop.TON), // the same transaction twice in one batch
			tr(3, "nobody", shop.TON),
		}, cur)
		if err != nil {
			t.Fatal(err)
		}
		want := []shop.DepositStatus{shop.DepositCredited, shop.DepositOrderPaid, shop.DepositCredited, shop.DepositUnmatched}
		for i, d := range deps {
			if d.Status != want[i] {
				t.Errorf("deposit %d: %s, want %s", i, d.Status, want[i])
			}
		}
		if deps[0].ID != deps[2].ID {
			t.Errorf("the repeated transaction was booked twice")
		}
		if b := e.balance(alice); b != shop.TON {
			t.Errorf("balance %s, want 1 TON", b)
		}
		c, err := e.svc.Cursor(ctx, depositAddr)
		if err != nil || c.LT != 4 || c.Hash != fmt.Sprintf("%064x", 4) {
			t.Errorf("cursor %+v, %v", c, err)
		}
		var types []shop.EventType
		for _, ev := range e.takeEvents() {
			types = append(types, ev.Type)
			if ev.DepositID == 0 {
				t.Errorf("event %s without deposit id", ev.Type)
			}
		}
		if fmt.Sprint(types) != "[deposit_credited order_paid unmatched_deposit]" {
			t.Errorf("events %v", types)
		}
	})
	e.check()
}
