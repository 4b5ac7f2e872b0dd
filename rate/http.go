// Package rate fetches the TON/USD rate the shop prices with from an HTTP
// JSON endpoint (RATE_URL). It is an adapter: it implements
// shop.shop.RateSource and holds no pricing rule (the shop validates every rate
// it uses).
package rate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"starsbot/shop"
)

// sourceHTTP is HTTP's shop.Rate.Source.
const sourceHTTP = "http"

// HTTP defaults and limits.
const (
	defaultRateTTL     = 60 * time.Second
	defaultRateMaxAge  = 15 * time.Minute
	defaultRateTimeout = 5 * time.Second
	maxRateBody        = 1 << 20
)

// HTTP fetches the TON/USD rate from a JSON HTTP endpoint (RATE_URL) and
// caches it for TTL. When fetching fails it keeps serving the last good rate
// until it is MaxAge old, then serves Fallback. It is safe for concurrent use
// and must not be copied after first use.
//
// At most one fetch runs at a time: callers arriving during a fetch get the
// last good rate if it is younger than MaxAge, or else wait for the fetch.
// After a failed fetch the next one also waits TTL, so a source that is down
// or rate-limiting is asked at most once per TTL.
//
// A fetched value is rejected (and counts as a failed fetch) if it is outside
// [0.01, 100000] USD, or if it moved more than 50% from a last good rate
// younger than MaxAge. A last good rate older than MaxAge is not compared
// against, so a real move that large is accepted once the old rate expires.
type HTTP struct {
	HTTPConfig // as NewHTTP completed it; read-only

	mu       sync.Mutex
	good     shop.Rate     // last good rate; TONUSD is 0 until the first successful fetch
	lastErr  error         // error of the latest fetch; nil after a success
	failing  bool          // the latest fetch failed: a failure streak is on
	failedAt time.Time     // when the latest failed fetch ended
	inflight chan struct{} // closed when the fetch in progress ends; nil when none runs
}

// HTTPConfig configures an HTTP rate source.
type HTTPConfig struct {
	URL      string           // endpoint; required. Its query may hold an API key and is never logged.
	Path     string           // dot-separated field path into the JSON document, e.g. "the-open-network.usd" or "data.0.price" (numeric segments index arrays); required
	TTL      time.Duration    // how long a fetched rate is served before refetching; default 60s
	MaxAge   time.Duration    // how long the last good rate may still be served when fetching fails; default 15m
	Fallback shop.RateSource  // used when there is no good rate younger than MaxAge, normally a StaticRate; required
	Client   *http.Client     // default: a client with a 5s timeout
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
}

// NewHTTP checks cfg's required fields and fills in its defaults.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	switch {
	case cfg.URL == "":
		return nil, errors.New("rate.NewHTTP: URL is required")
	case cfg.Path == "":
		return nil, errors.New("rate.NewHTTP: Path is required")
	case cfg.Fallback == nil:
		return nil, errors.New("rate.NewHTTP: Fallback is required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = defaultRateTTL
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = defaultRateMaxAge
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: defaultRateTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &HTTP{HTTPConfig: cfg}, nil
}

// Rate returns the current rate: the cached one while younger than TTL,
// else a freshly fetched one (Source "http", UpdatedAt the fetch time). If
// the fetch fails it returns the last good rate while it is younger than
// MaxAge (with its old UpdatedAt, so callers see its age), and otherwise
// Fallback's rate. It fails only if Fallback is nil or fails. A failure
// streak is logged once, at warn, naming the URL without its query.
func (h *HTTP) Rate(ctx context.Context) (shop.Rate, error) {
	if h.Fallback == nil {
		return shop.Rate{}, errors.New("rate.HTTP.Fallback is required")
	}
	h.mu.Lock()
	now := h.Now()
	switch {
	case h.fresh(now):
		r := h.good
		h.mu.Unlock()
		return r, nil
	case h.inflight != nil:
		done, r, usable := h.inflight, h.good, h.usable(now)
		h.mu.Unlock()
		if usable {
			return r, nil
		}
		select {
		case <-done:
		case <-ctx.Done():
		}
	case h.failing && now.Sub(h.failedAt) < h.TTL:
		h.mu.Unlock()
	default:
		done := make(chan struct{})
		h.inflight = done
		h.mu.Unlock()
		h.refresh(ctx, done)
	}
	return h.current(ctx)
}

// LastError returns the error of the latest fetch, or nil if it succeeded or
// none has been made, for health reporting. A fetch abandoned because the
// caller's context was canceled does not count. The error never contains
// the URL.
func (h *HTTP) LastError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// current returns the last good rate if it may still be served, else
// Fallback's rate.
func (h *HTTP) current(ctx context.Context) (shop.Rate, error) {
	h.mu.Lock()
	now := h.Now()
	r, ok := h.good, h.fresh(now) || h.usable(now)
	h.mu.Unlock()
	if ok {
		return r, nil
	}
	return h.Fallback.Rate(ctx)
}

