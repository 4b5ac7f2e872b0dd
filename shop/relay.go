package shop

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Relay brings the events of the other replicas to this one. Several
// processes (replicas) may run one shop on one store (PostgreSQL); each
// emits Events to its own subscribers only, after its own transactions.
// The partner-visible events are also in the store's outbox, in commit
// order, each stamped with the Service.Replica that recorded it. A Relay
// follows the outbox from a cursor, from where it was when the relay
// started (Seek: nothing older is replayed), and publishes each event that
// another replica recorded to this Service's subscribers as the Event
// that replica emitted, with Remote set: once per replica, in commit
// order, and never an event of its own (those its subscribers had
// already).
//
// It reads when woken (Wake: the store's notification of a commit) and
// every Poll in any case, so that a lost wake-up delays an event but never
// loses it. On a store of one process there is nothing to relay: leave it
// out.
//
// Outbox events and Events map as follows (the others — order.created,
// balance.debited, webhook.test — have no Event):
//
//	order.paid, .completed, .manual, .expired, .cancelled → EventOrder*
//	                     (order.paid by a transfer: DepositID by its hash)
//	order.refunded     → EventOrderRefunded (Amount: the price; Balance: the refund's ledger entry)
//	balance.credited   → by Reason: EventDepositCredited (deposit, order_surplus, underpayment,
//	                     late_payment; DepositID by the transfer's hash), EventAdminCredit,
//	                     EventReferralCredited
type Relay struct {
	svc    *Service
	wake   <-chan struct{}
	poll   time.Duration
	logger *slog.Logger

	mu     sync.Mutex
	seeked bool
	cursor uint64 // the Seq of the last event looked at
}

// RelayConfig configures NewRelay.
type RelayConfig struct {
	// Shop is the service whose subscribers get the events; required,
	// with its Replica set.
	Shop *Service
	// Wake makes the relay read the outbox now (pgstore.Listener.C);
	// optional.
	Wake <-chan struct{}
	// Poll is how often the outbox is read without a wake-up; default
	// DefaultRelayPoll.
	Poll time.Duration
	// Logger; default the Service's.
	Logger *slog.Logger
}

// DefaultRelayPoll is a Relay's read interval without wake-ups.
const DefaultRelayPoll = 5 * time.Second

// relayPage is how many events one read of the outbox takes at most.
const relayPage = 200

// relaySeekBack is how far back of now Seek starts its walk to the end of
// the outbox: from the last event created that long ago it reads forward,
// as any reader of the outbox, so that it ends where a reader may (and
// may later read an event that commits with a lower number, if the store
// numbers events before commit).
const relaySeekBack = 30 * time.Second

// NewRelay returns a relay of cfg.Shop. Run runs it.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Shop == nil {
		return nil, errors.New("shop: relay: no service")
	}
	if cfg.Shop.Replica == "" {
		return nil, errors.New("shop: relay: the service has no Replica: its own events could not be told from the others'")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultRelayPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = cfg.Shop.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Relay{svc: cfg.Shop, wake: cfg.Wake, poll: cfg.Poll, logger: cfg.Logger}, nil
}

// NewReplicaID returns a random Service.Replica: "rep_" and 26 base32
// characters.
func NewReplicaID() string { return newEventID("rep_") }

// Seek moves the relay to the end of the outbox, so that it publishes
// only events committed from now on. Run calls it unless it was called;
// call it before the service starts taking requests for a clean start.
func (r *Relay) Seek(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seek(ctx)
}

func (r *Relay) seek(ctx context.Context) error {
	cursor, err := outboxEnd(ctx, r.svc)
	if err != nil {
		return err
	}
	r.cursor, r.seeked = cursor, true
	return nil
}

// outboxEnd returns the Seq of the last event at the end of the outbox as
// a reader sees it now (see relaySeekBack), 0 for an empty outbox.
func outboxEnd(ctx context.Context, svc *Service) (uint64, error) {
	var cursor uint64
	err := svc.Store.View(ctx, func(tx Tx) error {
		var err error
		if cursor, err = tx.OutboxSeqBefore(svc.now().Add(-relaySeekBack)); err != nil {
			return err
		}
		for {
			es, err := tx.OutboxAfter(cursor, relayPage)
			if err != nil || len(es) == 0 {
				return err
			}
			cursor = es[len(es)-1].Seq
		}
	})
	return cursor, err
}

// Run relays until ctx ends and returns nil. Store errors are logged
// (once per failing streak) and the read is retried at the next wake-up
// or poll; the cursor only moves past events that were published.
func (r *Relay) Run(ctx context.Context) error {
	follow(ctx, "relay", r.logger, r.poll, r.step, r.wake, nil)
	return nil
}

