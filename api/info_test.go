package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"starsbot/api"
	"starsbot/shop"
)

func TestPricing(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)

	t.Run("TONRate", func(t *testing.T) {
		d := h.get("/api/v1/pricing/ton-rate", key).data(t)
		wantTypes(t, d, map[string]string{"ton_usd": "number", "source": "string", "updated_at": "string", "age_seconds": "number"})
		if num(t, d, "ton_usd") != "3.59" || d["source"] != "static" || d["updated_at"] != "2026-04-16T11:00:00Z" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Fee", func(t *testing.T) {
		p := shop.DefaultPricing()
		p.FeePPM = 25_000 // 2.5 %
		if err := h.svc.SetPricing(p); err != nil {
			t.Fatal(err)
		}
		defer h.svc.SetPricing(shop.DefaultPricing())
		d := h.get("/api/v1/pricing/fee", key).data(t)
		wantTypes(t, d, map[string]string{"fee_percent": "number", "stars_min": "number", "stars_max": "number",
			"premium_months": "array", "usd_per_star": "number", "premium_usd": "object", "order_ttl_seconds": "number"})
		if num(t, d, "fee_percent") != "2.5" || num(t, d, "stars_min") != "50" || num(t, d, "stars_max") != "1000000" ||
			num(t, d, "usd_per_star") != "0.015" || num(t, d, "order_ttl_seconds") != "900" ||
			fmt.Sprint(d["premium_months"]) != "[3 6 12]" || fmt.Sprint(d["premium_usd"]) != "map[12:28.99 3:11.99 6:15.99]" {
			t.Errorf("got %v", d)
		}
		// The estimate includes the fee: 0.428272981 and 0.417827299 (no fee)
		// rounded up to 0.001.
		e := h.get("/api/v1/pricing/estimate/stars?quantity=100", key).data(t)
		if num(t, e, "fee_percent") != "2.5" || num(t, e, "price_ton") != "0.429" || num(t, e, "fee_ton") != "0.011" {
			t.Errorf("estimate with fee: %v", e)
		}
	})
	t.Run("EstimatePremium", func(t *testing.T) {
		d := h.get("/api/v1/pricing/estimate/premium?months=12", key).data(t)
		if num(t, d, "months") != "12" || num(t, d, "price_usd") != "28.99" || d["order_type"] != "premium" {
			t.Errorf("got %v", d)
		}
		if _, has := d["stars_amount"]; has {
			t.Errorf("premium estimate has stars_amount")
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		for path, msg := range map[string]string{
			"/api/v1/pricing/estimate/stars":                     "query parameter quantity is required",
			"/api/v1/pricing/estimate/stars?quantity=abc":        "quantity must be a whole number",
			"/api/v1/pricing/estimate/stars?quantity=10":         "quantity must be between 50 and 1000000",
			"/api/v1/pricing/estimate/stars?quantity=1000000000": "quantity must be between 50 and 1000000",
			"/api/v1/pricing/estimate/premium":                   "query parameter months is required",
			"/api/v1/pricing/estimate/premium?months=5":          "months must be 3, 6 or 12",
			"/api/v1/pricing/estimate/premium?months=x":          "months must be 3, 6 or 12",
		} {
			if got := h.get(path, key).wantError(t, http.StatusBadRequest, shop.EVALIDATION); got != msg {
				t.Errorf("%s: message %q, want %q", path, got, msg)
			}
		}
	})
	t.Run("ErrInternal_NoRate", func(t *testing.T) {
		rates := h.svc.Rates
		h.svc.Rates = downRates{}
		defer func() { h.svc.Rates = rates }()
		h.get("/api/v1/pricing/ton-rate", key).wantError(t, http.StatusInternalServerError, shop.EINTERNAL)
		h.get("/api/v1/pricing/estimate/stars?quantity=100", key).wantError(t, http.StatusInternalServerError, shop.EINTERNAL)
		h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100}`).wantError(t, http.StatusInternalServerError, shop.EINTERNAL)
	})
}

type downRates struct{}

func (downRates) Rate(context.Context) (shop.Rate, error) {
	return shop.Rate{}, fmt.Errorf("rate source down")
}

func TestRecipients(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	t.Run("OK", func(t *testing.T) {
		d := h.get("/api/v1/recipients/premium?username=@Pandus", key).data(t)
		wantKeys(t, d, "username", "can_receive")
		if d["username"] != "Pandus" || d["can_receive"] != true {
			t.Errorf("got %v", d)
		}
	})
	t.Run("CannotReceive", func(t *testing.T) {
		d := h.get("/api/v1/recipients/stars?username=sandbox_notfound", key).data(t)
		if d["can_receive"] != false || d["reason"] != "user not found" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		h.get("/api/v1/recipients/stars", key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		h.get("/api/v1/recipients/stars?username=ab", key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		h.get("/api/v1/recipients/premium?username=a%00bcdef", key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	})
}

func TestBalance(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, 2*shop.TON)
	for range 3 {
		h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`).data(t)
	}
	u, _ := h.svc.FindUser(context.Background(), alice)

	t.Run("Balance", func(t *testing.T) {
		d := h.get("/api/v1/balance", key).data(t)
		wantKeys(t, d, "balance_ton", "balance_nanoton", "currency", "topup_address", "topup_memo")
		wantNanoTwins(t, d)
		if num(t, d, "balance_ton") != (2*shop.TON-3*price100).String() || d["balance_nanoton"] != "746000000" || d["currency"] != "TON" ||
			d["topup_address"] != depositAddr || d["topup_memo"] != u.Memo {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Transactions", func(t *testing.T) {
		var entries []map[string]any
		cursor := ""
		for {
			path := "/api/v1/balance/transactions?limit=3"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			d := h.get(path, key).data(t)
			for _, e := range d["transactions"].([]any) {
				entries = append(entries, e.(map[string]any))
			}
			next, more := d["next_cursor"].(string)
			if !more {
				break
			}
			cursor = next
		}
		if len(entries) != 4 {
			t.Fatalf("%d entries, want 4", len(entries))
		}
		order, credit := entries[0], entries[3]
		wantTypes(t, order, map[string]string{"id": "number", "type": "string", "amount_ton": "number", "balance_after_ton": "number",
			"amount_nanoton": "string", "balance_after_nanoton": "string",
			"order_id": "number", "tx_hash": "null", "created_at": "string"})
		for _, e := range entries {
			wantNanoTwins(t, e)
		}
		if order["amount_nanoton"] != "-418000000" || credit["amount_nanoton"] != "2000000000" {
			t.Errorf("amount_nanoton: %v, %v", order["amount_nanoton"], credit["amount_nanoton"])
		}
		if order["type"] != "order" || num(t, order, "amount_ton") != "-"+price100.String() ||
			num(t, order, "balance_after_ton") != (2*shop.TON-3*price100).String() {
			t.Errorf("newest entry %v", order)
		}
		if credit["type"] != "admin_credit" || num(t, credit, "amount_ton") != "2" || credit["order_id"] != nil || credit["reason"] != "test funding" {
			t.Errorf("oldest entry %v", credit)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		h.get("/api/v1/balance/transactions?limit=500", key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		h.get("/api/v1/balance/transactions?cursor=x", key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	})
	t.Run("OnlyOwn", func(t *testing.T) {
		d := h.get("/api/v1/balance/transactions", h.osk(bob)).data(t)
		if n := len(d["transactions"].([]any)); n != 0 {
			t.Errorf("bob sees %d entries", n)
		}
	})
}

func TestHealth(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		h := newHarness(t, func(s *api.ServerConfig) {
			s.Probes["bot"] = api.StaticProbe(api.Component{Status: api.ComponentDisabled, Detail: "TELEGRAM_TOKEN is empty"})
		})
		d := h.get("/api/v1/health", "").data(t)
		comps := d["components"].(map[string]any)
		if d["status"] != "ok" || comps["store"].(map[string]any)["status"] != "ok" || comps["bot"].(map[string]any)["status"] != "disabled" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Degraded", func(t *testing.T) {
		lag := 42.0
		h := newHarness(t, func(s *api.ServerConfig) {
			s.Probes["chain"] = api.StaticProbe(api.Component{Status: api.ComponentDegraded, LagSeconds: &lag})
		})
		d := h.get("/api/v1/health", "").data(t)
		if d["status"] != "degraded" || num(t, d["components"].(map[string]any)["chain"].(map[string]any), "lag_seconds") != "42" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Down", func(t *testing.T) {
		h := newHarness(t, func(s *api.ServerConfig) {
			s.Probes["provider"] = api.StaticProbe(api.Component{Status: api.ComponentDown, Detail: "cookies expired"})
		})
		r := h.get("/api/v1/health", "")
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("status %d", r.status)
		}
		m := r.object(t)
		if m["ok"] != false || m["error_code"] != "SERVICE_UNAVAILABLE" || m["data"].(map[string]any)["status"] != "down" {
			t.Errorf("got %s", r.body)
		}
	})
}

