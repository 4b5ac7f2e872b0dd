package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/fulfillment"
	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

const (
	depositAddr = "UQBFJTkJ5hZdH7i6rWQTnm43zn6h2dPBV9lFZ2e98WvWABy_"
	testRate    = shop.MicroUSD(3_590_000) // 3.59 USD/TON: 100 stars cost 0.417827299 TON, 0.418 at PRICE_STEP_TON 0.001
	price100    = shop.NanoTON(418_000_000)
	alice       = int64(1001) // partner with both keys
	bob         = int64(1002) // another partner
	nobody      = int64(1003) // partner without a username
	adminID     = int64(9)
)

// harness is the API over a real service on a real bbolt file, served by
// httptest over loopback. Logs go to a buffer that tests can search.
type harness struct {
	t     testing.TB
	db    *store.DB
	svc   *shop.Service
	srv   *api.Server
	ts    *httptest.Server
	clock *shoptest.Clock // the service's clock

	keys map[int64]map[string]string // user → prefix → plaintext key

	logMu sync.Mutex
	logs  bytes.Buffer
}

// newHarness builds the harness; opts adjust the Server before it starts.
func newHarness(t testing.TB, opts ...func(*api.ServerConfig)) *harness {
	t.Helper()
	h := &harness{t: t, keys: map[int64]map[string]string{}}
	logger := slog.New(slog.NewTextHandler(lockedWriter{h}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := shoptest.New(t, &shoptest.Options{Start: time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)})
	h.db, h.clock = s.DB, s.Clock
	svc := s.Service
	svc.Logger = logger
	svc.Recipients = fulfillment.Sandbox{}
	h.svc = svc
	cfg := api.ServerConfig{
		Shop:   svc,
		Probes: map[string]api.Probe{"store": api.StoreProbe(h.db)},
		// Long: POST /buy answers as soon as the scripted worker settles
		// the order (it wakes on the shop's events), however loaded the
		// machine. Tests of a wait that runs out set their own.
		BuyWait: time.Minute,
		Logger:  logger,
	}
	for _, o := range opts {
		o(&cfg)
	}
	var err error
	if h.srv, err = api.NewServer(cfg); err != nil {
		t.Fatal(err)
	}
	h.ts = httptest.NewServer(h.srv.Handler())
	t.Cleanup(h.ts.Close)
	h.partner(alice, "alice_1")
	h.partner(bob, "bob_22")
	h.partner(nobody, "")
	t.Cleanup(func() {
		for _, byPrefix := range h.keys {
			for _, k := range byPrefix {
				if strings.Contains(h.logText(), k) {
					t.Errorf("an API key appears in the logs")
				}
			}
		}
	})
	return h
}

type lockedWriter struct{ h *harness }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.h.logMu.Lock()
	defer w.h.logMu.Unlock()
	return w.h.logs.Write(p)
}

func (h *harness) logText() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.logs.String()
}

// partner creates a user with an osk_ and an sk_ key.
func (h *harness) partner(id int64, username string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.svc.EnsureUser(ctx, shop.UserUpdate{ID: id, Username: username, LanguageCode: "en"}); err != nil {
		h.t.Fatal(err)
	}
	h.keys[id] = map[string]string{}
	for _, p := range shop.KeyPrefixes {
		k, _, err := h.svc.IssueKey(ctx, id, p)
		if err != nil {
			h.t.Fatal(err)
		}
		h.keys[id][p] = k
	}
}

func (h *harness) osk(id int64) string { return h.keys[id][shop.KeyPrefixOrders] }
func (h *harness) sk(id int64) string  { return h.keys[id][shop.KeyPrefixSimple] }

