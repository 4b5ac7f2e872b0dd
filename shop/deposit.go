package shop

import (
	"context"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
)

// DepositStatus is what became of an incoming transfer.
type DepositStatus string

// Deposit statuses.
const (
	DepositCredited  DepositStatus = "credited"   // credited to the balance of the user whose personal memo it carried
	DepositOrderPaid DepositStatus = "order_paid" // paid the order whose memo it carried (any surplus credited)
	DepositUnmatched DepositStatus = "unmatched"  // memo matched nothing; waits for an admin
	DepositAssigned  DepositStatus = "assigned"   // was unmatched; an admin credited it to a user
	DepositIgnored   DepositStatus = "ignored"    // below Service.MinDeposit: recorded as dust, never credited, never alerted
)

// ReasonDust is the Reason of an ignored deposit: its amount was below
// Service.MinDeposit.
const ReasonDust = "dust"

// Why a transfer carries no memo: the values of Transfer.NoMemoReason, kept
// as the Reason of its deposit. The chain watcher sets them; any other value
// is stored as NoMemoOther.
const (
	NoMemoNone      = "no_comment"          // no body at all, or an empty one (a plain transfer)
	NoMemoEmpty     = "empty_comment"       // a text comment (op 0) with no text but white space
	NoMemoEncrypted = "encrypted_comment"   // an encrypted comment (op 0x2167da4b) the shop cannot read
	NoMemoBinary    = "binary_comment"      // op 0, but the bytes are not UTF-8 text (0xff "binary comments")
	NoMemoMalformed = "malformed_comment"   // op 0, but not a well-formed snake string
	NoMemoJetton    = "jetton_notification" // a jetton transfer notification (op 0x7362d09c) carrying TON
	NoMemoOther     = "other_op"            // a body with another op, or too short for one
)

// noMemoReasons are the known NoMemoReason values.
var noMemoReasons = []string{NoMemoNone, NoMemoEmpty, NoMemoEncrypted, NoMemoBinary, NoMemoMalformed, NoMemoJetton, NoMemoOther}

// Transfer is an incoming TON transfer as the chain watcher saw it: an
// internal, non-bounced message with a positive value, with a text comment
// or without one.
type Transfer struct {
	Hash   string    // transaction hash, lowercase hex; unique
	LT     uint64    // logical time of the transaction
	Time   time.Time // block time
	From   string    // sender address, user-friendly form
	Amount NanoTON   // value credited to our wallet; > 0
	Memo   string    // text comment as sent; "" when there is none
	// NoMemoReason says why Memo is empty (one of the NoMemo… values), so
	// that an admin who assigns the deposit knows what arrived. Ignored
	// when Memo is not empty.
	NoMemoReason string

	// Asset is what arrived: "" or AssetTON for a plain transfer; for a
	// jetton transfer notification (TEP-74), AssetUSDT when the watcher
	// found that JettonWallet is our own jetton wallet for the USDT master,
	// AssetJetton otherwise. Amount is then the TON the notification
	// carried (its forward amount), From the jetton sender (the owner of
	// the sending jetton wallet), Memo the forward payload's comment.
	Asset        Asset
	JettonAmount int64  // jetton units (USDT: 6 decimals); jetton notifications only
	JettonWallet string // the jetton wallet that sent the notification (its message's source)
}

// Deposit is the shop's record of a Transfer and what was done with it.
type Deposit struct {
	ID     uint64 // monotonic; assigned by the store
	TxHash string
	LT     uint64
	From   string
	Amount NanoTON
	Memo   string // as sent
	Status DepositStatus
	// Reason qualifies the status: ReasonDust for an ignored deposit; for
	// an unmatched one without a memo, the transfer's NoMemoReason; "" for
	// an unmatched memo that matched nothing.
	Reason    string
	UserID    int64 // credited or assigned user; for order payments, the order owner
	OrderID   int64 // the order the memo named, if any
	AdminID   int64 // who assigned an unmatched deposit
	ChainTime time.Time
	CreatedAt time.Time

	// USDT and other jetton notifications. For a USDT deposit, Amount is
	// its value in TON: JettonAmount converted at RateTONUSD and
	// RateUSDTUSD less FeeTON, plus the TON the notification carried.
	Asset        Asset    // "" (TON), AssetUSDT or AssetJetton (rejected)
	JettonAmount int64    // jetton units (USDT: 6 decimals)
	JettonWallet string   // the jetton wallet that sent the notification
	RateTONUSD   MicroUSD // USDT: the TON/USD rate at the moment of crediting
	RateUSDTUSD  MicroUSD // USDT: the USDT/USD value used (USDT_USD)
	FeeTON       NanoTON  // USDT: the fee kept (USDT_FEE_PERCENT), in TON
}

