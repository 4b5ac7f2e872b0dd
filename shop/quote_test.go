package shop_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/shop"
)

// lock locks a quote for 100 stars for user.
func (e *env) lock(user int64) *shop.LockedQuote {
	e.t.Helper()
	q, err := e.svc.LockQuote(context.Background(), user, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

// setFee changes the fee in force, as an admin's /fees set does.
func (e *env) setFee(ppm int64) {
	e.t.Helper()
	p := e.svc.Pricing()
	p.FeePPM = ppm
	if err := e.svc.SavePricing(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
}

func quoted(user int64, method shop.PaymentMethod, quoteID string) shop.CreateOrderRequest {
	r := starsReq(user, method)
	r.QuoteID = quoteID
	return r
}

func TestLockQuote(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	q := e.lock(alice)
	if len(q.ID) != shop.QuoteIDLen || q.UserID != alice || q.Type != shop.OrderStars || q.Stars != 100 ||
		q.PriceTON != price100 || q.Rate.TONUSD != rate || q.OrderID != 0 ||
		!q.ExpiresAt.Equal(q.CreatedAt.Add(shop.DefaultQuoteTTL)) || !q.CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("quote = %+v", q)
	}
	if other := e.lock(alice); other.ID == q.ID {
		t.Errorf("two quotes share id %s", q.ID)
	}
	got, err := e.svc.FindQuote(ctx, alice, q.ID)
	if err != nil || got.PriceTON != q.PriceTON || !got.ExpiresAt.Equal(q.ExpiresAt) {
		t.Errorf("FindQuote = %+v, %v", got, err)
	}

	// Another user's quote is not found, as an unknown one.
	e.user(bob, "bob_1", 0)
	_, err = e.svc.FindQuote(ctx, bob, q.ID)
	wantCode(t, err, shop.ENOTFOUND)
	_, err = e.svc.FindQuote(ctx, alice, strings.Repeat("A", shop.QuoteIDLen))
	wantCode(t, err, shop.ENOTFOUND)
	for _, bad := range []string{"", "short", strings.Repeat("A", shop.QuoteIDLen-1) + "!", strings.Repeat("A", 200)} {
		_, err = e.svc.FindQuote(ctx, alice, bad)
		wantCode(t, err, shop.EVALIDATION)
	}

	// Bad requests lock nothing.
	_, err = e.svc.LockQuote(ctx, alice, shop.QuoteRequest{Type: shop.OrderStars, Stars: 10})
	wantCode(t, err, shop.EVALIDATION)
	_, err = e.svc.LockQuote(ctx, alice, shop.QuoteRequest{Type: shop.OrderPremium, Months: 4})
	wantCode(t, err, shop.EVALIDATION)
	_, err = e.svc.LockQuote(ctx, 4242, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
	wantCode(t, err, shop.ENOTFOUND)
	if _, err := e.svc.SetBanned(ctx, bob, true); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.LockQuote(ctx, bob, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
	wantCode(t, err, shop.EUNAUTHORIZED)

	// QuoteTTL sets the hold.
	e.svc.QuoteTTL = 5 * time.Minute
	if q := e.lock(alice); !q.ExpiresAt.Equal(q.CreatedAt.Add(5 * time.Minute)) {
		t.Errorf("with QuoteTTL 5m: expires %s, created %s", q.ExpiresAt, q.CreatedAt)
	}
	e.check()
}

// The fee goes from 0 to 20 % between the quote and the order: the order
// costs the quoted price, by balance and by TON transfer alike; an order
// without a quote costs the new price.
func TestCreateOrder_Quote_FeeChanged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	qb, qt := e.lock(alice), e.lock(alice)
	e.setFee(200_000)
	now, err := e.svc.Quote(ctx, shop.QuoteRequest{Type: shop.OrderStars, Stars: 100})
	if err != nil {
		t.Fatal(err)
	}
	if now.PriceTON != 502_000_000 { // the 0.501392758 TON, rounded up to 0.001
		t.Fatalf("price at 20%% = %s", now.PriceTON)
	}
	e.advance(shop.DefaultQuoteTTL - time.Second)

	o, err := e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, qb.ID))
	if err != nil {
		t.Fatal(err)
	}
	if o.PriceTON != price100 || o.FeeTON != 0 || o.PriceUSD != qb.PriceUSD || o.TONUSD != rate || o.Status != shop.StatusPaid {
		t.Errorf("balance order = %+v, want the quoted %s", o, price100)
	}
	if got := e.balance(alice); got != shop.TON-price100 {
		t.Errorf("balance = %s, want %s", got, shop.TON-price100)
	}
	entries, _, _ := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice})
	if len(entries) != 2 || entries[0].Amount != -price100 || entries[0].OrderID != o.ID {
		t.Errorf("ledger = %+v", entries)
	}
	m, err := e.svc.CreateOrder(ctx, quoted(alice, shop.PayTONMemo, qt.ID))
	if err != nil || m.PriceTON != price100 || m.Status != shop.StatusPendingPayment {
		t.Errorf("ton_memo order = %+v, %v", m, err)
	}
	if used, err := e.svc.FindQuote(ctx, alice, qb.ID); err != nil || used.OrderID != o.ID {
		t.Errorf("quote after use = %+v, %v", used, err)
	}
	// Without a quote, today's price.
	n, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil || n.PriceTON != now.PriceTON {
		t.Errorf("unquoted order = %+v, %v", n, err)
	}
	e.check()
}

