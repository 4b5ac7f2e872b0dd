package shop

import "context"

type partnerKey struct{}

type partner struct {
	user *User
	key  *APIKey
}

// NewContextWithPartner returns ctx carrying the authenticated partner and
// the key it used.
func NewContextWithPartner(ctx context.Context, user *User, key *APIKey) context.Context {
	return context.WithValue(ctx, partnerKey{}, partner{user, key})
}

// PartnerFromContext returns the partner and key stored by
// NewContextWithPartner, or nils.
func PartnerFromContext(ctx context.Context) (*User, *APIKey) {
	p, _ := ctx.Value(partnerKey{}).(partner)
	return p.user, p.key
}