// Cursor is the chain watcher's position on one account: the newest
// transaction already processed. It is saved in the same store transaction as
// the credit of that transaction.
type Cursor struct {
	Account string // the watched address
	LT      uint64
	Hash    string // lowercase hex
	Time    time.Time
}

// Limits on what the chain may hand us. The chain watcher cuts what it
// reads to them (package ton).
const (
	MaxMemoBytes    = 512 // a transfer's memo, in bytes; longer memos are cut on a UTF-8 boundary
	MaxAddressBytes = 128 // a sender address, in bytes
	maxTxHashBytes  = 128
)

// CreditDeposit books an incoming transfer, exactly once per transaction
// hash, and, when cur is not nil, saves the watcher's cursor in the same
// store transaction so that a crash neither skips nor doubles a deposit.
//
// A transfer of less than MinDeposit is dust (1-nanoTON spam carries
// advertising comments to busy wallets): it is recorded as an ignored
// deposit with Reason ReasonDust, so that it is counted and listed but
// never credited, never pays an order and never alerts anyone; only an
// EventDepositIgnored is emitted.
//
// Otherwise the memo (trimmed, case-insensitive) decides where the money goes:
//   - a user's personal memo: the whole amount to that user's balance;
//   - a pending order's memo, amount ≥ price, sent before the order
//     expired: the order is paid and queued, any surplus goes to the
//     buyer's balance;
//   - an order's memo otherwise (underpaid, late, cancelled, already paid):
//     the whole amount goes to the buyer's balance;
//   - anything else, a transfer without a memo included: an unmatched
//     deposit, kept for an admin to assign, with the transfer's
//     NoMemoReason as its Reason.
//
// A transaction hash seen before returns the deposit recorded then and
// changes nothing (but the cursor).
//
// Errors: VALIDATION_ERROR (bad hash, non-positive amount, oversized
// fields).
func (s *Service) CreditDeposit(ctx context.Context, t Transfer, cur *Cursor) (*Deposit, error) {
	deps, err := s.CreditDeposits(ctx, []Transfer{t}, cur)
	if err != nil {
		return nil, err
	}
	return deps[0], nil
}

