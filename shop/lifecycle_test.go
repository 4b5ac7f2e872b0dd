package shop_test

import (
	"testing"

	"starsbot/shop"
)

// TestOrderStatus_Lifecycle walks every pair of statuses: the transitions
// below are the lifecycle documented on shop.OrderStatus, and no other.
func TestOrderStatus_Lifecycle(t *testing.T) {
	const (
		pending    = shop.StatusPendingPayment
		paid       = shop.StatusPaid
		processing = shop.StatusProcessing
		completed  = shop.StatusCompleted
		cancelled  = shop.StatusCancelled
		expired    = shop.StatusExpired
		manual     = shop.StatusManual
		failed     = shop.StatusFailed
		refunded   = shop.StatusRefunded
	)
	allowed := map[[2]shop.OrderStatus]bool{
		{pending, paid}:         true,
		{pending, cancelled}:    true,
		{pending, expired}:      true,
		{expired, paid}:         true,
		{paid, processing}:      true,
		{paid, completed}:       true,
		{paid, manual}:          true,
		{paid, refunded}:        true,
		{processing, completed}: true,
		{processing, manual}:    true,
		{processing, refunded}:  true,
		{manual, completed}:     true,
		{manual, refunded}:      true,
	}
	final := map[shop.OrderStatus]bool{completed: true, cancelled: true, refunded: true, failed: true}
	if len(shop.OrderStatuses) != 9 {
		t.Fatalf("OrderStatuses has %d statuses; this test knows 9", len(shop.OrderStatuses))
	}
	for _, from := range shop.OrderStatuses {
		if !from.Valid() {
			t.Errorf("%s: not Valid", from)
		}
		if got := from.Final(); got != final[from] {
			t.Errorf("%s.Final() = %v, want %v", from, got, final[from])
		}
		for _, to := range shop.OrderStatuses {
			if got, want := from.CanBecome(to), allowed[[2]shop.OrderStatus{from, to}]; got != want {
				t.Errorf("%s.CanBecome(%s) = %v, want %v", from, to, got, want)
			}
		}
		if from.CanBecome("bogus") || shop.OrderStatus("bogus").CanBecome(from) {
			t.Errorf("%s: a transition with an unknown status", from)
		}
		// Nothing ever becomes failed: it is never stored.
		if from.CanBecome(failed) {
			t.Errorf("%s.CanBecome(failed)", from)
		}
	}
	if shop.OrderStatus("bogus").Valid() || shop.OrderStatus("bogus").Final() {
		t.Error("an unknown status is Valid or Final")
	}
	for _, s := range shop.OrderStatuses {
		if got, want := s.Delivering(), s == paid || s == processing; got != want {
			t.Errorf("%s.Delivering() = %v, want %v", s, got, want)
		}
	}
}
