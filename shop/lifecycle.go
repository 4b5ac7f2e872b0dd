package shop

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OrderStatus is where an order is in its life. Every order is created
// pending_payment, and every later change of status goes through
// Order.moveTo, which allows only the transitions of the lifecycle table,
// orderTransitions:
//
//	from             to          by
//	pending_payment  paid        CreateOrder (balance), CreditDeposit (ton_memo)
//	pending_payment  cancelled   CancelOrder (the owner)
//	pending_payment  expired     ExpireOrders (TTL passed unpaid)
//	expired          paid        CreditDeposit: a transfer sent before the TTL, booked after it
//	paid             processing  ClaimOrder (the fulfillment worker)
//	paid|processing  completed   CompleteOrder (the worker)
//	paid|processing  manual      MoveToManual (to the admins)
//	paid|processing  refunded    FailOrder (not deliverable: refunded at once)
//	manual           completed   CompleteOrder (an admin, after delivering by hand)
//	paid|manual      refunded    Refund (an admin)
//
// completed, cancelled and refunded are final. expired is not: a transfer
// sent before the deadline still pays the order. failed is a word of the
// partner contract (a status filter, a by_status count) but is never
// stored: an order that cannot be delivered is refunded in the same
// transaction (FailOrder), so it is stored refunded.
type OrderStatus string

// Order statuses; the words are part of the partner contract.
const (
	StatusPendingPayment OrderStatus = "pending_payment"
	StatusPaid           OrderStatus = "paid"
	StatusProcessing     OrderStatus = "processing"
	StatusCompleted      OrderStatus = "completed"
	StatusCancelled      OrderStatus = "cancelled"
	StatusExpired        OrderStatus = "expired"
	StatusManual         OrderStatus = "manual" // waits for an admin to deliver or refund it (MoveToManual)
	StatusFailed         OrderStatus = "failed" // never stored; see OrderStatus
	StatusRefunded       OrderStatus = "refunded"
)

// OrderStatuses lists every status of the partner contract, in lifecycle
// order.
var OrderStatuses = []OrderStatus{
	StatusPendingPayment, StatusPaid, StatusProcessing, StatusCompleted,
	StatusCancelled, StatusExpired, StatusManual, StatusFailed, StatusRefunded,
}

// orderTransitions is the order lifecycle: the statuses each status may
// become. A status without an entry is final.
var orderTransitions = map[OrderStatus][]OrderStatus{
	StatusPendingPayment: {StatusPaid, StatusCancelled, StatusExpired},
	StatusExpired:        {StatusPaid},
	StatusPaid:           {StatusProcessing, StatusCompleted, StatusManual, StatusRefunded},
	StatusProcessing:     {StatusCompleted, StatusManual, StatusRefunded},
	StatusManual:         {StatusCompleted, StatusRefunded},
}

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool { return slices.Contains(OrderStatuses, s) }

// CanBecome reports whether the lifecycle allows an order in s to move to
// next. Staying in s is not a transition.
func (s OrderStatus) CanBecome(next OrderStatus) bool {
	return slices.Contains(orderTransitions[s], next)
}

// Final reports whether no transition leaves s: completed, cancelled,
// refunded (and failed, which is never stored). expired is not final.
func (s OrderStatus) Final() bool { return s.Valid() && len(orderTransitions[s]) == 0 }

// Delivering reports whether an order in s is with the fulfillment worker
// (paid or processing), so that the outcome of its delivery is not known
// yet. Any other status of a paid order is that outcome: completed, manual
// or refunded.
func (s OrderStatus) Delivering() bool { return s == StatusPaid || s == StatusProcessing }

// moveTo changes o's status to next. Callers check the state first and
// answer with their own errors; a change the lifecycle table does not
// allow is a bug, refused as an internal error.
func (o *Order) moveTo(next OrderStatus) error {
	if !o.Status.CanBecome(next) {
		return fmt.Errorf("shop: order %d: %s -> %s is not in the order lifecycle", o.ID, o.Status, next)
	}
	o.Status = next
	return nil
}

