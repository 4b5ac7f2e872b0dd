package sdkcheck_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/sdk"
	"starsbot/shop"
)

var ctx = context.Background()

// The fault injector lets the server create the order and loses its
// answer; the SDK sends the POST again with the same Idempotency-Key and
// gets the order the first attempt made: one order, paid once.
func TestCreateOrder_AnswerLost_OneOrder(t *testing.T) {
	e := newEnv(t)
	e.fund(alice, 10*shop.TON)
	f := &faults{plan: []fault{dropAnswer}}
	sl := &sleeper{}
	c := e.client(e.osk(alice), f, sl, nil)

	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance, ClientReference: "invoice-42"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != sdk.StatusPaid || o.Price != price100 || o.Stars != 100 || o.Recipient != "pandus" || o.ClientReference != "invoice-42" || o.PaidAt.IsZero() {
		t.Errorf("order %+v", o)
	}
	if n := e.orderCount(alice); n != 1 {
		t.Errorf("%d orders in the store, want 1", n)
	}
	if got, want := e.balance(alice), 10*shop.TON-shop.NanoTON(price100); got != want {
		t.Errorf("balance %s, want %s (debited once)", got, want)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[0].idempotencyKey == "" || reqs[0].idempotencyKey != reqs[1].idempotencyKey {
		t.Errorf("attempts %+v: want 2 with the same Idempotency-Key", reqs)
	}
	if w := sl.recorded(); len(w) != 1 || w[0] < sdk.DefaultMinBackoff/2 || w[0] > sdk.DefaultMinBackoff {
		t.Errorf("waits %v, want one backoff in [%v, %v]", w, sdk.DefaultMinBackoff/2, sdk.DefaultMinBackoff)
	}
	got, err := c.GetOrder(ctx, o.ID)
	if err != nil || got.ID != o.ID || got.Price != o.Price {
		t.Errorf("GetOrder: %+v, %v", got, err)
	}
}

// A 500 after the server committed, then a proxy's 502 without the
// request reaching it: both retried, still one order.
func TestCreateOrder_5xxRetried_OneOrder(t *testing.T) {
	e := newEnv(t)
	f := &faults{plan: []fault{
		answerAfterServer(http.StatusInternalServerError, map[string]string{"Content-Type": "application/json"},
			`{"ok":false,"error_code":"INTERNAL_ERROR","error_message":"Internal error.","data":null}`),
		answerInstead(http.StatusBadGateway, map[string]string{"Content-Type": "text/html"}, "<html>502 Bad Gateway</html>"),
	}}
	sl := &sleeper{}
	c := e.client(e.osk(alice), f, sl, nil)
	o, err := c.CreatePremiumOrder(ctx, sdk.PremiumOrderRequest{Recipient: "pandus", Months: 3})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != sdk.StatusPendingPayment || o.PaymentMethod != sdk.PayTONMemo || o.PaymentMemo == "" || o.PaymentAddress == "" || o.Months != 3 || o.ExpiresAt.IsZero() {
		t.Errorf("order %+v", o)
	}
	if n := e.orderCount(alice); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[0].idempotencyKey != reqs[2].idempotencyKey || reqs[1].idempotencyKey != reqs[2].idempotencyKey {
		t.Errorf("attempts %+v: want 3 with one Idempotency-Key", reqs)
	}
	// Equal jitter: attempt n waits between half and all of MinBackoff·2^(n-1).
	w := sl.recorded()
	if len(w) != 2 || w[0] < sdk.DefaultMinBackoff/2 || w[0] > sdk.DefaultMinBackoff || w[1] < sdk.DefaultMinBackoff || w[1] > 2*sdk.DefaultMinBackoff {
		t.Errorf("waits %v", w)
	}
}

// A key of the caller's own makes two separate calls one order: the
// second returns the first's.
func TestCreateOrder_CallerIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	f := &faults{}
	c := e.client(e.osk(alice), f, &sleeper{}, nil)
	r := sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100}
	a, err := c.CreateStarsOrder(ctx, r, sdk.WithIdempotencyKey("invoice-42"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateStarsOrder(ctx, r, sdk.WithIdempotencyKey("invoice-42"))
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || e.orderCount(alice) != 1 {
		t.Errorf("orders %d and %d, %d stored; want one", a.ID, b.ID, e.orderCount(alice))
	}
	// The same key for another request is the API's conflict, not retried.
	_, err = c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 200}, sdk.WithIdempotencyKey("invoice-42"))
	if ae := apiError(t, err); ae.StatusCode != http.StatusConflict || ae.Code != sdk.CodeIdempotencyConflict {
		t.Errorf("error %v", err)
	}
	// A key the API would refuse is refused before sending.
	if _, err := c.CreateStarsOrder(ctx, r, sdk.WithIdempotencyKey("has space")); err == nil || len(f.requests()) != 3 {
		t.Errorf("key with a space: %v", err)
	}
	// Without one, every call is a new order with a new key.
	if _, err := c.CreateStarsOrder(ctx, r); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 4 || reqs[3].idempotencyKey == "invoice-42" || len(reqs[3].idempotencyKey) != 36 {
		t.Errorf("requests %+v", reqs)
	}
}