// refresh runs the one fetch in flight and records its outcome; done is
// closed when it ends, even on panic, so that waiters never hang.
func (h *HTTP) refresh(ctx context.Context, done chan struct{}) {
	v, err := shop.MicroUSD(0), errors.New("rate fetch did not complete")
	defer func() {
		h.mu.Lock()
		log := h.record(ctx, v, err)
		h.inflight = nil
		close(done)
		h.mu.Unlock()
		if log != nil {
			log()
		}
	}()
	v, err = h.fetch(ctx)
}

// record stores the outcome of a fetch, with h.mu held. It returns the
// logging to do once h.mu is released, or nil.
func (h *HTTP) record(ctx context.Context, v shop.MicroUSD, err error) func() {
	now := h.Now()
	if err == nil {
		err = h.checkJump(v, now)
	}
	if err == nil {
		recovered := h.failing
		h.good = shop.Rate{TONUSD: v, Source: sourceHTTP, UpdatedAt: now}
		h.lastErr, h.failing, h.failedAt = nil, false, time.Time{}
		if !recovered {
			return nil
		}
		return func() {
			h.Logger.Info("rate fetch recovered", "url", urlWithoutQuery(h.URL), "ton_usd", v.String())
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The caller gave up; that says nothing about the source.
		return nil
	}
	first := !h.failing
	h.lastErr, h.failing, h.failedAt = err, true, now
	if !first {
		return nil
	}
	serving := "fallback"
	if h.usable(now) {
		serving = "last_good"
	}
	return func() {
		h.Logger.Warn("rate fetch failed", "url", urlWithoutQuery(h.URL), "error", err, "serving", serving)
	}
}

// checkJump rejects v if it moved more than 50% from a last good rate that
// may still be served; h.mu is held.
func (h *HTTP) checkJump(v shop.MicroUSD, now time.Time) error {
	old := h.good.TONUSD
	if old <= 0 || !h.usable(now) {
		return nil
	}
	d := v - old
	if d < 0 {
		d = -d
	}
	if 2*d > old {
		return fmt.Errorf("TON/USD rate %s moved more than 50%% from %s", v, old)
	}
	return nil
}

// fetch gets and parses the rate. Its errors never contain the URL, whose
// query may hold an API key.
func (h *HTTP) fetch(ctx context.Context) (shop.MicroUSD, error) {
	if h.URL == "" || h.Path == "" {
		return 0, errors.New("rate.HTTP.URL and rate.HTTP.Path are required")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
	if err != nil {
		return 0, errors.New("invalid rate URL") // the parse error quotes the whole URL
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error quotes the whole URL
		}
		return 0, fmt.Errorf("fetch TON/USD rate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, fmt.Errorf("fetch TON/USD rate: status %s", resp.Status)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxRateBody))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return 0, fmt.Errorf("decode TON/USD rate: %w", err)
	}
	s, err := lookupJSONPath(doc, h.Path)
	if err != nil {
		return 0, fmt.Errorf("decode TON/USD rate: %w", err)
	}
	v, err := shop.ParseRate(s)
	if err != nil {
		return 0, fmt.Errorf("decode TON/USD rate: %w", err)
	}
	if err := shop.ValidateRate(v); err != nil {
		return 0, err
	}
	return v, nil
}

// lookupJSONPath walks a dot-separated path through a document decoded with
// UseNumber and returns the leaf's decimal text: the literal digits of a
// JSON number, or the contents of a JSON string.
func lookupJSONPath(doc any, path string) (string, error) {
	cur := doc
	for seg := range strings.SplitSeq(path, ".") {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[seg]
			if !ok {
				return "", fmt.Errorf("path %q: no field %q", path, seg)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return "", fmt.Errorf("path %q: no array element %q", path, seg)
			}
			cur = node[i]
		default:
			return "", fmt.Errorf("path %q: %q is not inside an object or array", path, seg)
		}
	}
	switch leaf := cur.(type) {
	case json.Number:
		return leaf.String(), nil
	case string:
		return leaf, nil
	}
	return "", fmt.Errorf("path %q: value is not a number or a string", path)
}

// urlWithoutQuery returns scheme://host/path of raw, dropping any user
// info, query and fragment, for logging.
func urlWithoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// fresh reports whether the last good rate is younger than TTL; h.mu is held.
func (h *HTTP) fresh(now time.Time) bool {
	return h.good.TONUSD > 0 && now.Sub(h.good.UpdatedAt) < h.TTL
}

// usable reports whether the last good rate is younger than MaxAge; h.mu is
// held.
func (h *HTTP) usable(now time.Time) bool {
	return h.good.TONUSD > 0 && now.Sub(h.good.UpdatedAt) < h.MaxAge
}
