package api_test

import (
	"net/http"
	"strings"
	"testing"

	"starsbot/shop"
)

// TestOrders_USDT: payment_currency USDT on a ton_memo order gives it a
// price_usdt (the TON contract fields as before); on a balance order it is
// refused; with USDT off the estimate has no price_usdt and the order is
// refused.
func TestOrders_USDT(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	// 0.418 TON at 3.59 USD/TON = 1.50062 USD: 1.51 USDT.
	if e := h.get("/api/v1/pricing/estimate/stars?quantity=100", key).data(t); num(t, e, "price_usdt") != "1.51" || num(t, e, "price_ton") != "0.418" {
		t.Errorf("estimate %v", e)
	}
	o := h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_method":"ton_memo","payment_currency":"USDT"}`).data(t)
	if o["payment_currency"] != "USDT" || num(t, o, "price_usdt") != "1.51" || num(t, o, "price_ton") != "0.418" || o["payment_memo"] == nil {
		t.Errorf("USDT order %v", o)
	}
	got := h.get("/api/v1/orders/"+num(t, o, "id"), key).data(t)
	if got["payment_currency"] != "USDT" || num(t, got, "price_usdt") != "1.51" {
		t.Errorf("GET order %v", got)
	}
	ton := h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_currency":"TON"}`).data(t)
	if _, has := ton["price_usdt"]; has || ton["payment_currency"] != "TON" {
		t.Errorf("TON order %v", ton)
	}
	h.fund(alice, shop.TON)
	before := h.orderCount(alice)
	r := h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance","payment_currency":"USDT"}`)
	if msg := r.wantError(t, http.StatusBadRequest, shop.EVALIDATION); !strings.Contains(msg, "ton_memo") {
		t.Errorf("balance + USDT: %q", msg)
	}

	h.svc.USDT.Off = true
	if e := h.get("/api/v1/pricing/estimate/stars?quantity=100", key).data(t); e["price_usdt"] != nil {
		t.Errorf("estimate with USDT off %v", e)
	}
	r = h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_currency":"USDT"}`)
	if msg := r.wantError(t, http.StatusBadRequest, shop.EVALIDATION); !strings.Contains(msg, "USDT") {
		t.Errorf("USDT off: %q", msg)
	}
	if h.orderCount(alice) != before {
		t.Error("a refused request created an order")
	}
}
