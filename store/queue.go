package store

import (
	"fmt"
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