// markPaid moves order to paid, stores it and queues it for fulfillment.
func (s *Service) markPaid(tx Tx, order *Order, txHash string) error {
	if err := order.moveTo(StatusPaid); err != nil {
		return err
	}
	order.PaidAt = s.now()
	order.PaidTxHash = txHash
	if err := tx.PutOrder(order); err != nil {
		return err
	}
	if err := s.recordOrder(tx, PartnerOrderPaid, order); err != nil {
		return err
	}
	return tx.Enqueue(order.ID)
}

// CancelOrder cancels an unpaid order of its owner and emits
// EventOrderCancelled. Cancelling an order that is already cancelled
// returns it unchanged (and emits nothing), so a retried cancel succeeds.
//
// Errors: NOT_FOUND (no such order, or not the user's),
// ORDER_NOT_CANCELLABLE (neither pending_payment nor cancelled).
func (s *Service) CancelOrder(ctx context.Context, userID, orderID int64) (*Order, error) {
	var order *Order
	changed := false
	err := s.Store.Update(ctx, func(tx Tx) error {
		changed = false
		var err error
		if order, err = findOwnOrder(tx, userID, orderID); err != nil {
			return err
		}
		if order.Status == StatusCancelled {
			return nil
		}
		if order.Status != StatusPendingPayment {
			return Errorf(ENOTCANCELLABLE, "order %d is %s; only pending_payment orders can be cancelled", order.ID, order.Status)
		}
		if err := order.moveTo(StatusCancelled); err != nil {
			return err
		}
		if err := tx.PutOrder(order); err != nil {
			return err
		}
		changed = true
		return s.recordOrder(tx, PartnerOrderCancelled, order)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.emit(Event{Type: EventOrderCancelled, UserID: order.UserID, OrderID: order.ID})
	}
	return order, nil
}

// expireChunk and idempotencyChunk bound the work of one maintenance
// transaction, so that a sweep never holds the store's write lock for long
// (the target: 10 ms) whatever is due. The commit dominates: it writes every
// page the transaction changed, and each expired order changes about five
// pages in random places (its record, its owner's status index and
// counters), each deleted idempotency record about two.
const (
	expireChunk      = 10
	idempotencyChunk = 25
)

// ExpireOrders moves every pending_payment order whose TTL has passed to
// expired and forgets idempotency keys older than 24 h. It returns how many
// orders expired. A payment that arrives later still reaches the buyer's
// balance (see CreditDeposit). It reads only what is due (the store's
// expiry indexes) and works in transactions of at most expireChunk
// records, so other writers wait for one chunk at most.
func (s *Service) ExpireOrders(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	for {
		// Most sweeps find nothing due: look before taking the write lock.
		var due int
		err := s.Store.View(ctx, func(tx Tx) error {
			ids, err := tx.OrdersDue(now, 1)
			due = len(ids)
			return err
		})
		if err != nil || due == 0 {
			if err != nil {
				return total, err
			}
			break
		}
		var expired []*Order
		err = s.Store.Update(ctx, func(tx Tx) error {
			expired = expired[:0]
			ids, err := tx.OrdersDue(now, expireChunk)
			if err != nil {
				return err
			}
			due = len(ids)
			for _, id := range ids {
				o, err := tx.FindOrderByID(id)
				if err != nil {
					return err
				}
				if o.Status != StatusPendingPayment { // not for the index, but be safe
					continue
				}
				if err := o.moveTo(StatusExpired); err != nil {
					return err
				}
				if err := tx.PutOrder(o); err != nil {
					return err
				}
				if err := s.recordOrder(tx, PartnerOrderExpired, o); err != nil {
					return err
				}
				expired = append(expired, o)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		for _, o := range expired {
			s.emit(Event{Type: EventOrderExpired, UserID: o.UserID, OrderID: o.ID})
		}
		total += len(expired)
		if due < expireChunk || len(expired) == 0 {
			break
		}
	}
	_, err := s.PurgeIdempotency(ctx, now)
	return total, err
}

// PurgeIdempotency deletes the idempotency records that expired before now,
// in transactions of at most idempotencyChunk records, and returns how
// many.
func (s *Service) PurgeIdempotency(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := s.Store.View(ctx, func(tx Tx) (err error) {
			n, err = tx.CountIdempotencyExpired(now, 1)
			return err
		})
		if err != nil || n == 0 {
			return total, err
		}
		err = s.Store.Update(ctx, func(tx Tx) (err error) {
			n, err = tx.DeleteIdempotencyExpired(now, idempotencyChunk)
			return err
		})
		total += n
		if err != nil || n < idempotencyChunk {
			return total, err
		}
	}
}

// RunMaintenance calls ExpireOrders and PurgeQuotes every interval until
// ctx is done. Failures are logged and retried at the next tick.
func (s *Service) RunMaintenance(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.ExpireOrders(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("expire orders", "error", err)
		} else if n > 0 {
			s.Logger.Info("orders expired", "count", n)
		}
		if n, err := s.PurgeQuotes(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("purge quotes", "error", err)
		} else if n > 0 {
			s.Logger.Debug("expired quotes deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// CompleteOrder marks an order delivered with a reference (tx hash or the
// provider's id) and takes it off the queue. adminID is SystemActor for the
// worker, which completes paid or processing orders. An admin (adminID > 0)
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
	var reward *Event
	changed := false
	err := s.Store.Update(ctx, func(tx Tx) error {
		changed, reward = false, nil
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		switch order.Status {
		case StatusCompleted:
			return nil
		case StatusManual:
		case StatusPaid, StatusProcessing:
			if adminID != SystemActor {
				return Errorf(EINVALIDSTATE, "order %d is %s and belongs to the fulfillment worker; only manual orders can be marked delivered by an admin", order.ID, order.Status)
			}
		default:
			if adminID != SystemActor {
				return Errorf(EINVALIDSTATE, "order %d is %s; only manual orders can be marked delivered by an admin", order.ID, order.Status)
			}
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid, processing or manual orders can be completed", order.ID, order.Status)
		}
		if err := order.moveTo(StatusCompleted); err != nil {
			return err
		}
		order.CompletedAt = s.now()
		order.FulfillmentRef = ref
		if adminID != SystemActor {
			order.FailureReason = ""
		}
		if err := tx.PutOrder(order); err != nil {
			return err
		}
		if err := s.recordOrder(tx, PartnerOrderCompleted, order); err != nil {
			return err
		}
		changed = true
		if reward, err = s.creditReferrer(tx, order); err != nil {
			return err
		}
		return tx.Dequeue(order.ID)
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.emit(Event{Type: EventOrderCompleted, UserID: order.UserID, OrderID: order.ID})
	}
	if reward != nil {
		s.emit(*reward)
	}
	return order, nil
}

// MoveToManual hands an order to the admins: it becomes manual with reason
// and leaves the queue. An admin then completes or refunds it.
//
// Errors: VALIDATION_ERROR, NOT_FOUND, INVALID_STATE (not paid or
// processing).
func (s *Service) MoveToManual(ctx context.Context, orderID int64, reason string) (*Order, error) {
	reason, err := cutReason(reason, "moving an order to manual needs a reason")
	if err != nil {
		return nil, err
	}
	var order *Order
	err = s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		if !order.Status.Delivering() {
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid or processing orders can go manual", order.ID, order.Status)
		}
		if err := order.moveTo(StatusManual); err != nil {
			return err
		}
		order.FailureReason = reason
		if err := tx.PutOrder(order); err != nil {
			return err
		}
		if err := s.recordOrder(tx, PartnerOrderManual, order); err != nil {
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
// did not expire): such an order must go to the admins (MoveToManual).
//
// Errors: VALIDATION_ERROR, NOT_FOUND, INVALID_STATE.
func (s *Service) FailOrder(ctx context.Context, orderID int64, reason string) (*Order, error) {
	reason, err := cutReason(reason, "failing an order needs a reason")
	if err != nil {
		return nil, err
	}
	var order *Order
	var balance NanoTON
	err = s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = tx.FindOrderByID(orderID); err != nil {
			return err
		}
		if !order.Status.Delivering() {
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid or processing orders can fail", order.ID, order.Status)
		}
		d, err := tx.FindDelivery(orderID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return err
		}
		if d.PaymentMayBeOut() {
			return Errorf(EINVALIDSTATE, "order %d: a payment for it may have been sent; it needs an admin", order.ID)
		}
		balance, err = s.refund(tx, order, SystemActor, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventOrderRefunded, UserID: order.UserID, OrderID: order.ID, Amount: order.PriceTON, Balance: balance})
	return order, nil
}
