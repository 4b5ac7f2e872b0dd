package shop

import "time"

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
	AdminID      int64      // the admin who made the change, if any
	Reason       string     // free text for admin changes and refunds
	CreatedAt    time.Time
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
