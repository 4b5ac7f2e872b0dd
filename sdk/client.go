package sdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of Options' zero fields.
const (
	DefaultMaxAttempts   = 4
	DefaultMinBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff    = 8 * time.Second
	DefaultMaxRetryAfter = time.Minute
	// DefaultTimeout bounds one attempt of the default HTTP client. It is
	// longer than the server's wait of POST /buy for a delivery (25 s).
	DefaultTimeout = 60 * time.Second
	maxAnswerBytes = 16 << 20
	userAgent      = "starsbot-sdk-go/1"
)

// Options adjust a Client; the zero value (or nil) gives the defaults.
type Options struct {
	// HTTPClient sends the requests; default one with DefaultTimeout.
	HTTPClient *http.Client
	// MaxAttempts is how many times a call is sent at most (1: no
	// retries); default DefaultMaxAttempts.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts (before jitter); defaults DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for; a
	// longer one ends the call with the 429. Default DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// UserAgent is sent before the SDK's own; optional.
	UserAgent string
	// Sleep waits d or until ctx ends, whichever is first, and returns
	// ctx's error in the second case. The client waits with it between
	// attempts and WaitForOrder between reads. Default: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the partner API with one key. It is safe for concurrent use.
type Client struct {
	base string // scheme://host[/prefix], no trailing slash
	key  string
	opt  Options
}

// New returns a client of the API at baseURL (the server's root, e.g.
// "https://api.example.com"; a trailing "/api/v1" is accepted) with an
// osk_ (orders contract) or sk_ (simple contract) key.
func New(baseURL, apiKey string, opts *Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("sdk: base URL must be http(s)://host[/path]")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("sdk: base URL must not hold credentials, a query or a fragment")
	}
	if apiKey == "" || strings.ContainsAny(apiKey, " \t\r\n") {
		return nil, errors.New("sdk: an API key is required (osk_… or sk_…)")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	base := strings.TrimSuffix(strings.TrimRight(u.String(), "/"), "/api/v1")
	return &Client{base: base, key: apiKey, opt: o}, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CallOption adjusts one call.
type CallOption func(*callOptions)

type callOptions struct {
	idempotencyKey string
	maxAttempts    int
	attempts       *int // set by do to the number of attempts it sent
}

// WithIdempotencyKey sends key (at most 128 printable ASCII characters,
// no spaces: the API's rule) as the POST's Idempotency-Key in place of a
// new random one: the same key on a later call, even from another process,
// returns the order the first call made (the API keeps keys 24 hours).
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.idempotencyKey = key }
}

// WithMaxAttempts overrides Options.MaxAttempts for one call (1: no
// retries).
func WithMaxAttempts(n int) CallOption {
	return func(o *callOptions) { o.maxAttempts = n }
}

// validIdempotencyKey applies the API's rule (shop.MaxIdempotencyKey and
// the check after it): at most 128 bytes, each 0x21 to 0x7e.
func validIdempotencyKey(k string) bool {
	if len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// NewIdempotencyKey returns a random UUID (version 4), the form the API's
// documentation suggests for Idempotency-Key.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// do sends one logical call, with retries, and decodes a success into out
// (unwrapping the orders contract's {"ok":true,"data":…}); out may be nil.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any, out any, opts []CallOption) error {
	var co callOptions
	for _, o := range opts {
		o(&co)
	}
	attempts := c.opt.MaxAttempts
	if co.maxAttempts > 0 {
		attempts = co.maxAttempts
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("sdk: encoding the request: %w", err)
		}
	}
	idem := ""
	if method == http.MethodPost {
		idem = co.idempotencyKey
		if idem == "" {
			idem = NewIdempotencyKey()
		} else if !validIdempotencyKey(idem) {
			return errors.New("sdk: an idempotency key must be 1 to 128 printable ASCII characters without spaces")
		}
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	for attempt := 1; ; attempt++ {
		if co.attempts != nil {
			*co.attempts = attempt
		}
		answer, status, header, err := c.send(ctx, method, target, payload, idem)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fmt.Errorf("sdk: %s %s: %w", method, path, ctx.Err())
			}
			err = fmt.Errorf("sdk: %s %s: %w", method, path, err)
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := decodeAnswer(answer, out); err != nil {
				return fmt.Errorf("sdk: %s %s: %w", method, path, err)
			}
			return nil
		default:
			apiErr := parseError(status, header, answer)
			if !retryable(apiErr) {
				return apiErr
			}
			err, wait = apiErr, apiErr.RetryAfter
			if wait > c.opt.MaxRetryAfter {
				return apiErr
			}
		}
		if attempt >= attempts {
			return err
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err // the context would end before the next attempt
		}
		if serr := c.opt.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("sdk: %s %s: %w (last error: %v)", method, path, serr, err)
		}
	}
}

// send makes one attempt and reads the whole answer.
func (c *Client) send(ctx context.Context, method, target string, payload []byte, idem string) ([]byte, int, http.Header, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	ua := userAgent
	if c.opt.UserAgent != "" {
		ua = c.opt.UserAgent + " " + userAgent
	}
	req.Header.Set("User-Agent", ua)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := c.opt.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, nil, redact(err, c.key)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(b) > maxAnswerBytes {
		return nil, 0, nil, errors.New("the answer is larger than 16 MiB")
	}
	return b, resp.StatusCode, resp.Header, nil
}

// redact makes sure the key never appears in an error (a proxy or a
// transport could echo a header).
func redact(err error, key string) error {
	if strings.Contains(err.Error(), key) {
		return errors.New(strings.ReplaceAll(err.Error(), key, "<key>"))
	}
	return err
}

// backoff is the wait before attempt+1: MinBackoff doubled per attempt up
// to MaxBackoff, with "equal jitter" (between half and all of it), so that
// clients that failed together do not retry together.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opt.MaxBackoff
	if attempt < 30 {
		d = min(c.opt.MinBackoff<<(attempt-1), c.opt.MaxBackoff)
	}
	half := d / 2
	return half + mrand.N(d-half+1)
}

// retryable reports an answer worth another attempt: 429, and any 5xx
// except ORDER_FAILED, which is POST /buy's final outcome.
func retryable(e *APIError) bool {
	switch {
	case e.StatusCode == http.StatusTooManyRequests:
		return true
	case e.StatusCode >= 500:
		return e.Code != CodeOrderFailed
	}
	return false
}

// decodeAnswer decodes a success body into out, unwrapping the orders
// contract's envelope when the body is one.
func decodeAnswer(b []byte, out any) error {
	var env struct {
		OK   *bool           `json:"ok"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &env); err == nil && env.OK != nil && len(env.Data) > 0 {
		if !*env.OK {
			return errors.New("the answer says ok=false with a success status")
		}
		b = env.Data
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	return nil
}

// parseError reads an error answer of either contract:
// {"ok":false,"error_code","error_message","data":null} or
// {"status":"error","error_code","message"}.
func parseError(status int, h http.Header, b []byte) *APIError {
	var body struct {
		ErrorCode    string `json:"error_code"`
		ErrorMessage string `json:"error_message"`
		Message      string `json:"message"`
	}
	e := &APIError{StatusCode: status, RequestID: h.Get("X-Request-Id")}
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message = body.ErrorCode, body.ErrorMessage
		if e.Message == "" {
			e.Message = body.Message
		}
	}
	e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), time.Now())
	return e
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP-date (RFC
// 9110 section 10.2.3); 0 when absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
