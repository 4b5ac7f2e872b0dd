package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"starsbot/shop"
)

// tx implements shop.Tx on one bbolt transaction. Everything it returns is
// decoded into fresh values, so nothing refers to bbolt memory after the
// transaction ends.
type tx struct {
	btx *bolt.Tx
}

var _ shop.Tx = (*tx)(nil)

// bucket returns a bucket that Open created.
func (t *tx) bucket(name []byte) *bolt.Bucket {
	b := t.btx.Bucket(name)
	if b == nil {
		// Open creates every bucket, so this is a damaged file or a bug.
		panic(fmt.Sprintf("store: bucket %s missing", name))
	}
	if f, ok := fillPercent[string(name)]; ok {
		b.FillPercent = f
	}
	return b
}

// putIfChanged writes k=v unless b already holds exactly that. A bbolt Put
// materializes and dirties its page even when nothing changes, and every
// dirty page is rewritten at commit; index entries mostly stay the same
// when their record is updated (a balance change, a status change).
func putIfChanged(b *bolt.Bucket, k, v []byte) error {
	if ck, cv := b.Cursor().Seek(k); bytes.Equal(ck, k) && bytes.Equal(cv, v) {
		return nil
	}
	return b.Put(k, v)
}

// fillPercent is how full bbolt fills a page before splitting it, by bucket,
// matched to the order its keys arrive in. bbolt's default of 0.5 (buckets
// not listed: keys in no order, such as hashes and memos) leaves every split
// page half empty behind an append, which doubles the pages a commit writes
// and the file keeps. Keys that only grow (ids from NextSequence, times) fill
// pages completely; keys that grow within a few hundred or thousand prefixes
// (one per user, one per status) leave a little room for the prefixes whose
// run sits in the middle of a page.
var fillPercent = map[string]float64{
	string(bucketOrders): 1, string(bucketLedger): 1, string(bucketDeposits): 1, string(bucketQueue): 1,
	string(bucketAudit): 1, string(bucketDeliveries): 1, string(bucketOrderExpiry): 1,
	string(bucketIdempotencyExpiry): 1, string(bucketDepositTimes): 1, string(bucketQuoteExpiry): 1,
	string(bucketOrderByStatus): 0.95, string(bucketUserOrderStatus): 0.9,
	string(bucketUserLedger): 0.9,
	// The outbox and the webhook deliveries are keyed by sequence; a
	// webhook's delivery log by webhook, then sequence.
	string(bucketOutbox): 1, string(bucketWebhookDeliveries): 1, string(bucketHookDeliveries): 0.9,
}

// writable returns an error wrapping berrors.ErrTxNotWritable when t is
// read-only, so that write methods fail before reading anything.
func (t *tx) writable(op string) error {
	if !t.btx.Writable() {
		return fmt.Errorf("store: %s: %w", op, berrors.ErrTxNotWritable)
	}
	return nil
}

// notFound returns the ENOTFOUND error of a Find method.
func notFound(what string) error {
	return shop.Errorf(shop.ENOTFOUND, "%s not found.", what)
}

// get decodes the record at key into a new R; it returns nil, nil when the
// key is absent.
func get[R any](b *bolt.Bucket, key []byte) (*R, error) {
	v := b.Get(key)
	if v == nil {
		return nil, nil
	}
	return decode[R](key, v)
}

// decode decodes the record v stored at key into a new R.
func decode[R any](key, v []byte) (*R, error) {
	r := new(R)
	if err := decodeRecord(v, r); err != nil {
		return nil, fmt.Errorf("store: decode %T at key %x: %w", r, key, err)
	}
	return r, nil
}

// put encodes rec (codec.go) at key.
func put(b *bolt.Bucket, key []byte, rec any) error {
	v, err := encodeRecord(rec)
	if err != nil {
		return fmt.Errorf("store: encode %T: %w", rec, err)
	}
	return b.Put(key, v)
}

// seekBefore positions c on the last key < key and returns it.
func seekBefore(c *bolt.Cursor, key []byte) (k, v []byte) {
	if k, _ = c.Seek(key); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// seekLast positions c on the last key with prefix (or any key, if prefix is
// empty); the caller checks the prefix of the key returned.
func seekLast(c *bolt.Cursor, prefix []byte) (k, v []byte) {
	end := prefixEnd(prefix)
	if end == nil {
		return c.Last()
	}
	return seekBefore(c, end)
}

// scan calls fn with copies of each key and value with prefix, in key order.
// It seeks afresh for every key, so fn may write to the same bucket (for
// example change the status an order is indexed under); keys inserted behind
// the current one are not visited, keys inserted ahead of it are.
func scan(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	var last []byte
	for {
		c := b.Cursor()
		var k, v []byte
		if last == nil {
			k, v = c.Seek(prefix)
		} else if k, v = c.Seek(last); k != nil && bytes.Equal(k, last) {
			k, v = c.Next()
		}
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return nil
		}
		last = bytes.Clone(k)
		if err := fn(last, bytes.Clone(v)); err != nil {
			return err
		}
	}
}
