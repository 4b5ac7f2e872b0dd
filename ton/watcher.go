package ton

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"starsbot/shop"
)

// Credits is the part of *shop.Service the watcher calls.
type Credits interface {
	CreditDeposits(ctx context.Context, ts []shop.Transfer, cur *shop.Cursor) ([]*shop.Deposit, error)
	Cursor(ctx context.Context, account string) (*shop.Cursor, error)
	SaveCursor(ctx context.Context, cur *shop.Cursor) error
}

var _ Credits = (*shop.Service)(nil)

// Watcher defaults.
const (
	DefaultPollInterval = 3 * time.Second
	defaultPageSize     = 16  // transactions per liteserver request (the liteserver's own cap)
	defaultBatchSize    = 500 // transactions per store commit when catching up
	maxBackoff          = time.Minute
)

// WatcherConfig is what NewWatcher needs; zero optional fields take their
// defaults.
type WatcherConfig struct {
	Chain   Chain   // required
	Shop    Credits // required
	Account string  // the watched address, as the chain expects it; required

	Interval  time.Duration // between polls; default DefaultPollInterval
	PageSize  int           // transactions per chain request; default 16
	BatchSize int           // transactions per store commit; default 500
	// FromStart makes a first start (no cursor) credit the account's whole
	// history. By default a first start begins at the current head, so that
	// old transfers are not credited again on a new database.
	FromStart bool

	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
	// OnSkip, if set, is called for every transaction that is not a
	// deposit, with its reason (for a metric).
	OnSkip func(reason string)

	// USDTMaster, if set, is the USDT jetton master (USDT_MASTER): a
	// jetton notification counts as USDT only when it comes from
	// Account's jetton wallet for it, which the watcher asks Jettons
	// (get_wallet_address) once per process, before it books the first
	// jetton notification.
	// Without it every jetton notification is a fake (rejected).
	USDTMaster string
	Jettons    JettonWallets // required with USDTMaster
}

// Watcher credits deposits to the service wallet. Each poll pages back from
// the account's newest transaction to the stored cursor, then books the new
// transactions oldest first with Credits.CreditDeposits, which saves the
// cursor (lt, hash) in the same store transaction as the credits: a crash at
// any point neither skips nor doubles a deposit, and a transaction seen
// twice is booked once (by hash).
type Watcher struct {
	WatcherConfig // as NewWatcher completed it; read-only

	synced     atomic.Int64 // unix nanoseconds of the block the last complete poll read
	poke       chan struct{}
	usdtWallet atomic.Pointer[string] // our jetton wallet for USDTMaster, once derived
}

// NewWatcher returns a watcher of cfg.Account. It fails if Chain, Shop or
// Account is missing.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	switch {
	case cfg.Chain == nil:
		return nil, errors.New("ton: Watcher needs a Chain")
	case cfg.Shop == nil:
		return nil, errors.New("ton: Watcher needs a Shop")
	case cfg.Account == "":
		return nil, errors.New("ton: Watcher needs an Account")
	case cfg.USDTMaster != "" && cfg.Jettons == nil:
		return nil, errors.New("ton: Watcher needs Jettons to derive its USDT jetton wallet")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultPollInterval
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = defaultPageSize
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OnSkip == nil {
		cfg.OnSkip = func(string) {}
	}
	return &Watcher{WatcherConfig: cfg, poke: make(chan struct{}, 1)}, nil
}

// Poke makes a running watcher poll now instead of at its next interval.
// It never blocks.
func (w *Watcher) Poke() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// Run polls until ctx is done. Chain errors are logged and retried with
// exponential backoff; Run returns only ctx's end (nil) or a store error
// that retrying cannot fix.
func (w *Watcher) Run(ctx context.Context) error {
	interval := w.Interval
	backoff := interval
	for {
		wait := interval
		if _, err := w.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.Logger.Warn("deposit poll failed; retrying", "error", err, "retry_in", backoff)
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		} else {
			backoff = interval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.poke:
		case <-time.After(wait):
		}
	}
}

