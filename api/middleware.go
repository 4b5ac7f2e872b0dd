package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"starsbot/shop"
)

// serveRoute wraps a route's handlers with panic recovery, metrics,
// authentication, the dialect check and the per-key rate limit.
func (s *Server) serveRoute(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		d := dialectFor(rt, r)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Logger.Error("panic serving request", "method", r.Method, "route", rt.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, d, rt.Path, shop.Errorf(shop.EINTERNAL, "Internal error."))
				}
			}
			s.observe(r.Method, rt.Path, rec.code(), time.Since(start))
		}()

		h := rt.Orders
		if rt.Access != public {
			ctx, err := s.authorize(r, rt, d)
			if err != nil {
				s.writeError(rec, r, d, rt.Path, err)
				return
			}
			r = r.WithContext(ctx)
			if d == dialectSimple {
				h = rt.Simple
			}
		}
		if err := h(rec, r); err != nil {
			s.writeError(rec, r, d, rt.Path, err)
		}
	})
}

// dialectFor picks the dialect a request's answers (errors included) are
// written in: the presented key's, else the route's own.
func dialectFor(rt route, r *http.Request) dialect {
	switch key := bearer(r); {
	case strings.HasPrefix(key, shop.KeyPrefixOrders):
		return dialectOrders
	case strings.HasPrefix(key, shop.KeyPrefixSimple):
		return dialectSimple
	case rt.Access == simpleOnly:
		return dialectSimple
	default:
		return dialectOrders
	}
}

// authorize authenticates the Bearer key, checks that its dialect may use
// the route and takes a token from the key's rate-limit bucket. It returns
// the request context carrying the partner.
func (s *Server) authorize(r *http.Request, rt route, d dialect) (context.Context, error) {
	key := bearer(r)
	if key == "" {
		return nil, shop.Errorf(shop.EUNAUTHORIZED, "missing API key: send the header Authorization: Bearer <key>")
	}
	user, apiKey, err := s.Shop.Authenticate(r.Context(), key)
	if err != nil {
		return nil, err
	}
	switch {
	case rt.Access == ordersOnly && d != dialectOrders:
		return nil, shop.Errorf(shop.EUNAUTHORIZED, "this endpoint is part of the orders API and needs an osk_ key")
	case rt.Access == simpleOnly && d != dialectSimple:
		return nil, shop.Errorf(shop.EUNAUTHORIZED, "this endpoint is part of the simple API and needs an sk_ key")
	}
	if wait, ok := s.limiters.allow(apiKey.Hash, s.Now()); !ok {
		return nil, &retryAfter{err: shop.Errorf(shop.ERATELIMITED, "rate limit exceeded: at most %s requests per second, bursts of %d", formatRate(s.limiters.rate), s.limiters.burst), after: wait}
	}
	return newContextWithPartner(r.Context(), user, apiKey), nil
}

// bearer returns the key of an "Authorization: Bearer <key>" header, or "".
func bearer(r *http.Request) string {
	scheme, key, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(key)
}

// partner returns the authenticated user of a request served by an
// authenticated route.
func partner(r *http.Request) *shop.User {
	u, _ := partnerFromContext(r.Context())
	return u
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// limiters holds one token bucket per API key.
type limiters struct {
	rate  rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleForget is how long an unused bucket is kept. A bucket idle longer
// than burst/rate is full again, the same as a new one, so forgetting it
// changes nothing.
const idleForget = 10 * time.Minute

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}}
}

// allow takes one token from key's bucket. When it is empty, it returns
// false and how long until a token is available.
func (l *limiters) allow(key string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleForget {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return 0, true
	}
	res := b.lim.ReserveN(now, 1)
	wait := res.DelayFrom(now)
	res.CancelAt(now)
	return wait, false
}

func formatRate(r rate.Limit) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", float64(r)), "0"), ".")
}
