package store

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// The outbox: partner events, written in the transaction of the change
// they describe.
//
//	outbox       u64(seq) → outboxRecord; seq from the bucket's sequence,
//	             so key order is commit order
//	user_outbox  i64(user id) + u64(seq) → nil; every event but test events
var (
	bucketOutbox     = []byte("outbox")
	bucketUserOutbox = []byte("user_outbox")
)

// addedBuckets came with the outbox and webhooks, in the same schema
// version: Open creates them in an older file, OpenReadOnly (check,
// restore of an older backup) accepts a file without them, and Check
// passes over them there.
var addedBuckets = [][]byte{bucketOutbox, bucketUserOutbox,
	bucketWebhooks, bucketUserWebhooks, bucketWebhookDeliveries, bucketHookDeliveries, bucketWebhookDue}

// init adds them to the buckets Open creates (keys.go lists the others).
func init() { allBuckets = append(allBuckets, addedBuckets...) }

// added reports whether name is one of addedBuckets.
func added(name []byte) bool {
	for _, b := range addedBuckets {
		if bytes.Equal(b, name) {
			return true
		}
	}
	return false
}

type balanceChangeRecord struct {
	Amount  int64  `json:"amount_nano"`
	Balance int64  `json:"balance_nano"`
	TxHash  string `json:"tx_hash,omitempty"`
	Memo    string `json:"memo,omitempty"`
	OrderID int64  `json:"order_id,omitempty"`
	Reason  string `json:"reason"`
	Note    string `json:"note,omitempty"`
	Asset   string `json:"asset,omitempty"`
	Jetton  int64  `json:"jetton_amount,omitempty"`
}

type outboxRecord struct {
	Seq       uint64               `json:"seq"`
	ID        string               `json:"id"`
	Type      string               `json:"type"`
	UserID    int64                `json:"user_id"`
	CreatedAt time.Time            `json:"created_at"`
	Order     *orderRecord         `json:"order,omitempty"`
	Balance   *balanceChangeRecord `json:"balance,omitempty"`
	WebhookID string               `json:"webhook_id,omitempty"`
}

func newOutboxRecord(e *shop.OutboxEvent) *outboxRecord {
	r := &outboxRecord{Seq: e.Seq, ID: e.ID, Type: string(e.Type), UserID: e.UserID, CreatedAt: e.CreatedAt, WebhookID: e.WebhookID}
	if e.Order != nil {
		r.Order = newOrderRecord(e.Order)
	}
	if b := e.Balance; b != nil {
		r.Balance = &balanceChangeRecord{Amount: int64(b.Amount), Balance: int64(b.Balance), TxHash: b.TxHash, Memo: b.Memo, OrderID: b.OrderID, Reason: b.Reason, Note: b.Note, Asset: string(b.Asset), Jetton: b.JettonAmount}
	}
	return r
}

func (r *outboxRecord) event() *shop.OutboxEvent {
	e := &shop.OutboxEvent{Seq: r.Seq, ID: r.ID, Type: shop.PartnerEventType(r.Type), UserID: r.UserID, CreatedAt: r.CreatedAt, WebhookID: r.WebhookID}
	if r.Order != nil {
		e.Order = r.Order.order()
	}
	if b := r.Balance; b != nil {
		e.Balance = &shop.BalanceChange{Amount: shop.NanoTON(b.Amount), Balance: shop.NanoTON(b.Balance), TxHash: b.TxHash, Memo: b.Memo, OrderID: b.OrderID, Reason: b.Reason, Note: b.Note, Asset: shop.Asset(b.Asset), JettonAmount: b.Jetton}
	}
	return e
}

// appendBucket returns a bucket whose keys only grow, filled before split
// (its fill factor is in tx.go's fillPercent).
func (t *tx) appendBucket(name []byte) *bolt.Bucket { return t.bucket(name) }

// AppendOutbox stores e with the next outbox sequence number, sets e.Seq,
// and indexes it under its user unless it is a test event.
func (t *tx) AppendOutbox(e *shop.OutboxEvent) error {
	if err := t.writable("append outbox"); err != nil {
		return err
	}
	if e.ID == "" || e.Type == "" || e.UserID == 0 {
		return fmt.Errorf("store: append outbox: an event needs an id, a type and a user")
	}
	b := t.appendBucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("store: append outbox: %w", err)
	}
	rec := newOutboxRecord(e)
	rec.Seq = seq
	if err := put(b, u64(seq), rec); err != nil {
		return err
	}
	e.Seq = seq
	return nil
}

// keyOutboxIndexed is the setting that holds the seq of the last event
// IndexOutbox indexed, 8 bytes big-endian.
const keyOutboxIndexed = "outbox_indexed"