// A quote works even when the rate source is down: nothing is priced again.
func TestCreateOrder_Quote_NoRateNeeded(t *testing.T) {
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	q := e.lock(alice)
	e.svc.Rates = failingRates{}
	o, err := e.svc.CreateOrder(context.Background(), quoted(alice, shop.PayBalance, q.ID))
	if err != nil || o.PriceTON != price100 {
		t.Errorf("order = %+v, %v", o, err)
	}
	e.check()
}

func TestCreateOrder_Quote_Expired(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	q := e.lock(alice)
	e.advance(shop.DefaultQuoteTTL)
	for _, m := range []shop.PaymentMethod{shop.PayBalance, shop.PayTONMemo} {
		req := quoted(alice, m, q.ID)
		req.IdempotencyKey = "k-" + string(m)
		_, err := e.svc.CreateOrder(ctx, req)
		wantCode(t, err, shop.EQUOTEEXPIRED)
		if !strings.Contains(shop.ErrorMessage(err), "request a new quote") {
			t.Errorf("message = %q", shop.ErrorMessage(err))
		}
	}
	// Nothing was written: no order, no debit, no idempotency record, the
	// quote unused.
	if os, _, _ := e.svc.FindOrders(ctx, shop.OrderFilter{UserID: alice}); len(os) != 0 {
		t.Errorf("orders = %+v", os)
	}
	if got := e.balance(alice); got != shop.TON {
		t.Errorf("balance = %s", got)
	}
	if got, _ := e.svc.FindQuote(ctx, alice, q.ID); got.OrderID != 0 {
		t.Errorf("expired quote marked used by %d", got.OrderID)
	}
	// The key was not spent: a new quote under it works.
	req := quoted(alice, shop.PayBalance, e.lock(alice).ID)
	req.IdempotencyKey = "k-balance"
	if _, err := e.svc.CreateOrder(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.check()
}

// A quote is bound to its owner (another user's is NOT_FOUND, as if it did
// not exist: it gives nothing away) and to its item (VALIDATION_ERROR: the
// request contradicts its own quote).
func TestCreateOrder_Quote_Bound(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	e.user(bob, "bob_1", shop.TON)
	q := e.lock(alice)

	_, err := e.svc.CreateOrder(ctx, quoted(bob, shop.PayBalance, q.ID))
	wantCode(t, err, shop.ENOTFOUND)

	other := quoted(alice, shop.PayBalance, q.ID)
	other.Stars = 50
	_, err = e.svc.CreateOrder(ctx, other)
	wantCode(t, err, shop.EVALIDATION)
	if msg := shop.ErrorMessage(err); !strings.Contains(msg, "100 stars, not 50 stars") {
		t.Errorf("message = %q", msg)
	}
	premium := quoted(alice, shop.PayBalance, q.ID)
	premium.Type, premium.Stars, premium.Months = shop.OrderPremium, 0, 3
	_, err = e.svc.CreateOrder(ctx, premium)
	wantCode(t, err, shop.EVALIDATION)

	for _, bad := range []string{"x", strings.Repeat("=", shop.QuoteIDLen)} {
		_, err = e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, bad))
		wantCode(t, err, shop.EVALIDATION)
	}
	_, err = e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, strings.Repeat("A", shop.QuoteIDLen)))
	wantCode(t, err, shop.ENOTFOUND)

	if e.balance(alice) != shop.TON || e.balance(bob) != shop.TON {
		t.Errorf("balances moved: %s, %s", e.balance(alice), e.balance(bob))
	}
	// Still usable by its owner for its item.
	if _, err := e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, q.ID)); err != nil {
		t.Fatal(err)
	}
	e.check()
}

