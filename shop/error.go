package shop

import (
	"errors"
	"fmt"
)

// Error codes. The partner API maps each to an HTTP status; the bot maps each
// to a localized sentence. Codes are part of the public contract.
const (
	EVALIDATION     = "VALIDATION_ERROR"
	EUNAUTHORIZED   = "UNAUTHORIZED"
	ENOTFOUND       = "NOT_FOUND"
	EINSUFFICIENT   = "INSUFFICIENT_BALANCE"
	ERATELIMITED    = "RATE_LIMITED"
	ECONFLICT       = "IDEMPOTENCY_CONFLICT"
	ERECIPIENT      = "RECIPIENT_NOT_FOUND"
	ENOTCANCELLABLE = "ORDER_NOT_CANCELLABLE"
	EINTERNAL       = "INTERNAL_ERROR"
	EINVALIDSTATE   = "INVALID_STATE" // admin operations on a record in the wrong state
	EQUOTEEXPIRED   = "QUOTE_EXPIRED" // an order's locked quote expired: request a new quote
	EQUOTEUSED      = "QUOTE_USED"    // an order's locked quote already paid for another order
	errInternalMsg  = "Internal error."
)

// Error is an application error with a machine-readable Code and a Message
// that is safe to show to the caller. Any error that is not an *Error is an
// internal error: it is logged, and callers see only "Internal error.".
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("shop error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error,
// EINTERNAL for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of err if it is (or wraps) an
// *Error, "Internal error." for any other non-nil error and "" for nil.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return errInternalMsg
}
