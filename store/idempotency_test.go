package store_test

import (
	"reflect"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_Idempotency(t *testing.T) {
	db := storetest.Open(t)
	now := t0.Add(48 * time.Hour)
	recs := []*shop.Idempotency{
		{UserID: 1, Key: "k1", Fingerprint: "f1", OrderID: 10, ExpiresAt: now.Add(-time.Hour)},
		{UserID: 1, Key: "K1", Fingerprint: "f2", OrderID: 11, ExpiresAt: now.Add(time.Hour)},
		{UserID: 2, Key: "k1", Fingerprint: "f3", OrderID: 12, ExpiresAt: now.Add(-time.Nanosecond)},
		{UserID: 2, Key: "k2", Fingerprint: "f4", OrderID: 13, ExpiresAt: now},
	}
	update(t, db, func(tx shop.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx shop.Tx) error {
		for _, r := range recs {
			got, err := tx.FindIdempotency(r.UserID, r.Key)
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Errorf("FindIdempotency(%d, %q) = %+v, %v; want %+v", r.UserID, r.Key, got, err, r)
			}
		}
		_, err := tx.FindIdempotency(3, "k1")
		wantNotFound(t, "FindIdempotency other user", err)
		_, err = tx.FindIdempotency(1, "k3")
		wantNotFound(t, "FindIdempotency other key", err)
		return nil
	})

	// Replace.
	r := *recs[1]
	r.Fingerprint = "f2b"
	update(t, db, func(tx shop.Tx) error { return tx.PutIdempotency(&r) })
	view(t, db, func(tx shop.Tx) error {
		if got, _ := tx.FindIdempotency(1, "K1"); got == nil || got.Fingerprint != "f2b" {
			t.Errorf("replaced record = %+v", got)
		}
		return nil
	})

	var n int
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteIdempotencyExpired(now, 100)
		return err
	})
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	view(t, db, func(tx shop.Tx) error {
		for i, r := range recs {
			_, err := tx.FindIdempotency(r.UserID, r.Key)
			if expired := i == 0 || i == 2; expired {
				wantNotFound(t, "expired record", err)
			} else if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		}
		return nil
	})
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteIdempotencyExpired(now, 100)
		return err
	})
	if n != 0 {
		t.Errorf("second delete removed %d, want 0", n)
	}
}
