package api_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"starsbot/api"
	"starsbot/shop"
)

func TestAuth(t *testing.T) {
	h := newHarness(t)

	t.Run("ErrMissingKey", func(t *testing.T) {
		r := h.get("/api/v1/orders", "")
		r.wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
		// Simple-only routes answer in the simple shape.
		h.get("/api/v1/deposit", "").wantSimpleError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		h.do(req{method: "GET", path: "/api/v1/balance", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}}).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		h.get("/api/v1/balance", "osk_"+strings.Repeat("A", 43)).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		h.get("/api/v1/balance", "sk_"+strings.Repeat("A", 43)).wantSimpleError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		h.get("/api/v1/balance", "not-a-key").wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		h.get("/api/v1/balance", strings.Repeat("osk_", 1000)).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
	})
	t.Run("SchemeCaseInsensitive", func(t *testing.T) {
		r := h.do(req{method: "GET", path: "/api/v1/balance", header: map[string]string{"Authorization": "bearer " + h.osk(alice)}})
		r.data(t)
	})
	t.Run("ErrWrongDialect", func(t *testing.T) {
		msg := h.post("/api/v1/buy", h.osk(alice), `{"amount_stars":100}`).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		if !strings.Contains(msg, "sk_") {
			t.Errorf("message %q", msg)
		}
		h.get("/api/v1/deposit", h.osk(alice)).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		msg = h.get("/api/v1/orders", h.sk(alice)).wantSimpleError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		if !strings.Contains(msg, "osk_") {
			t.Errorf("message %q", msg)
		}
		h.post(starsPath, h.sk(alice), `{"recipient_username":"pandus","quantity":100}`).wantSimpleError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		if n := h.orderCount(alice); n != 0 {
			t.Errorf("%d orders created", n)
		}
	})
	t.Run("ErrRevokedKey", func(t *testing.T) {
		old := h.osk(bob)
		h.partner(bob, "bob_22") // issues new keys, revoking the old ones
		h.get("/api/v1/balance", old).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		h.get("/api/v1/balance", h.osk(bob)).data(t)
		if _, err := h.svc.RevokeKey(context.Background(), bob, ""); err != nil {
			t.Fatal(err)
		}
		h.get("/api/v1/balance", h.osk(bob)).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		h.get("/api/v1/balance", h.sk(bob)).wantSimpleError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
	})
	t.Run("ErrBanned", func(t *testing.T) {
		if _, err := h.svc.SetBanned(context.Background(), nobody, true); err != nil {
			t.Fatal(err)
		}
		msg := h.get("/api/v1/balance", h.osk(nobody)).wantError(t, http.StatusUnauthorized, shop.EUNAUTHORIZED)
		if msg != "this account is banned" {
			t.Errorf("message %q", msg)
		}
	})
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(s *api.ServerConfig) { s.RateLimit = 0.5; s.RateBurst = 2 })
	for range 2 {
		h.get("/api/v1/balance", h.osk(alice)).data(t)
	}
	r := h.get("/api/v1/balance", h.osk(alice))
	r.wantError(t, http.StatusTooManyRequests, shop.ERATELIMITED)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// Each key has its own bucket, and the simple dialect answers in its shape.
	h.get("/api/v1/balance", h.osk(bob)).data(t)
	h.get("/api/v1/balance", h.sk(alice))
	h.get("/api/v1/balance", h.sk(alice))
	h.get("/api/v1/balance", h.sk(alice)).wantSimpleError(t, http.StatusTooManyRequests, shop.ERATELIMITED)
	// Health is not limited.
	for range 5 {
		if r := h.get("/api/v1/health", ""); r.status != http.StatusOK {
			t.Fatalf("health %d", r.status)
		}
	}
}

func TestUnmatched(t *testing.T) {
	h := newHarness(t)
	t.Run("NotFound", func(t *testing.T) {
		h.get("/api/v1/nope", h.osk(alice)).wantError(t, http.StatusNotFound, shop.ENOTFOUND)
		h.get("/", "").wantError(t, http.StatusNotFound, shop.ENOTFOUND)
		h.get("/api/v1/nope", h.sk(alice)).wantSimpleError(t, http.StatusNotFound, shop.ENOTFOUND)
		// The sandbox route exists only with a sandbox chain.
		h.post("/sandbox/v1/deposits", "", `{"memo":"x","amount_ton":"1"}`).wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	})
	t.Run("MethodNotAllowed", func(t *testing.T) {
		r := h.do(req{method: "DELETE", path: "/api/v1/orders/5", key: h.osk(alice)})
		r.wantError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		if r.header.Get("Allow") != "GET" {
			t.Errorf("Allow %q", r.header.Get("Allow"))
		}
		r = h.get(starsPath, h.osk(alice)) // GET /orders/stars is GET /orders/{id} with a bad id
		r.wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		r = h.get("/api/v1/buy", h.sk(alice))
		r.wantSimpleError(t, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
		if r.header.Get("Allow") != "POST" {
			t.Errorf("Allow %q", r.header.Get("Allow"))
		}
	})
}

// brokenShop fails or panics in FindOrder, for the internal-error paths.
type brokenShop struct {
	api.Shop
	panics bool
}

func (b brokenShop) FindOrder(ctx context.Context, userID, orderID int64) (*shop.Order, error) {
	if b.panics {
		panic("boom")
	}
	return nil, errors.New("disk on fire: /var/lib/secret/path")
}

func TestInternalErrors(t *testing.T) {
	for _, panics := range []bool{false, true} {
		t.Run("panics="+strconv.FormatBool(panics), func(t *testing.T) {
			h := newHarness(t, func(s *api.ServerConfig) { s.Shop = brokenShop{Shop: s.Shop, panics: panics} })
			msg := h.get("/api/v1/orders/1", h.osk(alice)).wantError(t, http.StatusInternalServerError, shop.EINTERNAL)
			if msg != "Internal error." {
				t.Errorf("message %q leaks the cause", msg)
			}
			logs := h.logText()
			want := "disk on fire"
			if panics {
				want = "panic serving request"
			}
			if strings.Count(logs, want) != 1 {
				t.Errorf("want the cause logged once, logs:\n%s", logs)
			}
			// The server keeps serving.
			h.get("/api/v1/balance", h.osk(alice)).data(t)
		})
	}
}
