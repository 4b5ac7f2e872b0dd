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
