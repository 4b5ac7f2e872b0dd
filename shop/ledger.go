package shop

import (
	"context"
	"errors"
	"math"
	"time"
)

// LedgerType says why a balance changed.
type LedgerType string

// Ledger entry types.
const (
	LedgerDeposit     LedgerType = "deposit"      // TON arrived with the user's memo, or an order-memo surplus
	LedgerOrder       LedgerType = "order"        // an order paid from balance (negative)
	LedgerRefund      LedgerType = "refund"       // a failed or refunded order's price returned
	LedgerAdminCredit LedgerType = "admin_credit" // an admin added funds
	LedgerAdminDebit  LedgerType = "admin_debit"  // an admin removed funds (negative)
)

// LedgerEntry is one change of one user's balance. Entries are append-only;
// for each user, the sum of Amount equals the balance and every prefix sum is
// BalanceAfter of that entry, never negative.
type LedgerEntry struct {
	ID           uint64     // global, monotonic; assigned by the store
	UserID       int64      // whose balance changed
	Type         LedgerType // why
	Amount       NanoTON    // signed change
	BalanceAfter NanoTON    // the balance right after this entry
	OrderID      int64      // the order concerned, if any
	TxHash       string     // the chain transaction concerned, if any
	AdminID      int64      // the admin who made the change; SystemActor if none
	Reason       string     // free text for admin changes and refunds
	CreatedAt    time.Time

	// A deposit paid in USDT: what arrived and how it was valued. Amount
	// is in TON as always.
	// JettonAmount and FeeTON are the USDT this entry credits and the fee
	// kept from it; for the surplus of an order priced in USDT, the USDT
	// beyond its price; for the surplus of an order priced in TON, the
	// whole transfer's (its TON value paid the order first).
	Asset        Asset    // "" (TON) or AssetUSDT
	JettonAmount int64    // USDT units (6 decimals)
	RateTONUSD   MicroUSD // the TON/USD rate at the moment of crediting
	RateUSDTUSD  MicroUSD // USDT_USD
	FeeTON       NanoTON  // the USDT fee, in TON
}

// LedgerFilter selects ledger entries of one user, newest first.
type LedgerFilter struct {
	UserID int64
	Before uint64 // cursor: only entries with ID < Before; 0 = from the newest
	Limit  int    // 1..MaxPageSize; 0 = DefaultPageSize
}

// Page sizes for listings.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// ClampLimit applies the page-size rules: 0 or less means DefaultPageSize,
// more than MaxPageSize means MaxPageSize.
func ClampLimit(n int) int {
	if n <= 0 {
		return DefaultPageSize
	}
	return min(n, MaxPageSize)
}

// Refund returns a paid order's price to its buyer's balance with a refund
// ledger entry, and marks it refunded. adminID is SystemActor when the system refunds
// (a permanent fulfillment failure). Orders in paid or manual can be
// refunded; an order being processed belongs to the fulfillment worker,
// which refunds it itself (FailOrder) or hands it to the admins (MoveToManual).
//
// Errors: VALIDATION_ERROR (no reason), NOT_FOUND, INVALID_STATE.
func (s *Service) Refund(ctx context.Context, adminID, orderID int64, reason string) (*Order, error) {
	reason, err := checkReason(reason, "a refund needs a reason")
	if err != nil {
		return nil, err
	}
	var order *Order
	var balance NanoTON
	err = s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = findOwnOrder(tx, AnyOwner, orderID); err != nil {
			return err
		}
		switch order.Status {
		case StatusPaid, StatusManual:
		default:
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid or manual orders can be refunded", order.ID, order.Status)
		}
		balance, err = s.refund(tx, order, adminID, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventOrderRefunded, UserID: order.UserID, OrderID: order.ID, Amount: order.PriceTON, Balance: balance})
	return order, nil
}

// refund credits order's price back to its buyer with a refund ledger
// entry, marks it refunded with reason and takes it off the queue. The
// caller has checked that the order may be refunded.
func (s *Service) refund(tx Tx, order *Order, adminID int64, reason string) (NanoTON, error) {
	user, err := findUser(tx, order.UserID)
	if err != nil {
		return 0, err
	}
	balance, err := s.post(tx, user, &LedgerEntry{Type: LedgerRefund, Amount: order.PriceTON, OrderID: order.ID, AdminID: adminID, Reason: reason})
	if err != nil {
		return 0, err
	}
	if err := order.moveTo(StatusRefunded); err != nil {
		return 0, err
	}
	order.FailureReason = reason
	if err := tx.PutOrder(order); err != nil {
		return 0, err
	}
	if err := s.recordOrder(tx, PartnerOrderRefunded, order); err != nil {
		return 0, err
	}
	return balance, tx.Dequeue(order.ID)
}

