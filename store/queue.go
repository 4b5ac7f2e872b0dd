package store

import (
	"fmt"
	"strings"
	"time"
)

// Enqueue puts an order on the fulfillment queue, remembering when; an order
// already queued keeps its place and time.
func (t *tx) Enqueue(orderID int64) error {
	if err := t.writable("enqueue"); err != nil {
		return err
	}
	b := t.bucket(bucketQueue)
	if b.Get(i64(orderID)) != nil {
		return nil
	}
	return put(b, i64(orderID), &queueRecord{EnqueuedAt: time.Now().UTC()})
}

// Dequeue removes an order from the queue; absent is not an error.
func (t *tx) Dequeue(orderID int64) error {
	if err := t.writable("dequeue"); err != nil {
		return err
	}
	return t.bucket(bucketQueue).Delete(i64(orderID))
}

// Queued returns up to limit queued order ids, lowest (oldest) id first;
// limit <= 0 returns them all.
func (t *tx) Queued(limit int) ([]int64, error) {
	var out []int64
	c := t.bucket(bucketQueue).Cursor()
	for k, _ := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Next() {
		if len(k) != 8 {
			return nil, fmt.Errorf("store: malformed queue key %x", k)
		}
		out = append(out, int64(tailID(k)))
	}
	return out, nil
}

// ClaimQueued leases a queued order to claimant until until, unless it is
// leased to another claimant after now (and not one to take over). bbolt
// has one writer at a time, so no other claim is in flight: the read and
// the write are the claim.
func (t *tx) ClaimQueued(orderID int64, claimant, takeover string, now, until time.Time) (bool, error) {
	if err := t.writable("claim queued order"); err != nil {
		return false, err
	}
	b := t.bucket(bucketQueue)
	r, err := get[queueRecord](b, i64(orderID))
	if err != nil || r == nil {
		return false, err
	}
	if r.Claimant != "" && r.Claimant != claimant && r.LeaseUntil.After(now) && (takeover == "" || !strings.HasPrefix(r.Claimant, takeover)) {
		return false, nil
	}
	r.Claimant, r.LeaseUntil = claimant, until.UTC()
	return true, put(b, i64(orderID), r)
}

// HoldQueued extends claimant's lease on a queued order to until.
func (t *tx) HoldQueued(orderID int64, claimant string, until time.Time) (bool, error) {
	if err := t.writable("hold queued order"); err != nil {
		return false, err
	}
	b := t.bucket(bucketQueue)
	r, err := get[queueRecord](b, i64(orderID))
	if err != nil || r == nil || claimant == "" || r.Claimant != claimant {
		return false, err
	}
	r.LeaseUntil = until.UTC()
	return true, put(b, i64(orderID), r)
}

// ReleaseQueued ends claimant's lease on a queued order.
func (t *tx) ReleaseQueued(orderID int64, claimant string) error {
	if err := t.writable("release queued order"); err != nil {
		return err
	}
	b := t.bucket(bucketQueue)
	r, err := get[queueRecord](b, i64(orderID))
	if err != nil || r == nil || claimant == "" || r.Claimant != claimant {
		return err
	}
	r.Claimant, r.LeaseUntil = "", time.Time{}
	return put(b, i64(orderID), r)
}
