package sdkcheck_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/sdk"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

const (
	alice   = int64(1001) // a partner with both keys, username alice_1
	bob     = int64(1002) // another partner
	adminID = int64(9)
	// price100 is 100 stars at shoptest's rate and the default pricing:
	// 0.417827299 TON rounded up to PRICE_STEP_TON.
	price100 = sdk.Nano(418_000_000)
)

// env is the real API server over a real service on a real bbolt file,
// served by httptest over loopback.
type env struct {
	t     testing.TB
	shop  *shoptest.Shop
	svc   *shop.Service
	ts    *httptest.Server
	clock *shoptest.Clock // the server's own clock: its per-key rate limit
	keys  map[int64]map[string]string
}

func newEnv(t testing.TB, opts ...func(*api.ServerConfig)) *env {
	t.Helper()
	s := shoptest.New(t, nil)
	e := &env{t: t, shop: s, svc: s.Service, clock: shoptest.NewClock(shoptest.Start), keys: map[int64]map[string]string{}}
	quiet := slog.New(slog.DiscardHandler)
	s.Service.Logger = quiet
	cfg := api.ServerConfig{Shop: s.Service, BuyWait: time.Minute, Now: e.clock.Now, Logger: quiet}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := api.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(e.ts.Close)
	e.partner(alice, "alice_1")
	e.partner(bob, "bob_22")
	return e
}

// partner makes a user with an osk_ and an sk_ key.
func (e *env) partner(id int64, username string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: id, Username: username, LanguageCode: "en"}); err != nil {
		e.t.Fatal(err)
	}
	e.keys[id] = map[string]string{}
	for _, p := range shop.KeyPrefixes {
		k, _, err := e.svc.IssueKey(ctx, id, p)
		if err != nil {
			e.t.Fatal(err)
		}
		e.keys[id][p] = k
	}
}

func (e *env) osk(id int64) string { return e.keys[id][shop.KeyPrefixOrders] }
func (e *env) sk(id int64) string  { return e.keys[id][shop.KeyPrefixSimple] }

// fund credits a balance as an admin does.
func (e *env) fund(id int64, amount shop.NanoTON) {
	e.t.Helper()
	if _, err := e.svc.AdminCredit(context.Background(), adminID, id, amount, "test funding"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) balance(id int64) shop.NanoTON {
	e.t.Helper()
	u, err := e.svc.FindUser(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Balance
}

// orderCount is how many orders the store holds for a user.
func (e *env) orderCount(id int64) int {
	e.t.Helper()
	st, err := e.svc.OrderStats(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Total
}

// client returns an SDK client of the server with key, its requests
// through the fault injector f, its waits recorded by sl.
func (e *env) client(key string, f *faults, sl *sleeper, o *sdk.Options) *sdk.Client {
	e.t.Helper()
	return newClient(e.t, e.ts, key, f, sl, o)
}

func newClient(t testing.TB, ts *httptest.Server, key string, f *faults, sl *sleeper, o *sdk.Options) *sdk.Client {
	t.Helper()
	var opts sdk.Options
	if o != nil {
		opts = *o
	}
	f.next = ts.Client().Transport
	opts.HTTPClient = &http.Client{Transport: f}
	opts.Sleep = sl.sleep
	c, err := sdk.New(ts.URL, key, &opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sleeper stands in for the SDK's timer: it records each wait and returns
// at once (after then, if set), so no test waits on a clock.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
	then  func(d time.Duration) // e.g. move a clock by d
}

func (s *sleeper) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	then := s.then
	s.mu.Unlock()
	if then != nil {
		then(d)
	}
	return ctx.Err()
}

func (s *sleeper) recorded() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// fault is what the injector does to one attempt: nil passes it through.
type fault func(r *http.Request, next http.RoundTripper) (*http.Response, error)

// faults is an http.RoundTripper between the SDK and the server that
// records every attempt and applies plan[i] to the i-th.
type faults struct {
	next http.RoundTripper
	plan []fault

	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct {
	method, path, idempotencyKey string
}

func (f *faults) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	i := len(f.sent)
	f.sent = append(f.sent, sentRequest{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key")})
	var fl fault
	if i < len(f.plan) {
		fl = f.plan[i]
	}
	f.mu.Unlock()
	if fl == nil {
		return f.next.RoundTrip(r)
	}
	return fl(r, f.next)
}

func (f *faults) requests() []sentRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sentRequest(nil), f.sent...)
}

// errConnReset is what a client sees when the connection dies before the
// answer arrives.
var errConnReset = errors.New("read tcp: connection reset by peer (injected)")

// dropAnswer forwards the request, lets the server handle it fully, and
// loses the answer.
func dropAnswer(r *http.Request, next http.RoundTripper) (*http.Response, error) {
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errConnReset
}

// failBeforeServer loses the connection before the request reaches the
// server.
func failBeforeServer(*http.Request, http.RoundTripper) (*http.Response, error) {
	return nil, errConnReset
}

// answerAfterServer forwards the request and replaces the server's answer
// with status and body, as a failing proxy in front of it would.
func answerAfterServer(status int, header map[string]string, body string) fault {
	return func(r *http.Request, next http.RoundTripper) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return synthetic(r, status, header, body), nil
	}
}

// answerInstead answers without forwarding (a proxy whose upstream is
// down, or an overloaded front end).
func answerInstead(status int, header map[string]string, body string) fault {
	return func(r *http.Request, _ http.RoundTripper) (*http.Response, error) {
		if r.Body != nil {
			r.Body.Close()
		}
		return synthetic(r, status, header, body), nil
	}
}

func synthetic(r *http.Request, status int, header map[string]string, body string) *http.Response {
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Header: h, Request: r,
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

// startWorker completes every order that becomes paid, through the shop's
// operations, as the fulfillment worker would after a delivery.
func (e *env) startWorker() {
	e.svc.Subscribe(func(ev shop.Event) {
		if ev.Type == shop.EventOrderPaid {
			go func() {
				if _, err := e.svc.CompleteOrder(context.Background(), 0, ev.OrderID, ""); err != nil {
					e.t.Error(err)
				}
			}()
		}
	})
}

// apiError returns err as an *sdk.APIError or fails the test.
func apiError(t *testing.T, err error) *sdk.APIError {
	t.Helper()
	var ae *sdk.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *sdk.APIError", err, err)
	}
	return ae
}
