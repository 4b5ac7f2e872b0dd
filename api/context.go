package api

import (
	"context"

	"starsbot/shop"
)

type partnerKey struct{}

type partnerValue struct {
	user *shop.User
	key  *shop.APIKey
}

// newContextWithPartner returns ctx carrying the authenticated partner and
// the key it used.
func newContextWithPartner(ctx context.Context, user *shop.User, key *shop.APIKey) context.Context {
	return context.WithValue(ctx, partnerKey{}, partnerValue{user, key})
}

// partnerFromContext returns the partner and key stored by
// newContextWithPartner, or nils.
func partnerFromContext(ctx context.Context) (*shop.User, *shop.APIKey) {
	p, _ := ctx.Value(partnerKey{}).(partnerValue)
	return p.user, p.key
}
