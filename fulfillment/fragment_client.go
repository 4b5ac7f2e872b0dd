package fulfillment

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"starsbot/shop"
)

// This file is the HTTP side of the Fragment provider: the api hash scraped
// from a page, the form POSTs to /api, and the translation of Fragment's
// answers into *Error. Nothing here logs or returns the cookies, the api hash
// or a raw response body.

const (
	fragmentUserAgent  = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36"
	fragmentMaxAPIBody = 1 << 20 // an API answer larger than this is refused
	fragmentMaxPage    = 4 << 20 // only this much of a page is searched for the hash
	fragmentMaxErrText = 120     // Fragment error texts are cut to this many runes in logs
)

// fragmentHashRE finds the api hash in a page: `"apiUrl":"\/api?hash=…"`.
var fragmentHashRE = regexp.MustCompile(`/api\?hash=([a-f0-9]{1,128})`)

// fragmentHash is a scraped api hash and when it was fetched.
type fragmentHash struct {
	value string
	at    time.Time
}

// call posts method with form to Fragment's API, on behalf of page (the
// page whose hash and Referer the call needs), and decodes the answer into
// out (nil: ignore it). When Fragment answers "Bad request" or "Session
// expired" it refreshes the page's hash and tries once more. When the
// wallet connection is gone (need_ton, or "Please reconnect your wallet"
// with a fresh hash) it renews it from the seed (fragment_tonproof.go) and
// tries once more. What persists, and what needs a human (the Telegram
// login, verification), is Unhealthy with the steps to fix it. Every error
// is an *Error.
func (f *Fragment) call(ctx context.Context, page, method string, form url.Values, out any) error {
	form.Set("method", method)
	s := f.session()
	renewed := false
	if !s.has(fragmentWalletCookie) && f.canRenewWallet() {
		if err := f.renewWallet(ctx, s.issued()); err != nil {
			return err
		}
		renewed = true
	}
	for refresh, refreshed := false, false; ; {
		hash, err := f.apiHash(ctx, page, refresh)
		if err != nil {
			return err
		}
		refresh = false
		issued := s.issued()
		body, err := f.post(ctx, page, hash, form)
		if errors.Is(err, errFragmentUnauthorized) && !refreshed {
			// An expired api hash (TSB, code-index id 62115643264,
			// _api_request): reload it and try once more.
			f.Logger.Debug("fragment answered 401; reloading the api hash", "method", method)
			refresh, refreshed = true, true
			continue
		}
		if err != nil {
			f.Logger.Debug("fragment call failed", "method", method, "error", err)
			return err
		}
		env, err := parseFragmentEnvelope(body)
		if err != nil {
			return err
		}
		switch p := env.sessionProblem(); {
		case (p == fragmentStale || p == fragmentWalletStale) && !refreshed:
			f.Logger.Debug("fragment session problem; reloading the api hash", "method", method)
			refresh, refreshed = true, true
			continue
		case p == fragmentWalletGone || p == fragmentWalletStale:
			if renewed {
				return Wrap(Unhealthy, "Fragment still has no wallet connection after it was renewed from the hot wallet's seed. "+fragmentWalletSteps, env.refusal())
			}
			if err := f.renewWallet(ctx, issued); err != nil {
				return err
			}
			renewed, refresh = true, true
			continue
		case p != fragmentNoProblem:
			err := env.sessionFailure(p)
			f.Logger.Debug("fragment session refused", "method", method, "error", err)
			return err
		}
		if err := env.failure(); err != nil {
			f.Logger.Debug("fragment refused", "method", method, "error", err)
			return err
		}
		if out != nil {
			if err := json.Unmarshal(body, out); err != nil {
				return Wrap(Retryable, "unexpected answer from Fragment", fmt.Errorf("%s: %w", method, err))
			}
		}
		f.Logger.Debug("fragment call", "method", method)
		return nil
	}
}

// apiHash returns the api hash of page: the cached one while younger than
// HashTTL, else (or with refresh) a freshly scraped one.
func (f *Fragment) apiHash(ctx context.Context, page string, refresh bool) (string, error) {
	now := f.Now()
	f.mu.Lock()
	h, ok := f.hashes[page]
	f.mu.Unlock()
	if ok && !refresh && !now.Before(h.at) && now.Sub(h.at) < f.HashTTL {
		return h.value, nil
	}
	v, err := f.fetchHash(ctx, page)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	if f.hashes == nil {
		f.hashes = make(map[string]fragmentHash)
	}
	f.hashes[page] = fragmentHash{value: v, at: now}
	f.mu.Unlock()
	return v, nil
}

