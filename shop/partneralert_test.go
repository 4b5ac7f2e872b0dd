package shop_test

import (
	"context"
	"testing"

	"starsbot/shop"
)

// The low-balance alert fires once per crossing: below, still below (no),
// back above (re-armed, no), below again (yes).
func TestLowBalanceCrossed_OncePerCrossing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user(7, "partner_x", 10*shop.TON)
	if _, err := e.svc.SetAlertPrefs(ctx, 7, shop.AlertPrefs{LowBalance: 5 * shop.TON}); err != nil {
		t.Fatal(err)
	}
	step := func(delta shop.NanoTON, want bool) {
		t.Helper()
		var err error
		if delta > 0 {
			_, err = e.svc.AdminCredit(ctx, 1, 7, delta, "test")
		} else if delta < 0 {
			_, err = e.svc.AdminDebit(ctx, 1, 7, -delta, "test")
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := e.svc.LowBalanceCrossed(ctx, 7)
		if err != nil || got != want {
			t.Fatalf("after %s: crossed = %v, %v; want %v", delta, got, err, want)
		}
	}
	step(0, false)
	step(-6*shop.TON, true)
	step(-shop.TON, false)
	step(10*shop.TON, false)
	step(-9*shop.TON, true)
	if _, err := e.svc.SetAlertPrefs(ctx, 7, shop.AlertPrefs{LowBalance: -1}); shop.ErrorCode(err) != shop.EVALIDATION {
		t.Errorf("negative threshold: %v", err)
	}
}
