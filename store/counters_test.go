package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

// TestFindOrders_OwnerAndStatus checks the listing by owner and status
// (the user_order_status index): newest first, paged, other owners and
// statuses left out, and following status changes.
func TestFindOrders_OwnerAndStatus(t *testing.T) {
	db := storetest.Open(t)
	statuses := []shop.OrderStatus{shop.StatusPaid, shop.StatusCompleted, shop.StatusPendingPayment}
	var want []int64 // user 1's paid orders
	update(t, db, func(tx shop.Tx) error {
		want = want[:0]
		for _, u := range []int64{1, 2} {
			if err := tx.PutUser(newUser(u, fmt.Sprintf("u%d", u), "")); err != nil {
				return err
			}
		}
		for i := range 30 {
			user, status := int64(1+i%2), statuses[i%3]
			o := putOrder(t, tx, newOrder(0, user, status, shop.OrderStars))
			if user == 1 && status == shop.StatusPaid {
				want = append(want, o.ID)
			}
		}
		return nil
	})
	slices.Reverse(want)
	var got []int64
	view(t, db, func(tx shop.Tx) error {
		page, more, err := tx.FindOrders(shop.OrderFilter{UserID: 1, Status: shop.StatusPaid, Limit: 3})
		if err != nil || !more {
			t.Fatalf("first page: more %v, err %v", more, err)
		}
		got = orderIDs(page)
		page, more, err = tx.FindOrders(shop.OrderFilter{UserID: 1, Status: shop.StatusPaid, Before: page[len(page)-1].ID})
		if err != nil || more {
			t.Fatalf("second page: more %v, err %v", more, err)
		}
		got = append(got, orderIDs(page)...)
		return nil
	})
	if !slices.Equal(got, want) {
		t.Fatalf("paid orders of user 1 = %v, want %v", got, want)
	}
	update(t, db, func(tx shop.Tx) error {
		o, err := tx.FindOrderByID(want[0])
		if err != nil {
			return err
		}
		o.Status = shop.StatusProcessing
		return tx.PutOrder(o)
	})
	view(t, db, func(tx shop.Tx) error {
		page, _, err := tx.FindOrders(shop.OrderFilter{UserID: 1, Status: shop.StatusProcessing})
		if err != nil || !slices.Equal(orderIDs(page), want[:1]) {
			t.Errorf("processing orders of user 1 = %v, %v; want %v", orderIDs(page), err, want[:1])
		}
		page, _, err = tx.FindOrders(shop.OrderFilter{UserID: 1, Status: shop.StatusPaid})
		if err != nil || !slices.Equal(orderIDs(page), want[1:]) {
			t.Errorf("paid orders of user 1 = %v, %v; want %v", orderIDs(page), err, want[1:])
		}
		return nil
	})
	check(t, db)
}

