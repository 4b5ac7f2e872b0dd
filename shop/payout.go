package shop

import "time"

// Payout is a TON payment from the service's hot wallet, e.g. to Fragment
// for an order.
type Payout struct {
	To      string  // destination address, user-friendly (EQ…/UQ…/kQ…/0Q…) or raw (0:<hex>)
	Amount  NanoTON // > 0
	Payload []byte  // BOC of the message body cell, forwarded unchanged; nil = no body
	Bounce  bool    // whether the internal message is bounceable
	// ValidUntil, if set, caps the signed message's validity: the wallet
	// signs it valid until the earlier of this and its own TTL (the payee's
	// own deadline, e.g. Fragment's validUntil).
	ValidUntil time.Time
}

// SignedPayout is a payout signed by the hot wallet and ready to be
// broadcast. It is recorded durably before the first broadcast; after a
// crash the same message is checked and re-broadcast, never signed again.
//
// One external message may pay several payouts (a batch): each has its own
// SignedPayout with the same Hash, BOC, Wallet, Seqno, QueryID, CreatedAt,
// ValidUntil and SignedAt, and its own Index, To, Amount and BodyHash.
// Fields added later are zero in older records; the wallet reads what it
// needs from the BOC.
type SignedPayout struct {
	Hash       string    // normalized hash of the external message, lowercase hex (what explorers show)
	BOC        []byte    // the external message, serialized
	Wallet     string    // the paying wallet's address
	Seqno      uint32    // the wallet seqno the message is signed for (v4r2, v5r1; 0 for highload_v3)
	ValidUntil time.Time // the wallet refuses the message from this time on
	SignedAt   time.Time
	// Index is the payout's position among the message's payments (0 for
	// a message that pays one payout).
	Index int
	// QueryID and CreatedAt identify a highload_v3 message (which has no
	// seqno): the wallet executes a query id once, and only while
	// CreatedAt + its timeout (= ValidUntil) has not passed.
	QueryID   uint32
	CreatedAt time.Time
	// What the message pays, so that its transaction is confirmed only by
	// an out-message with exactly this destination, amount and body.
	// Empty in records made before they were kept: then any sent message
	// confirms.
	To       string  // the payout's destination, as given
	Amount   NanoTON // the payout's amount
	BodyHash string  // hash of the body cell, lowercase hex; "" = no body
}

// PayoutState is what the chain says about a signed payout.
type PayoutState string

// Payout states.
const (
	// PayoutPending: no transaction yet, and the message may still be
	// accepted (still valid, seqno not used). Re-broadcasting it is harmless.
	PayoutPending PayoutState = "pending"
	// PayoutConfirmed: the wallet executed the message and sent the
	// payment.
	PayoutConfirmed PayoutState = "confirmed"
	// PayoutFailed: the wallet accepted the message (its seqno is spent)
	// but the payment was not sent (e.g. not enough funds), or it was sent
	// and bounced back from the destination (Bounced).
	PayoutFailed PayoutState = "failed"
	// PayoutExpired: the message can never be executed (its validity
	// ended, or its seqno was used by another message) and no transaction
	// of it exists. Signing a new message is then safe.
	PayoutExpired PayoutState = "expired"
)

// PayoutResult is the outcome of a signed payout.
type PayoutResult struct {
	State  PayoutState
	TxHash string // the wallet's transaction, lowercase hex; set when Confirmed or Failed
	TxLT   uint64
	Reason string // why Failed or Expired, for logs and admins
	// Bounced: the payment left the wallet and the destination bounced it
	// back (the value, less fees, returned to the wallet).
	Bounced bool
}

// WalletInfo describes the hot wallet, as TonConnect-style clients (e.g.
// Fragment's "account" field) want it.
type WalletInfo struct {
	Address      string // user-friendly, non-bounceable (UQ…, 0Q… on testnet)
	RawAddress   string // "0:<64 hex>"
	Chain        string // network global id: "-239" mainnet, "-3" testnet
	PublicKey    string // ed25519 public key, lowercase hex
	StateInitBOC []byte // the wallet's StateInit, serialized
	Version      string // "v4r2", "v5r1" or "highload_v3"
}