// fetchHash loads page with the session cookies and scrapes its api hash.
func (f *Fragment) fetchHash(ctx context.Context, page string) (string, error) {
	body, err := f.fetchPage(ctx, page)
	if err != nil {
		return "", err
	}
	m := fragmentHashRE.FindSubmatch(body)
	if m == nil {
		return "", Errorf(Unhealthy, "the Fragment page has no API hash: logged out, or the page changed. %s", fragmentLoginSteps)
	}
	f.Logger.Debug("fragment api hash loaded", "page", page)
	return string(m[1]), nil
}

// fetchPage loads page with the session cookies and returns (the start
// of) its HTML. The answer's Set-Cookie headers go into the jar.
func (f *Fragment) fetchPage(ctx context.Context, page string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.BaseURL+page, nil)
	if err != nil {
		return nil, Wrap(Unhealthy, "the Fragment base URL is invalid", err)
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	req.Header.Set("User-Agent", fragmentUserAgent)
	req.Header.Set("Cookie", f.cookieHeader())
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fragmentTransportError("load the page", err)
	}
	defer resp.Body.Close()
	f.applySetCookies(ctx, resp)
	if err := fragmentStatusError(resp.StatusCode); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, fragmentMaxPage))
	if err != nil {
		return nil, fragmentTransportError("read the page", err)
	}
	return body, nil
}

// post sends one API call and returns the answer's body.
func (f *Fragment) post(ctx context.Context, page, hash string, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.BaseURL+"/api?hash="+hash, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, Wrap(Unhealthy, "the Fragment base URL is invalid", err)
	}
	referer := f.BaseURL + page
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	req.Header.Set("Accept", "application/json, text/javascript, */*; q=0.01")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	req.Header.Set("Origin", f.origin())
	req.Header.Set("Referer", referer)
	req.Header.Set("X-Aj-Referer", referer)
	req.Header.Set("User-Agent", fragmentUserAgent)
	req.Header.Set("Cookie", f.cookieHeader())
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fragmentTransportError("call "+form.Get("method"), err)
	}
	defer resp.Body.Close()
	f.applySetCookies(ctx, resp)
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, errFragmentUnauthorized
	}
	if err := fragmentStatusError(resp.StatusCode); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, fragmentMaxAPIBody+1))
	if err != nil {
		return nil, fragmentTransportError("read the answer to "+form.Get("method"), err)
	}
	if len(body) > fragmentMaxAPIBody {
		return nil, Errorf(Retryable, "Fragment's answer is too large")
	}
	return body, nil
}

// fragmentTransportError is a network failure or timeout: retryable. The
// *url.Error layer is dropped because its text holds the URL, with the hash.
func fragmentTransportError(what string, err error) *Error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return Wrap(Retryable, "Fragment is unreachable, will retry", fmt.Errorf("%s: %w", what, err))
}

// errFragmentUnauthorized is an API call's HTTP 401: call reloads the api
// hash once, then it stands.
var errFragmentUnauthorized = Errorf(Unhealthy, "Fragment refused access (HTTP 401): cookies expired or IP blocked")

// fragmentStatusError maps an HTTP status other than 2xx to an *Error.
func fragmentStatusError(code int) *Error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests:
		e := Errorf(Retryable, "Fragment rate limit, will retry")
		e.Overload = true
		return e
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return Errorf(Unhealthy, "Fragment refused access (HTTP %d): cookies expired or IP blocked", code)
	case code >= 500:
		e := Errorf(Retryable, "Fragment server error (HTTP %d), will retry", code)
		e.Overload = true
		return e
	case code >= 300 && code < 400:
		return Errorf(Unhealthy, "Fragment redirected the request (HTTP %d): the session has probably expired", code)
	}
	return Errorf(Retryable, "unexpected HTTP status %d from Fragment", code)
}

// fragmentEnvelope is what every API answer may carry besides its data.
type fragmentEnvelope struct {
	OK         *bool           `json:"ok"`
	Error      json.RawMessage `json:"error"`
	NeedVerify fragmentFlag    `json:"need_verify"`
	NeedTON    fragmentFlag    `json:"need_ton"`
}

// parseFragmentEnvelope parses the common fields of an API answer, which
// must be a JSON object.
func parseFragmentEnvelope(body []byte) (*fragmentEnvelope, error) {
	var env fragmentEnvelope
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, Errorf(Retryable, "unexpected answer from Fragment (not JSON)")
	}
	if err := json.Unmarshal(trimmed, &env); err != nil {
		return nil, Wrap(Retryable, "unexpected answer from Fragment", err)
	}
	return &env, nil
}

// text is the HTML-unescaped error text, "" when there is none.
func (e *fragmentEnvelope) text() string {
	raw := bytes.TrimSpace(e.Error)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "unrecognized error"
	}
	return strings.TrimSpace(html.UnescapeString(s))
}