// follow runs step (a reader of the outbox) at once, then at every
// wake-up on either channel (nil: none) and every poll, until ctx ends.
// A failing step is logged, prefixed with what, once per failing streak,
// and runs again at the next turn.
func follow(ctx context.Context, what string, logger *slog.Logger, poll time.Duration, step func(context.Context) error, wake, poke <-chan struct{}) {
	t := time.NewTicker(poll)
	defer t.Stop()
	failing := false
	for {
		err := step(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			logger.Warn(what+": cannot follow the outbox; retrying", "err", err, "every", poll)
		case err == nil && failing:
			logger.Info(what + ": following the outbox again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poke:
		case <-t.C:
		}
	}
}

// step publishes the events committed since the last step (seeking
// first if the relay has not), page by page, and returns after the last.
func (r *Relay) step(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seeked {
		if err := r.seek(ctx); err != nil {
			return err
		}
	}
	for {
		var events []Event
		var last uint64
		n := 0
		err := r.svc.Store.View(ctx, func(tx Tx) error {
			events, last = events[:0], r.cursor
			es, err := tx.OutboxAfter(r.cursor, relayPage)
			if err != nil {
				return err
			}
			n = len(es)
			for _, oe := range es {
				last = oe.Seq
				if oe.Replica == r.svc.Replica {
					continue // published here when it committed
				}
				e, ok, err := relayed(tx, oe)
				if err != nil {
					return err
				}
				if ok {
					events = append(events, e)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		r.cursor = last
		r.svc.emit(events...)
		if n < relayPage {
			return nil
		}
	}
}

// InOutbox reports whether the Events of type t have an outbox event,
// from which relayed makes them again (the table in Relay's comment): a
// Relay publishes them on the other replicas, and a Notifier tells buyers
// about them. The others (unmatched and ignored deposits, webhook alerts)
// exist only in the process that emitted them.
func InOutbox(t EventType) bool { return inOutbox[t] }

var inOutbox = map[EventType]bool{
	EventOrderPaid: true, EventOrderCompleted: true, EventOrderManual: true, EventOrderExpired: true,
	EventOrderCancelled: true, EventOrderRefunded: true,
	EventDepositCredited: true, EventAdminCredit: true, EventReferralCredited: true,
}

// relayed returns the Event the replica that recorded e emitted with it,
// reading what e lacks in tx; ok is false when there is none.
func relayed(tx Tx, e *OutboxEvent) (ev Event, ok bool, err error) {
	ev = Event{UserID: e.UserID, Remote: true}
	if o := e.Order; o != nil {
		ev.UserID, ev.OrderID = o.UserID, o.ID
		switch e.Type {
		case PartnerOrderPaid:
			ev.Type = EventOrderPaid
			if ev.DepositID, err = depositID(tx, o.PaidTxHash); err != nil {
				return Event{}, false, err
			}
		case PartnerOrderCompleted:
			ev.Type = EventOrderCompleted
		case PartnerOrderManual:
			ev.Type = EventOrderManual
		case PartnerOrderExpired:
			ev.Type = EventOrderExpired
		case PartnerOrderCancelled:
			ev.Type = EventOrderCancelled
		case PartnerOrderRefunded:
			ev.Type, ev.Amount = EventOrderRefunded, o.PriceTON
			if ev.Balance, err = refundBalance(tx, o); err != nil {
				return Event{}, false, err
			}
		default:
			return Event{}, false, nil
		}
		return ev, true, nil
	}
	b := e.Balance
	if e.Type != PartnerBalanceCredited || b == nil {
		return Event{}, false, nil
	}
	ev.Amount, ev.Balance, ev.OrderID = b.Amount, b.Balance, b.OrderID
	switch b.Reason {
	case CreditDeposit, CreditOrderSurplus, CreditUnderpayment, CreditLatePayment:
		ev.Type = EventDepositCredited
		if ev.DepositID, err = depositID(tx, b.TxHash); err != nil {
			return Event{}, false, err
		}
	case CreditAdmin:
		ev.Type = EventAdminCredit
	case CreditReferral:
		ev.Type = EventReferralCredited
	default:
		return Event{}, false, nil
	}
	return ev, true, nil
}

// depositID is the id of the deposit of a chain transaction, 0 for none.
func depositID(tx Tx, txHash string) (uint64, error) {
	if txHash == "" {
		return 0, nil
	}
	d, err := tx.FindDepositByHash(txHash)
	if ErrorCode(err) == ENOTFOUND {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	return d.ID, nil
}

// refundBalance is the buyer's balance right after order's refund: its
// ledger entry's, among the buyer's latest entries; 0 (the subscriber
// reads the balance of now) when it is not among them.
func refundBalance(tx Tx, o *Order) (NanoTON, error) {
	entries, _, err := tx.FindLedger(LedgerFilter{UserID: o.UserID, Limit: MaxPageSize})
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Type == LedgerRefund && e.OrderID == o.ID {
			return e.BalanceAfter, nil
		}
	}
	return 0, nil
}
