package store

import (
	"bytes"
	"fmt"

	"starsbot/shop"
)

// AppendLedger stores e as a new entry with the next ledger id, which it
// sets in e.ID, and indexes it under e.UserID. It does not touch the user's
// balance.
func (t *tx) AppendLedger(e *shop.LedgerEntry) error {
	if err := t.writable("append ledger"); err != nil {
		return err
	}
	ledger := t.bucket(bucketLedger)
	id, err := ledger.NextSequence()
	if err != nil {
		return fmt.Errorf("store: append ledger: %w", err)
	}
	rec := newLedgerRecord(e)
	rec.ID = id
	if err := put(ledger, u64(id), rec); err != nil {
		return err
	}
	if err := t.bucket(bucketUserLedger).Put(cat(i64(e.UserID), u64(id)), nil); err != nil {
		return err
	}
	e.ID = id
	return nil
}

// FindLedger returns up to f.Limit entries of f.UserID with ID < f.Before
// (0: from the newest), newest first, and whether more exist beyond them.
func (t *tx) FindLedger(f shop.LedgerFilter) ([]*shop.LedgerEntry, bool, error) {
	limit := shop.ClampLimit(f.Limit)
	prefix := i64(f.UserID)
	c := t.bucket(bucketUserLedger).Cursor()
	var k []byte
	if f.Before == 0 {
		k, _ = seekLast(c, prefix)
	} else {
		k, _ = seekBefore(c, cat(prefix, u64(f.Before)))
	}
	ledger := t.bucket(bucketLedger)
	var out []*shop.LedgerEntry
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(out) == limit {
			return out, true, nil
		}
		if len(k) != 16 {
			return nil, false, fmt.Errorf("store: malformed user_ledger key %x", k)
		}
		r, err := get[ledgerRecord](ledger, k[8:])
		if err != nil {
			return nil, false, err
		} else if r == nil {
			return nil, false, fmt.Errorf("store: user_ledger entry %x names a missing entry", k)
		}
		out = append(out, r.entry())
	}
	return out, false, nil
}