// directChain credits a simulated transfer at once through CreditDeposit.
type directChain struct{ svc *shop.Service }

func (c directChain) Deposit(ctx context.Context, memo string, amount shop.NanoTON, hash string) (string, error) {
	if hash == "" {
		hash = fmt.Sprintf("%064x", len(memo)+int(amount))
	}
	_, err := c.svc.CreditDeposit(ctx, shop.Transfer{Hash: hash, LT: 1, Amount: amount, Memo: memo}, nil)
	return hash, err
}

func TestSandboxDeposits(t *testing.T) {
	h := newHarness(t, func(s *api.ServerConfig) { s.Sandbox = directChain{svc: s.Shop.(*shop.Service)} })
	u, _ := h.svc.FindUser(context.Background(), alice)
	hash := strings.Repeat("ab", 32)

	t.Run("OK", func(t *testing.T) {
		body := `{"memo":"` + u.Memo + `","amount_ton":"1.5","tx_hash":"` + hash + `"}`
		d := h.post("/sandbox/v1/deposits", "", body).data(t)
		if d["tx_hash"] != hash {
			t.Errorf("got %v", d)
		}
		// The same transaction again credits nothing.
		h.post("/sandbox/v1/deposits", "", body).data(t)
		if got := h.balance(alice); got != 1500*shop.TON/1000 {
			t.Errorf("balance %s", got)
		}
		// A number works too, and the hash is optional.
		d = h.post("/sandbox/v1/deposits", "", `{"memo":"`+strings.ToLower(u.Memo)+`","amount_ton":0.25}`).data(t)
		if len(d["tx_hash"].(string)) != 64 || h.balance(alice) != 1750*shop.TON/1000 {
			t.Errorf("got %v, balance %s", d, h.balance(alice))
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		for _, body := range []string{
			`{"memo":"AP1"}`,
			`{"memo":"AP1","amount_ton":null}`,
			`{"memo":"AP1","amount_ton":"abc"}`,
			`{"memo":"AP1","amount_ton":1e3}`,
			`{"memo":"AP1","amount_ton":true}`,
			`{"memo":"AP1","amount_ton":"0"}`,
			`{"memo":"AP1","amount_ton":"-1"}`,
			`{"memo":"AP1","amount_ton":"1.0000000001"}`,
			`{"memo":"AP1","amount_ton":"1000001"}`,
			`{"memo":"AP1","amount_ton":"1","tx_hash":"xyz"}`,
			`{"memo":"AP1","amount_ton":"1","tx_hash":"abcd"}`,
			`{"memo":"` + strings.Repeat("m", 121) + `","amount_ton":"1"}`,
			`{"memo":"AP1","amount_ton":"1","extra":1}`,
			// Control characters, JSON-escaped: a newline, a NUL, an ESC, a
			// DEL, a C1 control.
			`{"memo":"AP1\nAP2","amount_ton":"1"}`,
			`{"memo":"AP1\u0000","amount_ton":"1"}`,
			`{"memo":"\u001b[31mAP1","amount_ton":"1"}`,
			`{"memo":"AP1\u007f","amount_ton":"1"}`,
			`{"memo":"AP1\u0085","amount_ton":"1"}`,
			`{"memo":"AP1\t","amount_ton":"1"}`,
		} {
			msg := h.post("/sandbox/v1/deposits", "", body).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
			if strings.Contains(msg, "malformed") {
				t.Errorf("%s: message %q", body, msg)
			}
		}
	})
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, func(s *api.ServerConfig) { s.Metrics = api.NewMetrics() })
	h.svc.Subscribe(h.srv.Metrics.ObserveEvent)
	h.fund(alice, shop.TON)
	h.post(starsPath, h.osk(alice), `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`).data(t)
	h.get("/api/v1/orders/abc", h.osk(alice))
	r := h.get("/metrics", "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	text := string(r.body)
	for _, want := range []string{
		`starsbot_http_requests_total{code="200",method="POST",route="/api/v1/orders/stars"} 1`,
		`starsbot_http_requests_total{code="400",method="GET",route="/api/v1/orders/{id}"} 1`,
		`starsbot_api_orders_created_total{dialect="orders",order_type="stars",payment_method="balance"} 1`,
		`starsbot_shop_events_total{type="order_paid"} 1`,
		`starsbot_http_request_duration_seconds_bucket`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