// Poll processes every transaction newer than the cursor and returns how
// many it booked or skipped.
func (w *Watcher) Poll(ctx context.Context) (int, error) {
	cur, err := w.Shop.Cursor(ctx, w.Account)
	if shop.ErrorCode(err) == shop.ENOTFOUND {
		cur, err = nil, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	head, blockTime, err := w.Chain.LastTx(ctx, w.Account)
	if err != nil {
		return 0, fmt.Errorf("last transaction: %w", err)
	}
	switch {
	case head.IsZero():
		w.synced.Store(blockTime.UnixNano())
		return 0, nil
	case cur == nil && !w.FromStart:
		// First start: begin at the head, crediting nothing older.
		if err := w.Shop.SaveCursor(ctx, &shop.Cursor{Account: w.Account, LT: head.LT, Hash: head.Hash, Time: blockTime}); err != nil {
			return 0, fmt.Errorf("save cursor: %w", err)
		}
		w.Logger.Info("deposit watcher starts at the current head", "lt", head.LT)
		w.synced.Store(blockTime.UnixNano())
		return 0, nil
	case cur != nil && head.LT == cur.LT && head.Hash == cur.Hash:
		w.synced.Store(blockTime.UnixNano())
		return 0, nil
	}

	txs, err := w.newSince(ctx, cur, head)
	if err != nil {
		return 0, err
	}
	// Our USDT jetton wallet, asked for only when a jetton notification
	// is to be booked: while get_wallet_address fails, a poll that holds
	// one books nothing (the cursor stays, nothing is lost); polls of TON
	// transfers alone never wait on it.
	isJetton := func(t *shop.Transfer) bool {
		return t != nil && (t.Asset == shop.AssetJetton || t.Asset == shop.AssetUSDT)
	}
	var usdtWallet string
	if slices.ContainsFunc(txs, func(t Tx) bool { return isJetton(t.Transfer) }) {
		if usdtWallet, err = w.USDTWallet(ctx); err != nil {
			return 0, err
		}
	}
	slices.Reverse(txs) // oldest first
	for chunk := range slices.Chunk(txs, w.BatchSize) {
		var transfers []shop.Transfer
		for _, t := range chunk {
			if t.Transfer == nil {
				w.Logger.Debug("skipping a transaction that is not a deposit", "lt", t.ID.LT, "hash", t.ID.Hash, "reason", t.Skip)
				w.OnSkip(t.Skip)
				continue
			}
			tr := *t.Transfer
			if isJetton(&tr) {
				// Only this check makes a jetton USDT, whatever the
				// chain said.
				tr.Asset = shop.AssetJetton
				if usdtWallet != "" && sameAddress(tr.JettonWallet, usdtWallet) {
					tr.Asset = shop.AssetUSDT
				}
			}
			transfers = append(transfers, tr)
		}
		last := chunk[len(chunk)-1]
		next := &shop.Cursor{Account: w.Account, LT: last.ID.LT, Hash: last.ID.Hash, Time: last.Time}
		deps, err := w.Shop.CreditDeposits(ctx, transfers, next)
		if err != nil {
			return 0, fmt.Errorf("credit transactions up to lt %d: %w", last.ID.LT, err)
		}
		for _, d := range deps {
			level := slog.LevelInfo
			if d.Status == shop.DepositIgnored {
				level = slog.LevelDebug // dust: spam, counted, not worth a line
			}
			attrs := []any{"deposit_id", d.ID, "tx_hash", d.TxHash, "amount", d.Amount.String(), "status", d.Status}
			if d.Asset != "" {
				attrs = append(attrs, "asset", d.Asset, "jetton_amount", d.JettonAmount)
			}
			w.Logger.Log(ctx, level, "deposit booked", attrs...)
		}
	}
	w.synced.Store(blockTime.UnixNano())
	return len(txs), nil
}

// USDTWallet is our jetton wallet for USDTMaster ("" without one): the
// master's get_wallet_address for Account, asked once per process and kept
// in memory (the address is deterministic; a restart asks again).
func (w *Watcher) USDTWallet(ctx context.Context) (string, error) {
	if w.USDTMaster == "" {
		return "", nil
	}
	if p := w.usdtWallet.Load(); p != nil {
		return *p, nil
	}
	addr, err := w.Jettons.JettonWallet(ctx, w.USDTMaster, w.Account)
	if err != nil {
		return "", fmt.Errorf("our USDT jetton wallet: %w", err)
	}
	w.usdtWallet.Store(&addr)
	w.Logger.Info("USDT deposits come from our jetton wallet", "master", w.USDTMaster, "jetton_wallet", addr)
	return addr, nil
}

// newSince pages back from head and returns the transactions after cur,
// newest first. It fails if the chain's history does not lead back to cur.
func (w *Watcher) newSince(ctx context.Context, cur *shop.Cursor, head TxID) ([]Tx, error) {
	var txs []Tx
	from := head
	for {
		page, err := w.Chain.Transactions(ctx, w.Account, from, w.PageSize)
		if err != nil {
			return nil, fmt.Errorf("transactions from lt %d: %w", from.LT, err)
		}
		if len(page) == 0 || page[0].ID != from {
			return nil, fmt.Errorf("transactions from lt %d: the chain returned another transaction", from.LT)
		}
		for i, t := range page {
			if i > 0 && t.ID != page[i-1].Prev {
				return nil, fmt.Errorf("transactions from lt %d: broken chain of previous transactions at lt %d", from.LT, t.ID.LT)
			}
			if cur != nil && t.ID.LT <= cur.LT {
				if t.ID.LT < cur.LT || t.ID.Hash != cur.Hash {
					return nil, fmt.Errorf("the cursor (lt %d) is not in the account's history", cur.LT)
				}
				return txs, nil
			}
			txs = append(txs, t)
		}
		last := page[len(page)-1]
		if last.Prev.IsZero() {
			if cur != nil {
				return nil, fmt.Errorf("the cursor (lt %d) is not in the account's history", cur.LT)
			}
			return txs, nil
		}
		from = last.Prev
	}
}

// Lag is how far behind the chain the watcher is: now minus the time of the
// block its last complete poll read. ok is false before the first one.
func (w *Watcher) Lag() (lag time.Duration, ok bool) {
	ns := w.synced.Load()
	if ns == 0 {
		return 0, false
	}
	return max(w.Now().Sub(time.Unix(0, ns)), 0), true
}