// CreditDeposits books transfers in one store transaction, in order, each as
// CreditDeposit would, and saves cur (when not nil) in the same
// transaction. The chain watcher uses it to catch up many transfers with one
// commit. If any transfer is invalid nothing is booked.
//
// Errors: VALIDATION_ERROR (naming the first invalid transfer).
func (s *Service) CreditDeposits(ctx context.Context, ts []Transfer, cur *Cursor) ([]*Deposit, error) {
	ts = slices.Clone(ts)
	for i := range ts {
		if err := ts[i].normalize(); err != nil {
			if len(ts) > 1 {
				return nil, Errorf(EVALIDATION, "transfer %d (%s): %s", i, TruncateUTF8(ts[i].Hash, 16), ErrorMessage(err))
			}
			return nil, err
		}
	}
	if cur != nil {
		c := *cur
		c.Hash = strings.ToLower(c.Hash)
		cur = &c
	}
	// USDT is valued at the rate of the moment of crediting, read once
	// for the batch and before the store transaction (a rate source may
	// call out). Without a rate nothing is booked and the watcher
	// retries.
	var rate Rate
	if slices.ContainsFunc(ts, func(t Transfer) bool { return t.Asset == AssetUSDT }) {
		var err error
		if rate, err = s.Rate(ctx); err != nil {
			return nil, err
		}
	}
	var deps []*Deposit
	var events []Event
	err := s.Store.Update(ctx, func(tx Tx) error {
		deps, events = deps[:0], events[:0]
		if cur != nil {
			if err := tx.PutCursor(cur); err != nil {
				return err
			}
		}
		for i := range ts {
			dep, evs, err := s.credit(tx, &ts[i], rate)
			if err != nil {
				return err
			}
			deps, events = append(deps, dep), append(events, evs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(events...)
	return deps, nil
}

// normalize validates a transfer from the chain and puts it in canonical
// form.
func (t *Transfer) normalize() error {
	t.Hash = strings.ToLower(strings.TrimSpace(t.Hash))
	if t.Hash == "" || len(t.Hash) > maxTxHashBytes {
		return Errorf(EVALIDATION, "tx hash must be 1-%d hex characters", maxTxHashBytes)
	}
	if _, err := hex.DecodeString(t.Hash); err != nil {
		return Errorf(EVALIDATION, "tx hash must be hex")
	}
	if t.Amount <= 0 {
		return Errorf(EVALIDATION, "deposit amount must be positive")
	}
	if len(t.From) > MaxAddressBytes {
		return Errorf(EVALIDATION, "sender address too long")
	}
	t.Memo = TruncateUTF8(strings.ToValidUTF8(t.Memo, "\uFFFD"), MaxMemoBytes)
	switch {
	case strings.TrimSpace(t.Memo) != "":
		t.NoMemoReason = ""
	case t.NoMemoReason == "":
	case !slices.Contains(noMemoReasons, t.NoMemoReason):
		t.NoMemoReason = NoMemoOther // not ours to store verbatim
	}
	switch t.Asset {
	case "", AssetTON:
		t.Asset, t.JettonAmount, t.JettonWallet = "", 0, ""
	case AssetUSDT, AssetJetton:
		if t.JettonAmount < 0 {
			return Errorf(EVALIDATION, "jetton amount must not be negative")
		}
		if len(t.JettonWallet) > MaxAddressBytes {
			return Errorf(EVALIDATION, "jetton wallet address too long")
		}
	default:
		return Errorf(EVALIDATION, "unknown asset %q", TruncateUTF8(string(t.Asset), 16))
	}
	return nil
}

// credit books one normalized transfer in tx, exactly once per hash, and
// returns its deposit and the events to emit after commit. rate is the
// TON/USD rate USDT is valued at (read by CreditDeposits when the batch
// holds USDT).
//
// A jetton notification that is not from our USDT jetton wallet
// (AssetJetton) is recorded as rejected (ReasonFakeJetton) and credits
// nothing. A USDT transfer is worth its jetton amount in TON at rate, less
// the USDT fee (USDTToTON), plus the TON its notification carried; that
// value then follows the TON rules below (dust, personal memo, order memo,
// unmatched), except that a USDT order (PaymentCurrency USDT) is paid when
// the jetton amount reaches its PriceUSDT.
func (s *Service) credit(tx Tx, t *Transfer, rate Rate) (*Deposit, []Event, error) {
	if old, err := tx.FindDepositByHash(t.Hash); err == nil {
		return old, nil, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, nil, err
	}
	var events []Event
	now := s.now()
	dep := &Deposit{TxHash: t.Hash, LT: t.LT, From: t.From, Amount: t.Amount, Memo: t.Memo, ChainTime: t.Time.UTC(), CreatedAt: now,
		Asset: t.Asset, JettonAmount: t.JettonAmount, JettonWallet: t.JettonWallet}
	put := func() (*Deposit, []Event, error) {
		if err := tx.PutDeposit(dep); err != nil {
			return nil, nil, err
		}
		return dep, nil, nil
	}
	if t.Asset == AssetJetton {
		// Anyone can deploy a jetton wallet that says "USDT": only
		// notifications from our own wallet for the master count.
		dep.Status, dep.Reason = DepositRejected, ReasonFakeJetton
		return put()
	}
	usdt := t.Asset == AssetUSDT
	// valueOf is what units of the transfer's USDT plus carried TON are
	// worth in TON, and the fee kept.
	valueOf := func(units int64, carried NanoTON) (NanoTON, NanoTON, error) {
		if !usdt {
			return carried, 0, nil
		}
		net, fee, err := s.usdtValue(units, rate.TONUSD)
		if err != nil || net > math.MaxInt64-carried {
			return 0, 0, errors.New("USDT value overflows")
		}
		return net + carried, fee, nil
	}
	if usdt {
		value, fee, err := valueOf(t.JettonAmount, t.Amount)
		if err != nil {
			// Beyond any nanoTON balance (no real USDT amount comes
			// near): kept for the admins, never credited, so that it
			// cannot stall the watcher.
			dep.Status, dep.Reason = DepositRejected, ReasonUSDTOverflow
			return put()
		}
		dep.Amount, dep.FeeTON, dep.RateTONUSD, dep.RateUSDTUSD = value, fee, rate.TONUSD, s.USDT.usd()
	}
	if dep.Amount < s.MinDeposit {
		// Dust: before any memo is looked at, so that it can neither
		// credit a balance nor pay (or count towards) an order.
		dep.Status, dep.Reason = DepositIgnored, ReasonDust
		if err := tx.PutDeposit(dep); err != nil {
			return nil, nil, err
		}
		return dep, []Event{{Type: EventDepositIgnored, DepositID: dep.ID, Amount: dep.Amount}}, nil
	}
	memo := NormalizeMemo(t.Memo)

	credit := func(user *User, amount NanoTON, orderID int64, units int64, fee NanoTON, reason string) error {
		e := &LedgerEntry{Type: LedgerDeposit, Amount: amount, TxHash: t.Hash, OrderID: orderID}
		change := BalanceChange{Amount: amount, TxHash: t.Hash, Memo: t.Memo, OrderID: orderID, Reason: reason}
		if usdt {
			e.Asset, e.JettonAmount, e.RateTONUSD, e.RateUSDTUSD, e.FeeTON = AssetUSDT, units, dep.RateTONUSD, dep.RateUSDTUSD, fee
			change.Asset, change.JettonAmount = AssetUSDT, units
		}
		balance, err := s.post(tx, user, e)
		if err != nil {
			return err
		}
		change.Balance = balance
		if err := s.recordBalance(tx, PartnerBalanceCredited, user.ID, change); err != nil {
			return err
		}
		events = append(events, Event{Type: EventDepositCredited, UserID: user.ID, OrderID: orderID, Amount: amount, Balance: balance})
		return nil
	}

	if memo == "" {
		dep.Status, dep.Reason = DepositUnmatched, t.NoMemoReason
	} else if user, err := tx.FindUserByMemo(memo); err == nil {
		dep.Status, dep.UserID = DepositCredited, user.ID
		if err := credit(user, dep.Amount, 0, t.JettonAmount, dep.FeeTON, CreditDeposit); err != nil {
			return nil, nil, err
		}
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, nil, err
	} else if order, err := tx.FindOrderByMemo(memo); err == nil {
		owner, err := findUser(tx, order.UserID)
		if err != nil {
			return nil, nil, err
		}
		dep.UserID, dep.OrderID, dep.Status = owner.ID, order.ID, DepositCredited
		sentAt := dep.ChainTime
		if sentAt.IsZero() {
			sentAt = now
		}
		onTime := order.Status.CanBecome(StatusPaid) && sentAt.Before(order.ExpiresAt) // pending_payment, or expired since it was sent
		surplus, units, fee := dep.Amount, t.JettonAmount, dep.FeeTON
		byUSDT := usdt && order.PaymentCurrency == AssetUSDT && order.PriceUSDT > 0
		enough := dep.Amount >= order.PriceTON
		if byUSDT {
			enough = t.JettonAmount >= order.PriceUSDT // priced in USDT: paid in USDT, whatever TON is worth now
		}
		reason := CreditLatePayment
		if onTime {
			reason = CreditUnderpayment
		}
		if onTime && enough {
			reason = CreditOrderSurplus
			dep.Status = DepositOrderPaid
			if byUSDT {
				units = t.JettonAmount - order.PriceUSDT
				if surplus, fee, err = valueOf(units, t.Amount); err != nil {
					return nil, nil, err
				}
			} else {
				surplus = dep.Amount - order.PriceTON
			}
			if err := s.markPaid(tx, order, t.Hash); err != nil {
				return nil, nil, err
			}
			events = append(events, Event{Type: EventOrderPaid, UserID: order.UserID, OrderID: order.ID})
		}
		if surplus > 0 {
			if err := credit(owner, surplus, order.ID, units, fee, reason); err != nil {
				return nil, nil, err
			}
		}
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, nil, err
	} else {
		dep.Status = DepositUnmatched
	}
	if err := tx.PutDeposit(dep); err != nil {
		return nil, nil, err
	}
	if dep.Status == DepositUnmatched {
		events = append(events, Event{Type: EventUnmatchedDeposit, Amount: dep.Amount})
	}
	for i := range events {
		events[i].DepositID = dep.ID
	}
	return dep, events, nil
}

// AssignDeposit credits an unmatched deposit to a user, once, on an admin's
// decision: its Amount, which for USDT is its value in TON when it was
// booked. A rejected deposit (a fake jetton) cannot be assigned.
//
// Errors: NOT_FOUND (deposit or user), INVALID_STATE (not unmatched).
func (s *Service) AssignDeposit(ctx context.Context, adminID int64, depositID uint64, userID int64) (*Deposit, error) {
	var dep *Deposit
	var balance NanoTON
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		dep, err = tx.FindDepositByID(depositID)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "deposit %d not found", depositID)
		} else if err != nil {
			return err
		}
		if dep.Status != DepositUnmatched {
			return Errorf(EINVALIDSTATE, "deposit %d is %s, not unmatched", dep.ID, dep.Status)
		}
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		e := &LedgerEntry{Type: LedgerDeposit, Amount: dep.Amount, TxHash: dep.TxHash, AdminID: adminID, Reason: "assigned unmatched deposit"}
		if dep.Asset == AssetUSDT { // valued when it was booked
			e.Asset, e.JettonAmount, e.RateTONUSD, e.RateUSDTUSD, e.FeeTON = AssetUSDT, dep.JettonAmount, dep.RateTONUSD, dep.RateUSDTUSD, dep.FeeTON
		}
		if balance, err = s.post(tx, user, e); err != nil {
			return err
		}
		dep.Status, dep.UserID, dep.AdminID = DepositAssigned, user.ID, adminID
		if err := tx.PutDeposit(dep); err != nil {
			return err
		}
		change := BalanceChange{Amount: dep.Amount, Balance: balance, TxHash: dep.TxHash, Memo: dep.Memo, Reason: CreditDeposit}
		if dep.Asset == AssetUSDT {
			change.Asset, change.JettonAmount = AssetUSDT, dep.JettonAmount
		}
		return s.recordBalance(tx, PartnerBalanceCredited, user.ID, change)
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventDepositCredited, UserID: userID, DepositID: dep.ID, Amount: dep.Amount, Balance: balance})
	return dep, nil
}

