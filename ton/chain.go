package ton

import (
	"context"
	"time"

	"starsbot/shop"
)

// TxID identifies a transaction of an account: its logical time and hash.
type TxID struct {
	LT   uint64
	Hash string // lowercase hex
}

// IsZero reports whether id names no transaction.
func (id TxID) IsZero() bool { return id.LT == 0 && id.Hash == "" }

// Tx is one transaction of the watched account, already parsed.
type Tx struct {
	ID       TxID
	Prev     TxID      // the account's previous transaction; zero for its first
	Time     time.Time // block time
	Transfer *shop.Transfer
	Skip     string // why Transfer is nil: one of the Skip… reasons
}

// Chain is what the deposit watcher needs from the blockchain. The
// tonutils-go liteserver client implements it for testnet and mainnet, and
// the simulated chain for the sandbox.
type Chain interface {
	// LastTx returns the account's newest transaction (zero if it has
	// none) and the time of the block the account state was read at.
	LastTx(ctx context.Context, account string) (TxID, time.Time, error)
	// Transactions returns up to limit transactions of account, newest
	// first, starting with the transaction from and going back in time.
	Transactions(ctx context.Context, account string, from TxID, limit int) ([]Tx, error)
}