// The server's own 429 with its Retry-After (seconds): the SDK waits
// exactly that long (the test's sleeper moves the server's clock by the
// wait), and the retry goes through.
func TestRateLimited_RetryAfterHonoured(t *testing.T) {
	e := newEnv(t, func(c *api.ServerConfig) { c.RateLimit, c.RateBurst = 0.5, 1 })
	f := &faults{}
	sl := &sleeper{then: e.clock.Advance}
	c := e.client(e.osk(alice), f, sl, nil)
	if _, err := c.Balance(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := c.Balance(ctx) // the bucket is empty: 429, Retry-After: 2
	if err != nil {
		t.Fatal(err)
	}
	if b.Currency != "TON" || b.TopupMemo == "" {
		t.Errorf("balance %+v", b)
	}
	if w := sl.recorded(); len(w) != 1 || w[0] != 2*time.Second {
		t.Errorf("waits %v, want [2s] from Retry-After", w)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}

	// A Retry-After longer than MaxRetryAfter ends the call with the 429.
	sl2 := &sleeper{}
	c2 := e.client(e.osk(alice), &faults{}, sl2, &sdk.Options{MaxRetryAfter: time.Second})
	_, err = c2.Balance(ctx)
	ae := apiError(t, err)
	if !sdk.IsRateLimited(err) || ae.Code != sdk.CodeRateLimited || ae.RetryAfter != 2*time.Second || len(sl2.recorded()) != 0 {
		t.Errorf("error %+v, waits %v", ae, sl2.recorded())
	}
}

// Retry-After as an HTTP date (RFC 9110 section 10.2.3), from a front end.
func TestRetryAfter_HTTPDate(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
	f := &faults{plan: []fault{answerInstead(http.StatusServiceUnavailable, map[string]string{"Retry-After": at}, "busy")}}
	sl := &sleeper{}
	c := e.client(e.osk(alice), f, sl, nil)
	if _, err := c.TONRate(ctx); err != nil {
		t.Fatal(err)
	}
	// The date has whole seconds, and the machine may be slow: the wait
	// is within (5 s, 10 s].
	if w := sl.recorded(); len(w) != 1 || w[0] <= 5*time.Second || w[0] > 10*time.Second {
		t.Errorf("waits %v, want about 10s", w)
	}
}

// Answers 4xx are final: one request each, the API's code in the error.
func TestClientErrors_NotRetried(t *testing.T) {
	e := newEnv(t)
	f := &faults{}
	sl := &sleeper{}
	c := e.client(e.osk(alice), f, sl, nil)

	_, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 10})
	if ae := apiError(t, err); ae.StatusCode != 400 || ae.Code != sdk.CodeValidation || ae.Message == "" || !sdk.IsValidation(err) {
		t.Errorf("error %+v", ae)
	}
	_, err = c.GetOrder(ctx, 999)
	if !sdk.IsNotFound(err) || sdk.ErrorCode(err) != sdk.CodeNotFound {
		t.Errorf("error %v", err)
	}
	_, err = c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance})
	if ae := apiError(t, err); ae.StatusCode != http.StatusPaymentRequired || !sdk.IsInsufficientBalance(err) {
		t.Errorf("error %+v", ae)
	}
	// An sk_ key on an orders route: 401 in the simple contract's shape.
	_, err = e.client(e.sk(alice), f, sl, nil).GetOrder(ctx, 1)
	if ae := apiError(t, err); ae.StatusCode != 401 || !sdk.IsUnauthorized(err) || ae.Message == "" {
		t.Errorf("error %+v", ae)
	}
	if n := len(f.requests()); n != 4 {
		t.Errorf("%d requests for 4 calls", n)
	}
	if w := sl.recorded(); len(w) != 0 {
		t.Errorf("waited %v", w)
	}
	if n := e.orderCount(alice); n != 0 {
		t.Errorf("%d orders", n)
	}
}

