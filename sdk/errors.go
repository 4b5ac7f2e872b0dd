package sdk

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// The API's error codes (the server's api and shop packages; the OpenAPI
// document's ErrorCode lists them with their statuses).
const (
	CodeValidation          = "VALIDATION_ERROR"      // 400
	CodeUnauthorized        = "UNAUTHORIZED"          // 401
	CodeInsufficientBalance = "INSUFFICIENT_BALANCE"  // 402
	CodeNotFound            = "NOT_FOUND"             // 404
	CodeRecipientNotFound   = "RECIPIENT_NOT_FOUND"   // 404
	CodeMethodNotAllowed    = "METHOD_NOT_ALLOWED"    // 405
	CodeIdempotencyConflict = "IDEMPOTENCY_CONFLICT"  // 409: the key was used for another request
	CodeOrderNotCancellable = "ORDER_NOT_CANCELLABLE" // 409
	CodeInvalidState        = "INVALID_STATE"         // 409
	CodeQuoteExpired        = "QUOTE_EXPIRED"         // 409: ask for a new quote
	CodeQuoteUsed           = "QUOTE_USED"            // 409: the quote paid for another order
	CodeRateLimited         = "RATE_LIMITED"          // 429, with Retry-After
	CodeInternal            = "INTERNAL_ERROR"        // 500
	CodeOrderFailed         = "ORDER_FAILED"          // 502, POST /buy: delivery failed, the price went back to the balance
)

// APIError is an error answer of the API, in either contract. Get it with
// errors.As; the retries of a call end with the last attempt's answer.
type APIError struct {
	StatusCode int    // the HTTP status
	Code       string // the API's error_code; "" when the body had none (e.g. a proxy's 502)
	Message    string // the API's sentence, safe to show
	RequestID  string // the X-Request-Id header, when the server or a proxy sets one
	// RetryAfter is the answer's Retry-After (429, sometimes 503), 0 if none.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := "starsbot: " + strconv.Itoa(e.StatusCode)
	if e.Code != "" {
		s += " " + e.Code
	} else {
		s += " " + http.StatusText(e.StatusCode)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// ErrorCode returns the API code of err if it is or wraps an *APIError,
// else "".
func ErrorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// HasCode reports whether err is or wraps an *APIError with this code.
func HasCode(err error, code string) bool { return code != "" && ErrorCode(err) == code }

// IsNotFound reports an answer 404: no such order, webhook or endpoint
// for this key (RECIPIENT_NOT_FOUND too).
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

// IsUnauthorized reports a missing, unknown or revoked key, or a key of
// the other contract.
func IsUnauthorized(err error) bool { return HasCode(err, CodeUnauthorized) }

// IsRateLimited reports a 429 that remained after the client's retries.
func IsRateLimited(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.StatusCode == http.StatusTooManyRequests
}

// IsQuoteExpired reports an order refused because its quote expired.
func IsQuoteExpired(err error) bool { return HasCode(err, CodeQuoteExpired) }

// IsInsufficientBalance reports an order the balance cannot pay.
func IsInsufficientBalance(err error) bool { return HasCode(err, CodeInsufficientBalance) }

// IsValidation reports a request the API refused as invalid.
func IsValidation(err error) bool { return HasCode(err, CodeValidation) }
