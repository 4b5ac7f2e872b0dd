package api_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/shop"
)

// TestAuth_FailuresThrottled: a client address that keeps failing to
// authenticate (5,000 random keys) is throttled with 429 and Retry-After
// after a burst, logged once (never a key) and counted; other addresses
// are not affected, and the address may try again once its bucket refills.
func TestAuth_FailuresThrottled(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	metrics := api.NewMetrics()
	h := newHarness(t, func(c *api.ServerConfig) { c.Metrics = metrics; c.Now = clock })
	call := func(addr, method, path, key string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = addr
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		w := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(w, r)
		return w
	}
	const attacker = "203.0.113.7:40000"
	keys := make([]string, 5000)
	codes := map[int]int{}
	var first429 *httptest.ResponseRecorder
	for i := range keys {
		b := make([]byte, 32)
		rand.Read(b)
		keys[i] = shop.KeyPrefixOrders + base64.RawURLEncoding.EncodeToString(b)
		w := call(attacker, "GET", "/api/v1/balance", keys[i])
		codes[w.Code]++
		if w.Code == http.StatusTooManyRequests && first429 == nil {
			first429 = w
		}
	}
	if codes[http.StatusUnauthorized] != api.DefaultAuthFailBurst || codes[http.StatusTooManyRequests] != len(keys)-api.DefaultAuthFailBurst {
		t.Fatalf("codes %v; want %d × 401, then 429", codes, api.DefaultAuthFailBurst)
	}
	if first429.Header().Get("Retry-After") == "" || !strings.Contains(first429.Body.String(), `"error_code":"RATE_LIMITED"`) {
		t.Errorf("429: headers %v, body %s", first429.Header(), first429.Body)
	}
	// Missing keys from the throttled address count too; the simple
	// contract's routes answer in its shape.
	if w := call(attacker, "GET", "/api/v1/deposit", ""); w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), `"status":"error"`) {
		t.Errorf("missing key from a throttled address: %d %s", w.Code, w.Body)
	}
	// Another address is not affected, valid or not; public routes never
	// are.
	if w := call("198.51.100.9:1234", "GET", "/api/v1/balance", h.osk(alice)); w.Code != http.StatusOK {
		t.Errorf("valid key from another address: %d %s", w.Code, w.Body)
	}
	if w := call("198.51.100.9:1234", "GET", "/api/v1/balance", "osk_wrong"); w.Code != http.StatusUnauthorized {
		t.Errorf("bad key from another address: %d", w.Code)
	}
	if w := call(attacker, "GET", "/api/v1/health", ""); w.Code != http.StatusOK {
		t.Errorf("health from the throttled address: %d", w.Code)
	}
	// Logged: each failure before the throttle, then one line for the
	// throttled address; never a key.
	log := h.logText()
	if n := strings.Count(log, "authentication failed"); n != api.DefaultAuthFailBurst+1 {
		t.Errorf("%d failed-authentication lines, want %d:\n%s", n, api.DefaultAuthFailBurst+1, log)
	}
	if n := strings.Count(log, `msg="failed authentications throttled" addr=203.0.113.7`); n != 1 {
		t.Errorf("%d throttle lines for the address, want 1:\n%s", n, log)
	}
	for _, k := range keys {
		if strings.Contains(log, k[len(shop.KeyPrefixOrders):len(shop.KeyPrefixOrders)+8]) {
			t.Fatalf("the log shows a presented key")
		}
	}
	// Counted.
	body := call("127.0.0.1:1", "GET", "/metrics", "").Body.String()
	for _, want := range []string{
		`starsbot_api_auth_failures_total{reason="invalid_key"} 21`, // the burst, and another address's
		`starsbot_api_auth_throttled_total 4981`,                    // the rest, and the missing key
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Once the bucket has refilled the address may try again.
	advance(time.Hour)
	if w := call(attacker, "GET", "/api/v1/balance", h.osk(alice)); w.Code != http.StatusOK {
		t.Errorf("valid key from the address an hour later: %d %s", w.Code, w.Body)
	}
}
