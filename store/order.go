package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// NextOrderID returns a new order id from the orders bucket sequence. An id
// handed out by a transaction that is rolled back may be handed out again.
func (t *tx) NextOrderID() (int64, error) {
	if err := t.writable("next order id"); err != nil {
		return 0, err
	}
	id, err := t.bucket(bucketOrders).NextSequence()
	if err != nil {
		return 0, fmt.Errorf("store: next order id: %w", err)
	}
	return int64(id), nil
}

// PutOrder creates or replaces o (o.ID must be positive) and keeps the owner,
// status, owner-and-status, expiry, memo and client-reference indexes and
// the order counters in step. It fails if
// o.PaymentMemo belongs to a user or another order.
func (t *tx) PutOrder(o *shop.Order) error {
	if err := t.writable("put order"); err != nil {
		return err
	} else if o.ID <= 0 {
		return fmt.Errorf("store: put order: id %d is not positive", o.ID)
	}
	key := i64(o.ID)
	orders := t.bucket(bucketOrders)
	prev, err := get[orderRecord](orders, key)
	if err != nil {
		return err
	}
	memo := shop.NormalizeMemo(o.PaymentMemo)
	if err := t.claimMemo(memo, memoOrder, o.ID); err != nil {
		return err
	}

	byRef := t.bucket(bucketOrderRefs)
	rec := newOrderRecord(o)
	if err := t.orderDerived(prev, rec); err != nil {
		return err
	}
	if prev != nil {
		if prev.ClientReference != "" && (prev.UserID != o.UserID || prev.ClientReference != o.ClientReference) {
			if err := byRef.Delete(cat(refPrefix(prev.UserID, prev.ClientReference), key)); err != nil {
				return err
			}
		}
		if old := shop.NormalizeMemo(prev.PaymentMemo); old != memo {
			if err := t.releaseMemo(old, memoOrder, o.ID); err != nil {
				return err
			}
		}
	}

	if err := put(orders, key, rec); err != nil {
		return err
	}
	if orderFinished(rec.Status) && (prev == nil || !orderFinished(prev.Status)) {
		if err := t.slimDeliveryOf(o.ID); err != nil {
			return err
		}
	}
	if o.ClientReference != "" {
		if err := putIfChanged(byRef, cat(refPrefix(o.UserID, o.ClientReference), key), nil); err != nil {
			return err
		}
	}
	if memo != "" {
		if err := putIfChanged(t.bucket(bucketMemos), []byte(memo), memoValue(memoOrder, o.ID)); err != nil {
			return err
		}
	}
	return nil
}

// FindOrderByID returns the order with id, or ENOTFOUND.
func (t *tx) FindOrderByID(id int64) (*shop.Order, error) {
	r, err := get[orderRecord](t.bucket(bucketOrders), i64(id))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Order")
	}
	return r.order(), nil
}

// FindOrderByMemo returns the order whose PaymentMemo is memo (compared as
// shop.NormalizeMemo does), or ENOTFOUND (also when memo belongs to a user).
func (t *tx) FindOrderByMemo(memo string) (*shop.Order, error) {
	kind, id := t.memoOwner(memo)
	if kind != memoOrder {
		return nil, notFound("Order")
	}
	return t.FindOrderByID(id)
}

