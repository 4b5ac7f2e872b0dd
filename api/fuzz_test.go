package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"starsbot/api"
	"starsbot/shop"
)

// FuzzCreateStarsOrder sends arbitrary bodies and Idempotency-Keys to
// POST /api/v1/orders/stars. Whatever the input: no panic, no 5xx, a
// well-formed envelope, and an order only when the answer is 200. The store
// is checked (balances = ledger sums, indexes) when the fuzz run ends. The
// seed corpus runs in every `go test`.
func FuzzCreateStarsOrder(f *testing.F) {
	for _, seed := range []struct{ body, key string }{
		{ordersContractBody, "550e8400-e29b-41d4-a716-446655440000"},
		{`{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`, ""},
		{`{"recipient_username":"sandbox_notfound","quantity":100}`, "k"},
		{`{"recipient_username":"t.me/pandus","quantity":50,"client_reference":"é"}`, "k"},
		{`{"recipient_username":"pandus","quantity":1e3}`, ""},
		{`{"recipient_username":null,"quantity":null}`, ""},
		{`{"quantity":-9223372036854775808}`, ""},
		{`{"recipient_username":"pandus","quantity":100}{}`, ""},
		{"{\"recipient_username\":\"\xff\"}", ""},
		{`[]`, ""},
		{``, "has space"},
	} {
		f.Add(seed.body, seed.key)
	}
	h := newHarness(f, func(s *api.ServerConfig) { s.RateLimit, s.RateBurst = 1e9, 1<<30 })
	h.fund(alice, 5*shop.TON)
	handler := h.srv.Handler()
	key := h.osk(alice)
	f.Fuzz(func(t *testing.T, body, idem string) {
		r := httptest.NewRequest("POST", starsPath, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+key)
		if idem != "" && !strings.ContainsAny(idem, "\r\n\x00") {
			r.Header.Set("Idempotency-Key", idem)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		var env struct {
			OK        *bool           `json:"ok"`
			ErrorCode string          `json:"error_code"`
			Data      json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.OK == nil {
			t.Fatalf("status %d, body not an envelope: %q", w.Code, w.Body.String())
		}
		switch w.Code {
		case http.StatusOK:
			var o struct {
				ID          int64   `json:"id"`
				StarsAmount int64   `json:"stars_amount"`
				PriceTON    float64 `json:"price_ton"` // only to check it is a positive number
			}
			if err := json.Unmarshal(env.Data, &o); err != nil || !*env.OK || o.ID <= 0 || o.StarsAmount < 50 || o.StarsAmount > 1_000_000 || o.PriceTON <= 0 {
				t.Fatalf("200 with %s", w.Body.String())
			}
		case http.StatusBadRequest, http.StatusPaymentRequired, http.StatusNotFound, http.StatusConflict:
			if *env.OK || env.ErrorCode == "" || string(env.Data) != "null" {
				t.Fatalf("error %d with %s", w.Code, w.Body.String())
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	})
}
