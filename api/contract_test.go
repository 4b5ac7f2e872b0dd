package api_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/shop"
)

// The contract examples replayed literally: the exact bodies of the curl
// examples in ../shared/contracts, checked field by field against the
// documented responses (same keys, same JSON types).

// ordersContractBody is the orders contract's POST /orders/stars example.
const ordersContractBody = `{
"recipient_username": "pandus",
"quantity": 100,
"payment_method": "ton_memo",
"payment_currency": "TON",
"client_reference": "invoice-42"
}`

var (
	memoRE     = regexp.MustCompile(`^STARS-[0-9a-f]{6}$`)
	simpleIDRE = regexp.MustCompile(`^api_buy_[0-9]+_[0-9]+_[0-9]+$`)
)

func TestContract_Orders(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)

	var id string
	t.Run("CreateStarsOrder", func(t *testing.T) {
		r := h.do(req{method: "POST", path: "/api/v1/orders/stars", key: key, body: ordersContractBody,
			header: map[string]string{"Idempotency-Key": "550e8400-e29b-41d4-a716-446655440000"}})
		d := r.data(t)
		// Every field of the contract's example, with its JSON type.
		wantTypes(t, d, map[string]string{
			"id": "number", "status": "string", "order_type": "string", "stars_amount": "number",
			"recipient_username": "string", "price_ton": "number", "payment_address": "string",
			"payment_memo": "string", "expires_at": "string", "created_at": "string",
			// and the fields the issue adds
			"payment_method": "string", "client_reference": "string",
			"paid_at": "null", "completed_at": "null", "failure_reason": "null",
			// and the exact twin of each TON amount (issue 16)
			"price_nanoton": "string",
		})
		wantNanoTwins(t, d)
		if d["price_nanoton"] != "418000000" || num(t, d, "price_ton") != "0.418" {
			t.Errorf("price: %s, want the contract's 0.418, exactly", r.body)
		}
		if d["status"] != "pending_payment" || d["order_type"] != "stars" || num(t, d, "stars_amount") != "100" ||
			d["recipient_username"] != "pandus" || d["payment_method"] != "ton_memo" || d["client_reference"] != "invoice-42" {
			t.Errorf("order: %s", r.body)
		}
		if got := num(t, d, "price_ton"); got != price100.String() {
			t.Errorf("price_ton %s, want %s (the contract's 0.418 at 3.59 USD/TON)", got, price100)
		}
		if d["payment_address"] != depositAddr || !memoRE.MatchString(d["payment_memo"].(string)) {
			t.Errorf("payment: %s", r.body)
		}
		created, err1 := time.Parse(time.RFC3339, d["created_at"].(string))
		expires, err2 := time.Parse(time.RFC3339, d["expires_at"].(string))
		if err1 != nil || err2 != nil || expires.Sub(created) != 15*time.Minute {
			t.Errorf("created_at/expires_at: %s", r.body)
		}
		if _, isStarsOnly := d["months"]; isStarsOnly {
			t.Errorf("a stars order has months: %s", r.body)
		}
		id = num(t, d, "id")
	})
	t.Run("GetOrder", func(t *testing.T) {
		d := h.get("/api/v1/orders/"+id, key).data(t)
		if num(t, d, "id") != id || d["client_reference"] != "invoice-42" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Recipient", func(t *testing.T) {
		d := h.get("/api/v1/recipients/stars?username=pandus", key).data(t)
		wantTypes(t, d, map[string]string{"username": "string", "can_receive": "boolean"})
		if d["username"] != "pandus" || d["can_receive"] != true {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Estimate", func(t *testing.T) {
		d := h.get("/api/v1/pricing/estimate/stars?quantity=100", key).data(t)
		wantTypes(t, d, map[string]string{"price_ton": "number", "price_usd": "number", "ton_usd": "number", "price_nanoton": "string", "fee_nanoton": "string"})
		wantNanoTwins(t, d)
		if num(t, d, "price_ton") != price100.String() || num(t, d, "price_usd") != "1.5" || num(t, d, "ton_usd") != "3.59" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Balance", func(t *testing.T) {
		r := h.do(req{method: "GET", path: "/api/v1/balance", key: key, header: map[string]string{"Accept": "application/json"}})
		d := r.data(t)
		wantTypes(t, d, map[string]string{"balance_ton": "number", "currency": "string", "topup_address": "string", "topup_memo": "string", "balance_nanoton": "string"})
		wantNanoTwins(t, d)
	})
	t.Run("Error", func(t *testing.T) {
		r := h.post("/api/v1/orders/stars", key, `{"recipient_username":"pandus","quantity":10,"payment_method":"ton_memo","payment_currency":"TON"}`)
		if msg := r.wantError(t, http.StatusBadRequest, "VALIDATION_ERROR"); msg != "quantity must be between 50 and 1000000" {
			t.Errorf("message %q", msg)
		}
	})
}