// Retries are bounded; the last answer is the error. A network error
// before the server is retried for GETs as for POSTs.
func TestRetries_Bounded(t *testing.T) {
	e := newEnv(t)
	unavailable := answerInstead(http.StatusServiceUnavailable, nil, "")
	f := &faults{plan: []fault{unavailable, unavailable, unavailable, unavailable}}
	sl := &sleeper{}
	c := e.client(e.osk(alice), f, sl, &sdk.Options{MaxAttempts: 3})
	_, err := c.Balance(ctx)
	if ae := apiError(t, err); ae.StatusCode != 503 || ae.Code != "" {
		t.Errorf("error %+v", ae)
	}
	if n, w := len(f.requests()), len(sl.recorded()); n != 3 || w != 2 {
		t.Errorf("%d attempts, %d waits; want 3 and 2", n, w)
	}

	f = &faults{plan: []fault{failBeforeServer}}
	c = e.client(e.osk(alice), f, &sleeper{}, nil)
	if _, err := c.Balance(ctx); err != nil {
		t.Errorf("after one network error: %v", err)
	}
	// A transport error that echoes the Authorization header never shows
	// the key.
	echo := func(r *http.Request, _ http.RoundTripper) (*http.Response, error) {
		return nil, errors.New("proxy refused " + r.Header.Get("Authorization"))
	}
	f = &faults{plan: []fault{echo, echo}}
	c = e.client(e.osk(alice), f, &sleeper{}, &sdk.Options{MaxAttempts: 2})
	if _, err := c.Balance(ctx); err == nil || strings.Contains(err.Error(), e.osk(alice)) || !strings.Contains(err.Error(), "<key>") {
		t.Errorf("error %v", err)
	}
	// WithMaxAttempts(1): no retry.
	f = &faults{plan: []fault{failBeforeServer}}
	c = e.client(e.osk(alice), f, &sleeper{}, nil)
	if _, err := c.CreateQuote(ctx, sdk.QuoteRequest{Type: sdk.Stars, Quantity: 100}, sdk.WithMaxAttempts(1)); err == nil || len(f.requests()) != 1 {
		t.Errorf("err %v after %d attempts", err, len(f.requests()))
	}
}

// A context that would end before the next attempt ends the call at once
// with the last error; a cancelled one stops the wait.
func TestRetries_ContextAware(t *testing.T) {
	e := newEnv(t)
	f := &faults{plan: []fault{failBeforeServer, failBeforeServer}}
	sl := &sleeper{}
	c := e.client(e.osk(alice), f, sl, &sdk.Options{MinBackoff: time.Hour})
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.Balance(dctx); err == nil || len(sl.recorded()) != 0 || len(f.requests()) != 1 {
		t.Errorf("err %v, waits %v, %d attempts", err, sl.recorded(), len(f.requests()))
	}

	cctx, cancel := context.WithCancel(ctx)
	f = &faults{plan: []fault{failBeforeServer, failBeforeServer}}
	sl = &sleeper{then: func(time.Duration) { cancel() }}
	c = e.client(e.osk(alice), f, sl, nil)
	_, err := c.Balance(cctx)
	if err == nil || cctx.Err() == nil || len(f.requests()) != 1 {
		t.Errorf("err %v after %d attempts", err, len(f.requests()))
	}
}