// TestTotals checks the counters against sums of the records, through
// changes of status, owner, balance, key revocation and deposit status, and
// DepositTotalsSince across an hour boundary.
func TestTotals(t *testing.T) {
	db := storetest.Open(t)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	update(t, db, func(tx shop.Tx) error {
		for u := int64(1); u <= 3; u++ {
			usr := newUser(u, fmt.Sprintf("u%d", u), "")
			usr.Balance = shop.NanoTON(u) * shop.TON
			if err := tx.PutUser(usr); err != nil {
				return err
			}
			if err := tx.AppendLedger(&shop.LedgerEntry{UserID: u, Amount: usr.Balance, BalanceAfter: usr.Balance}); err != nil {
				return err
			}
		}
		for _, k := range []*shop.APIKey{{Hash: "a1", UserID: 1}, {Hash: "a2", UserID: 1}, {Hash: "b1", UserID: 2}} {
			if err := tx.PutAPIKey(k); err != nil {
				return err
			}
		}
		o := putOrder(t, tx, newOrder(0, 1, shop.StatusPaid, shop.OrderStars))
		putOrder(t, tx, newOrder(0, 2, shop.StatusCompleted, shop.OrderPremium))
		o.Status = shop.StatusCompleted
		if err := tx.PutOrder(o); err != nil {
			return err
		}
		for i, d := range []*shop.Deposit{
			{TxHash: "d1", Amount: 1, Status: shop.DepositCredited, CreatedAt: base.Add(-time.Minute)},
			{TxHash: "d2", Amount: 2, Status: shop.DepositUnmatched, CreatedAt: base.Add(10 * time.Minute)},
			{TxHash: "d3", Amount: 4, Status: shop.DepositIgnored, CreatedAt: base.Add(20 * time.Minute)},
			{TxHash: "d4", Amount: 8, Status: shop.DepositOrderPaid, CreatedAt: base.Add(30 * time.Minute)},
			{TxHash: "d5", Amount: 16, Status: shop.DepositCredited, CreatedAt: base.Add(90 * time.Minute)},
		} {
			if err := tx.PutDeposit(d); err != nil {
				return fmt.Errorf("deposit %d: %w", i, err)
			}
		}
		// Changes: a key revoked (user 1 keeps one), user 2's only key
		// revoked, a balance changed, an unmatched deposit assigned.
		if err := tx.PutAPIKey(&shop.APIKey{Hash: "a1", UserID: 1, RevokedAt: base}); err != nil {
			return err
		}
		if err := tx.PutAPIKey(&shop.APIKey{Hash: "b1", UserID: 2, RevokedAt: base}); err != nil {
			return err
		}
		u, err := tx.FindUserByID(3)
		if err != nil {
			return err
		}
		if err := tx.AppendLedger(&shop.LedgerEntry{UserID: 3, Amount: 7 - u.Balance, BalanceAfter: 7}); err != nil {
			return err
		}
		u.Balance = 7
		if err := tx.PutUser(u); err != nil {
			return err
		}
		d, err := tx.FindDepositByHash("d2")
		if err != nil {
			return err
		}
		d.Status, d.UserID = shop.DepositAssigned, 3
		return tx.PutDeposit(d)
	})
	view(t, db, func(tx shop.Tx) error {
		ut, _ := tx.UserTotals()
		if want := (shop.UserTotals{Users: 3, Partners: 1, Liability: 3*shop.TON + 7}); ut != want {
			t.Errorf("UserTotals = %+v, want %+v", ut, want)
		}
		all, _ := tx.OrderTotals(shop.AnyOwner)
		if want := (shop.OrderTotals{Count: 2, PriceTON: 2 * 418_000_000, FeeTON: 2 * 18_000_000, Stars: 50, Months: 3}); len(all) != 1 || all[shop.StatusCompleted] != want {
			t.Errorf("OrderTotals(all) = %+v, want completed %+v", all, want)
		}
		one, _ := tx.OrderTotals(1)
		if one[shop.StatusCompleted].Count != 1 || one[shop.StatusPaid].Count != 0 || len(one) != 1 {
			t.Errorf("OrderTotals(1) = %+v", one)
		}
		for status, want := range map[shop.DepositStatus]shop.DepositTotals{
			shop.DepositCredited: {Count: 2, Amount: 17}, shop.DepositAssigned: {Count: 1, Amount: 2},
			shop.DepositUnmatched: {}, shop.DepositIgnored: {Count: 1, Amount: 4}, shop.DepositOrderPaid: {Count: 1, Amount: 8},
		} {
			if got, _ := tx.DepositTotals(status); got != want {
				t.Errorf("DepositTotals(%s) = %+v, want %+v", status, got, want)
			}
		}
		for since, want := range map[time.Time]shop.DepositTotals{
			base.Add(-2 * time.Hour):   {Count: 4, Amount: 27},
			base:                       {Count: 3, Amount: 26},
			base.Add(15 * time.Minute): {Count: 2, Amount: 24}, // inside an hour: d4 counted one by one, d3 is dust
			base.Add(31 * time.Minute): {Count: 1, Amount: 16},
			base.Add(3 * time.Hour):    {},
		} {
			if got, _ := tx.DepositTotalsSince(since); got != want {
				t.Errorf("DepositTotalsSince(%s) = %+v, want %+v", since.Format(time.Kitchen), got, want)
			}
		}
		return nil
	})
	check(t, db)
}

