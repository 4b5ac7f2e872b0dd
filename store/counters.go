package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// Aggregates and time-ordered indexes. The Put methods keep them in step
// from the difference between the record they replace and the new one, in
// the same transaction, so no caller can forget them; Check recounts them.
//
//	counters               what it holds (values: big-endian int64s)
//	  'o' user status      count, price, fee, stars, months of the user's orders in status (user 0: everyone's)
//	  'u'                  users, sum of balances
//	  'p'                  users with an active API key
//	  'k' user             the user's active API keys
//	  'd' status           count, amount of deposits in status
//	  'h' hour             count, amount of deposits that are not dust or rejected, by CreatedAt's Unix hour
//	  'a' asset            count, amount (TON value), jetton units of the deposits of a jetton asset
//	                       (USDT) that are not dust or rejected
//	order_by_status        status code, order id
//	user_order_status      user, status code, order id
//	order_expiry           ExpiresAt (Unix ns), order id: orders awaiting payment with a TTL
//	idempotency_expiry     ExpiresAt (Unix ns), idempotency key
//	deposit_times          CreatedAt (Unix ns), deposit id

// orderStatusCodes are the stored codes of the order statuses: never
// change one.
var orderStatusCodes = map[shop.OrderStatus]byte{
	shop.StatusPendingPayment: 1, shop.StatusPaid: 2, shop.StatusProcessing: 3, shop.StatusCompleted: 4,
	shop.StatusCancelled: 5, shop.StatusExpired: 6, shop.StatusManual: 7, shop.StatusFailed: 8, shop.StatusRefunded: 9,
}

var orderStatusByCode = func() map[byte]shop.OrderStatus {
	m := map[byte]shop.OrderStatus{}
	for s, c := range orderStatusCodes {
		m[c] = s
	}
	return m
}()

// statusCode returns the code of an order status, or 0 for an unknown one.
func statusCode(status string) byte { return orderStatusCodes[shop.OrderStatus(status)] }

// nanoKey returns the 8-byte key of t in Unix nanoseconds; the zero time
// and times before 1970 are 0.
func nanoKey(t time.Time) []byte {
	n := t.UnixNano()
	if t.IsZero() || n < 0 {
		n = 0
	}
	return i64(n)
}

// hourKey returns the counters key of the hour of t ('h' and the Unix hour).
func hourKey(t time.Time) []byte {
	return cat([]byte{'h'}, i64(int64(binary.BigEndian.Uint64(nanoKey(t)))/int64(time.Hour)))
}

func orderCounterKey(userID int64, code byte) []byte {
	return cat([]byte{'o'}, i64(userID), []byte{code})
}

var (
	keyUserCounter    = []byte{'u'}
	keyPartnerCounter = []byte{'p'}
)

func activeKeysKey(userID int64) []byte      { return cat([]byte{'k'}, i64(userID)) }
func depositCounterKey(status string) []byte { return cat([]byte{'d'}, []byte(status)) }
func assetCounterKey(asset string) []byte    { return cat([]byte{'a'}, []byte(asset)) }

// counterDelta is a change to one counter.
type counterDelta struct {
	key    []byte
	values []int64
}

// addCounter adds values to the counter at key; a counter that reaches all
// zeros is deleted, so the bucket holds exactly what a recount finds.
func addCounter(b *bolt.Bucket, key []byte, values ...int64) error {
	cur := readCounter(b.Get(key), len(values))
	zero := true
	for i, v := range values {
		cur[i] += v
		zero = zero && cur[i] == 0
	}
	if zero {
		return b.Delete(key)
	}
	out := make([]byte, 0, 8*len(cur))
	for _, v := range cur {
		out = binary.BigEndian.AppendUint64(out, uint64(v))
	}
	return b.Put(key, out)
}

// readCounter decodes a counter value into at least n values.
func readCounter(v []byte, n int) []int64 {
	out := make([]int64, max(n, len(v)/8))
	for i := 0; i < len(v)/8; i++ {
		out[i] = int64(binary.BigEndian.Uint64(v[8*i:]))
	}
	return out
}

// applyDeltas subtracts what prev contributed and adds what next does.
func (t *tx) applyDeltas(prev, next []counterDelta) error {
	b := t.bucket(bucketCounters)
	for _, d := range prev {
		neg := make([]int64, len(d.values))
		for i, v := range d.values {
			neg[i] = -v
		}
		if err := addCounter(b, d.key, neg...); err != nil {
			return err
		}
	}
	for _, d := range next {
		if err := addCounter(b, d.key, d.values...); err != nil {
			return err
		}
	}
	return nil
}

