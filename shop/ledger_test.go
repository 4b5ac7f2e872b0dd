package shop_test

import (
	"testing"

	"starsbot/shop"
)

func TestUser_BalanceAfter(t *testing.T) {
	u := &shop.User{Balance: shop.TON}
	if got, err := u.BalanceAfter(-shop.TON); err != nil || got != 0 {
		t.Errorf("debit of the whole balance = %s, %v; want 0", got, err)
	}
	if got, err := u.BalanceAfter(shop.TON); err != nil || got != 2*shop.TON {
		t.Errorf("credit = %s, %v; want 2", got, err)
	}
	if _, err := u.BalanceAfter(-shop.TON - 1); shop.ErrorCode(err) != shop.EINSUFFICIENT {
		t.Errorf("debit below zero: %v, want INSUFFICIENT_BALANCE", err)
	}
	if _, err := (&shop.User{Balance: 1 << 62}).BalanceAfter(1 << 62); err == nil {
		t.Error("overflow: want an error")
	}
}