// FindOrdersByReference returns a user's orders with ClientReference ref
// (exact), newest first; none is an empty slice and no error.
func (t *tx) FindOrdersByReference(userID int64, ref string) ([]*shop.Order, error) {
	if ref == "" {
		return nil, nil
	}
	prefix := refPrefix(userID, ref)
	var out []*shop.Order
	c := t.bucket(bucketOrderRefs).Cursor()
	for k, _ := seekLast(c, prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(k) != len(prefix)+8 {
			continue // a longer reference that starts with ref and a NUL
		}
		o, err := t.indexedOrder(k)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// indexedOrder loads the order whose id ends index key k.
func (t *tx) indexedOrder(k []byte) (*shop.Order, error) {
	o, err := t.FindOrderByID(int64(tailID(k)))
	if err != nil {
		return nil, fmt.Errorf("store: index entry %x: %w", k, err)
	}
	return o, nil
}

// FindOrders returns up to f.Limit orders matching f, newest (highest id)
// first, and whether more match beyond them. It walks the owner-and-status
// index when f.UserID and f.Status are set, the owner index when only
// f.UserID is, the status index when only f.Status is, else all orders.
// f.Before < 0 matches nothing.
func (t *tx) FindOrders(f shop.OrderFilter) ([]*shop.Order, bool, error) {
	limit := shop.ClampLimit(f.Limit)
	if f.Before < 0 {
		return nil, false, nil
	}
	var b *bolt.Bucket
	var prefix []byte
	if f.Status != "" && statusCode(string(f.Status)) == 0 {
		return nil, false, nil
	}
	switch {
	case f.UserID != 0 && f.Status != "":
		b, prefix = t.bucket(bucketUserOrderStatus), cat(i64(f.UserID), []byte{statusCode(string(f.Status))})
	case f.UserID != 0:
		return t.findOrdersOfUser(f, limit)
	case f.Status != "":
		b, prefix = t.bucket(bucketOrderByStatus), []byte{statusCode(string(f.Status))}
	default:
		b = t.bucket(bucketOrders)
	}
	c := b.Cursor()
	var k []byte
	if f.Before == 0 {
		k, _ = seekLast(c, prefix)
	} else {
		k, _ = seekBefore(c, cat(prefix, i64(f.Before)))
	}
	var out []*shop.Order
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(k) != len(prefix)+8 {
			return nil, false, fmt.Errorf("store: malformed order key %x", k)
		}
		o, err := t.indexedOrder(k)
		if err != nil {
			return nil, false, err
		}
		if (f.Status != "" && o.Status != f.Status) || (f.Type != "" && o.Type != f.Type) {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, o)
	}
	return out, false, nil
}

// ForEachOrderByStatus calls fn for every order in status, oldest first. fn
// may Put orders, including the one it is given.
func (t *tx) ForEachOrderByStatus(status shop.OrderStatus, fn func(*shop.Order) error) error {
	code := statusCode(string(status))
	if code == 0 {
		return nil
	}
	prefix := []byte{code}
	return scan(t.bucket(bucketOrderByStatus), prefix, func(k, _ []byte) error {
		if len(k) != len(prefix)+8 {
			return fmt.Errorf("store: malformed order_by_status key %x", k)
		}
		o, err := t.indexedOrder(k)
		if err != nil {
			return err
		}
		return fn(o)
	})
}

// findOrdersOfUser is FindOrders for one owner, any status: it merges the
// owner's runs of the user_order_status index, one per status, newest id
// first. (A separate owner index would cost every order one more page write
// per owner in each commit.)
func (t *tx) findOrdersOfUser(f shop.OrderFilter, limit int) ([]*shop.Order, bool, error) {
	type run struct {
		c      *bolt.Cursor
		prefix []byte
		k      []byte
	}
	b := t.bucket(bucketUserOrderStatus)
	var runs []*run
	for code := range orderStatusByCode {
		r := &run{c: b.Cursor(), prefix: cat(i64(f.UserID), []byte{code})}
		if f.Before == 0 {
			r.k, _ = seekLast(r.c, r.prefix)
		} else {
			r.k, _ = seekBefore(r.c, cat(r.prefix, i64(f.Before)))
		}
		runs = append(runs, r)
	}
	var out []*shop.Order
	for {
		var next *run
		for _, r := range runs {
			if r.k == nil || !bytes.HasPrefix(r.k, r.prefix) {
				continue
			}
			if next == nil || tailID(r.k) > tailID(next.k) {
				next = r
			}
		}
		if next == nil {
			return out, false, nil
		}
		if len(next.k) != 17 {
			return nil, false, fmt.Errorf("store: malformed user_order_status key %x", next.k)
		}
		o, err := t.indexedOrder(next.k)
		if err != nil {
			return nil, false, err
		}
		next.k, _ = next.c.Prev()
		if f.Type != "" && o.Type != f.Type {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, o)
	}
}

// ForEachOrderOfUser calls fn for every order of a user, oldest first. fn
// may Put orders: the ids are read first, from the user_order_status index.
func (t *tx) ForEachOrderOfUser(userID int64, fn func(*shop.Order) error) error {
	var ids []uint64
	c := t.bucket(bucketUserOrderStatus).Cursor()
	prefix := i64(userID)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) != 17 {
			return fmt.Errorf("store: malformed user_order_status key %x", k)
		}
		ids = append(ids, tailID(k))
	}
	slices.Sort(ids)
	for _, id := range ids {
		o, err := t.FindOrderByID(int64(id))
		if err != nil {
			return fmt.Errorf("store: user_order_status of user %d: %w", userID, err)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}
