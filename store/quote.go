package store

import (
	"bytes"
	"time"

	"starsbot/shop"
)

// quoteExpiryKey returns the quote_expiry key of a quote: its expiry in
// Unix nanoseconds, big-endian, then its id, so byte order is expiry order.
func quoteExpiryKey(expiresAt time.Time, id string) []byte {
	return cat(i64(expiresAt.UnixNano()), []byte(id))
}

// PutQuote creates or replaces q, keyed by q.ID, and keeps the
// quote_expiry index in step.
func (t *tx) PutQuote(q *shop.LockedQuote) error {
	if err := t.writable("put quote"); err != nil {
		return err
	}
	if q.ID == "" {
		return shop.Errorf(shop.EVALIDATION, "a quote needs an id")
	}
	b, idx := t.bucket(bucketQuotes), t.bucket(bucketQuoteExpiry)
	key := []byte(q.ID)
	old, err := get[quoteRecord](b, key)
	if err != nil {
		return err
	}
	newIdx := quoteExpiryKey(q.ExpiresAt, q.ID)
	if old != nil {
		if oldIdx := quoteExpiryKey(old.ExpiresAt, old.ID); !bytes.Equal(oldIdx, newIdx) {
			if err := idx.Delete(oldIdx); err != nil {
				return err
			}
		}
	}
	if err := putIfChanged(idx, newIdx, nil); err != nil {
		return err
	}
	return put(b, key, newQuoteRecord(q))
}

// FindQuote returns the quote with id, or ENOTFOUND.
func (t *tx) FindQuote(id string) (*shop.LockedQuote, error) {
	if id == "" {
		return nil, notFound("Quote")
	}
	r, err := get[quoteRecord](t.bucket(bucketQuotes), []byte(id))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Quote")
	}
	return r.quote(), nil
}

// DeleteQuotesExpired removes up to limit quotes whose ExpiresAt is before
// before, in expiry order, walking the quote_expiry index from its start.
func (t *tx) DeleteQuotesExpired(before time.Time, limit int) (int, error) {
	if err := t.writable("delete expired quotes"); err != nil {
		return 0, err
	}
	b, idx := t.bucket(bucketQuotes), t.bucket(bucketQuoteExpiry)
	end := i64(before.UnixNano())
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
