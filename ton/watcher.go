package ton

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
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

// Watcher credits deposits to the service wallet. Each poll pages back from
// the account's newest transaction to the stored cursor, then books the new
// transactions oldest first with Credits.CreditDeposits, which saves the
// cursor (lt, hash) in the same store transaction as the credits: a crash at
// any point neither skips nor doubles a deposit, and a transaction seen
// twice is booked once (by hash).
type Watcher struct {
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

	synced   atomic.Int64 // unix nanoseconds of the block the last complete poll read
	poke     chan struct{}
	pokeOnce sync.Once
}

// Poke makes a running watcher poll now instead of at its next interval.
// It never blocks.
func (w *Watcher) Poke() {
	select {
	case w.pokes() <- struct{}{}:
	default:
	}
}

func (w *Watcher) pokes() chan struct{} {
	w.pokeOnce.Do(func() { w.poke = make(chan struct{}, 1) })
	return w.poke
}

// Run polls until ctx is done. Chain errors are logged and retried with
// exponential backoff; Run returns only ctx's end (nil) or a store error
// that retrying cannot fix.
func (w *Watcher) Run(ctx context.Context) error {
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	backoff := interval
	poke := w.pokes()
	for {
		wait := interval
		if _, err := w.Poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.logger().Warn("deposit poll failed; retrying", "error", err, "retry_in", backoff)
			wait, backoff = backoff, min(2*backoff, maxBackoff)
		} else {
			backoff = interval
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poke:
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
		w.logger().Info("deposit watcher starts at the current head", "lt", head.LT)
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
	slices.Reverse(txs) // oldest first
	batch := w.BatchSize
	if batch <= 0 {
		batch = defaultBatchSize
	}
	for chunk := range slices.Chunk(txs, batch) {
		var transfers []shop.Transfer
		for _, t := range chunk {
			if t.Transfer == nil {
				w.logger().Debug("skipping a transaction that is not a deposit", "lt", t.ID.LT, "hash", t.ID.Hash, "reason", t.Skip)
				if w.OnSkip != nil {
					w.OnSkip(t.Skip)
				}
				continue
			}
			transfers = append(transfers, *t.Transfer)
		}
		last := chunk[len(chunk)-1]
		next := &shop.Cursor{Account: w.Account, LT: last.ID.LT, Hash: last.ID.Hash, Time: last.Time}
		if _, err := w.Shop.CreditDeposits(ctx, transfers, next); err != nil {
			return 0, fmt.Errorf("credit transactions up to lt %d: %w", last.ID.LT, err)
		}
	}
	w.synced.Store(blockTime.UnixNano())
	return len(txs), nil
}

// newSince pages back from head and returns the transactions after cur,
// newest first. It fails if the chain's history does not lead back to cur.
func (w *Watcher) newSince(ctx context.Context, cur *shop.Cursor, head TxID) ([]Tx, error) {
	size := w.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	var txs []Tx
	from := head
	for {
		page, err := w.Chain.Transactions(ctx, w.Account, from, size)
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
	return max(w.now().Sub(time.Unix(0, ns)), 0), true
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watcher) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}
