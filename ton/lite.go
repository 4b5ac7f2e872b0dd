package ton

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/liteclient"
	"github.com/xssnick/tonutils-go/tlb"
	tonapi "github.com/xssnick/tonutils-go/ton"
)

// Liteserver client settings.
const (
	liteRetries        = 3                // extra attempts on another liteserver per request
	liteRequestTimeout = 10 * time.Second // per attempt
	liteDialTimeout    = 30 * time.Second // until the first liteserver answers
	maxLitePage        = 16               // the liteserver's own cap on transactions per request
)

// Dial connects to the liteservers of the global config at configURL and
// returns an API client that retries each request on other servers. The
// client checks account and transaction proofs against the masterchain
// block the liteserver returns (ProofCheckPolicyFast). stop closes the
// connections.
func Dial(ctx context.Context, configURL string) (api tonapi.APIClientWrapped, stop func(), err error) {
	ctx, cancel := context.WithTimeout(ctx, liteDialTimeout)
	defer cancel()
	cfg, err := liteclient.GetConfigFromUrl(ctx, configURL)
	if err != nil {
		return nil, nil, fmt.Errorf("ton: read the liteserver config %s: %w", configURL, err)
	}
	pool := liteclient.NewConnectionPool()
	if err := pool.AddConnectionsFromConfig(ctx, cfg); err != nil {
		pool.Stop()
		return nil, nil, fmt.Errorf("ton: connect to the liteservers of %s: %w", configURL, err)
	}
	api = tonapi.NewAPIClient(pool, tonapi.ProofCheckPolicyFast).WithRetryTimeout(liteRetries, liteRequestTimeout)
	return api, pool.Stop, nil
}

// ParseAddress parses a TON address in user-friendly (EQ…, UQ…, kQ…, 0Q…)
// or raw (0:<64 hex>) form.
func ParseAddress(s string) (*address.Address, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ":") {
		a, err := address.ParseRawAddr(s)
		if err != nil {
			return nil, fmt.Errorf("invalid raw TON address %q", s)
		}
		return a, nil
	}
	a, err := address.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("invalid TON address %q", s)
	}
	return a, nil
}

// Lite is the Chain of testnet and mainnet: it reads the account's state at
// the newest masterchain block (final) and its transactions from
// liteservers through tonutils-go. It does not use SubscribeOnTransactions,
// which hides errors; the Watcher pages itself.
type Lite struct {
	API tonapi.APIClientWrapped // required; from Dial
}

var _ Chain = (*Lite)(nil)

// LastTx returns the account's newest transaction as of the newest
// masterchain block, and that block's time.
func (l *Lite) LastTx(ctx context.Context, account string) (TxID, time.Time, error) {
	addr, err := ParseAddress(account)
	if err != nil {
		return TxID{}, time.Time{}, err
	}
	master, err := l.API.CurrentMasterchainInfo(ctx)
	if err != nil {
		return TxID{}, time.Time{}, fmt.Errorf("masterchain info: %w", err)
	}
	api := l.API.WaitForBlock(master.SeqNo)
	header, err := api.GetBlockHeader(ctx, master)
	if err != nil {
		return TxID{}, time.Time{}, fmt.Errorf("masterchain block %d header: %w", master.SeqNo, err)
	}
	blockTime := time.Unix(int64(header.GenUtime), 0).UTC()
	acc, err := api.GetAccount(ctx, master, addr)
	if err != nil {
		return TxID{}, time.Time{}, fmt.Errorf("account state at masterchain block %d: %w", master.SeqNo, err)
	}
	if !acc.IsActive || acc.LastTxLT == 0 {
		return TxID{}, blockTime, nil // no transaction yet
	}
	if len(acc.LastTxHash) != 32 {
		return TxID{}, time.Time{}, fmt.Errorf("account state at masterchain block %d: last transaction hash of %d bytes", master.SeqNo, len(acc.LastTxHash))
	}
	return TxID{LT: acc.LastTxLT, Hash: hex.EncodeToString(acc.LastTxHash)}, blockTime, nil
}

// Transactions returns up to limit (at most 16, the liteserver's cap)
// transactions of account, newest first, starting with from. It checks that
// the first is from and that each links to the next by its previous-hash,
// so a liteserver cannot slip in a transaction that is not in the account's
// history.
func (l *Lite) Transactions(ctx context.Context, account string, from TxID, limit int) ([]Tx, error) {
	addr, err := ParseAddress(account)
	if err != nil {
		return nil, err
	}
	hash, err := hex.DecodeString(from.Hash)
	if err != nil || len(hash) != 32 || from.LT == 0 {
		return nil, fmt.Errorf("invalid transaction id lt %d hash %q", from.LT, from.Hash)
	}
	limit = min(max(limit, 1), maxLitePage)
	list, err := l.API.ListTransactions(ctx, addr, uint32(limit), from.LT, hash)
	switch {
	case errors.Is(err, tonapi.ErrNoTransactionsWereFound):
		return nil, fmt.Errorf("transaction lt %d is unknown to the liteserver: %w", from.LT, err)
	case errors.Is(err, tonapi.LSError{Code: -400}):
		return nil, fmt.Errorf("the liteserver no longer has transaction lt %d (an archive liteserver is needed): %w", from.LT, err)
	case err != nil:
		return nil, err
	case len(list) == 0:
		return nil, fmt.Errorf("transaction lt %d: the liteserver returned none", from.LT)
	}
	slices.Reverse(list) // the liteserver lists oldest first
	if len(list) > limit {
		list = list[:limit]
	}
	out := make([]Tx, 0, len(list))
	want, wantLT := hash, from.LT
	for _, t := range list {
		if t == nil || !bytes.Equal(t.Hash, want) || t.LT != wantLT {
			return nil, fmt.Errorf("transactions from lt %d: the liteserver returned a transaction that is not the expected lt %d", from.LT, wantLT)
		}
		out = append(out, convert(t))
		want, wantLT = t.PrevTxHash, t.PrevTxLT
	}
	return out, nil
}

// convert turns a parsed transaction into a Tx.
func convert(t *tlb.Transaction) Tx {
	tx := Tx{
		ID:   TxID{LT: t.LT, Hash: hex.EncodeToString(t.Hash)},
		Time: time.Unix(int64(t.Now), 0).UTC(),
	}
	if t.PrevTxLT != 0 {
		tx.Prev = TxID{LT: t.PrevTxLT, Hash: hex.EncodeToString(t.PrevTxHash)}
	}
	transfer, skip := ParseTransfer(t)
	if skip != "" {
		tx.Skip = skip
	} else {
		tx.Transfer = &transfer
	}
	return tx
}
