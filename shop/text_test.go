package shop_test

import (
	"context"
	"strings"
	"testing"

	"starsbot/shop"
)

func TestValidateReason(t *testing.T) {
	for in, want := range map[string]string{
		" ok ":                   "ok",
		strings.Repeat("я", 256): strings.Repeat("я", 256), // characters, not bytes
	} {
		if got, err := shop.ValidateReason(in); err != nil || got != want {
			t.Errorf("ValidateReason(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "  ", strings.Repeat("x", 257), "a\x00b", "bad \xff"} {
		if _, err := shop.ValidateReason(in); shop.ErrorCode(err) != shop.EVALIDATION {
			t.Errorf("ValidateReason(%q): %v, want VALIDATION_ERROR", in, err)
		}
	}
}

func TestValidateMemo(t *testing.T) {
	for _, in := range []string{"", "AP123456789", "STARS-0a1b2c", "пополнение", strings.Repeat("m", shop.MaxTypedMemoBytes)} {
		if err := shop.ValidateMemo(in); err != nil {
			t.Errorf("ValidateMemo(%q) = %v", in, err)
		}
	}
	for _, in := range []string{strings.Repeat("m", shop.MaxTypedMemoBytes+1), strings.Repeat("я", 61), "AP1\nAP2", "AP1\x00", "\x1b[31mAP1", "AP1\x7f", "AP1\u0085", "AP1\t", "bad \xff"} {
		if err := shop.ValidateMemo(in); shop.ErrorCode(err) != shop.EVALIDATION {
			t.Errorf("ValidateMemo(%q): %v, want VALIDATION_ERROR", in, err)
		}
	}
}

// TestService_ReasonRule checks that every reason follows the one rule:
// MaxReason characters, refused from an admin, cut from the system.
func TestService_ReasonRule(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	long := strings.Repeat("я", shop.MaxReason+10)
	e.user(alice, "alice_1", shop.TON)
	if _, err := e.svc.AdminCredit(ctx, admin, alice, shop.TON, long); shop.ErrorCode(err) != shop.EVALIDATION {
		t.Errorf("AdminCredit with %d characters: %v, want VALIDATION_ERROR", shop.MaxReason+10, err)
	}
	if _, err := e.svc.AdminCredit(ctx, admin, alice, 10*shop.TON, long[:2*shop.MaxReason]); err != nil {
		t.Errorf("AdminCredit with %d characters: %v", shop.MaxReason, err)
	}
	o, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
	if err != nil {
		t.Fatal(err)
	}
	held, err := e.svc.MoveToManual(ctx, o.ID, long)
	if err != nil {
		t.Fatal(err)
	}
	if held.FailureReason != long[:2*shop.MaxReason] {
		t.Errorf("MoveToManual with a long reason recorded %q; want it cut to %d characters", held.FailureReason, shop.MaxReason)
	}
}
