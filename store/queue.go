package store

import (
	"fmt"
	"time"

	"starsbot/shop"
)

// idempotencyKey returns the idempotency key of a user's client key, which
// is compared exactly.
func idempotencyKey(userID int64, key string) []byte {
	return cat(i64(userID), []byte(key))
}

// FindIdempotency returns the record of a user's idempotency key (exact,
// case-sensitive), expired or not, or ENOTFOUND.
func (t *tx) FindIdempotency(userID int64, key string) (*shop.Idempotency, error) {
	r, err := get[idempotencyRecord](t.bucket(bucketIdempotency), idempotencyKey(userID, key))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Idempotency key")
	}
	return r.idempotency(), nil
}

// PutIdempotency creates or replaces r, keyed by r.UserID and r.Key.
func (t *tx) PutIdempotency(r *shop.Idempotency) error {
	if err := t.writable("put idempotency"); err != nil {
		return err
	}
	return put(t.bucket(bucketIdempotency), idempotencyKey(r.UserID, r.Key), newIdempotencyRecord(r))
}

// DeleteIdempotencyExpired removes the records whose ExpiresAt is before now
// and returns how many. It reads every record.
func (t *tx) DeleteIdempotencyExpired(now time.Time) (int, error) {
	if err := t.writable("delete expired idempotency"); err != nil {
		return 0, err
	}
	b := t.bucket(bucketIdempotency)
	var expired [][]byte
	err := b.ForEach(func(k, v []byte) error {
		r, err := decode[idempotencyRecord](k, v)
		if err != nil {
			return err
		}
		if r.ExpiresAt.Before(now) {
			expired = append(expired, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Deleting behind a live cursor skips keys, hence two passes.
	for _, k := range expired {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(expired), nil
}

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

// FindCursor returns the chain watcher's cursor for account (exact), or
// ENOTFOUND.
func (t *tx) FindCursor(account string) (*shop.Cursor, error) {
	r, err := get[cursorRecord](t.bucket(bucketCursors), []byte(account))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Cursor")
	}
	return r.cursor(), nil
}

// PutCursor creates or replaces the cursor of c.Account.
func (t *tx) PutCursor(c *shop.Cursor) error {
	if err := t.writable("put cursor"); err != nil {
		return err
	} else if c.Account == "" {
		return fmt.Errorf("store: put cursor: empty account")
	}
	return put(t.bucket(bucketCursors), []byte(c.Account), newCursorRecord(c))
}
