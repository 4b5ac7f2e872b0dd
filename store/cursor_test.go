package store_test

import (
	"reflect"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_Cursor(t *testing.T) {
	db := storetest.Open(t)
	want := &shop.Cursor{Account: "UQAccount-_1", LT: 42, Hash: "abcd", Time: t0}
	update(t, db, func(tx shop.Tx) error { return tx.PutCursor(want) })
	view(t, db, func(tx shop.Tx) error {
		got, err := tx.FindCursor("UQAccount-_1")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("FindCursor = %+v, %v; want %+v", got, err, want)
		}
		_, err = tx.FindCursor("uqaccount-_1") // addresses are case-sensitive
		wantNotFound(t, "FindCursor", err)
		return nil
	})
	next := &shop.Cursor{Account: want.Account, LT: 43, Hash: "ef01", Time: t0.Add(time.Second)}
	update(t, db, func(tx shop.Tx) error { return tx.PutCursor(next) })
	view(t, db, func(tx shop.Tx) error {
		if got, err := tx.FindCursor(want.Account); err != nil || !reflect.DeepEqual(got, next) {
			t.Errorf("FindCursor after replace = %+v, %v", got, err)
		}
		return nil
	})
}