func TestContract_Simple(t *testing.T) {
	h := newHarness(t)
	h.startWorker(map[string]shop.OrderStatus{"johndoe": shop.StatusCompleted, "alice_1": shop.StatusCompleted, "manual_user": shop.StatusManual})
	key := h.sk(alice)
	h.fund(alice, 1234567000) // 1.234567 TON, the contract's example balance

	t.Run("Balance", func(t *testing.T) {
		r := h.get("/api/v1/balance", key)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		m := r.object(t)
		wantKeys(t, m, "balance_ton", "currency")
		if num(t, m, "balance_ton") != "1.234567" || m["currency"] != "TON" {
			t.Errorf("got %s", r.body)
		}
	})
	t.Run("Deposit", func(t *testing.T) {
		r := h.get("/api/v1/deposit", key)
		m := r.object(t)
		wantKeys(t, m, "wallet", "memo", "message")
		if r.status != http.StatusOK || m["wallet"] != depositAddr || !regexp.MustCompile(`^AP[0-9]{9}$`).MatchString(m["memo"].(string)) ||
			m["message"] != "Send TON to the wallet with this memo (comment) to top up your API balance." {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("BuySelf", func(t *testing.T) {
		r := h.post("/api/v1/buy", key, `{"amount_stars": 100}`)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		m := r.object(t)
		wantKeys(t, m, "status", "order_id", "amount_stars", "to_username", "message")
		if m["status"] != "ok" || !simpleIDRE.MatchString(m["order_id"].(string)) || num(t, m, "amount_stars") != "100" ||
			m["to_username"] != nil || m["message"] != "Stars sent to your Telegram account." {
			t.Errorf("got %s", r.body)
		}
		id, found := shop.ParseSimpleRef(m["order_id"].(string))
		if !found {
			t.Fatalf("order_id %v does not resolve", m["order_id"])
		}
		o := h.order(id)
		if o.Recipient != "alice_1" || o.UserID != alice || o.PaymentMethod != shop.PayBalance || o.Source != "simple_api" {
			t.Errorf("order %+v", o)
		}
	})
	t.Run("BuyOther", func(t *testing.T) {
		r := h.post("/api/v1/buy", key, `{"amount_stars": 100, "to_username": "johndoe"}`)
		m := r.object(t)
		wantKeys(t, m, "status", "order_id", "amount_stars", "to_username", "message")
		if r.status != http.StatusOK || m["to_username"] != "johndoe" || m["message"] != "Stars sent to @johndoe." {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("BuyManual", func(t *testing.T) {
		h.fund(alice, shop.TON)
		// The worker hands the order to the admins: the contract calls it
		// manual delivery.
		r := h.post("/api/v1/buy", key, `{"amount_stars": 100, "to_username": "manual_user"}`)
		m := r.object(t)
		if r.status != http.StatusOK || m["to_username"] != "manual_user" || m["message"] != "Order created. Stars will be delivered manually." {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	t.Run("BuyWaitRunsOut", func(t *testing.T) {
		// No outcome within BuyWait: the order is paid and waits, which
		// the contract calls manual delivery too. A loaded machine only
		// makes the wait longer, not the answer different.
		hs := newHarness(t, func(c *api.ServerConfig) { c.BuyWait = 50 * time.Millisecond })
		hs.fund(alice, shop.TON)
		r := hs.post("/api/v1/buy", hs.sk(alice), `{"amount_stars": 100, "to_username": "slow_user"}`)
		m := r.object(t)
		if r.status != http.StatusOK || m["to_username"] != "slow_user" || m["message"] != "Order created. Stars will be delivered manually." {
			t.Errorf("got %d %s", r.status, r.body)
		}
	})
	if got := h.balance(alice); got != 1234567000+shop.TON-3*price100 {
		t.Errorf("balance %s after three buys", got)
	}
}

// order reads an order directly.
func (h *harness) order(id int64) *shop.Order {
	h.t.Helper()
	o, err := h.svc.FindOrder(context.Background(), 0, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}