// FindDeposit returns a deposit by id.
//
// Errors: NOT_FOUND.
func (s *Service) FindDeposit(ctx context.Context, id uint64) (*Deposit, error) {
	var dep *Deposit
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		dep, err = tx.FindDepositByID(id)
		if ErrorCode(err) == ENOTFOUND {
			err = Errorf(ENOTFOUND, "deposit %d not found", id)
		}
		return err
	})
	return dep, err
}

// FindDeposits lists deposits, newest first, optionally only those with
// status; before is a deposit id cursor (0 = newest).
func (s *Service) FindDeposits(ctx context.Context, status DepositStatus, before uint64, limit int) ([]*Deposit, error) {
	var deps []*Deposit
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		deps, err = tx.FindDeposits(status, before, ClampLimit(limit))
		return err
	})
	return deps, err
}

// Cursor returns the chain watcher's saved position on account.
//
// Errors: NOT_FOUND (first start).
func (s *Service) Cursor(ctx context.Context, account string) (*Cursor, error) {
	var cur *Cursor
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		cur, err = tx.FindCursor(account)
		return err
	})
	return cur, err
}

// SaveCursor saves the watcher's position after transactions that credit
// nothing (CreditDeposit saves it together with a credit).
func (s *Service) SaveCursor(ctx context.Context, cur *Cursor) error {
	return s.Store.Update(ctx, func(tx Tx) error { return tx.PutCursor(cur) })
}