// ListOrders walks every page; Transactions too; breaking the loop stops
// the fetching.
func TestPagination(t *testing.T) {
	e := newEnv(t)
	f := &faults{}
	c := e.client(e.osk(alice), f, &sleeper{}, nil)
	var made []int64
	for i := range 5 {
		o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: int64(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, o.ID)
	}
	before := len(f.requests())
	var got []int64
	for o, err := range c.ListOrders(ctx, sdk.OrderFilter{Type: sdk.Stars, PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.ID)
	}
	if len(got) != 5 || got[0] != made[4] || got[4] != made[0] {
		t.Errorf("listed %v, want %v newest first", got, made)
	}
	if n := len(f.requests()) - before; n != 3 {
		t.Errorf("%d page requests for 5 orders by 2, want 3", n)
	}
	before = len(f.requests())
	for range c.ListOrders(ctx, sdk.OrderFilter{PageSize: 2}) {
		break
	}
	if n := len(f.requests()) - before; n != 1 {
		t.Errorf("%d requests for a loop that stopped at once", n)
	}
	for o, err := range c.ListOrders(ctx, sdk.OrderFilter{Status: sdk.StatusCompleted}) {
		t.Errorf("completed order listed: %v %v", o, err)
	}

	for i := range 3 {
		e.fund(alice, shop.NanoTON(i+1)*shop.TON+1)
	}
	var amounts []sdk.Nano
	for tx, err := range c.Transactions(ctx, 2) {
		if err != nil {
			t.Fatal(err)
		}
		amounts = append(amounts, tx.Amount)
		if tx.Type != "admin_credit" || tx.CreatedAt.IsZero() {
			t.Errorf("transaction %+v", tx)
		}
	}
	want := []sdk.Nano{3*sdk.TON + 1, 2*sdk.TON + 1, sdk.TON + 1}
	if len(amounts) != 3 || amounts[0] != want[0] || amounts[1] != want[1] || amounts[2] != want[2] {
		t.Errorf("amounts %v, want %v", amounts, want)
	}
	// An error ends the iteration as its last pair.
	bad := e.client("osk_unknown", &faults{}, &sleeper{}, nil)
	n := 0
	for o, err := range bad.ListOrders(ctx, sdk.OrderFilter{}) {
		n++
		if o != nil || !sdk.IsUnauthorized(err) {
			t.Errorf("pair %v, %v", o, err)
		}
	}
	if n != 1 {
		t.Errorf("%d pairs", n)
	}
}

// A quote holds its price until it expires; after that the order is
// refused with QUOTE_EXPIRED, as a typed error.
func TestQuotes(t *testing.T) {
	e := newEnv(t)
	e.fund(alice, 10*shop.TON)
	c := e.client(e.osk(alice), &faults{}, &sleeper{}, nil)

	q, err := c.CreateQuote(ctx, sdk.QuoteRequest{Type: sdk.Stars, Quantity: 100})
	if err != nil {
		t.Fatal(err)
	}
	if q.ID == "" || q.Price != price100 || q.Stars != 100 || q.PriceUSD != 1_500_000 || q.TONUSD != 3_590_000 || q.ExpiresAt.Sub(q.CreatedAt) != shop.DefaultQuoteTTL {
		t.Errorf("quote %+v", q)
	}
	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance, QuoteID: q.ID})
	if err != nil {
		t.Fatal(err)
	}
	if o.Price != q.Price {
		t.Errorf("order price %s, quoted %s", o.Price, q.Price)
	}
	_, err = c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, QuoteID: q.ID})
	if !sdk.HasCode(err, sdk.CodeQuoteUsed) {
		t.Errorf("reused quote: %v", err)
	}

	p, err := c.CreateQuote(ctx, sdk.QuoteRequest{Type: sdk.Premium, Months: 6})
	if err != nil {
		t.Fatal(err)
	}
	e.shop.Clock.Advance(shop.DefaultQuoteTTL + time.Second)
	_, err = c.CreatePremiumOrder(ctx, sdk.PremiumOrderRequest{Recipient: "pandus", Months: 6, QuoteID: p.ID})
	ae := apiError(t, err)
	if ae.StatusCode != http.StatusConflict || ae.Code != sdk.CodeQuoteExpired || !sdk.IsQuoteExpired(err) {
		t.Errorf("expired quote: %+v", ae)
	}
	if n := e.orderCount(alice); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}

	fee, err := c.Fee(ctx)
	want := shop.DefaultPricing()
	if err != nil || fee.FeePercent != "0" || fee.StarsMin != want.StarsMin || fee.StarsMax != want.StarsMax || int64(fee.USDPerStar) != int64(want.USDPerStar) ||
		len(fee.PremiumUSD) != 3 || int64(fee.PremiumUSD[3]) != int64(want.PremiumUSD[3]) || fee.OrderTTL != want.OrderTTL {
		t.Errorf("fee %+v, %v; want %+v", fee, err, want)
	}
	est, err := c.EstimateStars(ctx, 100)
	if err != nil || est.Price != price100 || est.Fee != 0 || est.FeePercent != "0" {
		t.Errorf("estimate %+v, %v", est, err)
	}
}

