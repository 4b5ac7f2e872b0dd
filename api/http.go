package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"starsbot/shop"
)

// dialect is the contract a request is served in.
type dialect int

const (
	dialectOrders dialect = iota // osk_ keys: {"ok", "data"} envelopes
	dialectSimple                // sk_ keys: plain shapes
)

// statusOf maps error codes to HTTP statuses: the one place.
func statusOf(code string) int {
	switch code {
	case shop.EVALIDATION:
		return http.StatusBadRequest
	case shop.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case shop.ENOTFOUND, shop.ERECIPIENT:
		return http.StatusNotFound
	case shop.EINSUFFICIENT:
		return http.StatusPaymentRequired
	case shop.ECONFLICT, shop.ENOTCANCELLABLE, shop.EINVALIDSTATE, shop.EQUOTEEXPIRED, shop.EQUOTEUSED:
		return http.StatusConflict
	case shop.ERATELIMITED:
		return http.StatusTooManyRequests
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case codeOrderFailed:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

// Codes the API adds to shop's.
const (
	codeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	codeOrderFailed      = "ORDER_FAILED" // POST /buy: delivery failed and the price went back to the balance
)

// envelope is the orders contract's success shape.
type envelope struct {
	OK   bool `json:"ok"`
	Data any  `json:"data"`
}

// errorEnvelope is the orders contract's error shape.
type errorEnvelope struct {
	OK           bool   `json:"ok"`
	ErrorCode    string `json:"error_code"`
	ErrorMessage string `json:"error_message"`
	Data         any    `json:"data"`
}

// simpleError is the simple contract's error shape.
type simpleError struct {
	Status    string `json:"status"`
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// writeJSON writes v with status. Encoding our own response types cannot
// fail; if it ever does, the client gets a 500 and the log says why.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // ends with a newline
	enc.SetEscapeHTML(false)     // JSON, not HTML: keep "<key>" readable
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"ok":false,"error_code":"INTERNAL_ERROR","error_message":"Internal error.","data":null}` + "\n")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ok writes data in the orders envelope with 200.
func ok(w http.ResponseWriter, data any) error {
	writeJSON(w, http.StatusOK, envelope{OK: true, Data: data})
	return nil
}

// retryAfter is an error that also tells the client when to come back.
type retryAfter struct {
	err   error
	after time.Duration
}

func (e *retryAfter) Error() string { return e.err.Error() }
func (e *retryAfter) Unwrap() error { return e.err }

// writeError writes err in dialect d. Internal errors are logged here, once,
// and shown only as "Internal error.".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, d dialect, route string, err error) {
	code, msg := shop.ErrorCode(err), shop.ErrorMessage(err)
	if code == shop.EINTERNAL {
		s.Logger.Error("request failed", "method", r.Method, "route", route, "error", err)
	}
	var ra *retryAfter
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(ra.after, time.Second).Seconds()))))
	}
	if code == shop.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="starsbot"`)
	}
	status := statusOf(code)
	if d == dialectSimple {
		writeJSON(w, status, simpleError{Status: "error", ErrorCode: code, Message: msg})
		return
	}
	writeJSON(w, status, errorEnvelope{ErrorCode: code, ErrorMessage: msg})
}

// decode reads a JSON object body into a T: at most 64 KiB, valid UTF-8,
// one object, no unknown fields, every field of the right type. Every
// failure is a VALIDATION_ERROR with a message safe to echo.
func decode[T any](w http.ResponseWriter, r *http.Request) (*T, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, shop.Errorf(shop.EVALIDATION, "request body must be at most %d bytes", maxBodyBytes)
		}
		return nil, shop.Errorf(shop.EVALIDATION, "could not read the request body")
	}
	if !utf8.Valid(body) {
		return nil, shop.Errorf(shop.EVALIDATION, "request body must be valid UTF-8")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, shop.Errorf(shop.EVALIDATION, "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	v := new(T)
	if err := dec.Decode(v); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, shop.Errorf(shop.EVALIDATION, "request body must hold exactly one JSON object")
	}
	return v, nil
}

// decodeError turns an encoding/json error into a safe VALIDATION_ERROR.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return shop.Errorf(shop.EVALIDATION, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return shop.Errorf(shop.EVALIDATION, "request body must be a JSON object")
		}
		return shop.Errorf(shop.EVALIDATION, "%s must be %s", clip(typ.Field, 64), jsonKind(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return shop.Errorf(shop.EVALIDATION, "malformed JSON: unexpected end of the body")
	}
	if name, found := strings.CutPrefix(err.Error(), "json: unknown field "); found {
		return shop.Errorf(shop.EVALIDATION, "unknown field %s", clip(name, 64))
	}
	return shop.Errorf(shop.EVALIDATION, "malformed JSON")
}

// jsonKind names a Go kind the way a JSON author would.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "a whole number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	default:
		return "of another type"
	}
}

// clip shortens user-supplied text quoted back in messages.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// queryInt parses an optional whole-number query parameter in [lo, hi];
// absent gives def.
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		if hi == math.MaxInt64 {
			return 0, shop.Errorf(shop.EVALIDATION, "%s must be a whole number of at least %d", name, lo)
		}
		return 0, shop.Errorf(shop.EVALIDATION, "%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// pageQuery parses a listing's limit (1..100, default 20) and cursor (an id
// from a previous page's next_cursor; absent = from the newest).
func pageQuery(r *http.Request) (limit int, before int64, err error) {
	n, err := queryInt(r, "limit", shop.DefaultPageSize, 1, shop.MaxPageSize)
	if err != nil {
		return 0, 0, err
	}
	before, err = queryInt(r, "cursor", 0, 1, math.MaxInt64)
	return int(n), before, err
}

// requireQuery returns a required query parameter.
func requireQuery(r *http.Request, name string) (string, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return "", shop.Errorf(shop.EVALIDATION, "query parameter %s is required", name)
	}
	return v, nil
}

// timeJSON renders a time as RFC 3339 UTC to the second, or null when zero.
func timeJSON(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// stringJSON renders "" as null.
func stringJSON(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// cursorJSON renders a next-page cursor, or null on the last page.
func cursorJSON[T int64 | uint64](next T) *string {
	if next == 0 {
		return nil
	}
	s := fmt.Sprint(next)
	return &s
}
