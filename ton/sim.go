package ton

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"starsbot/shop"
)

// SimStore persists the simulated chain; *store.DB implements it.
type SimStore interface {
	AppendSimTransfer(ctx context.Context, account string, t shop.Transfer) (shop.Transfer, bool, error)
	SimTransfers(ctx context.Context, account string, maxLT uint64, limit int) ([]shop.Transfer, error)
}

// simSender is the sender address of simulated transfers: a valid testnet,
// non-bounceable address of no real account, from
// sha256("starsbot sandbox sender") (TestSimSender checks it).
const simSender = "0QCsCiebVziGz2PamNvKLLNuTjQk3_b1Od8i_J0UmMHN5YnJ"

// SimChain is the sandbox's chain: transfers appended by Deposit are kept in
// the store, get random hashes and increasing logical times, and reach the
// shop through the same Watcher and CreditDeposits as real ones.
type SimChain struct {
	Store   SimStore // required
	Account string   // the sandbox deposit address; required
	Now     func() time.Time
	// OnAppend, if set, is called after a new transfer is stored (the
	// watcher's Poke, so that it is credited at once).
	OnAppend func()
}

var _ Chain = (*SimChain)(nil)

// NewSimChain is the simulated chain of account kept in store, on the wall
// clock; set Now or OnAppend before use to change them.
func NewSimChain(store SimStore, account string) *SimChain {
	return &SimChain{Store: store, Account: account, Now: time.Now}
}

// Deposit appends an incoming transfer with memo and amount to the
// simulated chain and returns its hash. txHash is optional (64 hex
// characters); a hash already on the chain appends nothing.
func (c *SimChain) Deposit(ctx context.Context, memo string, amount shop.NanoTON, txHash string) (string, error) {
	if amount <= 0 {
		return "", shop.Errorf(shop.EVALIDATION, "amount must be positive")
	}
	if txHash == "" {
		b := make([]byte, 32)
		rand.Read(b)
		txHash = hex.EncodeToString(b)
	} else if b, err := hex.DecodeString(txHash); err != nil || len(b) != 32 {
		return "", shop.Errorf(shop.EVALIDATION, "tx_hash must be 64 hex characters")
	}
	t, appended, err := c.Store.AppendSimTransfer(ctx, c.Account, shop.Transfer{Hash: txHash, Time: c.Now(), From: simSender, Amount: amount, Memo: memo})
	if err != nil {
		return "", err
	}
	if appended && c.OnAppend != nil {
		c.OnAppend()
	}
	return t.Hash, nil
}

// LastTx returns the newest simulated transfer.
func (c *SimChain) LastTx(ctx context.Context, account string) (TxID, time.Time, error) {
	ts, err := c.Store.SimTransfers(ctx, account, 0, 1)
	if err != nil || len(ts) == 0 {
		return TxID{}, c.Now(), err
	}
	return TxID{LT: ts[0].LT, Hash: ts[0].Hash}, c.Now(), nil
}

// Transactions returns up to limit simulated transfers from from back.
func (c *SimChain) Transactions(ctx context.Context, account string, from TxID, limit int) ([]Tx, error) {
	ts, err := c.Store.SimTransfers(ctx, account, from.LT, limit+1) // one more, for the last one's Prev
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 || ts[0].LT != from.LT || ts[0].Hash != from.Hash {
		return nil, fmt.Errorf("simulated chain: no transaction lt %d hash %s", from.LT, from.Hash)
	}
	out := make([]Tx, 0, min(len(ts), limit))
	for i := 0; i < len(ts) && i < limit; i++ {
		t := ts[i]
		tx := Tx{ID: TxID{LT: t.LT, Hash: t.Hash}, Time: t.Time, Transfer: &t}
		if i+1 < len(ts) {
			tx.Prev = TxID{LT: ts[i+1].LT, Hash: ts[i+1].Hash}
		}
		out = append(out, tx)
	}
	return out, nil
}
