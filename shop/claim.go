package shop

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Several replicas share the fulfillment queue: each claims an order
// (Tx.ClaimQueued) before working on it, for a lease, and every delivery
// save it makes is refused once another claimant took the order. The
// rules below are the shop's, written once for every store.
//
// A claim is a preparer's or the payer's. Only the payer (the leader's
// worker, the one process that signs with the hot wallet) records and
// resumes payments: a preparer can neither claim an order whose delivery
// holds a payment nor save one that would record or drop a payment. So a
// recorded payout belongs to the payer whatever the leases and the
// replicas' clocks say, and one order's payment is only ever made by the
// one process that may sign.

// payerHolder begins the name of every payer's lease: a payer takes a
// payer's lease over (ClaimOrderLeased).
const payerHolder = "payer:"

// Claim is how a replica's worker claims queued orders.
type Claim struct {
	Replica string        // names the claimant in logs; required
	Lease   time.Duration // how long a claim holds without a save; required
	Pays    bool          // the payer's claim; else a preparer's
}

// Lease is one claim of one order, won by ClaimOrderLeased: saves made
// with it are refused once it is lost.
type Lease struct {
	Claim
	// Holder is the claimant recorded on the queue entry: the replica and
	// a nonce of this claim, so that a claim lost and won again by the
	// same replica is a new lease, and the old one's saves are refused.
	Holder string
}

// ErrLeaseLost is returned by SaveDeliveriesLeased when the order is no
// longer leased to the saver: another replica claimed it (the saver's
// lease ran out) or it left the queue. Nothing was saved. Test with
// errors.Is.
var ErrLeaseLost = Errorf(EINVALIDSTATE, "this replica no longer holds the order's claim; another replica has it")

// ErrPayerOnly is returned by SaveDeliveriesLeased when a preparer's save
// would record a payment, or change a delivery that holds one: payments
// are the payer's. Nothing was saved. Test with errors.Is.
var ErrPayerOnly = Errorf(EINVALIDSTATE, "only the payer records or changes a delivery's payment")

// HasPayment reports whether d (nil: none yet) holds a payment, made or
// to be resumed: only the payer may go on with it.
func (d *Delivery) HasPayment() bool {
	return d != nil && (d.Payout != nil || d.Paid != nil || d.Confirmed)
}

// ClaimOrderLeased is ClaimOrder for one of several replicas: in the same
// transaction it leases the order to a new claim of c (Tx.ClaimQueued) and
// starts or resumes the delivery only if it won. It returns a nil order,
// delivery and lease when another claim holds the order, or when c is a
// preparer's and the delivery holds a payment.
//
// A payer's claim takes over another payer's lease at once: there is one
// payer at a time, the leader, whose store writes are fenced (a deposed
// leader's are refused: shop.ErrDeposed), so the lease of a payer that
// died or was deposed guards nothing, and a new leader resumes its
// payments without waiting the lease out. A resumed payment is only
// checked or re-broadcast, never signed again.
//
// Errors: as ClaimOrder's.
func (s *Service) ClaimOrderLeased(ctx context.Context, orderID int64, provider string, c Claim) (order *Order, d *Delivery, l *Lease, err error) {
	l = &Lease{Claim: c, Holder: c.Replica + "/" + nonce()}
	takeover := ""
	if c.Pays {
		l.Holder, takeover = payerHolder+l.Holder, payerHolder
	}
	var won, stale bool
	err = s.Store.Update(ctx, func(tx Tx) error {
		order, d, won, stale = nil, nil, false, false
		now := s.now()
		ok, err := tx.ClaimQueued(orderID, l.Holder, takeover, now, now.Add(c.Lease))
		if err != nil || !ok {
			return err
		}
		if !c.Pays {
			// Read before claimOrder writes anything: a preparer leaves a
			// payment alone.
			cur, err := tx.FindDelivery(orderID)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return err
			}
			if err == nil && cur.HasPayment() {
				return tx.ReleaseQueued(orderID, l.Holder)
			}
		}
		won = true
		order, d, stale, err = s.claimOrder(tx, orderID, provider)
		return err
	})
	switch {
	case err != nil:
		return nil, nil, nil, err
	case stale:
		return nil, nil, nil, staleOrder(order)
	case !won:
		return nil, nil, nil, nil
	}
	return order, d, l, nil
}

// SaveDeliveriesLeased is SaveDeliveries for deliveries of orders claimed
// with leases, ls[i] the lease of ds[i]'s order: refused whole, with
// ErrLeaseLost, unless every order is still leased to its lease
// (Tx.HoldQueued), which it renews; and, for a preparer's lease, with
// ErrPayerOnly when a save would record a payment or change a delivery
// that holds one.
//
// Errors: as SaveDeliveries', ErrLeaseLost, ErrPayerOnly.
func (s *Service) SaveDeliveriesLeased(ctx context.Context, ds []*Delivery, ls []*Lease) error {
	if len(ls) != len(ds) {
		return fmt.Errorf("shop: %d leases for %d deliveries", len(ls), len(ds))
	}
	return s.Store.Update(ctx, func(tx Tx) error {
		for i, d := range ds {
			l := ls[i]
			if l == nil {
				return ErrLeaseLost
			}
			held, err := tx.HoldQueued(d.OrderID, l.Holder, s.now().Add(l.Lease))
			if err != nil {
				return err
			}
			if !held {
				return ErrLeaseLost
			}
			if l.Pays {
				continue
			}
			cur, err := tx.FindDelivery(d.OrderID)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return err
			}
			if d.HasPayment() || (err == nil && cur.HasPayment()) {
				return ErrPayerOnly
			}
		}
		return s.saveDeliveries(tx, ds)
	})
}

// ReleaseOrder ends l's lease on an order, so that another claim (the
// payer's, once it is prepared) may take it at once; an order l no longer
// holds is left alone.
func (s *Service) ReleaseOrder(ctx context.Context, orderID int64, l *Lease) error {
	return s.Store.Update(ctx, func(tx Tx) error { return tx.ReleaseQueued(orderID, l.Holder) })
}

// HoldsOrder renews l's lease on an order and reports whether l still
// held it; false when another claim took it or it left the queue. The
// worker asks before it finishes an order (completes, refunds, hands it
// to the admins) on a lease.
func (s *Service) HoldsOrder(ctx context.Context, orderID int64, l *Lease) (bool, error) {
	var held bool
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		held, err = tx.HoldQueued(orderID, l.Holder, s.now().Add(l.Lease))
		return err
	})
	return held, err
}

// nonce is 8 random bytes in hex.
func nonce() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