// BalanceAfter is the rule of every balance change: the balance after
// adding amount (negative for a debit), refused when it would fall below
// zero (INSUFFICIENT_BALANCE) or overflow. post applies it to every ledger
// entry; a front door may call it to preview a change (an admin's debit)
// before asking for confirmation.
//
// Errors: INSUFFICIENT_BALANCE; an internal error on overflow.
func (u *User) BalanceAfter(amount NanoTON) (NanoTON, error) {
	if amount > 0 && u.Balance > math.MaxInt64-amount {
		return 0, errors.New("balance overflow")
	}
	after := u.Balance + amount
	if after < 0 {
		return 0, Errorf(EINSUFFICIENT, "insufficient balance: %s TON needed, the balance is %s TON", -amount, u.Balance)
	}
	return after, nil
}

// post applies a ledger entry to user's balance: it refuses a negative
// result (INSUFFICIENT_BALANCE) or an overflow, appends the entry with its
// BalanceAfter and stores the user. It is the only place a balance changes.
func (s *Service) post(tx Tx, user *User, e *LedgerEntry) (NanoTON, error) {
	if e.Amount == 0 {
		return 0, errors.New("ledger entry of zero")
	}
	after, err := user.BalanceAfter(e.Amount)
	if err != nil {
		return 0, err
	}
	e.UserID = user.ID
	e.BalanceAfter = after
	e.CreatedAt = s.now()
	if err := tx.AppendLedger(e); err != nil {
		return 0, err
	}
	user.Balance = after
	return after, tx.PutUser(user)
}

// AdminCredit adds amount to a user's balance with an admin_credit ledger
// entry naming the admin and the reason.
//
// Errors: VALIDATION_ERROR (amount not positive, no reason), NOT_FOUND.
func (s *Service) AdminCredit(ctx context.Context, adminID, userID int64, amount NanoTON, reason string) (*LedgerEntry, error) {
	return s.adminPost(ctx, adminID, userID, LedgerAdminCredit, amount, reason)
}

// AdminDebit removes amount from a user's balance with an admin_debit
// ledger entry; it never makes a balance negative.
//
// Errors: VALIDATION_ERROR, NOT_FOUND, INSUFFICIENT_BALANCE.
func (s *Service) AdminDebit(ctx context.Context, adminID, userID int64, amount NanoTON, reason string) (*LedgerEntry, error) {
	return s.adminPost(ctx, adminID, userID, LedgerAdminDebit, -amount, reason)
}

func (s *Service) adminPost(ctx context.Context, adminID, userID int64, typ LedgerType, amount NanoTON, reason string) (*LedgerEntry, error) {
	if amount == 0 || (typ == LedgerAdminCredit) != (amount > 0) {
		return nil, Errorf(EVALIDATION, "amount must be positive")
	}
	reason, err := ValidateReason(reason)
	if err != nil {
		return nil, err
	}
	var entry *LedgerEntry
	err = s.Store.Update(ctx, func(tx Tx) error {
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		entry = &LedgerEntry{Type: typ, Amount: amount, AdminID: adminID, Reason: reason}
		if _, err = s.post(tx, user, entry); err != nil {
			return err
		}
		if typ == LedgerAdminCredit {
			return s.recordBalance(tx, PartnerBalanceCredited, user.ID, BalanceChange{Amount: amount, Balance: entry.BalanceAfter, Reason: CreditAdmin})
		}
		return s.recordBalance(tx, PartnerBalanceDebited, user.ID, BalanceChange{Amount: -amount, Balance: entry.BalanceAfter, Reason: DebitAdmin, Note: reason})
	})
	if err != nil {
		return nil, err
	}
	if typ == LedgerAdminCredit {
		s.emit(Event{Type: EventAdminCredit, UserID: userID, Amount: amount, Balance: entry.BalanceAfter})
	}
	return entry, nil
}

// Ledger lists a user's ledger entries, newest first. next is the cursor for
// the following page (pass it as f.Before), 0 when there is none.
func (s *Service) Ledger(ctx context.Context, f LedgerFilter) (entries []*LedgerEntry, next uint64, err error) {
	f.Limit = ClampLimit(f.Limit)
	var more bool
	err = s.Store.View(ctx, func(tx Tx) (err error) {
		entries, more, err = tx.FindLedger(f)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if more && len(entries) > 0 {
		next = entries[len(entries)-1].ID
	}
	return entries, next, nil
}