// fund credits a user's balance as an admin would.
func (h *harness) fund(id int64, amount shop.NanoTON) {
	h.t.Helper()
	if _, err := h.svc.AdminCredit(context.Background(), adminID, id, amount, "test funding"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) balance(id int64) shop.NanoTON {
	h.t.Helper()
	u, err := h.svc.FindUser(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.Balance
}

// orderCount is how many orders a user has.
func (h *harness) orderCount(id int64) int {
	h.t.Helper()
	st, err := h.svc.OrderStats(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return st.Total
}

// response is one HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// req is a request to send; key "" sends no Authorization header.
type req struct {
	method, path, key, body string
	header                  map[string]string
}

func (h *harness) do(r req) *response {
	h.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, h.ts.URL+r.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := h.ts.Client().Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) get(path, key string) *response {
	h.t.Helper()
	return h.do(req{method: "GET", path: path, key: key})
}

func (h *harness) post(path, key, body string) *response {
	h.t.Helper()
	return h.do(req{method: "POST", path: path, key: key, body: body})
}

// object decodes the body as one JSON object, keeping numbers as written.
func (r *response) object(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// data checks an orders-envelope success with 200 and returns data.
func (r *response) data(t *testing.T) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	m := r.object(t)
	if m["ok"] != true {
		t.Fatalf("ok is not true: %s", r.body)
	}
	d, isObj := m["data"].(map[string]any)
	if !isObj {
		t.Fatalf("data is not an object: %s", r.body)
	}
	return d
}

// wantError checks an orders-envelope error: status, code, exactly the
// four keys of the contract, data null.
func (r *response) wantError(t *testing.T, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.object(t)
	wantKeys(t, m, "ok", "error_code", "error_message", "data")
	if m["ok"] != false || m["error_code"] != code || m["data"] != nil {
		t.Fatalf("want ok=false error_code=%s data=null, got %s", code, r.body)
	}
	msg, _ := m["error_message"].(string)
	if msg == "" {
		t.Fatalf("empty error_message: %s", r.body)
	}
	return msg
}

// wantSimpleError checks a simple-dialect error.
func (r *response) wantSimpleError(t *testing.T, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.object(t)
	wantKeys(t, m, "status", "error_code", "message")
	if m["status"] != "error" || m["error_code"] != code {
		t.Fatalf("want status=error error_code=%s, got %s", code, r.body)
	}
	msg, _ := m["message"].(string)
	if msg == "" {
		t.Fatalf("empty message: %s", r.body)
	}
	return msg
}

// wantKeys checks that m has exactly these keys.
func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	if len(m) != len(keys) {
		t.Errorf("keys %v, want exactly %v", mapKeys(m), keys)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %v", k, mapKeys(m))
		}
	}
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// jsonType names a decoded JSON value's type.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "?"
}

// wantTypes checks the JSON type of each named field.
func wantTypes(t *testing.T, m map[string]any, types map[string]string) {
	t.Helper()
	for k, want := range types {
		v, present := m[k]
		if !present {
			t.Errorf("field %q missing", k)
			continue
		}
		if got := jsonType(v); got != want {
			t.Errorf("field %q is %s (%v), want %s", k, got, v, want)
		}
	}
}

// wantNanoTwins checks the orders dialect's exact twins in a decoded
// object, recursively: every `X_ton` number has an `X_nanoton` string, the
// same amount as a whole number of nanoTON, and every `X_nanoton` has its
// `X_ton`.
func wantNanoTwins(t *testing.T, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			wantNanoTwins(t, e)
		}
	case map[string]any:
		for k, e := range v {
			if base, isNano := strings.CutSuffix(k, "_nanoton"); isNano {
				if _, has := v[base+"_ton"]; !has {
					t.Errorf("%s without %s_ton in %v", k, base, v)
				}
			}
			base, isTON := strings.CutSuffix(k, "_ton")
			if !isTON {
				wantNanoTwins(t, e)
				continue
			}
			lit, isNum := e.(json.Number)
			if !isNum {
				t.Errorf("%s is %s (%v), want a number", k, jsonType(e), e)
				continue
			}
			amount, err := shop.ParseTON(strings.TrimPrefix(string(lit), "-"))
			if err != nil {
				t.Errorf("%s = %s: %v", k, lit, err)
				continue
			}
			if strings.HasPrefix(string(lit), "-") {
				amount = -amount
			}
			if got, want := v[base+"_nanoton"], strconv.FormatInt(int64(amount), 10); got != want {
				t.Errorf("%s = %s, but %s_nanoton = %#v, want %q", k, lit, base, got, want)
			}
		}
	}
}

// num returns a JSON number field as its literal.
func num(t *testing.T, m map[string]any, k string) string {
	t.Helper()
	n, isNum := m[k].(json.Number)
	if !isNum {
		t.Fatalf("field %q is not a number: %v", k, m[k])
	}
	return string(n)
}

// worker stands in for the fulfillment worker: it moves orders that become
// paid to the outcome the script names for their recipient; others stay
// paid.
type worker struct {
	h       *harness
	outcome map[string]shop.OrderStatus // recipient → completed, manual or refunded
}

// startWorker subscribes a worker to the service's order_paid events.
func (h *harness) startWorker(outcome map[string]shop.OrderStatus) {
	w := &worker{h: h, outcome: outcome}
	h.svc.Subscribe(func(e shop.Event) {
		if e.Type == shop.EventOrderPaid {
			go w.settle(e.OrderID)
		}
	})
}

func (w *worker) settle(orderID int64) {
	ctx := context.Background()
	// Delivery takes a moment, so that a POST /buy is usually already
	// waiting when the outcome's event arrives (it reads the order after
	// subscribing, so it is right either way).
	time.Sleep(10 * time.Millisecond)
	o, err := w.h.svc.FindOrder(ctx, 0, orderID)
	if err != nil {
		w.h.t.Error(err)
		return
	}
	outcome, scripted := w.outcome[o.Recipient]
	if !scripted {
		return // stays paid, like an order whose delivery takes long
	}
	// Through the shop's operations, as the real worker: they emit the
	// events POST /buy waits on.
	switch outcome {
	case shop.StatusRefunded:
		_, err = w.h.svc.Refund(ctx, 0, orderID, "recipient cannot receive stars")
	case shop.StatusCompleted:
		_, err = w.h.svc.CompleteOrder(ctx, 0, orderID, "")
	case shop.StatusManual:
		_, err = w.h.svc.MoveToManual(ctx, orderID, "scripted manual delivery")
	default:
		err = fmt.Errorf("the test worker cannot make an order %s", outcome)
	}
	if err != nil {
		w.h.t.Error(err)
	}
}
