package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// TestOutbox_OlderFile: a file written before the outbox and webhooks (a
// backup being restored) is accepted read-only and passes Check; Open adds
// the buckets.
func TestOutbox_OlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bdb.Update(func(btx *bolt.Tx) error {
		for _, name := range addedBuckets {
			if err := btx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatalf("OpenReadOnly of an older file: %v", err)
	}
	if err := ro.Check(context.Background()); err != nil {
		t.Errorf("Check of an older file: %v", err)
	}
	ro.Close()

	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(context.Background(), func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1}); err != nil {
			return err
		}
		return tx.AppendOutbox(&shop.OutboxEvent{ID: "evt_x", Type: shop.PartnerBalanceCredited, UserID: 1, Balance: &shop.BalanceChange{Amount: 1, Balance: 1}})
	}); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxSeqBefore finds the last event before a time by binary search,
// also after the oldest events were pruned.
func TestOutboxSeqBefore(t *testing.T) {
	db := openTest(t)
	t0 := time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if err := db.Update(ctx, func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1}); err != nil {
			return err
		}
		for i := range 10 { // seq i+1 at t0 + i minutes
			if err := tx.AppendOutbox(&shop.OutboxEvent{ID: "evt_x", Type: shop.PartnerBalanceCredited, UserID: 1, CreatedAt: t0.Add(time.Duration(i) * time.Minute), Balance: &shop.BalanceChange{Amount: 1, Balance: 1}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check := func(at time.Time, want uint64) {
		t.Helper()
		var got uint64
		if err := db.View(ctx, func(tx shop.Tx) (err error) {
			got, err = tx.OutboxSeqBefore(at)
			return err
		}); err != nil || got != want {
			t.Errorf("OutboxSeqBefore(t0%+v) = %d, %v; want %d", at.Sub(t0), got, err, want)
		}
	}
	check(t0, 0)
	check(t0.Add(30*time.Second), 1)
	check(t0.Add(5*time.Minute), 5)
	check(t0.Add(time.Hour), 10)
	if err := db.Update(ctx, func(tx shop.Tx) error {
		n, err := tx.DeleteOutboxBefore(t0.Add(3*time.Minute), 100)
		if n != 3 {
			t.Errorf("pruned %d, want 3", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check(t0.Add(2*time.Minute), 0)
	check(t0.Add(5*time.Minute), 5)
	if err := db.Check(ctx); err != nil {
		t.Fatal(err)
	}
}