// TestExpireOrders_Chunks expires more orders and idempotency records than
// one maintenance transaction takes (10 orders, 25 records), and leaves alone what is
// not due.
func TestExpireOrders_Chunks(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const due, notDue = 1234, 7
	update(t, db, func(tx shop.Tx) error {
		if err := tx.PutUser(newUser(1, "u1", "")); err != nil {
			return err
		}
		for i := range due + notDue {
			o := newOrder(0, 1, shop.StatusPendingPayment, shop.OrderStars)
			o.PaymentMethod, o.PaymentMemo = shop.PayTONMemo, fmt.Sprintf("M%d", i)
			o.ExpiresAt = now.Add(time.Duration(i-due+1) * time.Second) // the first `due` at or before now
			o = putOrder(t, tx, o)
			r := &shop.Idempotency{UserID: 1, Key: fmt.Sprintf("k%d", i), OrderID: o.ID, ExpiresAt: now.Add(time.Duration(i-due) * time.Second)}
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_590_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return now }
	events := 0
	svc.Subscribe(func(e shop.Event) {
		if e.Type == shop.EventOrderExpired {
			events++
		}
	})
	n, err := svc.ExpireOrders(ctx)
	if err != nil || n != due || events != due {
		t.Fatalf("ExpireOrders = %d, %v (%d events), want %d", n, err, events, due)
	}
	view(t, db, func(tx shop.Tx) error {
		totals, _ := tx.OrderTotals(1)
		if totals[shop.StatusExpired].Count != due || totals[shop.StatusPendingPayment].Count != notDue {
			t.Errorf("after the sweep: %+v", totals)
		}
		if _, err := tx.FindIdempotency(1, fmt.Sprintf("k%d", due-1)); shop.ErrorCode(err) != shop.ENOTFOUND {
			t.Errorf("the last expired idempotency record: %v", err)
		}
		if _, err := tx.FindIdempotency(1, fmt.Sprintf("k%d", due)); err != nil {
			t.Errorf("a record expiring now (not before now) was deleted: %v", err)
		}
		return nil
	})
	if n, err := svc.ExpireOrders(ctx); n != 0 || err != nil {
		t.Errorf("second sweep = %d, %v", n, err)
	}
	check(t, db)
}

// TestDelivery_SlimmedWhenFinished checks that a delivery record keeps
// everything while its order may still be delivered (manual: an admin may
// refund it, which reads whether the payment may be out) and loses its
// bulky payloads once the order is completed; what was paid stays.
func TestDelivery_SlimmedWhenFinished(t *testing.T) {
	db := storetest.Open(t)
	full := &shop.Delivery{Provider: "fragment", RequestID: "req", PayTo: "UQpay", PayAmount: 5, Payload: []byte{1, 2},
		ConfirmMethod: "confirmReq", ConfirmParams: map[string]string{"id": "x"},
		Payout: &shop.SignedPayout{Hash: "ab", BOC: []byte{3}, Wallet: "UQw", Seqno: 7, To: "UQpay", Amount: 5, BodyHash: "cd"},
		Paid:   &shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: "ef", TxLT: 9}, Confirmed: true, Ref: "ef"}
	var id int64
	update(t, db, func(tx shop.Tx) error {
		if err := tx.PutUser(newUser(1, "u1", "")); err != nil {
			return err
		}
		id = putOrder(t, tx, newOrder(0, 1, shop.StatusProcessing, shop.OrderStars)).ID
		d := *full
		d.OrderID = id
		return tx.PutDelivery(&d)
	})
	for _, status := range []shop.OrderStatus{shop.StatusManual, shop.StatusCompleted} {
		update(t, db, func(tx shop.Tx) error {
			o, err := tx.FindOrderByID(id)
			if err != nil {
				return err
			}
			o.Status = status
			return tx.PutOrder(o)
		})
		view(t, db, func(tx shop.Tx) error {
			d, err := tx.FindDelivery(id)
			if err != nil {
				return err
			}
			if status == shop.StatusManual {
				if d.Payload == nil || d.Payout.BOC == nil || d.ConfirmParams == nil || !d.PaymentMayBeOut() {
					t.Errorf("manual: delivery lost data: %+v", d)
				}
				return nil
			}
			if d.Payload != nil || d.ConfirmParams != nil || d.ConfirmMethod != "" || d.Payout.BOC != nil || d.Payout.Wallet != "" {
				t.Errorf("completed: delivery not slimmed: %+v %+v", d, d.Payout)
			}
			if d.PayTo != "UQpay" || d.PayAmount != 5 || d.Payout.Hash != "ab" || d.Payout.Amount != 5 || *d.Paid != *full.Paid || d.Ref != "ef" || d.RequestID != "req" {
				t.Errorf("completed: delivery lost what was paid: %+v %+v", d, d.Payout)
			}
			return nil
		})
	}
	check(t, db)
}

// TestTotals_USDTAndRejected: USDT deposits are counted by asset (their
// TON value and their jetton units), and rejected deposits (fake jettons)
// are in no total but their own status, like dust.
func TestTotals_USDTAndRejected(t *testing.T) {
	db := storetest.Open(t)
	base := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	update(t, db, func(tx shop.Tx) error {
		for i, d := range []*shop.Deposit{
			{TxHash: "e1", Amount: 1, Status: shop.DepositCredited, CreatedAt: base},
			{TxHash: "e2", Amount: 64, Status: shop.DepositCredited, Asset: shop.AssetUSDT, JettonAmount: 1_000_000, CreatedAt: base},
			{TxHash: "e3", Amount: 128, Status: shop.DepositUnmatched, Asset: shop.AssetUSDT, JettonAmount: 2_000_000, CreatedAt: base},
			{TxHash: "e4", Amount: 1, Status: shop.DepositRejected, Asset: shop.AssetJetton, JettonAmount: 9_000_000, CreatedAt: base},
			{TxHash: "e5", Amount: 1, Status: shop.DepositIgnored, Asset: shop.AssetUSDT, JettonAmount: 1, CreatedAt: base},
		} {
			if err := tx.PutDeposit(d); err != nil {
				return fmt.Errorf("deposit %d: %w", i, err)
			}
		}
		return nil
	})
	view(t, db, func(tx shop.Tx) error {
		usdt, units, err := tx.AssetDepositTotals(shop.AssetUSDT)
		if err != nil || usdt != (shop.DepositTotals{Count: 2, Amount: 192}) || units != 3_000_000 {
			t.Errorf("AssetDepositTotals(USDT) = %+v, %d, %v", usdt, units, err)
		}
		if got, _ := tx.DepositTotals(shop.DepositRejected); got != (shop.DepositTotals{Count: 1, Amount: 1}) {
			t.Errorf("DepositTotals(rejected) = %+v", got)
		}
		for _, since := range []time.Time{base.Add(-time.Hour), base} { // whole hours, and part of one
			if got, _ := tx.DepositTotalsSince(since); got != (shop.DepositTotals{Count: 3, Amount: 193}) {
				t.Errorf("DepositTotalsSince(%v) = %+v", since, got)
			}
		}
		return nil
	})
	check(t, db)
}
