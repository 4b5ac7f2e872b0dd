package shop_test

import (
	"testing"

	"starsbot/shop"
)

func TestOrder_PayoutBudget(t *testing.T) {
	o := &shop.Order{PriceTON: 10 * shop.TON}
	for tol, want := range map[shop.NanoTON]shop.NanoTON{0: 10 * shop.TON, shop.TON: 9 * shop.TON, -shop.TON: 10 * shop.TON, 11 * shop.TON: -shop.TON} {
		if got := o.PayoutBudget(tol); got != want {
			t.Errorf("PayoutBudget(%s) = %s, want %s", tol, got, want)
		}
	}
}
