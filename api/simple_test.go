package api_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

func TestSimpleBuy(t *testing.T) {
	h := newHarness(t)
	h.startWorker(map[string]shop.OrderStatus{
		"manual_user": shop.StatusManual,
		"failed_user": shop.StatusRefunded,
		"idem_user":   shop.StatusManual,
	})
	key := h.sk(alice)
	h.fund(alice, 2*shop.TON)

	t.Run("Manual", func(t *testing.T) {
		m := h.post("/api/v1/buy", key, `{"amount_stars":100,"to_username":"@manual_user"}`).object(t)
		if m["status"] != "ok" || m["to_username"] != "manual_user" || m["message"] != "Order created. Stars will be delivered manually." {
			t.Errorf("got %v", m)
		}
	})
	t.Run("ErrOrderFailed", func(t *testing.T) {
		before := h.balance(alice)
		msg := h.post("/api/v1/buy", key, `{"amount_stars":100,"to_username":"failed_user"}`).wantSimpleError(t, http.StatusBadGateway, "ORDER_FAILED")
		if !strings.Contains(msg, "returned to your balance") || !strings.Contains(msg, "recipient cannot receive stars") {
			t.Errorf("message %q", msg)
		}
		if got := h.balance(alice); got != before {
			t.Errorf("balance %s, want %s after the refund", got, before)
		}
	})
	t.Run("ErrRecipientNotFound", func(t *testing.T) {
		h.post("/api/v1/buy", key, `{"amount_stars":100,"to_username":"sandbox_notfound"}`).wantSimpleError(t, http.StatusNotFound, shop.ERECIPIENT)
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		h.post("/api/v1/buy", key, `{"amount_stars":1000000}`).wantSimpleError(t, http.StatusPaymentRequired, shop.EINSUFFICIENT)
	})
	t.Run("ErrNoUsername", func(t *testing.T) {
		h.fund(nobody, shop.TON)
		msg := h.post("/api/v1/buy", h.sk(nobody), `{"amount_stars":100}`).wantSimpleError(t, http.StatusBadRequest, shop.EVALIDATION)
		if !strings.Contains(msg, "to_username is required") {
			t.Errorf("message %q", msg)
		}
		h.post("/api/v1/buy", h.sk(nobody), `{"amount_stars":100,"to_username":""}`).wantSimpleError(t, http.StatusBadRequest, shop.EVALIDATION)
		if h.orderCount(nobody) != 0 || h.balance(nobody) != shop.TON {
			t.Error("a rejected buy changed something")
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		before := h.orderCount(alice)
		for body, msg := range map[string]string{
			`{}`:                     "amount_stars is required",
			`{"amount_stars":10}`:    "quantity must be between 50 and 1000000",
			`{"amount_stars":"100"}`: "amount_stars must be a whole number",
			`{"amount_stars":100,"to_username":"a b"}`:  "to_username must be 5-32 letters, digits or underscores",
			`{"amount_stars":100,"to_username":12345}`:  "to_username must be a string",
			`{"amount_stars":100,"recipient":"pandus"}`: `unknown field "recipient"`,
			`not json`: "request body must be a JSON object",
		} {
			if got := h.post("/api/v1/buy", key, body).wantSimpleError(t, http.StatusBadRequest, shop.EVALIDATION); got != msg {
				t.Errorf("%s: message %q, want %q", body, got, msg)
			}
		}
		if h.orderCount(alice) != before {
			t.Error("a rejected buy created an order")
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		before := h.balance(alice)
		post := func(body string) *response {
			return h.do(req{method: "POST", path: "/api/v1/buy", key: key, body: body, header: map[string]string{"Idempotency-Key": "buy-1"}})
		}
		a := post(`{"amount_stars":50,"to_username":"idem_user"}`).object(t)
		b := post(`{"amount_stars":50,"to_username":"idem_user"}`).object(t)
		if a["order_id"] != b["order_id"] || a["order_id"] == nil {
			t.Errorf("%v vs %v", a, b)
		}
		post(`{"amount_stars":51,"to_username":"idem_user"}`).wantSimpleError(t, http.StatusConflict, shop.ECONFLICT)
		// 50 stars: 0.208913649 rounded up to 0.001.
		if got := h.balance(alice); got != before-209_000_000 {
			t.Errorf("balance %s, want one debit from %s", got, before)
		}
	})
}

// TestServer_Run serves on a real port and stops cleanly, cutting short a
// /buy that is waiting for delivery.
func TestServer_Run(t *testing.T) {
	h := newHarness(t)
	h.fund(alice, shop.TON)
	addrc := make(chan net.Addr, 1)
	srv, err := api.NewServer(api.ServerConfig{Shop: h.svc, Addr: "127.0.0.1:0", BuyWait: time.Hour, Logger: h.srv.Logger,
		OnListen: func(a net.Addr) { addrc <- a }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	base := "http://" + (<-addrc).String()

	paid := shoptest.Subscribe(h.svc)
	buy := make(chan string, 1)
	go func() {
		rq, _ := http.NewRequest("POST", base+"/api/v1/buy", strings.NewReader(`{"amount_stars":100,"to_username":"slow_user"}`))
		rq.Header.Set("Authorization", "Bearer "+h.sk(alice))
		resp, err := http.DefaultClient.Do(rq)
		if err != nil {
			buy <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		buy <- string(b)
	}()
	// Wait until the order is paid, then stop the server.
	paid.Wait(t, shop.EventOrderPaid, 1)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if got := <-buy; !strings.Contains(got, "delivered manually") {
		t.Errorf("in-flight buy answered %q", got)
	}
}