func orderDeltas(r *orderRecord) []counterDelta {
	if r == nil {
		return nil
	}
	v := []int64{1, r.PriceTON, r.FeeTON, r.Stars, int64(r.Months)}
	code := statusCode(r.Status)
	return []counterDelta{{orderCounterKey(shop.AnyOwner, code), v}, {orderCounterKey(r.UserID, code), v}}
}

func userDeltas(r *userRecord) []counterDelta {
	if r == nil {
		return nil
	}
	return []counterDelta{{keyUserCounter, []int64{1, r.Balance}}}
}

func depositDeltas(r *depositRecord) []counterDelta {
	if r == nil {
		return nil
	}
	d := []counterDelta{{depositCounterKey(r.Status), []int64{1, r.Amount}}}
	if r.Status != string(shop.DepositIgnored) && r.Status != string(shop.DepositRejected) {
		d = append(d, counterDelta{hourKey(r.CreatedAt), []int64{1, r.Amount}})
		if r.Asset == string(shop.AssetUSDT) {
			d = append(d, counterDelta{assetCounterKey(r.Asset), []int64{1, r.Amount, r.JettonAmount}})
		}
	}
	return d
}

// replaceIndex moves an index entry from oldKey to newKey (either nil: none).
func replaceIndex(b *bolt.Bucket, oldKey, newKey []byte) error {
	if oldKey != nil && !bytes.Equal(oldKey, newKey) {
		if err := b.Delete(oldKey); err != nil {
			return err
		}
	}
	if newKey != nil {
		return putIfChanged(b, newKey, nil)
	}
	return nil
}

// orderDerived keeps the status indexes, the expiry index and the order
// counters of an order in step as prev (nil: none) becomes next.
func (t *tx) orderDerived(prev, next *orderRecord) error {
	if statusCode(next.Status) == 0 {
		return fmt.Errorf("store: put order %d: unknown status %q", next.ID, next.Status)
	}
	var oldStatus, oldUserStatus, oldExpiry []byte
	if prev != nil {
		oldStatus, oldUserStatus, oldExpiry = statusKey(prev.Status, prev.ID), userStatusKey(prev.UserID, prev.Status, prev.ID), orderExpiryKey(prev)
	}
	if err := replaceIndex(t.bucket(bucketOrderByStatus), oldStatus, statusKey(next.Status, next.ID)); err != nil {
		return err
	}
	if err := replaceIndex(t.bucket(bucketUserOrderStatus), oldUserStatus, userStatusKey(next.UserID, next.Status, next.ID)); err != nil {
		return err
	}
	if err := replaceIndex(t.bucket(bucketOrderExpiry), oldExpiry, orderExpiryKey(next)); err != nil {
		return err
	}
	return t.applyDeltas(orderDeltas(prev), orderDeltas(next))
}

// statusKey returns the order_by_status key of an order.
func statusKey(status string, id int64) []byte { return cat([]byte{statusCode(status)}, i64(id)) }

// userStatusKey returns the user_order_status key of an order.
func userStatusKey(userID int64, status string, id int64) []byte {
	return cat(i64(userID), []byte{statusCode(status)}, i64(id))
}

// orderExpiryKey returns the order_expiry key of an order awaiting payment
// with a TTL, or nil.
func orderExpiryKey(r *orderRecord) []byte {
	if r.Status != string(shop.StatusPendingPayment) || r.ExpiresAt.IsZero() {
		return nil
	}
	return cat(nanoKey(r.ExpiresAt), i64(r.ID))
}

// idempotencyExpiryKey returns the idempotency_expiry key of a record.
func idempotencyExpiryKey(r *idempotencyRecord) []byte {
	return cat(nanoKey(r.ExpiresAt), idempotencyKey(r.UserID, r.Key))
}

// depositTimeKey returns the deposit_times key of a deposit.
func depositTimeKey(r *depositRecord) []byte { return cat(nanoKey(r.CreatedAt), u64(r.ID)) }

// depositDerived keeps a deposit's time index and counters in step.
func (t *tx) depositDerived(prev, next *depositRecord) error {
	var old []byte
	if prev != nil {
		old = depositTimeKey(prev)
	}
	if err := replaceIndex(t.bucket(bucketDepositTimes), old, depositTimeKey(next)); err != nil {
		return err
	}
	return t.applyDeltas(depositDeltas(prev), depositDeltas(next))
}

// apiKeyDerived keeps the active-key counts and the partner count in step.
func (t *tx) apiKeyDerived(prev, next *apiKeyRecord) error {
	b := t.bucket(bucketCounters)
	change := func(r *apiKeyRecord, delta int64) error {
		if r == nil || !r.RevokedAt.IsZero() {
			return nil
		}
		key := activeKeysKey(r.UserID)
		before := readCounter(b.Get(key), 1)[0]
		if err := addCounter(b, key, delta); err != nil {
			return err
		}
		if after := before + delta; (before > 0) != (after > 0) {
			return addCounter(b, keyPartnerCounter, after-before)
		}
		return nil
	}
	if err := change(prev, -1); err != nil {
		return err
	}
	return change(next, 1)
}

