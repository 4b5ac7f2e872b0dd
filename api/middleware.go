package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
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
	case rt.Plain:
		return dialectSimple
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
//
// A client address that failed to authenticate too often (a missing or
// invalid key) is refused with RATE_LIMITED before its key is looked at,
// until its bucket refills. Failures are logged and counted, never with
// the key.
func (s *Server) authorize(r *http.Request, rt route, d dialect) (context.Context, error) {
	addr, now := clientAddr(r), s.Now()
	if wait, logAs, blocked := s.failures.blocked(addr, now); blocked {
		s.countThrottled()
		if logAs != "" {
			s.Logger.Warn("failed authentications throttled", "addr", logAs,
				"per_minute", formatRate(s.failures.rate*60), "burst", s.failures.burst, "retry_after", wait.Round(time.Second))
		}
		return nil, &retryAfter{err: shop.Errorf(shop.ERATELIMITED, "too many failed authentications from your address: try again later"), after: wait}
	}
	fail := func(reason string, err error) (context.Context, error) {
		s.countAuthFailure(reason)
		s.Logger.Info("API authentication failed", "addr", addr, "method", r.Method, "route", rt.Path, "reason", reason)
		if reason != "wrong_dialect" { // a valid key on the wrong route guesses nothing
			s.failures.fail(addr, now)
		}
		return nil, err
	}
	key := bearer(r)
	if key == "" {
		return fail("missing_key", shop.Errorf(shop.EUNAUTHORIZED, "missing API key: send the header Authorization: Bearer <key>"))
	}
	user, apiKey, err := s.Shop.Authenticate(r.Context(), key)
	if shop.ErrorCode(err) == shop.EUNAUTHORIZED {
		return fail("invalid_key", err)
	} else if err != nil {
		return nil, err
	}
	switch {
	case rt.Access == ordersOnly && d != dialectOrders:
		return fail("wrong_dialect", shop.Errorf(shop.EUNAUTHORIZED, "this endpoint is part of the orders API and needs an osk_ key"))
	case rt.Access == simpleOnly && d != dialectSimple:
		return fail("wrong_dialect", shop.Errorf(shop.EUNAUTHORIZED, "this endpoint is part of the simple API and needs an sk_ key"))
	}
	if wait, ok := s.limiters.allow(apiKey.Hash, s.Now()); !ok {
		// The limit a partner is told is the whole shop's (RateLimit): with
		// several replicas each enforces its share (SetReplicas).
		return nil, &retryAfter{err: shop.Errorf(shop.ERATELIMITED, "rate limit exceeded: at most %s requests per second, bursts of %d", formatRate(rate.Limit(s.RateLimit)), s.RateBurst), after: wait}
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
	mu        sync.Mutex
	rate      rate.Limit // of every bucket; set changes it
	burst     int
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

// set changes the rate and burst of every bucket, those to come and those
// in use (which keep the tokens they have, up to the new burst).
func (l *limiters) set(perSecond float64, burst int, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.burst = rate.Limit(perSecond), burst
	for _, b := range l.buckets {
		b.lim.SetLimitAt(now, l.rate)
		b.lim.SetBurstAt(now, l.burst)
	}
}

// get returns the rate and burst of the buckets.
func (l *limiters) get() (float64, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return float64(l.rate), l.burst
}

// SetReplicas makes this server's per-key limit its share of the shop's
// when n replicas serve the API behind one load balancer (n < 1 counts as
// 1): RateLimit/n requests per second, bursts of RateBurst/n rounded up
// (at least 1). Spread evenly, a key's requests then get RateLimit in all;
// a key whose requests all reach one replica gets that replica's share.
// Keys' buckets in use keep their tokens (up to the new burst). Safe for
// concurrent use with the handler.
func (s *Server) SetReplicas(n int) {
	n = max(n, 1)
	s.limiters.set(s.RateLimit/float64(n), max(1, (s.RateBurst+n-1)/n), s.Now())
}

// KeyLimit returns the per-key limit this server enforces: requests per
// second and burst (RateLimit and RateBurst, or their share after
// SetReplicas).
func (s *Server) KeyLimit() (perSecond float64, burst int) { return s.limiters.get() }

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

// clientAddr is the address failed authentications are counted by: the
// connection's peer (the project trusts no proxy header), an IPv6 address
// by its /64, which one client usually holds whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// maxAuthFailAddrs bounds how many client addresses authFailures keeps.
const maxAuthFailAddrs = 10_000

// authFailures holds a token bucket of failed authentications per client
// address. Memory is bounded: a bucket is forgotten once it has refilled
// (it is then the same as a new one), and when max addresses are kept
// anyway, further addresses share one overflow bucket.
type authFailures struct {
	rate  rate.Limit
	burst int
	max   int

	mu        sync.Mutex
	addrs     map[string]*failBucket
	overflow  failBucket
	lastSweep time.Time
}

type failBucket struct {
	lim    *rate.Limiter
	seen   time.Time // last failure
	logged time.Time // last "throttled" log line
}

// throttleLogEvery is how often at most an address's throttling is logged.
const throttleLogEvery = time.Minute

// overflowAddr is the overflow bucket's name in logs.
const overflowAddr = "(other addresses)"

func newAuthFailures(perSecond float64, burst, maxAddrs int) *authFailures {
	f := &authFailures{rate: rate.Limit(perSecond), burst: burst, max: maxAddrs, addrs: map[string]*failBucket{}}
	f.overflow.lim = rate.NewLimiter(f.rate, f.burst)
	return f
}

// refill is how long an untouched bucket takes to fill up again.
func (f *authFailures) refill() time.Duration {
	return time.Duration(float64(f.burst) / float64(f.rate) * float64(time.Second))
}

// bucket returns addr's bucket, nil if it has none and may get one
// (create), or the overflow bucket when the map is full. Call with f.mu.
func (f *authFailures) bucket(addr string, now time.Time, create bool) *failBucket {
	if b := f.addrs[addr]; b != nil {
		return b
	}
	if len(f.addrs) >= f.max && now.Sub(f.lastSweep) >= time.Second {
		f.sweep(now)
	}
	if len(f.addrs) >= f.max {
		return &f.overflow
	}
	if !create {
		return nil
	}
	b := &failBucket{lim: rate.NewLimiter(f.rate, f.burst)}
	f.addrs[addr] = b
	return b
}

// sweep forgets the buckets that have refilled. Call with f.mu.
func (f *authFailures) sweep(now time.Time) {
	idle := f.refill()
	for k, b := range f.addrs {
		if now.Sub(b.seen) > idle {
			delete(f.addrs, k)
		}
	}
	f.lastSweep = now
}

// blocked reports whether addr has no failed authentication left and how
// long until it has one, and the address to log it as ("": do not log;
// once per throttleLogEvery).
func (f *authFailures) blocked(addr string, now time.Time) (wait time.Duration, logAs string, blocked bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bucket(addr, now, false)
	if b == nil {
		return 0, "", false
	}
	tokens := b.lim.TokensAt(now)
	if tokens >= 1 {
		return 0, "", false
	}
	wait = time.Duration((1 - tokens) / float64(f.rate) * float64(time.Second))
	if now.Sub(b.logged) >= throttleLogEvery {
		b.logged, logAs = now, addr
		if b == &f.overflow {
			logAs = overflowAddr
		}
	}
	return wait, logAs, true
}

// fail takes a token from addr's bucket.
func (f *authFailures) fail(addr string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.lastSweep) > time.Minute {
		f.sweep(now)
	}
	b := f.bucket(addr, now, true)
	b.seen = now
	b.lim.AllowN(now, 1)
}
