package shop

import "time"

// DepositStatus is what became of an incoming transfer.
type DepositStatus string

// Deposit statuses.
const (
	DepositCredited  DepositStatus = "credited"   // credited to the balance of the user whose personal memo it carried
	DepositOrderPaid DepositStatus = "order_paid" // paid the order whose memo it carried (any surplus credited)
	DepositUnmatched DepositStatus = "unmatched"  // memo matched nothing; waits for an admin
	DepositAssigned  DepositStatus = "assigned"   // was unmatched; an admin credited it to a user
)

// Transfer is an incoming TON transfer as the chain watcher saw it: an
// internal, non-bounced message with a positive value and a text comment.
type Transfer struct {
	Hash   string    // transaction hash, lowercase hex; unique
	LT     uint64    // logical time of the transaction
	Time   time.Time // block time
	From   string    // sender address, user-friendly form
	Amount NanoTON   // value credited to our wallet; > 0
	Memo   string    // text comment as sent
}

// Deposit is the shop's record of a Transfer and what was done with it.
type Deposit struct {
	ID        uint64 // monotonic; assigned by the store
	TxHash    string
	LT        uint64
	From      string
	Amount    NanoTON
	Memo      string // as sent
	Status    DepositStatus
	UserID    int64 // credited or assigned user; for order payments, the order owner
	OrderID   int64 // the order the memo named, if any
	AdminID   int64 // who assigned an unmatched deposit
	ChainTime time.Time
	CreatedAt time.Time
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
