package store

import (
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
