package shop

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxReason is the longest reason, in characters, that an order or a
// ledger entry records: an admin's reason for a credit, a debit or a refund
// (refused when longer: ValidateReason), or the fulfillment worker's reason
// for holding or failing an order (cut when longer).
const MaxReason = 256

// ValidateReason is the rule for an admin's reason (AdminCredit,
// AdminDebit, Refund): trimmed of white space, not empty, valid UTF-8, at
// most MaxReason characters, no control characters. It returns the trimmed
// reason, so that a front door can check a reason before asking for
// confirmation.
//
// Errors: VALIDATION_ERROR.
func ValidateReason(reason string) (string, error) {
	return checkReason(reason, "a reason is required")
}

// checkReason is ValidateReason with the message for a missing reason.
func checkReason(reason, missing string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", Errorf(EVALIDATION, "%s", missing)
	}
	if err := validateText("reason", reason, MaxReason); err != nil {
		return "", err
	}
	return reason, nil
}

// cutReason is the rule for a reason the system gives (MoveToManual,
// FailOrder: often a provider's words): trimmed, not empty, and cut to
// MaxReason characters rather than refused.
func cutReason(reason, missing string) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return "", Errorf(EVALIDATION, "%s", missing)
	}
	return truncateRunes(reason, MaxReason), nil
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// validateText checks a free-text field: valid UTF-8, no control characters,
// at most max characters.
func validateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return Errorf(EVALIDATION, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(s) > max {
		return Errorf(EVALIDATION, "%s must be at most %d characters", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Errorf(EVALIDATION, "%s must not contain control characters", field)
		}
	}
	return nil
}

// TruncateUTF8 cuts s to at most n bytes without splitting a character.
func TruncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
