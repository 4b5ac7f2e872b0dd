package shop_test

import (
	"context"
	"testing"

	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// BenchmarkCompleteOrder_Referral measures CompleteOrder (the worker's
// completion: the order, its queue entry) without and with a referral
// reward (the buyer's record, the referrer's record and a ledger entry in
// the same transaction). Orders are created outside the timer; each
// completion is its own transaction with fsync, as the worker runs them.
func BenchmarkCompleteOrder_Referral(b *testing.B) {
	for _, tc := range []struct {
		name string
		ppm  int64
	}{{"referral=off", 0}, {"referral=10%", 100_000}} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			s := shoptest.New(b, nil)
			svc := s.Service
			svc.ReferralPPM = tc.ppm
			if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: 1, Username: "referrer_x"}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: 2, Username: "buyer_x", StartPayload: shop.ReferralPayload(1)}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.AdminCredit(ctx, 9, 2, 1_000_000*shop.TON, "bench"); err != nil {
				b.Fatal(err)
			}
			ids := make([]int64, b.N)
			for i := range ids {
				o, err := svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: 2, Type: shop.OrderStars, Stars: 100, Recipient: "pandus", PaymentMethod: shop.PayBalance})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = o.ID
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, id := range ids {
				if _, err := svc.CompleteOrder(ctx, shop.SystemActor, id, "ref"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