// refusal is the error answer as a cause, for logs.
func (e *fragmentEnvelope) refusal() *fragmentRefusal {
	return &fragmentRefusal{text: fragmentSanitize(e.text())}
}

// sessionExpired reports whether Fragment wants a fresh hash or session.
func (e *fragmentEnvelope) sessionExpired() bool {
	t := strings.ToLower(e.text())
	return t == "bad request" || strings.Contains(t, "session expired") || strings.Contains(t, "auth_session_expired")
}

// failure maps the answer's error, if any, to an *Error.
func (e *fragmentEnvelope) failure() *Error {
	switch {
	case bool(e.NeedVerify):
		return Wrap(Unhealthy, "the Fragment account needs verification", e.refusal())
	case bool(e.NeedTON):
		return Wrap(Unhealthy, "no TON wallet is connected to the Fragment session", e.refusal())
	}
	if t := e.text(); t != "" {
		return fragmentClassify(t, e.refusal())
	}
	if e.OK != nil && !*e.OK {
		return Wrap(Retryable, "Fragment refused the request", e.refusal())
	}
	return nil
}

// fragmentClassify maps one of Fragment's error texts (already unescaped) to
// a Kind (notes §3.1). Permanent kinds only arise before any payment; the
// confirm step turns every refusal into Manual.
func fragmentClassify(text string, cause *fragmentRefusal) *Error {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "no telegram users found"):
		return Wrap(Permanent, "recipient not found on Telegram", cause)
	case strings.Contains(t, "username assigned to a user"):
		return Wrap(Permanent, "the username does not belong to a Telegram user", cause)
	case strings.Contains(t, "gift telegram stars to this account"):
		return Wrap(Permanent, "this account cannot receive Telegram Stars", cause)
	case strings.Contains(t, "already subscribed to telegram premium"):
		return Wrap(Permanent, "the recipient already has Telegram Premium", cause)
	case strings.Contains(t, "price was changed"):
		return Wrap(Retryable, "Fragment's price changed, will retry", cause)
	case strings.Contains(t, "access denied"):
		return Wrap(Unhealthy, "Fragment denied access: check the cookies and the wallet session", cause)
	}
	return Wrap(Retryable, "Fragment refused the request", cause)
}

// fragmentRefusal is an error answer from Fragment itself (not a transport
// failure). text is sanitized and short.
type fragmentRefusal struct{ text string }

func (r *fragmentRefusal) Error() string {
	if r.text == "" {
		return "fragment refused"
	}
	return "fragment said " + strconv.Quote(r.text)
}

// fragmentSanitize keeps s printable and short enough for a log line.
func fragmentSanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if r := []rune(s); len(r) > fragmentMaxErrText {
		s = string(r[:fragmentMaxErrText]) + "…"
	}
	return s
}

// fragmentFlag is a JSON flag Fragment may send as true, 1 or "1".
type fragmentFlag bool

// UnmarshalJSON reads true, 1, "1" or "true" as true and anything else as
// false.
func (b *fragmentFlag) UnmarshalJSON(data []byte) error {
	switch strings.Trim(string(bytes.TrimSpace(data)), `"`) {
	case "true", "1":
		*b = true
	default:
		*b = false
	}
	return nil
}

// fragmentText is a JSON string or number kept as its text (ids and
// amounts, which Fragment may send either way).
type fragmentText string

// UnmarshalJSON accepts a string, a number (its literal) or null.
func (t *fragmentText) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return errors.New("empty value")
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*t = fragmentText(s)
	case string(data) == "null":
		*t = ""
	case (data[0] == '-' || data[0] >= '0' && data[0] <= '9') && json.Valid(data):
		*t = fragmentText(data)
	default:
		return errors.New("not a string or a number")
	}
	return nil
}

// decodeBase64Lenient decodes base64 in the standard or the URL-safe
// alphabet, with or without padding, ignoring white space: Fragment sends
// payloads URL-safe and unpadded.
func decodeBase64Lenient(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return -1
		case r == '-':
			return '+'
		case r == '_':
			return '/'
		}
		return r
	}, s)
	s = strings.TrimRight(s, "=")
	if s == "" {
		return nil, errors.New("empty base64")
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// parseNano parses a whole, positive number of nanoTON written in decimal
// digits only: no sign, no fraction, no exponent.
func parseNano(s string) (shop.NanoTON, error) {
	if s == "" || len(s) > 19 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not a whole number of nanoTON")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("nanoTON amount out of range")
	}
	if n <= 0 {
		return 0, errors.New("nanoTON amount is not positive")
	}
	return shop.NanoTON(n), nil
}
