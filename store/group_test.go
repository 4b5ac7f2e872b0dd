package store

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"starsbot/shop"
)

// TestDB_Update_GroupRetry forms one commit group of two updates, a then b,
// where b fails. The group's transaction is rolled back; b is run again
// alone and its error returned; a, which succeeded, runs a second time and
// is committed once. A closure that keeps what its first run captured (a's
// ids here) sees the rolled-back run: why shop.Store.Update requires fn to
// reset its results at its start.
func TestDB_Update_GroupRetry(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()

	// hold keeps the commit loop busy while a and b queue behind it.
	held, release, holdDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		holdDone <- db.Update(ctx, func(shop.Tx) error { close(held); <-release; return nil })
	}()
	<-held

	aRuns, bRuns := 0, 0
	var aIDs []int64 // deliberately not reset
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go func() {
		aDone <- db.Update(ctx, func(tx shop.Tx) error {
			aRuns++
			id, err := tx.NextOrderID()
			aIDs = append(aIDs, id)
			return err
		})
	}()
	waitPending(t, db, 1)
	errB := errors.New("b fails")
	go func() {
		bDone <- db.Update(ctx, func(tx shop.Tx) error {
			bRuns++
			if _, err := tx.NextOrderID(); err != nil {
				return err
			}
			return errB
		})
	}()
	waitPending(t, db, 2)
	close(release)

	if err := <-holdDone; err != nil {
		t.Fatalf("hold: %v", err)
	}
	if err := <-aDone; err != nil {
		t.Fatalf("a: %v", err)
	}
	if err := <-bDone; err != errB {
		t.Fatalf("b = %v, want its own error unchanged", err)
	}
	if aRuns != 2 || bRuns != 2 {
		t.Errorf("a ran %d times, b %d, want 2 each (group, then retry)", aRuns, bRuns)
	}
	if !slices.Equal(aIDs, []int64{1, 1}) {
		t.Errorf("a's ids = %v, want [1 1]: its first run was rolled back with b's", aIDs)
	}
	var next int64
	mustUpdate(t, db, func(tx *tx) (err error) { next, err = tx.NextOrderID(); return err })
	if next != 2 {
		t.Errorf("next order id = %d, want 2: a committed once, b never", next)
	}
	if err := db.Check(ctx); err != nil {
		t.Fatal(err)
	}
}

// waitPending waits until n updates wait for the next commit.
func waitPending(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		db.mu.Lock()
		got := len(db.pending)
		db.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d updates pending after 10s, want %d", got, n)
		}
		runtime.Gosched()
	}
}
