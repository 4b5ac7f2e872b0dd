package shop

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"
)

// PartnerEventType names a partner-visible change: what the event feed
// (GET /api/v1/events) lists and webhooks deliver.
type PartnerEventType string

// Partner event types.
const (
	PartnerOrderCreated    PartnerEventType = "order.created"
	PartnerOrderPaid       PartnerEventType = "order.paid"
	PartnerOrderCompleted  PartnerEventType = "order.completed"
	PartnerOrderManual     PartnerEventType = "order.manual"
	PartnerOrderRefunded   PartnerEventType = "order.refunded"
	PartnerOrderExpired    PartnerEventType = "order.expired"
	PartnerOrderCancelled  PartnerEventType = "order.cancelled"
	PartnerBalanceCredited PartnerEventType = "balance.credited"
	PartnerBalanceDebited  PartnerEventType = "balance.debited"
	// PartnerWebhookTest is sent to one endpoint on request; it is not
	// part of the feed and cannot be subscribed to.
	PartnerWebhookTest PartnerEventType = "webhook.test"
)

// PartnerEventTypes lists the types an endpoint may subscribe to.
var PartnerEventTypes = []PartnerEventType{
	PartnerOrderCreated, PartnerOrderPaid, PartnerOrderCompleted, PartnerOrderManual,
	PartnerOrderRefunded, PartnerOrderExpired, PartnerOrderCancelled,
	PartnerBalanceCredited, PartnerBalanceDebited,
}

// Reasons of balance events (BalanceChange.Reason).
const (
	CreditDeposit      = "deposit"       // a transfer with the user's personal memo (or an unmatched one an admin assigned)
	CreditOrderSurplus = "order_surplus" // what a transfer paid beyond its order's price
	CreditUnderpayment = "underpayment"  // a transfer with an order's memo, too small to pay it
	CreditLatePayment  = "late_payment"  // a transfer with an order's memo that could no longer pay it
	CreditAdmin        = "admin_credit"
	CreditReferral     = "referral" // a share of a completed purchase by a user the partner referred (OrderID: that order)
	DebitAdmin         = "admin_debit"
)

// OutboxRetention is how long the outbox keeps events (the feed's
// history, what a replay can reach) and webhook deliveries.
const OutboxRetention = 30 * 24 * time.Hour

// OutboxEvent is a partner-visible change, written by the shop in the same
// store transaction as the change (the outbox): committed with it, rolled
// back with it. It holds what rendering it needs as of that moment.
type OutboxEvent struct {
	Seq       uint64 // set by the store: commit order, never reused
	ID        string // "evt_" + 26 base32 characters
	Type      PartnerEventType
	UserID    int64 // the partner the event belongs to
	CreatedAt time.Time
	Order     *Order         // order.*: the order as committed
	Balance   *BalanceChange // balance.*
	WebhookID string         // webhook.test: the one endpoint it is for
	// Replica is the Service.Replica that recorded the event ("" for one
	// process): internal, never shown to partners.
	Replica string
}

// BalanceChange is what a balance event reports.
type BalanceChange struct {
	Amount  NanoTON // positive: credited or debited
	Balance NanoTON // the balance after
	TxHash  string  // the chain transaction, if any
	Memo    string  // the transfer's memo, if any
	OrderID int64   // the order whose memo the transfer carried, if any
	Reason  string  // one of the Credit*/Debit* reasons
	Note    string  // an admin's reason for a debit
	// Asset is AssetUSDT when the credit came from a USDT transfer (Amount
	// is then its value in TON) and "" for TON; JettonAmount is the USDT
	// in jetton units (6 decimals) that Amount values.
	Asset        Asset
	JettonAmount int64
}

// newEventID returns a random id with prefix: 16 random bytes in 26
// lowercase base32 characters.
func newEventID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// record appends a partner event to the outbox in tx: the one place
// events are written. It copies what it keeps, so later changes to order
// do not reach the event.
func (s *Service) record(tx Tx, e *OutboxEvent) error {
	e.ID = newEventID("evt_")
	e.CreatedAt = s.now()
	e.Replica = s.Replica
	if e.Order != nil {
		o := *e.Order
		e.Order = &o
		e.UserID = o.UserID
	}
	if e.Balance != nil {
		b := *e.Balance
		e.Balance = &b
	}
	return tx.AppendOutbox(e)
}

// recordOrder records an order.* event with the order as it is now.
func (s *Service) recordOrder(tx Tx, typ PartnerEventType, order *Order) error {
	return s.record(tx, &OutboxEvent{Type: typ, Order: order})
}

// recordBalance records a balance.* event of user.
func (s *Service) recordBalance(tx Tx, typ PartnerEventType, userID int64, c BalanceChange) error {
	return s.record(tx, &OutboxEvent{Type: typ, UserID: userID, Balance: &c})
}

// MaxEventPage is the most events one feed page holds; DefaultEventPage
// is a page without a limit.
const (
	DefaultEventPage = 100
	MaxEventPage     = 500
)

// Events returns up to limit of a user's events after the sequence number
// after (0: from the oldest retained), in commit order, and whether more
// follow.
func (s *Service) Events(ctx context.Context, userID int64, after uint64, limit int) ([]*OutboxEvent, bool, error) {
	if limit <= 0 {
		limit = DefaultEventPage
	}
	limit = min(limit, MaxEventPage)
	if err := s.catchUpOutbox(ctx); err != nil {
		return nil, false, err
	}
	var events []*OutboxEvent
	var more bool
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		events, more, err = tx.FindOutboxByUser(userID, after, limit)
		return err
	})
	return events, more, err
}

// pruneChunk is how many records one pruning transaction deletes at most:
// short write locks, repeated until nothing is left.
const pruneChunk = 500

// PruneOutbox deletes events and webhook deliveries older than
// OutboxRetention, in transactions of at most pruneChunk records each, and
// returns how many it deleted.
func (s *Service) PruneOutbox(ctx context.Context) (int, error) {
	total := 0
	for {
		cutoff := s.now().Add(-OutboxRetention)
		var n int
		err := s.Store.Update(ctx, func(tx Tx) error {
			n = 0
			d, err := tx.DeleteWebhookDeliveriesBefore(cutoff, pruneChunk)
			if err != nil {
				return err
			}
			e, err := tx.DeleteOutboxBefore(cutoff, pruneChunk-d)
			n = d + e
			return err
		})
		total += n
		if err != nil || n < pruneChunk {
			return total, err
		}
	}
}
