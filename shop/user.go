package shop

import (
	"context"
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

	// Referrals (referral.go).
	ReferredBy     int64   // the user whose referral link brought this one, set at creation; 0 if none
	Referrals      int64   // how many users this one brought
	ReferralEarned NanoTON // referral rewards credited to this user so far

	// Partner alerts in Telegram (opt-in, bot's API screen).
	AlertLowBalance NanoTON // tell the user when the balance falls below this; 0 = off
	AlertLowSent    bool    // the low-balance alert was sent and the balance has not risen above the threshold since
	AlertOrders     bool    // tell the user when an API order goes manual or is refunded
	AlertWebhooks   bool    // tell the user when a webhook endpoint keeps failing
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

// EnsureUser returns the user with u.ID, creating it on first contact with a
// new personal deposit memo, and keeps its username current. It writes only
// when something changed.
//
// Errors: VALIDATION_ERROR (id not positive).
func (s *Service) EnsureUser(ctx context.Context, u UserUpdate) (*User, error) {
	if u.ID <= 0 {
		return nil, Errorf(EVALIDATION, "user id must be positive")
	}
	username := strings.TrimPrefix(strings.TrimSpace(u.Username), "@")
	if username != "" && !usernameRE.MatchString(username) {
		username = "" // not a name Telegram issues; store nothing rather than junk
	}
	var existing *User
	err := s.Store.View(ctx, func(tx Tx) error {
		var err error
		existing, err = tx.FindUserByID(u.ID)
		return err
	})
	if err == nil && existing.Username == username {
		return existing, nil
	} else if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, err
	}

	var user *User
	err = s.Store.Update(ctx, func(tx Tx) error {
		user = nil
		found, err := tx.FindUserByID(u.ID)
		switch {
		case err == nil:
			if found.Username == username {
				user = found
				return nil
			}
			found.Username = username
			user = found
		case ErrorCode(err) == ENOTFOUND:
			memo, err := newMemo(tx, func() string { return "AP" + randomDigits(9) })
			if err != nil {
				return err
			}
			user = &User{
				ID:           u.ID,
				Username:     username,
				Language:     NormalizeLanguage(u.LanguageCode),
				Memo:         memo,
				StartPayload: TruncateUTF8(u.StartPayload, 64),
				CreatedAt:    s.now(),
			}
			if err := attachReferrer(tx, user); err != nil {
				return err
			}
		default:
			return err
		}
		return tx.PutUser(user)
	})
	if err != nil {
		return nil, err
	}
	return user, nil
}

// SetLanguage changes a user's language.
//
// Errors: VALIDATION_ERROR (unknown language), NOT_FOUND (no such user).
func (s *Service) SetLanguage(ctx context.Context, userID int64, lang string) (*User, error) {
	if NormalizeLanguage(lang) != lang {
		return nil, Errorf(EVALIDATION, "language must be one of %s", strings.Join(Languages, ", "))
	}
	var user *User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if user, err = findUser(tx, userID); err != nil {
			return err
		}
		user.Language = lang
		return tx.PutUser(user)
	})
	return user, err
}

// SetBanned bans or unbans a user. A banned user can neither buy nor use
// API keys; money still reaches a banned user's balance, never lost.
//
// Errors: NOT_FOUND.
func (s *Service) SetBanned(ctx context.Context, userID int64, banned bool) (*User, error) {
	var user *User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if user, err = findUser(tx, userID); err != nil {
			return err
		}
		user.Banned = banned
		return tx.PutUser(user)
	})
	return user, err
}

// FindUser returns a user by Telegram id.
//
// Errors: NOT_FOUND.
func (s *Service) FindUser(ctx context.Context, id int64) (*User, error) {
	var user *User
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		user, err = findUser(tx, id)
		return err
	})
	return user, err
}

// FindUserByUsername returns a user by Telegram username ("@name" or "name").
//
// Errors: VALIDATION_ERROR (not a username), NOT_FOUND.
func (s *Service) FindUserByUsername(ctx context.Context, name string) (*User, error) {
	name, err := NormalizeUsername(name)
	if err != nil {
		return nil, err
	}
	var user *User
	err = s.Store.View(ctx, func(tx Tx) (err error) {
		user, err = tx.FindUserByUsername(name)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "user @%s not found", name)
		}
		return err
	})
	return user, err
}

func findUser(tx Tx, id int64) (*User, error) {
	u, err := tx.FindUserByID(id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "user %d not found", id)
	}
	return u, err
}
