package shop_test

import (
	"context"
	"testing"

	"starsbot/shop"
)

// TestPriceStep: the estimate, a locked quote, an order paid from the
// balance, a ton_memo order and an order made with the locked quote all
// cost the same price, rounded up to Service.PriceStep; the balance moves by
// exactly it, through the ledger.
func TestPriceStep(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		step shop.NanoTON
		want shop.NanoTON
	}{
		{0, 418_000_000},                     // the default, 0.001
		{shop.DefaultPriceStep, 418_000_000}, // 0.001
		{1, 417_827_299},                     // the nanoTON: exact
		{shop.TON / 100, 420_000_000},        // 0.01
		{shop.TON / 2, 500_000_000},          // 0.5
		{shop.TON, shop.TON},                 // a whole TON
	} {
		t.Run(tt.step.String(), func(t *testing.T) {
			e := newEnv(t)
			e.svc.PriceStep = tt.step
			e.user(alice, "alice_1", 10*shop.TON)
			item := shop.QuoteRequest{Type: shop.OrderStars, Stars: 100}
			est, err := e.svc.Quote(ctx, item)
			if err != nil || est.PriceTON != tt.want {
				t.Fatalf("estimate = %+v, %v; want %s", est, err, tt.want)
			}
			lq, err := e.svc.LockQuote(ctx, alice, item)
			if err != nil || lq.PriceTON != tt.want {
				t.Fatalf("locked quote = %+v, %v; want %s", lq, err, tt.want)
			}
			byBalance, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
			if err != nil || byBalance.PriceTON != tt.want {
				t.Fatalf("balance order = %+v, %v; want %s", byBalance, err, tt.want)
			}
			byMemo, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
			if err != nil || byMemo.PriceTON != tt.want {
				t.Fatalf("ton_memo order = %+v, %v; want %s", byMemo, err, tt.want)
			}
			// The step changes; the locked quote keeps the price it showed.
			e.svc.PriceStep = 1
			req := starsReq(alice, shop.PayBalance)
			req.QuoteID = lq.ID
			quoted, err := e.svc.CreateOrder(ctx, req)
			if err != nil || quoted.PriceTON != tt.want {
				t.Fatalf("order with the quote = %+v, %v; want %s", quoted, err, tt.want)
			}
			if got, want := e.balance(alice), 10*shop.TON-2*tt.want; got != want {
				t.Errorf("balance = %s, want %s", got, want)
			}
			e.check()
		})
	}
}
