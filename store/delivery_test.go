package store_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"starsbot/shop"
	"starsbot/store"
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
		RequestID: "req", PayTo: "EQabc", PayAmount: 5, Payload: []byte{0xb5, 0xee},
		ConfirmMethod: "confirmReq", ConfirmParams: map[string]string{"id": "req"},
		Payout:    &shop.SignedPayout{Hash: "ab", BOC: []byte{1}, Wallet: "UQw", Seqno: 3, ValidUntil: t0, SignedAt: t0},
		Paid:      &shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: "cd", TxLT: 9},
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

func TestDB_ChatState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(dir + "/s.db")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadChatState(ctx, 5); got != nil || err != nil {
		t.Fatalf("empty = %q, %v", got, err)
	}
	if err := db.SaveChatState(ctx, 5, []byte(`{"step":"username"}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveChatState(ctx, 5, bytes.Repeat([]byte("x"), 17<<10)); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized state: %v", err)
	}
	db.Close()
	if db, err = store.Open(dir + "/s.db"); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, _ := db.LoadChatState(ctx, 5); string(got) != `{"step":"username"}` {
		t.Fatalf("after reopen = %q", got)
	}
	if err := db.SaveChatState(ctx, 5, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LoadChatState(ctx, 5); got != nil {
		t.Fatalf("after delete = %q", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.LoadChatState(cctx, 5); err == nil {
		t.Fatal("cancelled ctx")
	}
}
