package shop

import (
	"context"
	"strings"
)

// QueuedOrder is an order waiting on the fulfillment queue, with its
// delivery record (nil before the first attempt).
type QueuedOrder struct {
	OrderID  int64
	Delivery *Delivery
}

// Queue returns up to limit orders on the fulfillment queue, oldest first.
func (s *Service) Queue(ctx context.Context, limit int) ([]QueuedOrder, error) {
	var out []QueuedOrder
	err := s.Store.View(ctx, func(tx Tx) error {
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
			out = append(out, QueuedOrder{OrderID: id, Delivery: d})
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
		stale = false
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		switch order.Status {
		case StatusPaid, StatusProcessing:
		default:
			stale = true
			return tx.Dequeue(orderID)
		}
		d, err = tx.FindDelivery(orderID)
		if ErrorCode(err) == ENOTFOUND {
			d, err = &Delivery{OrderID: orderID}, nil
		}
		if err != nil {
			return err
		}
		if d.Provider == "" || (order.Status == StatusPaid && d.Payout == nil) {
			d.Provider = provider
		}
		d.UpdatedAt = s.now()
		order.Status = StatusProcessing
		if err := tx.PutOrder(order); err != nil {
			return err
		}
		return tx.PutDelivery(d)
	})
	if err != nil {
		return nil, nil, err
	}
	if stale {
		return nil, nil, Errorf(EINVALIDSTATE, "order %d is %s; only paid or processing orders can be delivered", order.ID, order.Status)
	}
	return order, d, nil
}

// SaveDelivery records a delivery's progress. It is refused unless the
// order is processing, so a worker that lost the order (an admin took it
// over) cannot overwrite what happened since.
//
// Errors: NOT_FOUND, INVALID_STATE.
func (s *Service) SaveDelivery(ctx context.Context, d *Delivery) error {
	return s.Store.Update(ctx, func(tx Tx) error {
		order, err := tx.FindOrderByID(d.OrderID)
		if err != nil {
			return err
		}
		if order.Status != StatusProcessing {
			return Errorf(EINVALIDSTATE, "order %d is %s, not processing", order.ID, order.Status)
		}
		c := *d
		c.UpdatedAt = s.now()
		return tx.PutDelivery(&c)
	})
}

// CompleteOrder marks an order delivered with a reference (tx hash or the
// provider's id) and takes it off the queue. adminID is 0 for the worker,
// which completes paid or processing orders. An admin (adminID > 0)
// completes only a manual order, after delivering it by hand: a paid or
// processing order belongs to the worker, which may be paying for it at
// this very moment. Completing an already completed order returns it
// unchanged.
//
// Errors: VALIDATION_ERROR (reference too long), NOT_FOUND, INVALID_STATE
// (the worker: not paid, processing or manual; an admin: not manual).
func (s *Service) CompleteOrder(ctx context.Context, adminID, orderID int64, ref string) (*Order, error) {
	ref = strings.TrimSpace(ref)
	if err := validateText("reference", ref, 256); err != nil {
		return nil, err
	}
	var order *Order
	changed := false
	err := s.Store.Update(ctx, func(tx Tx) error {
		changed = false
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		switch order.Status {
		case StatusCompleted:
			return nil
		case StatusManual:
		case StatusPaid, StatusProcessing:
			if adminID != 0 {
				return Errorf(EINVALIDSTATE, "order %d is %s and belongs to the fulfillment worker; only manual orders can be marked delivered by an admin", order.ID, order.Status)
			}
		default:
			if adminID != 0 {
				return Errorf(EINVALIDSTATE, "order %d is %s; only manual orders can be marked delivered by an admin", order.ID, order.Status)
			}
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid, processing or manual orders can be completed", order.ID, order.Status)
		}
		order.Status = StatusCompleted
		order.CompletedAt = s.now()
		order.FulfillmentRef = ref
		if adminID != 0 {
			order.FailureReason = ""
		}
		if err := tx.PutOrder(order); err != nil {
			return err
		}
		changed = true
		return tx.Dequeue(order.ID)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.emit(Event{Type: EventOrderCompleted, UserID: order.UserID, OrderID: order.ID})
	}
	return order, nil
}

// HoldOrder hands an order to the admins: it becomes manual with reason
// and leaves the queue. An admin then completes or refunds it.
//
// Errors: VALIDATION_ERROR, NOT_FOUND, INVALID_STATE (not paid or
// processing).
func (s *Service) HoldOrder(ctx context.Context, orderID int64, reason string) (*Order, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, Errorf(EVALIDATION, "holding an order needs a reason")
	}
	reason = truncateUTF8(reason, 256)
	var order *Order
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		if order.Status != StatusPaid && order.Status != StatusProcessing {
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid or processing orders can go manual", order.ID, order.Status)
		}
		order.Status = StatusManual
		order.FailureReason = reason
		if err := tx.PutOrder(order); err != nil {
			return err
		}
		return tx.Dequeue(order.ID)
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventOrderManual, UserID: order.UserID, OrderID: order.ID})
	return order, nil
}

// FailOrder records that an order cannot be delivered and refunds its
// price to the buyer's balance with a refund ledger entry, in one
// transaction: the order ends refunded, with reason. It is refused once a
// payment for the order may have left the hot wallet (a signed payout that
// did not expire): such an order must go to the admins (HoldOrder).
//
// Errors: VALIDATION_ERROR, NOT_FOUND, INVALID_STATE.
func (s *Service) FailOrder(ctx context.Context, orderID int64, reason string) (*Order, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, Errorf(EVALIDATION, "failing an order needs a reason")
	}
	reason = truncateUTF8(reason, 256)
	var order *Order
	var balance NanoTON
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		if order.Status != StatusPaid && order.Status != StatusProcessing {
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid or processing orders can fail", order.ID, order.Status)
		}
		d, err := tx.FindDelivery(orderID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return err
		}
		if d.PaymentMayBeOut() {
			return Errorf(EINVALIDSTATE, "order %d: a payment for it may have been sent; it needs an admin", order.ID)
		}
		order.Status = StatusFailed
		balance, err = s.refund(tx, order, 0, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventOrderRefunded, UserID: order.UserID, OrderID: order.ID, Amount: order.PriceTON, Balance: balance})
	return order, nil
}