// IndexOutbox puts e in user_outbox (but a test event) and moves the
// indexed mark to e.Seq.
func (t *tx) IndexOutbox(e *shop.OutboxEvent) error {
	if err := t.writable("index outbox"); err != nil {
		return err
	}
	last, err := t.OutboxIndexed()
	if err != nil {
		return err
	}
	if e.Seq <= last {
		return fmt.Errorf("store: index outbox: event %d is not after the last indexed, %d", e.Seq, last)
	}
	if e.WebhookID == "" {
		if err := t.bucket(bucketUserOutbox).Put(cat(i64(e.UserID), u64(e.Seq)), nil); err != nil {
			return err
		}
	}
	return t.bucket(bucketSettings).Put([]byte(keyOutboxIndexed), u64(e.Seq))
}

// OutboxIndexed returns the seq of the last event indexed.
func (t *tx) OutboxIndexed() (uint64, error) {
	v := t.bucket(bucketSettings).Get([]byte(keyOutboxIndexed))
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return tailID(v), nil
	}
	return 0, fmt.Errorf("store: malformed %s setting %x", keyOutboxIndexed, v)
}

// FindOutboxEvent returns the event with sequence number seq.
func (t *tx) FindOutboxEvent(seq uint64) (*shop.OutboxEvent, error) {
	r, err := get[outboxRecord](t.bucket(bucketOutbox), u64(seq))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Event")
	}
	return r.event(), nil
}

// FindOutboxByUser returns up to limit events of a user after seq after,
// oldest first, walking user_outbox.
func (t *tx) FindOutboxByUser(userID int64, after uint64, limit int) ([]*shop.OutboxEvent, bool, error) {
	prefix := i64(userID)
	c := t.bucket(bucketUserOutbox).Cursor()
	k, _ := c.Seek(cat(prefix, u64(after)))
	if k != nil && bytes.Equal(k, cat(prefix, u64(after))) {
		k, _ = c.Next()
	}
	outbox := t.bucket(bucketOutbox)
	var out []*shop.OutboxEvent
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(out) == limit {
			return out, true, nil
		}
		if len(k) != 16 {
			return nil, false, fmt.Errorf("store: malformed user_outbox key %x", k)
		}
		r, err := get[outboxRecord](outbox, k[8:])
		if err != nil {
			return nil, false, err
		} else if r == nil {
			return nil, false, fmt.Errorf("store: user_outbox entry %x names a missing event", k)
		}
		out = append(out, r.event())
	}
	return out, false, nil
}

// OutboxAfter returns up to limit events with Seq > after, oldest first.
func (t *tx) OutboxAfter(after uint64, limit int) ([]*shop.OutboxEvent, error) {
	c := t.bucket(bucketOutbox).Cursor()
	var out []*shop.OutboxEvent
	for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
		r, err := decode[outboxRecord](k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, r.event())
	}
	return out, nil
}

// OutboxSeqBefore returns the seq of the last event created before tm,
// by binary search over seq: commit times follow commit order.
func (t *tx) OutboxSeqBefore(tm time.Time) (uint64, error) {
	b := t.bucket(bucketOutbox)
	c := b.Cursor()
	first, _ := c.First()
	if first == nil {
		return 0, nil
	}
	createdAt := func(k, v []byte) (time.Time, error) {
		r, err := decode[outboxRecord](k, v)
		if err != nil {
			return time.Time{}, err
		}
		return r.CreatedAt, nil
	}
	// Invariant: every seq < lo is before tm; every key ≥ hi is not.
	lo, hi := tailID(first), b.Sequence()+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		k, v := c.Seek(u64(mid))
		if k == nil {
			hi = mid
			continue
		}
		at, err := createdAt(k, v)
		if err != nil {
			return 0, err
		}
		if at.Before(tm) {
			lo = tailID(k) + 1
		} else {
			hi = mid
		}
	}
	// lo is the first seq not before tm; the answer is the key below it.
	k, _ := seekBefore(c, u64(lo))
	if k == nil {
		return 0, nil
	}
	return tailID(k), nil
}

// DeleteOutboxBefore removes up to limit of the oldest events created
// before tm, with their index entries.
func (t *tx) DeleteOutboxBefore(tm time.Time, limit int) (int, error) {
	if err := t.writable("prune outbox"); err != nil {
		return 0, err
	}
	b, idx := t.bucket(bucketOutbox), t.bucket(bucketUserOutbox)
	type victim struct {
		key    []byte
		userID int64
		test   bool
	}
	var due []victim
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(due) < limit; k, v = c.Next() {
		r, err := decode[outboxRecord](k, v)
		if err != nil {
			return 0, err
		}
		if !r.CreatedAt.Before(tm) {
			break
		}
		due = append(due, victim{bytes.Clone(k), r.UserID, r.WebhookID != ""})
	}
	for _, d := range due { // after the walk: deleting behind a live cursor skips keys
		if err := b.Delete(d.key); err != nil {
			return 0, err
		}
		if !d.test {
			if err := idx.Delete(cat(i64(d.userID), d.key)); err != nil {
				return 0, err
			}
		}
	}
	return len(due), nil
}
