package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// Fencing. A leader that has lost its advisory lock (its connection was
// cut, or it stalled past the TTL) may still be in the middle of work
// until it notices. Each time an Elector takes the lock it increments the
// term of its key in table leader_terms, on the connection that holds the
// lock, and the leader context that Wait returns carries that term. Every
// Update made under that context (the singletons' work: deposit credits,
// signed payouts recorded before broadcast, sweeps) first reads the term
// row FOR SHARE, in its own transaction, and commits only while the term
// is still its own:
//
//   - A transaction that locked the row first holds back the next leader's
//     increment until it ends: it is ordered before the new term, whose
//     work sees what it committed.
//   - A transaction that comes after the increment reads the new term (or,
//     with a snapshot older than the increment, fails serialization, is
//     re-run by Update and then reads it), commits nothing and fails
//     with shop.ErrDeposed; it also ends the leader context at once, so
//     that the old leader's singletons stop without waiting for its ping.
//
// The payout is recorded before its broadcast, so a deposed leader never
// broadcasts one the new leader cannot see. Updates without a term in ctx
// (the API, the bot in webhook mode) are not fenced: every replica may do
// them.

// nextTermSQL takes the next term of a key; run on the connection that
// has just taken the key's lock.
const nextTermSQL = `INSERT INTO leader_terms (key, term) VALUES ($1, 1)
ON CONFLICT (key) DO UPDATE SET term = leader_terms.term + 1 RETURNING term`

// fence is the leadership a leader context carries.
type fence struct {
	key    int64 // the election key (LeaderLockKey mixed with the schema)
	term   int64
	depose context.CancelFunc // ends the leader context
}

type fenceKey struct{}

func withFence(ctx context.Context, f *fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

func fenceOf(ctx context.Context) *fence {
	f, _ := ctx.Value(fenceKey{}).(*fence)
	return f
}

// TermOf returns the leader term that ctx carries (a context Elector.Wait
// returned, or one made from it) and whether it carries one. Terms of one
// database start at 1 and grow by one with each election.
func TermOf(ctx context.Context) (int64, bool) {
	if f := fenceOf(ctx); f != nil {
		return f.term, true
	}
	return 0, false
}

// checkFence locks the term row of f's key FOR SHARE and fails with
// shop.ErrDeposed, ending the leader context, unless its term is f's.
func (t *tx) checkFence(f *fence) error {
	var term int64
	err := t.ptx.QueryRow(t.ctx, `SELECT term FROM leader_terms WHERE key = $1 FOR SHARE`, f.key).Scan(&term)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return t.fail("check the leader term", err)
	}
	if term != f.term {
		f.depose()
		return fmt.Errorf("pgstore: leader term %d has ended (the current term is %d): %w", f.term, term, shop.ErrDeposed)
	}
	return nil
}
