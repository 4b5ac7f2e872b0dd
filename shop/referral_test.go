package shop_test

import (
	"context"
	"testing"

	"starsbot/shop"
)

func TestReferralPayload_RoundTrip(t *testing.T) {
	for _, id := range []int64{1, 1001, 7_000_000_000, 1<<62 + 5} {
		got, ok := shop.ParseReferralPayload(shop.ReferralPayload(id))
		if !ok || got != id {
			t.Errorf("round trip of %d: %d, %v", id, got, ok)
		}
	}
	for _, bad := range []string{"", "ref_", "ref_0", "ref_-1", "ref_ABC", "ref_0a", "ref_zzzzzzzzzzzzzz", "stars_100", "ref_a b", "Ref_a"} {
		if id, ok := shop.ParseReferralPayload(bad); ok {
			t.Errorf("%q parsed as %d", bad, id)
		}
	}
}

func TestReferralReward_RoundsDown(t *testing.T) {
	for _, tc := range []struct {
		price shop.NanoTON
		ppm   int64
		want  shop.NanoTON
	}{
		{418_000_000, 100_000, 41_800_000},
		{418_000_000, 25_000, 10_450_000},
		{1, 500_000, 0},
		{3, 500_000, 1},
		{418_000_000, 0, 0},
		{1 << 62, 500_000, 1 << 61},
	} {
		if got := shop.ReferralReward(tc.price, tc.ppm); got != tc.want {
			t.Errorf("ReferralReward(%d, %d) = %d, want %d", tc.price, tc.ppm, got, tc.want)
		}
	}
}

// A payload naming the new user itself, or nobody, refers nobody; the
// first referrer is kept.
func TestEnsureUser_Referrer(t *testing.T) {
	s := newEnv(t).svc
	ctx := context.Background()
	mustEnsure := func(id int64, payload string) *shop.User {
		t.Helper()
		u, err := s.EnsureUser(ctx, shop.UserUpdate{ID: id, StartPayload: payload})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	mustEnsure(10, "")
	if u := mustEnsure(11, shop.ReferralPayload(11)); u.ReferredBy != 0 {
		t.Errorf("self-referred: %d", u.ReferredBy)
	}
	if u := mustEnsure(12, shop.ReferralPayload(99)); u.ReferredBy != 0 {
		t.Errorf("referred by a stranger: %d", u.ReferredBy)
	}
	if u := mustEnsure(13, shop.ReferralPayload(10)); u.ReferredBy != 10 {
		t.Errorf("ReferredBy = %d, want 10", u.ReferredBy)
	}
	mustEnsure(14, "")
	if u := mustEnsure(13, shop.ReferralPayload(14)); u.ReferredBy != 10 {
		t.Errorf("second referrer won: %d", u.ReferredBy)
	}
	r, err := s.Referrals(ctx, 10)
	if err != nil || r.People != 1 || r.Enabled {
		t.Errorf("Referrals(10) = %+v, %v", r, err)
	}
}

// A referral reward is a balance.credited event of the referrer (reason
// referral, the referred user's order), written with the completion.
func TestReferral_OutboxEvent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.ReferralPPM = 100_000 // 10 %
	if _, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: 11, StartPayload: shop.ReferralPayload(10)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AdminCredit(ctx, admin, 11, 2*shop.TON, "funding"); err != nil {
		t.Fatal(err)
	}
	o, err := e.svc.CreateOrder(ctx, starsReq(11, shop.PayBalance))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteOrder(ctx, 0, o.ID, "ref-1"); err != nil { // 0: the worker
		t.Fatal(err)
	}
	evs := allEvents(t, e.svc, 10)
	if len(evs) != 1 || evs[0].Type != shop.PartnerBalanceCredited {
		t.Fatalf("referrer's events %v", types(evs))
	}
	if b := evs[0].Balance; b.Reason != shop.CreditReferral || b.OrderID != o.ID || b.Amount != shop.ReferralReward(o.PriceTON, 100_000) || b.Balance != b.Amount {
		t.Fatalf("referral event %+v (order %d, price %d)", b, o.ID, o.PriceTON)
	}
}
