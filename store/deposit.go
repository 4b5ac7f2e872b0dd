package store

import (
	"bytes"
	"fmt"

	"starsbot/shop"
)

// PutDeposit creates d (d.ID == 0: assigns the next deposit id and sets
// d.ID) or replaces it, and keeps the tx-hash index in step. A TxHash
// (compared case-insensitively) already used by another deposit is an error.
func (t *tx) PutDeposit(d *shop.Deposit) error {
	if err := t.writable("put deposit"); err != nil {
		return err
	}
	deposits, hashes := t.bucket(bucketDeposits), t.bucket(bucketDepositHashes)
	hash := hashKey(d.TxHash)
	var prev *depositRecord
	if d.ID != 0 {
		var err error
		if prev, err = get[depositRecord](deposits, u64(d.ID)); err != nil {
			return err
		}
	}
	if hash != "" {
		if v := hashes.Get([]byte(hash)); v != nil && (d.ID == 0 || !bytes.Equal(v, u64(d.ID))) {
			return fmt.Errorf("store: put deposit: tx hash %s already belongs to deposit %d", hash, tailID(v))
		}
	}

	id := d.ID
	if id == 0 {
		var err error
		if id, err = deposits.NextSequence(); err != nil {
			return fmt.Errorf("store: put deposit: %w", err)
		}
	}
	key := u64(id)
	if prev != nil {
		if old := hashKey(prev.TxHash); old != "" && old != hash && bytes.Equal(hashes.Get([]byte(old)), key) {
			if err := hashes.Delete([]byte(old)); err != nil {
				return err
			}
		}
	}
	rec := newDepositRecord(d)
	rec.ID = id
	if err := t.depositDerived(prev, rec); err != nil {
		return err
	}
	if err := put(deposits, key, rec); err != nil {
		return err
	}
	if hash != "" {
		if err := hashes.Put([]byte(hash), key); err != nil {
			return err
		}
	}
	d.ID = id
	return nil
}

// FindDepositByID returns the deposit with id, or ENOTFOUND.
func (t *tx) FindDepositByID(id uint64) (*shop.Deposit, error) {
	r, err := get[depositRecord](t.bucket(bucketDeposits), u64(id))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Deposit")
	}
	return r.deposit(), nil
}

// FindDepositByHash returns the deposit of a chain transaction (hash in any
// case), or ENOTFOUND.
func (t *tx) FindDepositByHash(txHash string) (*shop.Deposit, error) {
	hash := hashKey(txHash)
	if hash == "" {
		return nil, notFound("Deposit")
	}
	v := t.bucket(bucketDepositHashes).Get([]byte(hash))
	if len(v) != 8 {
		return nil, notFound("Deposit")
	}
	return t.FindDepositByID(tailID(v))
}

// FindDeposits returns up to limit (clamped like shop.LedgerFilter.Limit)
// deposits with status (any if ""), with ID < before (0: from the newest),
// newest first; none is an empty slice and no error.
func (t *tx) FindDeposits(status shop.DepositStatus, before uint64, limit int) ([]*shop.Deposit, error) {
	limit = shop.ClampLimit(limit)
	c := t.bucket(bucketDeposits).Cursor()
	var k, v []byte
	if before == 0 {
		k, v = c.Last()
	} else {
		k, v = seekBefore(c, u64(before))
	}
	var out []*shop.Deposit
	for ; k != nil && len(out) < limit; k, v = c.Prev() {
		r, err := decode[depositRecord](k, v)
		if err != nil {
			return nil, err
		}
		if status == "" || r.Status == string(status) {
			out = append(out, r.deposit())
		}
	}
	return out, nil
}
