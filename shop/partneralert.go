package shop

import "context"

// Partner alerts in Telegram (opt-in, from the bot's API screen): the
// preferences live on the user's record; the bot sends the messages.

// AlertPrefs are a user's partner-alert preferences.
type AlertPrefs struct {
	LowBalance NanoTON // alert when the balance falls below this; 0 = off
	Orders     bool    // alert when an order goes manual or is refunded
	Webhooks   bool    // alert when a webhook endpoint keeps failing
}

// MaxAlertLowBalance bounds the low-balance threshold: 1,000,000 TON.
const MaxAlertLowBalance = 1_000_000 * TON

// SetAlertPrefs saves a user's partner-alert preferences. A changed
// threshold re-arms the low-balance alert.
//
// Errors: VALIDATION_ERROR (threshold negative or above
// MaxAlertLowBalance), NOT_FOUND.
func (s *Service) SetAlertPrefs(ctx context.Context, userID int64, p AlertPrefs) (*User, error) {
	if p.LowBalance < 0 || p.LowBalance > MaxAlertLowBalance {
		return nil, Errorf(EVALIDATION, "the low-balance threshold must be from 0 to %s TON", MaxAlertLowBalance)
	}
	var user *User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if user, err = findUser(tx, userID); err != nil {
			return err
		}
		if user.AlertLowBalance != p.LowBalance {
			user.AlertLowSent = false
		}
		user.AlertLowBalance, user.AlertOrders, user.AlertWebhooks = p.LowBalance, p.Orders, p.Webhooks
		return tx.PutUser(user)
	})
	return user, err
}

// LowBalanceCrossed tells, once per crossing, that a user's balance fell
// below their alert threshold: it reports true the first time it sees the
// balance below (and remembers that on the user's record, in the same
// transaction), false while it stays below, and re-arms when the balance
// is back at or above the threshold. Callers ask after each balance
// change.
//
// Errors: NOT_FOUND.
func (s *Service) LowBalanceCrossed(ctx context.Context, userID int64) (crossed bool, user *User, err error) {
	err = s.Store.Update(ctx, func(tx Tx) error {
		crossed, user = false, nil
		u, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		user = u
		below := u.AlertLowBalance > 0 && u.Balance < u.AlertLowBalance
		if below == u.AlertLowSent {
			return nil // nothing changed: still below (told), or still above
		}
		u.AlertLowSent = below
		crossed = below
		return tx.PutUser(u)
	})
	return crossed, user, err
}
