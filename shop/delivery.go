package shop

import (
	"context"
	"time"
)

// Delivery is the fulfillment worker's record of one order's delivery: the
// step it reached and what the provider was told and paid, so that after a
// crash or a retry the delivery resumes from where it stopped and never pays
// twice. It is saved before each step that has an effect outside the shop.
type Delivery struct {
	OrderID       int64
	Provider      string    // "fragment", "manual", "sandbox"
	Step          string    // provider-defined progress; "" = not started
	Attempts      int       // attempts that ended in a retryable error
	NextAttemptAt time.Time // when a retry may start; zero = now
	LastError     string    // the last error, safe to show admins

	// Provider data, each recorded before the step that depends on it.
	RequestID string // the provider's request id (Fragment req_id)
	// Session is which of the provider's sessions made the request
	// (Fragment: the line of FRAGMENT_COOKIES, 0 for the first), recorded
	// with RequestID so that a resumed delivery goes on in that session.
	Session   int
	PayTo     string  // where the provider asked us to pay
	PayAmount NanoTON // how much it asked
	// PayBy is when the provider's payment request expires (Fragment's
	// validUntil), recorded with PayTo; zero when it named no time.
	PayBy   time.Time
	Payload []byte // the message body it asked for (BOC), forwarded unchanged
	// ConfirmMethod and ConfirmParams are the call the provider asked for
	// once paid (Fragment's confirm_method and confirm_params).
	ConfirmMethod string
	ConfirmParams map[string]string
	Payout        *SignedPayout // the signed payment, recorded before its first broadcast
	Paid          *PayoutResult // the payment's outcome on chain, once known
	Confirmed     bool          // the provider acknowledged the payment
	Ref           string        // the delivery reference (tx hash or provider ref)

	UpdatedAt time.Time
}

// PaymentMayBeOut reports whether the delivery recorded a signed payout
// that did not expire: money may have left the hot wallet, so the order
// must not be refunded automatically.
func (d *Delivery) PaymentMayBeOut() bool {
	return d != nil && d.Payout != nil && (d.Paid == nil || d.Paid.State != PayoutExpired)
}

// QueuedOrder is an order waiting on the fulfillment queue, with its
// delivery record (nil before the first attempt).
type QueuedOrder struct {
	OrderID  int64
	UserID   int64     // the order's owner, for fair scheduling
	PaidAt   time.Time // when the order was paid
	Delivery *Delivery
}

// Queue returns up to limit orders on the fulfillment queue, oldest first.
func (s *Service) Queue(ctx context.Context, limit int) ([]QueuedOrder, error) {
	var out []QueuedOrder
	err := s.Store.View(ctx, func(tx Tx) error {
		out = out[:0]
		ids, err := tx.Queued(limit)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d, err := tx.FindDelivery(id)
			if ErrorCode(err) == ENOTFOUND {
				d, err = nil, nil
			}
			if err != nil {
				return err
			}
			q := QueuedOrder{OrderID: id, Delivery: d}
			if o, err := tx.FindOrderByID(id); err == nil {
				q.UserID, q.PaidAt = o.UserID, o.PaidAt
			} else if ErrorCode(err) != ENOTFOUND {
				return err
			}
			out = append(out, q)
		}
		return nil
	})
	return out, err
}

// ClaimOrder starts or resumes the delivery of a queued order by provider:
// a paid order becomes processing with a new delivery record; an order
// already processing (the worker stopped mid-delivery) is returned with its
// record as saved, to be resumed from its step.
//
// Errors: NOT_FOUND; INVALID_STATE when the order is no longer paid or
// processing (an admin took it over, it was refunded) — it is then removed
// from the queue.
func (s *Service) ClaimOrder(ctx context.Context, orderID int64, provider string) (*Order, *Delivery, error) {
	var order *Order
	var d *Delivery
	stale := false
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		order, d, stale, err = s.claimOrder(tx, orderID, provider)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if stale {
		return nil, nil, staleOrder(order)
	}
	return order, d, nil
}

// claimOrder is ClaimOrder's transaction: stale reports an order no
// longer deliverable, which it takes off the queue.
func (s *Service) claimOrder(tx Tx, orderID int64, provider string) (order *Order, d *Delivery, stale bool, err error) {
	if order, err = tx.FindOrderByID(orderID); err != nil {
		return nil, nil, false, err
	}
	if !order.Status.Delivering() {
		return order, nil, true, tx.Dequeue(orderID)
	}
	if d, err = findDelivery(tx, orderID); err != nil {
		return nil, nil, false, err
	}
	if d.Provider == "" || (order.Status == StatusPaid && d.Payout == nil) {
		d.Provider = provider
	}
	d.UpdatedAt = s.now()
	if order.Status == StatusPaid {
		if err := order.moveTo(StatusProcessing); err != nil {
			return nil, nil, false, err
		}
	}
	if err := tx.PutOrder(order); err != nil {
		return nil, nil, false, err
	}
	return order, d, false, tx.PutDelivery(d)
}

// findDelivery returns the delivery record of an order, or a new one.
func findDelivery(tx Tx, orderID int64) (*Delivery, error) {
	d, err := tx.FindDelivery(orderID)
	if ErrorCode(err) == ENOTFOUND {
		return &Delivery{OrderID: orderID}, nil
	}
	return d, err
}

// staleOrder is the error of a queued order that is no longer deliverable.
func staleOrder(o *Order) error {
	return Errorf(EINVALIDSTATE, "order %d is %s; only paid or processing orders can be delivered", o.ID, o.Status)
}

// SaveDelivery records a delivery's progress. It is refused unless the
// order is processing, so a worker that lost the order (an admin took it
// over) cannot overwrite what happened since.
//
// Errors: NOT_FOUND, INVALID_STATE.
func (s *Service) SaveDelivery(ctx context.Context, d *Delivery) error {
	return s.SaveDeliveries(ctx, []*Delivery{d})
}

// SaveDeliveries records the progress of several deliveries in one store
// transaction: all or none. The worker saves a batched payment this way on
// every order it pays before broadcasting it. It is refused, whole, unless
// every order is processing.
//
// Errors: NOT_FOUND, INVALID_STATE.
func (s *Service) SaveDeliveries(ctx context.Context, ds []*Delivery) error {
	return s.Store.Update(ctx, func(tx Tx) error { return s.saveDeliveries(tx, ds) })
}

// saveDeliveries is SaveDeliveries' transaction.
func (s *Service) saveDeliveries(tx Tx, ds []*Delivery) error {
	for _, d := range ds {
		order, err := tx.FindOrderByID(d.OrderID)
		if err != nil {
			return err
		}
		if order.Status != StatusProcessing {
			return Errorf(EINVALIDSTATE, "order %d is %s, not processing", order.ID, order.Status)
		}
		c := *d
		c.UpdatedAt = s.now()
		if err := tx.PutDelivery(&c); err != nil {
			return err
		}
	}
	return nil
}

// ErrUnaffordable is what a wallet answers, before signing anything, to a
// payment (or batch of payments) its balance cannot cover in full with its
// fees. Test with errors.Is.
var ErrUnaffordable = Errorf(EINSUFFICIENT, "the hot wallet's balance cannot cover this payment and its fees")
