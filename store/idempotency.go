package store

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"

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
	r, err := getIdempotency(t.bucket(bucketIdempotency), idempotencyKey(userID, key))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Idempotency key")
	}
	return r.idempotency(), nil
}

// PutIdempotency creates or replaces r, keyed by r.UserID and r.Key, and
// keeps the idempotency_expiry index in step.
func (t *tx) PutIdempotency(r *shop.Idempotency) error {
	if err := t.writable("put idempotency"); err != nil {
		return err
	}
	b, key := t.bucket(bucketIdempotency), idempotencyKey(r.UserID, r.Key)
	prev, err := getIdempotency(b, key)
	if err != nil {
		return err
	}
	rec := newIdempotencyRecord(r)
	var old []byte
	if prev != nil {
		old = idempotencyExpiryKey(prev)
	}
	if err := replaceIndex(t.bucket(bucketIdempotencyExpiry), old, idempotencyExpiryKey(rec)); err != nil {
		return err
	}
	return put(b, key, idempotencyStored(rec))
}

// getIdempotency returns the record at key, or nil, nil.
func getIdempotency(b *bolt.Bucket, key []byte) (*idempotencyRecord, error) {
	r, err := get[idempotencyRecord](b, key)
	if r != nil {
		idempotencyFromKey(key, r)
	}
	return r, err
}

// idempotencyStored returns what is stored of r: its key holds UserID and
// Key, so the value does not repeat them (a third of its bytes).
func idempotencyStored(r *idempotencyRecord) *idempotencyRecord {
	c := *r
	c.UserID, c.Key = 0, ""
	return &c
}

// idempotencyFromKey restores the UserID and Key of a record stored without
// them from its key.
func idempotencyFromKey(k []byte, r *idempotencyRecord) {
	if r.UserID == 0 && r.Key == "" && len(k) >= 8 {
		r.UserID, r.Key = int64(tailID(k[:8])), string(k[8:])
	}
}

// CountIdempotencyExpired counts up to limit records whose ExpiresAt is
// before now, from the idempotency_expiry index.
func (t *tx) CountIdempotencyExpired(now time.Time, limit int) (int, error) {
	end := nanoKey(now)
	n := 0
	c := t.bucket(bucketIdempotencyExpiry).Cursor()
	for k, _ := c.First(); k != nil && n < limit && bytes.Compare(k[:min(len(k), 8)], end) < 0; k, _ = c.Next() {
		n++
	}
	return n, nil
}

// DeleteIdempotencyExpired removes up to limit records whose ExpiresAt is
// before now, soonest expired first, and returns how many. It walks the
// idempotency_expiry index from its start, so it reads only what it
// deletes and one more index entry.
func (t *tx) DeleteIdempotencyExpired(now time.Time, limit int) (int, error) {
	if err := t.writable("delete expired idempotency"); err != nil {
		return 0, err
	}
	b, idx := t.bucket(bucketIdempotency), t.bucket(bucketIdempotencyExpiry)
	end := nanoKey(now)
	var due [][]byte
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && len(due) < limit && bytes.Compare(k[:min(len(k), 8)], end) < 0; k, _ = c.Next() {
		due = append(due, bytes.Clone(k))
	}
	// Deleting behind a live cursor skips keys, hence two passes.
	for _, k := range due {
		if err := idx.Delete(k); err != nil {
			return 0, err
		}
		if len(k) > 8 {
			if err := b.Delete(k[8:]); err != nil {
				return 0, err
			}
		}
	}
	return len(due), nil
}
