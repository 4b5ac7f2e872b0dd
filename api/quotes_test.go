package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"starsbot/shop"
)

const quotesPath = "/api/v1/quotes"

var quoteIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// quote locks a quote over HTTP and returns its data.
func (h *harness) quote(key, body string) map[string]any {
	h.t.Helper()
	t := h.t.(*testing.T)
	d := h.post(quotesPath, key, body).data(t)
	if id, _ := d["quote_id"].(string); !quoteIDRE.MatchString(id) {
		t.Fatalf("quote_id %v", d["quote_id"])
	}
	return d
}

// setFee changes the fee as an admin's /fees set does.
func (h *harness) setFee(ppm int64) {
	h.t.Helper()
	p := h.svc.Pricing()
	p.FeePPM = ppm
	if err := h.svc.SavePricing(context.Background(), p); err != nil {
		h.t.Fatal(err)
	}
}

func TestCreateQuote(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)

	d := h.quote(key, `{"order_type":"stars","quantity":100}`)
	wantTypes(t, d, map[string]string{
		"quote_id": "string", "order_type": "string", "stars_amount": "number", "price_ton": "number", "price_usd": "number",
		"fee_ton": "number", "fee_percent": "number", "ton_usd": "number", "rate_source": "string", "expires_at": "string", "created_at": "string",
		"price_nanoton": "string", "fee_nanoton": "string",
	})
	wantNanoTwins(t, d)
	if num(t, d, "price_ton") != price100.String() || num(t, d, "price_usd") != "1.5" || num(t, d, "ton_usd") != "3.59" || num(t, d, "stars_amount") != "100" {
		t.Errorf("quote %v", d)
	}
	created, err1 := time.Parse(time.RFC3339, d["created_at"].(string))
	expires, err2 := time.Parse(time.RFC3339, d["expires_at"].(string))
	if err1 != nil || err2 != nil || expires.Sub(created) != shop.DefaultQuoteTTL || !created.Equal(h.clock.Now()) {
		t.Errorf("created_at %v, expires_at %v", d["created_at"], d["expires_at"])
	}
	if _, found := d["months"]; found {
		t.Errorf("a stars quote has months: %v", d)
	}
	p := h.quote(key, `{"order_type":"premium","months":3}`)
	if p["order_type"] != "premium" || num(t, p, "months") != "3" || p["quote_id"] == d["quote_id"] {
		t.Errorf("premium quote %v", p)
	}
	if _, found := p["stars_amount"]; found {
		t.Errorf("a premium quote has stars_amount: %v", p)
	}

	tests := []struct{ name, body, msg string }{
		{"TypeMissing", `{"quantity":100}`, "order_type is required"},
		{"TypeUnknown", `{"order_type":"gifts","quantity":100}`, "order_type must be stars or premium"},
		{"StarsNoQuantity", `{"order_type":"stars"}`, "a stars quote needs quantity and no months"},
		{"StarsWithMonths", `{"order_type":"stars","quantity":100,"months":3}`, "a stars quote needs quantity and no months"},
		{"StarsLow", `{"order_type":"stars","quantity":49}`, "quantity must be between 50 and 1000000"},
		{"PremiumNoMonths", `{"order_type":"premium"}`, "a premium quote needs months"},
		{"PremiumBadMonths", `{"order_type":"premium","months":4}`, "months must be 3, 6 or 12"},
		{"UnknownField", `{"order_type":"stars","quantity":100,"price_ton":0.001}`, `unknown field "price_ton"`},
		{"NotObject", `[]`, "request body must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(quotesPath, key, tt.body)
			if msg := r.wantError(t, http.StatusBadRequest, shop.EVALIDATION); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q, want %q", msg, tt.msg)
			}
		})
	}
	// Orders contract only, and a key is needed.
	h.post(quotesPath, h.sk(alice), `{"order_type":"stars","quantity":100}`).wantSimpleError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
	h.post(quotesPath, "", `{"order_type":"stars","quantity":100}`).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
}

// The case: the fee goes from 0 to 20 % between the quote and the
// order. The order with the quote costs the quoted price; without it, the
// new one.
func TestQuote_FeeChanged_QuotedPriceCharged(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, shop.TON)
	qb := h.quote(key, `{"order_type":"stars","quantity":100}`)["quote_id"].(string)
	qt := h.quote(key, `{"order_type":"stars","quantity":100}`)["quote_id"].(string)
	qp := h.quote(key, `{"order_type":"premium","months":3}`)
	h.setFee(200_000)
	h.clock.Advance(shop.DefaultQuoteTTL - time.Second)

	d := h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance","quote_id":"`+qb+`"}`).data(t)
	if num(t, d, "price_ton") != price100.String() || d["status"] != "paid" {
		t.Errorf("balance order %v, want price %s", d, price100)
	}
	if got := h.balance(alice); got != shop.TON-price100 {
		t.Errorf("balance %s, want %s", got, shop.TON-price100)
	}
	d = h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"quote_id":"`+qt+`"}`).data(t)
	if num(t, d, "price_ton") != price100.String() || d["status"] != "pending_payment" {
		t.Errorf("ton_memo order %v, want price %s", d, price100)
	}
	d = h.post("/api/v1/orders/premium", key, `{"recipient_username":"pandus","months":3,"quote_id":"`+qp["quote_id"].(string)+`"}`).data(t)
	if num(t, d, "price_ton") != num(t, qp, "price_ton") {
		t.Errorf("premium order %v, want price %s", d, num(t, qp, "price_ton"))
	}
	d = h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100}`).data(t)
	if num(t, d, "price_ton") != "0.502" {
		t.Errorf("unquoted order %v, want the new 0.502 (0.501392758 rounded up to 0.001)", d)
	}
}

