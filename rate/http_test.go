package rate_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starsbot/rate"
	"starsbot/shop"
)

var (
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	fallback = shop.StaticRate{TONUSD: 2_000_000, Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
)

// clock is an injectable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rateServer is a rate endpoint that counts requests and whose answer can be
// changed between calls.
type rateServer struct {
	srv  *httptest.Server
	hits atomic.Int64

	mu      sync.Mutex
	handler http.HandlerFunc
	accept  string
}

func newRateServer(t *testing.T, body string) *rateServer {
	t.Helper()
	s := &rateServer{}
	s.respond(http.StatusOK, body)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		h := s.handler
		s.accept = r.Header.Get("Accept")
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *rateServer) set(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

func (s *rateServer) respond(status int, body string) {
	s.set(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

// hang makes the server answer only once release is closed (or the client
// gives up), then with body. The channel it returns is closed when the
// first request arrives.
func (s *rateServer) hang(release <-chan struct{}, body string) <-chan struct{} {
	arrived := make(chan struct{})
	var once sync.Once
	s.set(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-release:
			io.WriteString(w, body)
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	return arrived
}

func (s *rateServer) lastAccept() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accept
}

func newRate(s *rateServer, path string, clk *clock) *rate.HTTP {
	h, err := rate.NewHTTP(rate.HTTPConfig{
		URL:      s.srv.URL + "/price?ids=the-open-network",
		Path:     path,
		TTL:      time.Minute,
		MaxAge:   15 * time.Minute,
		Fallback: fallback,
		Now:      clk.Now,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	return h
}

func mustRate(t *testing.T, src shop.RateSource) shop.Rate {
	t.Helper()
	r, err := src.Rate(context.Background())
	if err != nil {
		t.Fatalf("Rate: %v", err)
	}
	return r
}

func wantRate(t *testing.T, got shop.Rate, tonUSD shop.MicroUSD, source string, updated time.Time) {
	t.Helper()
	if got.TONUSD != tonUSD || got.Source != source || !got.UpdatedAt.Equal(updated) {
		t.Fatalf("rate = {%d %q %v}, want {%d %q %v}", got.TONUSD, got.Source, got.UpdatedAt, tonUSD, source, updated)
	}
}

func wantFallback(t *testing.T, got shop.Rate) {
	t.Helper()
	wantRate(t, got, fallback.TONUSD, "static", fallback.Since)
}

func TestHTTP_Parse(t *testing.T) {
	tests := []struct {
		name, body, path string
		want             shop.MicroUSD
	}{
		{"NumberLeaf", `{"the-open-network":{"usd":3.5}}`, "the-open-network.usd", 3_500_000},
		{"StringLeaf", `{"price":"3.25"}`, "price", 3_250_000},
		{"ArrayPath", `{"data":[{"price":1},{"price":"2.75"}]}`, "data.1.price", 2_750_000},
		{"TopLevelArray", `[{"p":"5"}]`, "0.p", 5_000_000},
		{"NumericObjectKey", `{"0":{"p":5}}`, "0.p", 5_000_000},
		{"ExactDigits", `{"p":3.591234}`, "p", 3_591_234},
		{"TruncatedNumber", `{"p":3.59123499}`, "p", 3_591_234},
		{"TruncatedString", `{"p":"3.59123499"}`, "p", 3_591_234},
		{"BeyondFloatPrecision", `{"p":1234.5678909999999999999}`, "p", 1_234_567_890},
		{"LowerBound", `{"p":0.01}`, "p", 10_000},
		{"UpperBound", `{"p":"100000"}`, "p", 100_000_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRateServer(t, tt.body)
			clk := &clock{t: t0}
			h := newRate(s, tt.path, clk)
			wantRate(t, mustRate(t, h), tt.want, "http", t0)
			if err := h.LastError(); err != nil {
				t.Fatalf("LastError = %v", err)
			}
			if got := s.lastAccept(); got != "application/json" {
				t.Fatalf("Accept = %q", got)
			}
		})
	}
}

func TestHTTP_BadAnswerWithoutGoodRateFallsBack(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		path   string
	}{
		{"NestedPathMissing", 200, `{"the-open-network":{"eur":3.1}}`, "the-open-network.usd"},
		{"PathThroughScalar", 200, `{"a":5}`, "a.b"},
		{"IndexOutOfRange", 200, `{"data":[]}`, "data.0"},
		{"IndexNotNumeric", 200, `{"data":[1]}`, "data.x"},
		{"LeafObject", 200, `{"p":{"usd":3}}`, "p"},
		{"LeafBool", 200, `{"p":true}`, "p"},
		{"LeafNull", 200, `{"p":null}`, "p"},
		{"BadJSON", 200, `{"p":`, "p"},
		{"EmptyBody", 200, ``, "p"},
		{"Exponent", 200, `{"p":3.5e0}`, "p"},
		{"Negative", 200, `{"p":-3.5}`, "p"},
		{"Zero", 200, `{"p":"0"}`, "p"},
		{"JunkString", 200, `{"p":"3.5 USD"}`, "p"},
		{"BelowBounds", 200, `{"p":"0.009999"}`, "p"},
		{"AboveBounds", 200, `{"p":100000.000001}`, "p"},
		{"BodyOver1MiB", 200, `{"pad":"` + strings.Repeat("x", 1<<20) + `","p":3.5}`, "p"},
		{"Status500", 500, `{"p":3.5}`, "p"},
		{"Status404", 404, `{"p":3.5}`, "p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRateServer(t, "")
			s.respond(tt.status, tt.body)
			h := newRate(s, tt.path, &clock{t: t0})
			wantFallback(t, mustRate(t, h))
			if h.LastError() == nil {
				t.Fatal("LastError = nil, want the fetch error")
			}
		})
	}
}

func TestHTTP_CacheAndRefetch(t *testing.T) {
	s := newRateServer(t, `{"p":3.5}`)
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)
	wantRate(t, mustRate(t, h), 3_500_000, "http", t0)

	s.respond(200, `{"p":3.6}`)
	clk.Add(59 * time.Second)
	wantRate(t, mustRate(t, h), 3_500_000, "http", t0)
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("requests within TTL = %d, want 1", n)
	}

	clk.Add(time.Second) // now exactly TTL old
	wantRate(t, mustRate(t, h), 3_600_000, "http", clk.Now())
	if n := s.hits.Load(); n != 2 {
		t.Fatalf("requests after TTL = %d, want 2", n)
	}
}

func TestHTTP_FailureServesLastGoodRate(t *testing.T) {
	tests := []struct {
		name string
		fail func(s *rateServer, h *rate.HTTP) context.Context
	}{
		{"Status500", func(s *rateServer, h *rate.HTTP) context.Context {
			s.respond(500, `oops`)
			return context.Background()
		}},
		{"BadJSON", func(s *rateServer, h *rate.HTTP) context.Context {
			s.respond(200, `<html>`)
			return context.Background()
		}},
		{"ClientTimeout", func(s *rateServer, h *rate.HTTP) context.Context {
			h.Client = &http.Client{Timeout: 50 * time.Millisecond}
			s.hang(nil, `{"p":3.5}`)
			return context.Background()
		}},
		{"ContextDeadline", func(s *rateServer, h *rate.HTTP) context.Context {
			s.hang(nil, `{"p":3.5}`)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			time.AfterFunc(time.Second, cancel)
			return ctx
		}},
		{"ServerGone", func(s *rateServer, h *rate.HTTP) context.Context {
			s.srv.Close()
			return context.Background()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRateServer(t, `{"p":3.5}`)
			clk := &clock{t: t0}
			h := newRate(s, "p", clk)
			wantRate(t, mustRate(t, h), 3_500_000, "http", t0)

			ctx := tt.fail(s, h)
			clk.Add(2 * time.Minute)
			r, err := h.Rate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantRate(t, r, 3_500_000, "http", t0)
			if h.LastError() == nil {
				t.Fatal("LastError = nil, want the fetch error")
			}

			clk.Add(13 * time.Minute) // the good rate is now exactly MaxAge old
			r, err = h.Rate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantFallback(t, r)
		})
	}
}

func TestHTTP_FailureBackoff(t *testing.T) {
	s := newRateServer(t, "")
	s.respond(500, "")
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)
	wantFallback(t, mustRate(t, h))
	clk.Add(59 * time.Second)
	wantFallback(t, mustRate(t, h))
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("requests within TTL of a failure = %d, want 1", n)
	}

	s.respond(200, `{"p":3.5}`)
	clk.Add(time.Second)
	wantRate(t, mustRate(t, h), 3_500_000, "http", clk.Now())
	if n := s.hits.Load(); n != 2 {
		t.Fatalf("requests = %d, want 2", n)
	}
	if err := h.LastError(); err != nil {
		t.Fatalf("LastError after recovery = %v", err)
	}
}

