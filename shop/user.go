package shop

import (
	"strings"
	"time"
)

// User is a Telegram user of the shop: a buyer, a partner, or both. Users are
// created on first contact (bot) or by the sandbox set-up.
type User struct {
	ID           int64     // Telegram user id; required, > 0
	Username     string    // Telegram username without "@"; may be empty
	Language     string    // "en" or "ru"
	Memo         string    // personal deposit memo, e.g. "AP123456789"; set at creation, permanent
	Banned       bool      // a banned user can neither buy nor authenticate
	Balance      NanoTON   // never negative; always the sum of the user's ledger entries
	StartPayload string    // deep-link payload of the first /start, if any
	CreatedAt    time.Time // set at creation
}

// Languages the shop speaks. The first is the default.
var Languages = []string{"en", "ru"}

// NormalizeLanguage maps a Telegram language_code ("ru", "ru-RU", "en-GB", "")
// to one of Languages.
func NormalizeLanguage(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	base, _, _ := strings.Cut(code, "-")
	for _, l := range Languages {
		if base == l {
			return l
		}
	}
	return Languages[0]
}

// UserUpdate is the profile data the bot sees on each update.
type UserUpdate struct {
	ID           int64
	Username     string // "" when the user has none
	LanguageCode string // Telegram's language_code; used only when the user is created
	StartPayload string // deep-link payload; kept only on first contact
}