func TestQuote_Expired(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, shop.TON)
	id := h.quote(key, `{"order_type":"stars","quantity":100}`)["quote_id"].(string)
	h.clock.Advance(shop.DefaultQuoteTTL)
	for _, method := range []string{"balance", "ton_memo"} {
		r := h.do(req{method: "POST", path: starsPath, key: key,
			body:   `{"recipient_username":"pandus","quantity":100,"payment_method":"` + method + `","quote_id":"` + id + `"}`,
			header: map[string]string{"Idempotency-Key": "exp-" + method}})
		if msg := r.wantError(t, http.StatusConflict, shop.EQUOTEEXPIRED); !strings.Contains(msg, "request a new quote") {
			t.Errorf("message %q", msg)
		}
	}
	if n := h.orderCount(alice); n != 0 || h.balance(alice) != shop.TON {
		t.Errorf("%d orders, balance %s", n, h.balance(alice))
	}
}

// A quote is bound to its owner: bob's key cannot use alice's quote (404
// NOT_FOUND, as an unknown id: a quote id reveals nothing to another key),
// and to its item: another quantity or Premium is 400 VALIDATION_ERROR
// (the request contradicts its own quote; retrying it cannot help).
func TestQuote_Bound(t *testing.T) {
	h := newHarness(t)
	h.fund(alice, shop.TON)
	h.fund(bob, shop.TON)
	id := h.quote(h.osk(alice), `{"order_type":"stars","quantity":100}`)["quote_id"].(string)

	r := h.post(starsPath, h.osk(bob), `{"recipient_username":"pandus","quantity":100,"payment_method":"balance","quote_id":"`+id+`"}`)
	r.wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	r = h.post(starsPath, h.osk(alice), `{"recipient_username":"pandus","quantity":200,"payment_method":"balance","quote_id":"`+id+`"}`)
	if msg := r.wantError(t, http.StatusBadRequest, shop.EVALIDATION); !strings.Contains(msg, "is for 100 stars, not 200 stars") {
		t.Errorf("message %q", msg)
	}
	r = h.post("/api/v1/orders/premium", h.osk(alice), `{"recipient_username":"pandus","months":3,"payment_method":"balance","quote_id":"`+id+`"}`)
	r.wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	for _, bad := range []string{`""`, `"short"`, `"` + strings.Repeat("!", 22) + `"`, `123`} {
		r = h.post(starsPath, h.osk(alice), `{"recipient_username":"pandus","quantity":100,"quote_id":`+bad+`}`)
		r.wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	}
	r = h.post(starsPath, h.osk(alice), `{"recipient_username":"pandus","quantity":100,"quote_id":"`+strings.Repeat("A", 22)+`"}`)
	r.wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	// null is the same as absent: priced now.
	h.post(starsPath, h.osk(alice), `{"recipient_username":"pandus","quantity":100,"quote_id":null}`).data(t)

	if h.orderCount(bob) != 0 || h.balance(alice) != shop.TON || h.balance(bob) != shop.TON {
		t.Errorf("bob's orders %d, balances %s, %s", h.orderCount(bob), h.balance(alice), h.balance(bob))
	}
}

// One order per quote. The same POST with the same Idempotency-Key is the
// same order, also after the quote expired; any other use of the quote is
// 409 QUOTE_USED naming the order.
func TestQuote_UsedTwice(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, shop.TON)
	id := h.quote(key, `{"order_type":"stars","quantity":100}`)["quote_id"].(string)
	body := `{"recipient_username":"pandus","quantity":100,"payment_method":"balance","quote_id":"` + id + `"}`
	create := func(idem string) *response {
		hdr := map[string]string{}
		if idem != "" {
			hdr["Idempotency-Key"] = idem
		}
		return h.do(req{method: "POST", path: starsPath, key: key, body: body, header: hdr})
	}
	first := create("retry-me").data(t)
	again := create("retry-me").data(t)
	if num(t, first, "id") != num(t, again, "id") {
		t.Errorf("retry made order %s, first %s", num(t, again, "id"), num(t, first, "id"))
	}
	h.clock.Advance(time.Hour)
	if late := create("retry-me").data(t); num(t, late, "id") != num(t, first, "id") {
		t.Errorf("retry after expiry made order %s", num(t, late, "id"))
	}
	want := fmt.Sprintf("already used by order %s", num(t, first, "id"))
	for _, idem := range []string{"", "another-key"} {
		if msg := create(idem).wantError(t, http.StatusConflict, shop.EQUOTEUSED); !strings.Contains(msg, want) {
			t.Errorf("message %q, want %q", msg, want)
		}
	}
	if n := h.orderCount(alice); n != 1 || h.balance(alice) != shop.TON-price100 {
		t.Errorf("%d orders, balance %s", n, h.balance(alice))
	}
}

// The quote's response fields are numbers written exactly, like the
// estimate's.
func TestQuote_MatchesEstimate(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.setFee(25_000)
	q := h.quote(key, `{"order_type":"premium","months":12}`)
	e := h.get("/api/v1/pricing/estimate/premium?months=12", key).data(t)
	for k := range e {
		a, _ := json.Marshal(q[k])
		b, _ := json.Marshal(e[k])
		if string(a) != string(b) {
			t.Errorf("%s: quote %s, estimate %s", k, a, b)
		}
	}
}