func TestHTTP_RejectsJump(t *testing.T) {
	s := newRateServer(t, `{"p":3.5}`)
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)
	wantRate(t, mustRate(t, h), 3_500_000, "http", t0)

	for _, body := range []string{`{"p":5.250001}`, `{"p":1.749999}`, `{"p":100001}`} {
		s.respond(200, body)
		clk.Add(time.Minute)
		wantRate(t, mustRate(t, h), 3_500_000, "http", t0)
		if h.LastError() == nil {
			t.Fatalf("%s: LastError = nil, want rejection", body)
		}
	}

	s.respond(200, `{"p":5.25}`) // exactly +50%
	clk.Add(time.Minute)
	wantRate(t, mustRate(t, h), 5_250_000, "http", clk.Now())
}

func TestHTTP_JumpAllowedOnceLastGoodRateExpired(t *testing.T) {
	s := newRateServer(t, `{"p":3.5}`)
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)
	wantRate(t, mustRate(t, h), 3_500_000, "http", t0)

	s.respond(200, `{"p":10}`)
	clk.Add(15 * time.Minute)
	wantRate(t, mustRate(t, h), 10_000_000, "http", clk.Now())
}

func TestHTTP_ConcurrentCallersFetchOnce(t *testing.T) {
	for _, seeded := range []bool{true, false} {
		name := "EmptyCache"
		if seeded {
			name = "ExpiredCache"
		}
		t.Run(name, func(t *testing.T) {
			s := newRateServer(t, `{"p":3.5}`)
			clk := &clock{t: t0}
			h := newRate(s, "p", clk)
			if seeded {
				mustRate(t, h)
				clk.Add(2 * time.Minute)
			}
			before := s.hits.Load()
			s.set(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(100 * time.Millisecond)
				io.WriteString(w, `{"p":3.6}`)
			})

			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make(chan error, 64)
			for range 64 {
				wg.Go(func() {
					<-start
					r, err := h.Rate(context.Background())
					switch {
					case err != nil:
						errs <- err
					case r.Source != "http":
						errs <- errors.New("got source " + r.Source)
					case !seeded && r.TONUSD != 3_600_000:
						errs <- errors.New("got rate " + r.TONUSD.String())
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := s.hits.Load() - before; n != 1 {
				t.Fatalf("requests = %d, want 1", n)
			}
			wantRate(t, mustRate(t, h), 3_600_000, "http", clk.Now())
		})
	}
}

func TestHTTP_WaiterGivesUp(t *testing.T) {
	s := newRateServer(t, "")
	release := make(chan struct{})
	arrived := s.hang(release, `{"p":3.5}`)
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)

	first := make(chan shop.Rate)
	go func() {
		r, _ := h.Rate(context.Background())
		first <- r
	}()
	select { // the first caller's fetch is in flight
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the first caller never reached the server")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r, err := h.Rate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFallback(t, r)

	close(release)
	wantRate(t, <-first, 3_500_000, "http", t0)
	if n := s.hits.Load(); n != 1 {
		t.Fatalf("requests = %d, want 1", n)
	}
}

func TestHTTP_CanceledCallerIsNotAFailure(t *testing.T) {
	s := newRateServer(t, "")
	s.hang(nil, `{"p":3.5}`)
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	r, err := h.Rate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantFallback(t, r)
	if err := h.LastError(); err != nil {
		t.Fatalf("LastError = %v, want nil", err)
	}

	s.respond(200, `{"p":3.5}`) // no backoff: the next caller fetches at once
	wantRate(t, mustRate(t, h), 3_500_000, "http", t0)
}

func TestHTTP_Fallback(t *testing.T) {
	s := newRateServer(t, "")
	s.respond(500, "")
	h := newRate(s, "p", &clock{t: t0})

	h.Fallback = nil
	if _, err := h.Rate(context.Background()); err == nil {
		t.Fatal("nil Fallback: want error")
	}
	h.Fallback = shop.StaticRate{} // fails: no rate
	if _, err := h.Rate(context.Background()); err == nil {
		t.Fatal("failing Fallback: want its error")
	}
}

func TestHTTP_LogOmitsURLQuery(t *testing.T) {
	var buf bytes.Buffer
	s := newRateServer(t, "")
	s.respond(500, "")
	clk := &clock{t: t0}
	h := newRate(s, "p", clk)
	h.URL = s.srv.URL + "/simple/price?key=SECRET123"
	h.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	h.Client = &http.Client{Timeout: 50 * time.Millisecond}

	warns := func() int { return strings.Count(buf.String(), "level=WARN") }
	step := func() {
		t.Helper()
		clk.Add(time.Minute)
		mustRate(t, h)
		if err := h.LastError(); err != nil && strings.Contains(err.Error(), "SECRET123") {
			t.Fatalf("LastError leaks the query: %v", err)
		}
	}

	step() // 500
	step() // still 500: same streak
	if n := warns(); n != 1 {
		t.Fatalf("warnings = %d, want 1 per failure streak\n%s", n, &buf)
	}
	if !strings.Contains(buf.String(), "url="+s.srv.URL+"/simple/price ") {
		t.Fatalf("log does not name scheme+host+path:\n%s", &buf)
	}

	s.respond(200, `{"p":3.5}`)
	step() // recovered
	s.hang(nil, "")
	step() // client timeout: *url.Error quotes the full URL
	s.srv.Close()
	step() // connection refused
	if n := warns(); n != 2 {
		t.Fatalf("warnings = %d, want 2 (two streaks)\n%s", n, &buf)
	}
	if out := buf.String(); strings.Contains(out, "SECRET123") || strings.Contains(out, "key=") {
		t.Fatalf("log leaks the URL query:\n%s", out)
	}
}
