package shop

import (
	"context"
	"fmt"
)

// RecipientCheck is a fulfillment provider's answer about a recipient.
type RecipientCheck struct {
	Username   string // normalized, without "@"
	CanReceive bool
	Reason     string // why not, when CanReceive is false; safe to show
	Name       string // the display name the provider's lookup shows, if any: plain text from outside, escape it to show
}

// RecipientChecker tells whether a Telegram username can receive Stars or
// Premium. The fulfillment provider implements it. A definite "no" is a
// RecipientCheck with CanReceive false; an error means the provider could
// not tell (unreachable, unhealthy).
type RecipientChecker interface {
	CheckRecipient(ctx context.Context, kind OrderType, username string) (*RecipientCheck, error)
}

// CheckRecipient tells whether username can receive kind (Stars or
// Premium), asking the fulfillment provider. Without a provider lookup only
// the username's form is checked.
//
// Errors: VALIDATION_ERROR (kind, username form), INTERNAL_ERROR (the
// provider could not tell).
func (s *Service) CheckRecipient(ctx context.Context, kind OrderType, username string) (*RecipientCheck, error) {
	if kind != OrderStars && kind != OrderPremium {
		return nil, Errorf(EVALIDATION, "order_type must be stars or premium")
	}
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if s.Recipients == nil {
		return &RecipientCheck{Username: name, CanReceive: true}, nil
	}
	rc, err := s.Recipients.CheckRecipient(ctx, kind, name)
	if err != nil {
		return nil, fmt.Errorf("recipient lookup: %w", err)
	}
	rc.Username = name
	return rc, nil
}

// checkNewRecipient refuses an order for a recipient the provider says
// cannot receive it. When the provider cannot tell, the order goes ahead:
// the fulfillment worker refunds it if delivery turns out impossible.
func (s *Service) checkNewRecipient(ctx context.Context, req *CreateOrderRequest) error {
	if s.Recipients == nil {
		return nil
	}
	rc, err := s.CheckRecipient(ctx, req.Type, req.Recipient)
	if err != nil {
		s.Logger.Warn("recipient lookup failed; creating the order unchecked", "recipient", req.Recipient, "error", err)
		return nil
	}
	if !rc.CanReceive {
		reason := rc.Reason
		if reason == "" {
			reason = "not found"
		}
		return Errorf(ERECIPIENT, "@%s cannot receive %s: %s", req.Recipient, req.Type, reason)
	}
	return nil
}