// One order per quote; a retry under the same Idempotency-Key returns that
// order, even after the quote expired; a failed order does not use it up.
func TestCreateOrder_Quote_OncePerQuote(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	q := e.lock(alice)

	req := quoted(alice, shop.PayBalance, q.ID)
	req.IdempotencyKey = "once-1"
	_, err := e.svc.CreateOrder(ctx, req)
	wantCode(t, err, shop.EINSUFFICIENT)
	if _, err := e.svc.AdminCredit(ctx, admin, alice, shop.TON, "top-up"); err != nil {
		t.Fatal(err)
	}
	first, err := e.svc.CreateOrder(ctx, req)
	if err != nil {
		t.Fatalf("after top-up: %v", err)
	}

	again, err := e.svc.CreateOrder(ctx, req)
	if err != nil || again.ID != first.ID {
		t.Errorf("retry = %+v, %v; want order %d", again, err, first.ID)
	}
	e.advance(shop.DefaultQuoteTTL + time.Minute)
	if again, err := e.svc.CreateOrder(ctx, req); err != nil || again.ID != first.ID {
		t.Errorf("retry after expiry = %+v, %v; want order %d", again, err, first.ID)
	}

	// Another request with the same quote: refused, naming the order.
	other := quoted(alice, shop.PayTONMemo, q.ID)
	other.IdempotencyKey = "once-2"
	_, err = e.svc.CreateOrder(ctx, other)
	wantCode(t, err, shop.EQUOTEUSED)
	if msg := shop.ErrorMessage(err); !strings.Contains(msg, "order 1") {
		t.Errorf("message = %q", msg)
	}
	other.IdempotencyKey = ""
	_, err = e.svc.CreateOrder(ctx, other)
	wantCode(t, err, shop.EQUOTEUSED)
	// The same key with another request is the idempotency conflict it
	// always was.
	conflict := quoted(alice, shop.PayTONMemo, q.ID)
	conflict.IdempotencyKey = "once-1"
	_, err = e.svc.CreateOrder(ctx, conflict)
	wantCode(t, err, shop.ECONFLICT)

	if got := e.balance(alice); got != shop.TON-price100 {
		t.Errorf("balance = %s", got)
	}
	e.check()
}

// Many requests race for one quote, each under its own key: one order.
func TestCreateOrder_Quote_Race(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 10*shop.TON)
	q := e.lock(alice)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range 50 {
		wg.Go(func() {
			req := quoted(alice, shop.PayBalance, q.ID)
			req.IdempotencyKey = "race-" + string(rune('A'+i))
			_, err := e.svc.CreateOrder(ctx, req)
			mu.Lock()
			codes[shop.ErrorCode(err)]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[""] != 1 || codes[shop.EQUOTEUSED] != 49 || len(codes) != 2 {
		t.Errorf("outcomes = %v; want 1 OK and 49 QUOTE_USED", codes)
	}
	if got := e.balance(alice); got != 10*shop.TON-price100 {
		t.Errorf("balance = %s", got)
	}
	e.check()
}

// Maintenance forgets quotes QuoteRetention after they expire, in chunks,
// and nothing sooner.
func TestPurgeQuotes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	used := e.lock(alice)
	if _, err := e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, used.ID)); err != nil {
		t.Fatal(err)
	}
	// More than one chunk, written directly in one transaction.
	const many = 2500
	start := e.clock.Now()
	err := e.st.Update(ctx, func(tx shop.Tx) error {
		for i := range many {
			q := *used
			q.ID = fmt.Sprintf("%s%06d", strings.Repeat("x", shop.QuoteIDLen-6), i)
			q.OrderID = 0
			q.ExpiresAt = start.Add(time.Duration(i) * time.Millisecond)
			if err := tx.PutQuote(&q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	late := e.lock(alice) // expires with used, a minute after start
	e.check()

	// Expired, but within retention: kept, and still says QUOTE_EXPIRED.
	e.advance(shop.QuoteRetention)
	if n, err := e.svc.PurgeQuotes(ctx); err != nil || n != 0 {
		t.Errorf("within retention: purged %d, %v", n, err)
	}
	_, err = e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, late.ID))
	wantCode(t, err, shop.EQUOTEEXPIRED)

	// Past retention of the bulk but not of the last two.
	e.advance(3 * time.Second)
	if n, err := e.svc.PurgeQuotes(ctx); err != nil || n != many {
		t.Errorf("purged %d, %v; want %d", n, err, many)
	}
	for _, q := range []*shop.LockedQuote{used, late} {
		if _, err := e.svc.FindQuote(ctx, alice, q.ID); err != nil {
			t.Errorf("quote purged early: %v", err)
		}
	}
	e.advance(time.Minute)
	if n, err := e.svc.PurgeQuotes(ctx); err != nil || n != 2 {
		t.Errorf("purged %d, %v; want 2", n, err)
	}
	_, err = e.svc.CreateOrder(ctx, quoted(alice, shop.PayBalance, late.ID))
	wantCode(t, err, shop.ENOTFOUND)
	e.check()
}

// RunMaintenance purges forgotten quotes on its first tick.
func TestRunMaintenance_PurgesQuotes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t)
	e.user(alice, "alice_1", 0)
	q := e.lock(alice)
	e.advance(shop.DefaultQuoteTTL + shop.QuoteRetention + time.Second)
	done := make(chan error, 1)
	go func() { done <- e.svc.RunMaintenance(ctx, time.Hour) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.svc.FindQuote(ctx, alice, q.ID)
		if shop.ErrorCode(err) == shop.ENOTFOUND {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quote still there after maintenance: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.check()
}
