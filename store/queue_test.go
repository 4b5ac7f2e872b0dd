package store_test

import (
	"slices"
	"testing"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_Queue(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error {
		if err := tx.PutUser(newUser(1, "", "")); err != nil {
			return err
		}
		for range 5 {
			putOrder(t, tx, newOrder(0, 1, shop.StatusPaid, shop.OrderStars))
		}
		for _, id := range []int64{4, 2, 5, 2, 1} {
			if err := tx.Enqueue(id); err != nil {
				return err
			}
		}
		return nil
	})
	queued := func(limit int) []int64 {
		var ids []int64
		view(t, db, func(tx shop.Tx) (err error) {
			ids, err = tx.Queued(limit)
			return err
		})
		return ids
	}
	if got, want := queued(10), []int64{1, 2, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("Queued(10) = %v, want %v", got, want)
	}
	if got, want := queued(2), []int64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("Queued(2) = %v, want %v", got, want)
	}
	if got, want := queued(0), []int64{1, 2, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("Queued(0) = %v, want %v", got, want)
	}
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{2, 2, 3} { // twice, and never queued
			if err := tx.Dequeue(id); err != nil {
				return err
			}
		}
		return tx.Enqueue(4) // again
	})
	if got, want := queued(10), []int64{1, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("after Dequeue: Queued = %v, want %v", got, want)
	}
}
