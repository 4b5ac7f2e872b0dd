package pgstore

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The fulfillment queue's leases (migration 00006), which the replicas'
// workers claim orders with (shop.Tx.ClaimQueued).

// ClaimQueued locks the order's queue entry FOR UPDATE SKIP LOCKED, so
// that two replicas claiming at once never wait for each other: the one
// that finds the entry locked by the other's claim in flight skips it. An
// entry changed by a claim that committed after this transaction's
// snapshot is a serialization failure, and Update runs fn again, which
// then sees the other's lease.
func (t *tx) ClaimQueued(orderID int64, claimant, takeover string, now, until time.Time) (bool, error) {
	if err := t.canWrite("claim queued order"); err != nil {
		return false, err
	}
	var id int64
	err := t.ptx.QueryRow(t.ctx, `WITH c AS (
			SELECT order_id FROM queue
			WHERE order_id = $1 AND (claimant = '' OR claimant = $2 OR lease_ns <= $3 OR ($5 <> '' AND starts_with(claimant, $5)))
			FOR UPDATE SKIP LOCKED)
		UPDATE queue q SET claimant = $2, lease_ns = $4 FROM c WHERE q.order_id = c.order_id
		RETURNING q.order_id`, orderID, claimant, nanos(now), nanos(until), takeover).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, t.fail("claim queued order", err)
}

// HoldQueued extends claimant's lease; a claim of another replica in
// flight on the entry makes it wait for that claim's end (it cannot skip
// its own order).
func (t *tx) HoldQueued(orderID int64, claimant string, until time.Time) (bool, error) {
	if err := t.canWrite("hold queued order"); err != nil {
		return false, err
	}
	if claimant == "" {
		return false, nil
	}
	var id int64
	err := t.ptx.QueryRow(t.ctx, `UPDATE queue SET lease_ns = $3 WHERE order_id = $1 AND claimant = $2 RETURNING order_id`,
		orderID, claimant, nanos(until)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, t.fail("hold queued order", err)
}

// ReleaseQueued ends claimant's lease.
func (t *tx) ReleaseQueued(orderID int64, claimant string) error {
	if err := t.canWrite("release queued order"); err != nil {
		return err
	}
	if claimant == "" {
		return nil
	}
	return t.exec("release queued order", `UPDATE queue SET claimant = '', lease_ns = 0 WHERE order_id = $1 AND claimant = $2`,
		orderID, claimant)
}
