package shop_test

import (
	"context"
	"testing"

	"starsbot/shop"
)

func TestService_Fulfillment(t *testing.T) {
	ctx := context.Background()
	newOrder := func(e *env) *shop.Order {
		t.Helper()
		o, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
		if err != nil {
			t.Fatal(err)
		}
		e.takeEvents()
		return o
	}
	queued := func(e *env) []shop.QueuedOrder {
		t.Helper()
		q, err := e.svc.Queue(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}

	t.Run("ClaimSaveComplete", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		o := newOrder(e)
		if q := queued(e); len(q) != 1 || q[0].OrderID != o.ID || q[0].Delivery != nil {
			t.Fatalf("queue = %+v", q)
		}
		got, d, err := e.svc.ClaimOrder(ctx, o.ID, "sandbox")
		if err != nil || got.Status != shop.StatusProcessing || d.Provider != "sandbox" || d.Step != "" {
			t.Fatalf("claim = %+v, %+v, %v", got, d, err)
		}
		d.Step, d.RequestID = "initiated", "req1"
		d.Payout = &shop.SignedPayout{Hash: "ab", BOC: []byte{1, 2}, Seqno: 7}
		if err := e.svc.SaveDelivery(ctx, d); err != nil {
			t.Fatal(err)
		}
		// A restart resumes from the record.
		_, d2, err := e.svc.ClaimOrder(ctx, o.ID, "other")
		if err != nil || d2.Step != "initiated" || d2.RequestID != "req1" || d2.Payout == nil || d2.Payout.Seqno != 7 || d2.Provider != "sandbox" {
			t.Fatalf("resumed delivery = %+v, %v", d2, err)
		}
		done, err := e.svc.CompleteOrder(ctx, 0, o.ID, "txhash")
		if err != nil || done.Status != shop.StatusCompleted || done.FulfillmentRef != "txhash" || done.CompletedAt.IsZero() {
			t.Fatalf("complete = %+v, %v", done, err)
		}
		if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventOrderCompleted || ev[0].UserID != alice {
			t.Fatalf("events = %+v", ev)
		}
		if q := queued(e); len(q) != 0 {
			t.Fatalf("completed order still queued: %+v", q)
		}
		// Completing twice is harmless and says nothing new.
		if again, err := e.svc.CompleteOrder(ctx, 0, o.ID, "txhash"); err != nil || again.Status != shop.StatusCompleted {
			t.Fatalf("second complete = %v", err)
		}
		if ev := e.takeEvents(); len(ev) != 0 {
			t.Fatalf("events = %+v", ev)
		}
		wantCode(t, e.svc.SaveDelivery(ctx, d), shop.EINVALIDSTATE)
		_, _, err = e.svc.ClaimOrder(ctx, o.ID, "sandbox")
		wantCode(t, err, shop.EINVALIDSTATE)
		e.check()
	})

	t.Run("Fail", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		o := newOrder(e)
		e.svc.ClaimOrder(ctx, o.ID, "sandbox")
		_, err := e.svc.FailOrder(ctx, o.ID, " ")
		wantCode(t, err, shop.EVALIDATION)
		failed, err := e.svc.FailOrder(ctx, o.ID, "recipient not found")
		if err != nil || failed.Status != shop.StatusRefunded || failed.FailureReason != "recipient not found" {
			t.Fatalf("fail = %+v, %v", failed, err)
		}
		if e.balance(alice) != shop.TON {
			t.Fatalf("balance = %s, want the price back", e.balance(alice))
		}
		entries, _, _ := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice, Limit: 1})
		if entries[0].Type != shop.LedgerRefund || entries[0].OrderID != o.ID || entries[0].AdminID != 0 || entries[0].Amount != price100 {
			t.Fatalf("entry = %+v", entries[0])
		}
		if ev := e.takeEvents(); len(ev) != 1 || ev[0].Type != shop.EventOrderRefunded || ev[0].Balance != shop.TON {
			t.Fatalf("events = %+v", ev)
		}
		_, err = e.svc.FailOrder(ctx, o.ID, "again")
		wantCode(t, err, shop.EINVALIDSTATE)
		if e.balance(alice) != shop.TON || len(queued(e)) != 0 {
			t.Fatal("refunded twice or still queued")
		}
		_, err = e.svc.FailOrder(ctx, 999, "x")
		wantCode(t, err, shop.ENOTFOUND)
		e.check()
	})

	t.Run("FailRefusedAfterPayment", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		o := newOrder(e)
		_, d, _ := e.svc.ClaimOrder(ctx, o.ID, "fragment")
		d.Payout = &shop.SignedPayout{Hash: "ab", Seqno: 1}
		e.svc.SaveDelivery(ctx, d)
		_, err := e.svc.FailOrder(ctx, o.ID, "confirm refused")
		wantCode(t, err, shop.EINVALIDSTATE)
		if e.balance(alice) != shop.TON-price100 {
			t.Fatalf("balance = %s: refunded after a payment", e.balance(alice))
		}
		// An expired payout never left the wallet: refund allowed.
		d.Paid = &shop.PayoutResult{State: shop.PayoutExpired}
		e.svc.SaveDelivery(ctx, d)
		if _, err := e.svc.FailOrder(ctx, o.ID, "recipient not found"); err != nil {
			t.Fatal(err)
		}
		e.check()
	})

	t.Run("HoldThenAdmin", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", 2*shop.TON)
		o1, o2 := newOrder(e), newOrder(e)
		_, err := e.svc.MoveToManual(ctx, o1.ID, "")
		wantCode(t, err, shop.EVALIDATION)
		for _, o := range []*shop.Order{o1, o2} {
			held, err := e.svc.MoveToManual(ctx, o.ID, "margin check failed")
			if err != nil || held.Status != shop.StatusManual || held.FailureReason != "margin check failed" {
				t.Fatalf("hold = %+v, %v", held, err)
			}
		}
		if ev := e.takeEvents(); len(ev) != 2 || ev[0].Type != shop.EventOrderManual {
			t.Fatalf("events = %+v", ev)
		}
		if len(queued(e)) != 0 {
			t.Fatal("manual orders still queued")
		}
		_, err = e.svc.MoveToManual(ctx, o1.ID, "again")
		wantCode(t, err, shop.EINVALIDSTATE)
		// An admin cannot complete an order the worker owns.
		o3 := newOrder(e)
		_, err = e.svc.CompleteOrder(ctx, admin, o3.ID, "")
		wantCode(t, err, shop.EINVALIDSTATE)
		e.svc.ClaimOrder(ctx, o3.ID, "sandbox")
		_, err = e.svc.CompleteOrder(ctx, admin, o3.ID, "")
		wantCode(t, err, shop.EINVALIDSTATE)
		// An admin delivers one by hand and refunds the other.
		done, err := e.svc.CompleteOrder(ctx, admin, o1.ID, "sent by hand")
		if err != nil || done.Status != shop.StatusCompleted || done.FailureReason != "" {
			t.Fatalf("admin complete = %+v, %v", done, err)
		}
		if _, err := e.svc.Refund(ctx, admin, o2.ID, "could not deliver"); err != nil {
			t.Fatal(err)
		}
		if e.balance(alice) != 2*shop.TON-2*price100 {
			t.Fatalf("balance = %s", e.balance(alice))
		}
		_, err = e.svc.CompleteOrder(ctx, admin, o2.ID, "")
		wantCode(t, err, shop.EINVALIDSTATE)
		e.check()
	})

	t.Run("ClaimStale", func(t *testing.T) {
		e := newEnv(t)
		e.user(alice, "alice_1", shop.TON)
		o := newOrder(e)
		if _, err := e.svc.Refund(ctx, admin, o.ID, "changed my mind"); err != nil {
			t.Fatal(err)
		}
		_, _, err := e.svc.ClaimOrder(ctx, o.ID, "sandbox")
		wantCode(t, err, shop.EINVALIDSTATE)
		_, _, err = e.svc.ClaimOrder(ctx, 999, "sandbox")
		wantCode(t, err, shop.ENOTFOUND)
		// Refund refuses an order being processed.
		o2 := newOrder(e)
		e.svc.ClaimOrder(ctx, o2.ID, "sandbox")
		_, err = e.svc.Refund(ctx, admin, o2.ID, "x")
		wantCode(t, err, shop.EINVALIDSTATE)
		e.check()
	})
}