// WaitForOrder reads until the order is completed, backing off.
func TestWaitForOrder(t *testing.T) {
	e := newEnv(t)
	e.fund(alice, 10*shop.TON)
	sl := &sleeper{}
	c := e.client(e.osk(alice), &faults{}, sl, nil)
	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance})
	if err != nil {
		t.Fatal(err)
	}
	// The worker delivers while the SDK waits its second interval.
	sl.then = func(time.Duration) {
		if len(sl.recorded()) == 2 {
			if _, err := e.svc.CompleteOrder(ctx, 0, o.ID, "fragment-ref-1"); err != nil {
				t.Error(err)
			}
		}
	}
	done, err := c.WaitForOrder(ctx, o.ID, &sdk.WaitOptions{Interval: time.Second, MaxInterval: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != sdk.StatusCompleted || done.CompletedAt.IsZero() || done.FulfillmentRef != "fragment-ref-1" {
		t.Errorf("order %+v", done)
	}
	if w := sl.recorded(); len(w) != 2 || w[0] != time.Second || w[1] != 2*time.Second {
		t.Errorf("waits %v, want [1s 2s]", w)
	}

	// manual is a stop only when asked for.
	o2, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.MoveToManual(ctx, o2.ID, "scripted"); err != nil {
		t.Fatal(err)
	}
	sl.then = nil
	got, err := c.WaitForOrder(ctx, o2.ID, &sdk.WaitOptions{Until: append([]sdk.OrderStatus{sdk.StatusManual}, sdk.DefaultFinalStatuses()...)})
	if err != nil || got.Status != sdk.StatusManual {
		t.Errorf("order %+v, %v", got, err)
	}
	// A context that ends gives the last order read and ErrWaitEnded.
	cctx, cancel := context.WithCancel(ctx)
	sl.then = func(time.Duration) { cancel() }
	got, err = c.WaitForOrder(cctx, o2.ID, nil)
	if got == nil || got.Status != sdk.StatusManual || !errors.Is(err, sdk.ErrWaitEnded) || !errors.Is(err, context.Canceled) {
		t.Errorf("order %+v, %v", got, err)
	}
	_, err = c.WaitForOrder(ctx, 999, nil)
	if !sdk.IsNotFound(err) {
		t.Errorf("unknown order: %v", err)
	}
}

// The simple contract: balance exact from its JSON number, deposit, buy
// (retried after a lost answer: one purchase), and its error shape.
func TestSimpleContract(t *testing.T) {
	e := newEnv(t)
	e.startWorker()
	e.fund(alice, 1_234_567_891) // 1.234567891 TON: nine decimals, no float would keep them all
	f := &faults{}
	c := e.client(e.sk(alice), f, &sleeper{}, nil)
	bal, err := c.SimpleBalance(ctx)
	if err != nil || bal != 1_234_567_891 {
		t.Fatalf("balance %v, %v", bal, err)
	}
	d, err := c.SimpleDeposit(ctx)
	if err != nil || d.Wallet == "" || d.Memo == "" || d.Message == "" {
		t.Errorf("deposit %+v, %v", d, err)
	}

	f.plan = make([]fault, len(f.requests())+1)
	f.plan[len(f.plan)-1] = dropAnswer
	r, err := c.Buy(ctx, sdk.BuyRequest{AmountStars: 100, ToUsername: "johndoe"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "ok" || r.AmountStars != 100 || r.ToUsername != "johndoe" || r.Message != "Stars sent to @johndoe." || r.OrderID == "" {
		t.Errorf("buy %+v", r)
	}
	if n := e.orderCount(alice); n != 1 {
		t.Errorf("%d orders after a retried buy, want 1", n)
	}
	bal, err = c.SimpleBalance(ctx)
	if err != nil || bal != 1_234_567_891-price100 {
		t.Errorf("balance %v, %v; want %v", bal, err, 1_234_567_891-price100)
	}

	_, err = c.Buy(ctx, sdk.BuyRequest{AmountStars: 1_000_000})
	if ae := apiError(t, err); ae.StatusCode != http.StatusPaymentRequired || ae.Code != sdk.CodeInsufficientBalance || ae.Message == "" {
		t.Errorf("error %+v", ae)
	}
	// An osk_ key reads the same balance through the orders contract.
	b, err := e.client(e.osk(alice), &faults{}, &sleeper{}, nil).Balance(ctx)
	if err != nil || b.Balance != bal {
		t.Errorf("orders balance %+v, %v", b, err)
	}
}

// OrderStats, OrderByMemo, OrdersByReference and CancelOrder read the
// same orders.
func TestOrderQueries(t *testing.T) {
	e := newEnv(t)
	c := e.client(e.osk(alice), &faults{}, &sleeper{}, nil)
	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, ClientReference: "inv/7"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.OrderByMemo(ctx, o.PaymentMemo)
	if err != nil || m.ID != o.ID {
		t.Errorf("by memo: %+v, %v", m, err)
	}
	refs, err := c.OrdersByReference(ctx, "inv/7")
	if err != nil || len(refs) != 1 || refs[0].ID != o.ID {
		t.Errorf("by reference: %v, %v", refs, err)
	}
	cancelled, err := c.CancelOrder(ctx, o.ID)
	if err != nil || cancelled.Status != sdk.StatusCancelled {
		t.Errorf("cancel: %+v, %v", cancelled, err)
	}
	// Cancelling again (a retry after a lost answer) is harmless.
	again, err := c.CancelOrder(ctx, o.ID)
	if err != nil || again.Status != sdk.StatusCancelled {
		t.Errorf("second cancel: %+v, %v", again, err)
	}
	st, err := c.OrderStats(ctx)
	if err != nil || st.Total != 1 || st.ByStatus[sdk.StatusCancelled] != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}
	rc, err := c.CheckRecipient(ctx, sdk.Stars, "pandus")
	if err != nil || rc.Username == "" {
		t.Errorf("recipient %+v, %v", rc, err)
	}
	// Other partners' orders are not found.
	_, err = e.client(e.osk(bob), &faults{}, &sleeper{}, nil).GetOrder(ctx, o.ID)
	if !sdk.IsNotFound(err) {
		t.Errorf("bob reads alice's order: %v", err)
	}
}

// New refuses what would leak the key or go nowhere, and accepts the base
// URL with the API's prefix.
func TestNew(t *testing.T) {
	for _, bad := range []struct{ base, key string }{
		{"ftp://api.example.com", "osk_x"}, {"api.example.com", "osk_x"}, {"https://user:pw@api.example.com", "osk_x"},
		{"https://api.example.com?x=1", "osk_x"}, {"https://api.example.com", ""}, {"https://api.example.com", "osk_x y"},
	} {
		if _, err := sdk.New(bad.base, bad.key, nil); err == nil {
			t.Errorf("New(%q, %q) accepted", bad.base, bad.key)
		} else if bad.key != "" && strings.Contains(err.Error(), bad.key) {
			t.Errorf("error shows the key: %v", err)
		}
	}
	e := newEnv(t)
	c, err := sdk.New(e.ts.URL+"/api/v1/", e.osk(alice), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Balance(ctx); err != nil {
		t.Errorf("base URL with /api/v1/: %v", err)
	}
}
