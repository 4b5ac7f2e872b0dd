package store_test

import (
	"context"
	"reflect"
	"testing"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_Delivery(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error {
		if err := tx.PutUser(newUser(1, "alice_a", "AP1")); err != nil {
			return err
		}
		id, err := tx.NextOrderID()
		if err != nil {
			return err
		}
		return tx.PutOrder(newOrder(id, 1, shop.StatusProcessing, shop.OrderStars))
	})
	view(t, db, func(tx shop.Tx) error {
		_, err := tx.FindDelivery(1)
		wantNotFound(t, "FindDelivery", err)
		return nil
	})
	want := &shop.Delivery{
		OrderID: 1, Provider: "fragment", Step: "paid", Attempts: 2, NextAttemptAt: t0, LastError: "429",
		RequestID: "req", Session: 2, PayTo: "EQabc", PayAmount: 5, Payload: []byte{0xb5, 0xee},
		ConfirmMethod: "confirmReq", ConfirmParams: map[string]string{"id": "req"},
		Payout:    &shop.SignedPayout{Hash: "ab", BOC: []byte{1}, Wallet: "UQw", Seqno: 3, ValidUntil: t0, SignedAt: t0, Index: 2, QueryID: 77, CreatedAt: t0, To: "EQto", Amount: 5, BodyHash: "ef"},
		Paid:      &shop.PayoutResult{State: shop.PayoutFailed, TxHash: "cd", TxLT: 9, Reason: "bounced", Bounced: true},
		Confirmed: true, Ref: "ref", UpdatedAt: t0,
	}
	update(t, db, func(tx shop.Tx) error { return tx.PutDelivery(want) })
	view(t, db, func(tx shop.Tx) error {
		got, err := tx.FindDelivery(1)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("FindDelivery = %+v, %v; want %+v", got, err, want)
		}
		if err := tx.PutDelivery(want); err == nil {
			t.Fatal("PutDelivery in a read-only transaction")
		}
		return nil
	})
	err := db.Update(context.Background(), func(tx shop.Tx) error { return tx.PutDelivery(&shop.Delivery{}) })
	if err == nil {
		t.Fatal("PutDelivery without an order id")
	}
}