// OrderTotals returns the count and sums of userID's orders (shop.AnyOwner:
// everyone's) by status; statuses without orders are absent. It reads one
// counter per status.
func (t *tx) OrderTotals(userID int64) (map[shop.OrderStatus]shop.OrderTotals, error) {
	out := map[shop.OrderStatus]shop.OrderTotals{}
	prefix := cat([]byte{'o'}, i64(userID))
	c := t.bucket(bucketCounters).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		status, ok := orderStatusByCode[k[len(k)-1]]
		if len(k) != len(prefix)+1 || !ok {
			return nil, fmt.Errorf("store: malformed order counter %x", k)
		}
		n := readCounter(v, 5)
		out[status] = shop.OrderTotals{Count: int(n[0]), PriceTON: shop.NanoTON(n[1]), FeeTON: shop.NanoTON(n[2]), Stars: n[3], Months: n[4]}
	}
	return out, nil
}

// UserTotals returns how many users there are, how many have an active API
// key and the sum of their balances.
func (t *tx) UserTotals() (shop.UserTotals, error) {
	b := t.bucket(bucketCounters)
	u, p := readCounter(b.Get(keyUserCounter), 2), readCounter(b.Get(keyPartnerCounter), 1)
	return shop.UserTotals{Users: int(u[0]), Liability: shop.NanoTON(u[1]), Partners: int(p[0])}, nil
}

// DepositTotals returns the count and amount of all deposits in status.
func (t *tx) DepositTotals(status shop.DepositStatus) (shop.DepositTotals, error) {
	n := readCounter(t.bucket(bucketCounters).Get(depositCounterKey(string(status))), 2)
	return shop.DepositTotals{Count: int(n[0]), Amount: shop.NanoTON(n[1])}, nil
}

// AssetDepositTotals returns the count, the amount (value in TON) and the
// jetton units of the deposits of asset (USDT) that are neither dust nor
// rejected: one counter.
func (t *tx) AssetDepositTotals(asset shop.Asset) (shop.DepositTotals, int64, error) {
	n := readCounter(t.bucket(bucketCounters).Get(assetCounterKey(string(asset))), 3)
	return shop.DepositTotals{Count: int(n[0]), Amount: shop.NanoTON(n[1])}, n[2], nil
}

// DepositTotalsSince returns the count and amount of the deposits that are
// neither dust nor rejected with CreatedAt at or after since: the hourly counters of the
// whole hours from since on, plus the deposits of since's hour from since.
func (t *tx) DepositTotalsSince(since time.Time) (shop.DepositTotals, error) {
	var out shop.DepositTotals
	first := hourKey(since)
	if start := time.Unix(0, int64(tailID(first[1:]))*int64(time.Hour)); !start.Equal(since) {
		// The part of since's hour from since on, deposit by deposit.
		end := start.Add(time.Hour)
		c := t.bucket(bucketDepositTimes).Cursor()
		stop := nanoKey(end)
		for k, _ := c.Seek(nanoKey(since)); k != nil && bytes.Compare(k[:8], stop) < 0; k, _ = c.Next() {
			d, err := t.FindDepositByID(tailID(k))
			if err != nil {
				return out, fmt.Errorf("store: deposit_times %x: %w", k, err)
			}
			if d.Status != shop.DepositIgnored && d.Status != shop.DepositRejected && !d.CreatedAt.Before(since) {
				out.Count++
				out.Amount += d.Amount
			}
		}
		first = hourKey(end)
	}
	c := t.bucket(bucketCounters).Cursor()
	for k, v := c.Seek(first); k != nil && k[0] == 'h'; k, v = c.Next() {
		n := readCounter(v, 2)
		out.Count += int(n[0])
		out.Amount += shop.NanoTON(n[1])
	}
	return out, nil
}

// OrdersDue returns up to limit ids of orders awaiting payment whose
// ExpiresAt is at or before now, soonest expired first, from the
// order_expiry index.
func (t *tx) OrdersDue(now time.Time, limit int) ([]int64, error) {
	var out []int64
	end := nanoKey(now)
	c := t.bucket(bucketOrderExpiry).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit && bytes.Compare(k[:8], end) <= 0; k, _ = c.Next() {
		if len(k) != 16 {
			return nil, fmt.Errorf("store: malformed order_expiry key %x", k)
		}
		out = append(out, int64(tailID(k)))
	}
	return out, nil
}
