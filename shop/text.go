package shop

import (
	"unicode"
	"unicode/utf8"
)

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

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
