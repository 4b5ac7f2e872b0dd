package shop

import "context"

// RecipientCheck is a fulfillment provider's answer about a recipient.
type RecipientCheck struct {
	Username   string // normalized, without "@"
	CanReceive bool
	Reason     string // why not, when CanReceive is false; safe to show
}

// RecipientChecker tells whether a Telegram username can receive Stars or
// Premium. The fulfillment provider implements it. A definite "no" is a
// RecipientCheck with CanReceive false; an error means the provider could
// not tell (unreachable, unhealthy).
type RecipientChecker interface {
	CheckRecipient(ctx context.Context, kind OrderType, username string) (*RecipientCheck, error)
}
