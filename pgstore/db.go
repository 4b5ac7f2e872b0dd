// Package pgstore is a shop.Store on PostgreSQL (pgx v5), for operators who
// run the shop on a managed, replicated database rather than one bbolt file.
// It keeps the semantics of package store, the reference implementation:
// the same ENOTFOUND errors, the same case-insensitive usernames and memos
// (one memo namespace for users and orders), newest-first pages, ids from
// sequences (monotonic, never reused; a rolled-back transaction leaves a
// gap), copies out of every Find.
//
// Transactions. Update runs fn in a SERIALIZABLE transaction and, when
// PostgreSQL reports a serialization failure (SQLSTATE 40001) or a deadlock
// (40P01), rolls back and runs fn again, after a jittered backoff that
// doubles from 1 ms up to 50 ms, up to maxAttempts times or until ctx ends.
// This is what shop.Store allows ("fn may be called more than once") and
// why serializable is enough without row locks: every read-modify-write of
// the shop (a balance, an order's status, a memo claim) either commits as
// if alone or is re-run. A re-run first queues behind the other re-runs
// (LOCK TABLE update_queue, before its snapshot), so that writers of one
// hot row (one partner's balance) wait for each other instead of failing
// again. An error from fn rolls back and is returned unchanged. View runs
// fn in a REPEATABLE READ READ ONLY transaction: one snapshot, no
// predicate locks, so reports never abort writers.
//
// Group commit. Concurrent Updates of payers of one partition (orders:
// shop.WithUpdateKey) share one transaction, one after the other, with one
// COMMIT (batch.go): under load a short transaction's cost is mostly its
// BEGIN, COMMIT and round trips, not its statements. A batch reads its
// payers and draws its order ids ahead, in one round trip, so its fns do
// not wait on the server. Partitions (one unless BatchPartitions sets
// more) run side by side; a partition's batches take turns across
// processes. A batch that conflicts runs again whole; an fn that fails
// after writing, or a statement that fails, runs alone.
//
// Statements of a transaction travel in as few round trips as they can:
// BEGIN with the first statement, blind writes with the next statement or
// COMMIT (conn.go); a failed write still fails the transaction.
//
// A leader's Updates are fenced: see fence.go.
//
// The outbox. Event numbers come from a sequence, drawn by each writer on
// its own, so that writers of events share no row; readers see events
// only up to a horizon below which no number can still commit, so that
// they see them in commit order as OutboxAfter's readers need. A reader
// that finds events beyond the horizon has it advanced (waiting for the
// transactions in flight) and its View or Update run again: see outbox.go
// for the rule and why it holds.
//
// Schema. Versioned migrations (migrations/*.sql, embedded) applied by
// goose at Open, under goose's PostgreSQL advisory-lock session locker so
// that replicas starting together apply each once. Records are stored
// whole as JSONB beside the columns that are keyed, indexed, constrained
// or summed; money columns are BIGINT nanoTON.
//
// Aggregates. OrderTotals reads per-owner totals that triggers on orders
// keep in the writing transaction (order_totals, migration 00005; Check
// verifies them against the orders): a user's order statistics read a row
// per status, everyone's sum a row per owner and status. UserTotals,
// DepositTotals, AssetDepositTotals and DepositTotalsSince are SQL
// aggregates over indexed (covering) columns, not maintained counters:
// exact by construction, and read only by the admins' /stats.
package pgstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"starsbot/shop"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxAttempts bounds how often Update runs fn for one call.
const maxAttempts = 1000

// Backoff between attempts: doubles from minBackoff up to maxBackoff,
// jittered.
const (
	minBackoff = time.Millisecond
	maxBackoff = 50 * time.Millisecond
)

var _ shop.Store = (*DB)(nil)

// DB is a shop.Store on a PostgreSQL database. It is safe for concurrent
// use.
type DB struct {
	pool     *pgxpool.Pool
	retries  atomic.Int64 // Update's re-runs after 40001/40P01, since Open
	notifier notifier     // the outbox notifications after commits (notify.go)
	// multiViews holds the code of the View fns seen to run more than one
	// statement: their transaction begins with the first (View).
	multiViews sync.Map
	batch      []batcher // the group commit (batch.go), by partition
}

// An Option sets how Open opens the store.
type Option func(*options)

type options struct {
	batchParts int
}

// BatchPartitions splits the group commit's orders (batch.go) into n
// partitions of the payers, 1 to 8, whose batches run side by side; the
// default is 1. More than one pays where the database server has cores
// to spare. The replicas on one database should agree on it: batches of
// one payer in two partitions conflict, and one of them runs again.
func BatchPartitions(n int) Option {
	return func(o *options) { o.batchParts = n }
}

// Open connects to the database at url (postgres://…), applies the
// migrations it lacks and returns the store. Errors never carry the URL's
// credentials.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("pgstore: invalid DATABASE_URL (it is not shown: it may hold a password)")
	}
	return open(ctx, cfg, opts...)
}

// open is Open with a parsed pool configuration (the tests add a tracer).
func open(ctx context.Context, cfg *pgxpool.Config, opts ...Option) (*DB, error) {
	o := options{batchParts: defaultBatchParts}
	for _, opt := range opts {
		opt(&o)
	}
	if o.batchParts < 1 || o.batchParts > maxBatchParts {
		return nil, fmt.Errorf("pgstore: %d batch partitions: want 1 to %d", o.batchParts, maxBatchParts)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db := &DB{pool: pool, batch: make([]batcher, o.batchParts)}
	for i := range db.batch {
		db.batch[i].part = i
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// migrate applies the embedded migrations that the database lacks.
func (db *DB) migrate(ctx context.Context) error {
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	defer func() { _ = sqlDB.Close() }()
	var schema string
	if err := db.pool.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return fmt.Errorf("pgstore: migrate: current_schema: %w", err)
	}
	// The lock is the schema's, as the leader's (leaderKey): goose's
	// default id is one for the whole server, so that shops (and tests) on
	// other schemas would wait for each other's migrations, 5 s per try.
	// Probed every second, for up to 5 minutes as goose's default.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID(schema)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, mustSub(migrations, "migrations"), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	return nil
}

// migrationLockID is the advisory lock key under which the shop in schema
// migrates: goose's default id mixed with the schema, as leaderKey mixes
// the leader's.
func migrationLockID(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(schema))
	return lock.DefaultLockID ^ int64(h.Sum64()>>1)
}

// Close closes the connections.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Pool returns the connection pool, for tests and tools that read the
// database directly.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Retries returns how many times Update has re-run a transaction after a
// serialization failure or a deadlock since Open, for benchmarks and
// metrics.
func (db *DB) Retries() int64 { return db.retries.Load() }

// SQLDB returns a database/sql handle on the pool; the caller closes it.
func (db *DB) SQLDB() *sql.DB { return stdlib.OpenDBFromPool(db.pool) }

// View runs fn in a read-only snapshot. When a read of the outbox asks
// for the horizon to be advanced (outbox.go), View advances it and runs fn
// again in a new snapshot, once. Its first statement runs outside a
// transaction unless fn is known to run more than one (conn.go); when the
// rows it read changed before the second, fn runs again in a transaction.
func (db *DB) View(ctx context.Context, fn func(shop.Tx) error) error {
	site := reflect.ValueOf(fn).Pointer() // the code of fn (a function literal, or a copy of it the compiler inlined)
	_, multi := db.multiViews.Load(site)
	advanced, lazy := false, !multi
	for {
		advance, upgraded, err := db.view(ctx, fn, advanced, lazy)
		if upgraded {
			db.multiViews.Store(site, struct{}{})
		}
		if errors.Is(err, errSnapshotMoved) {
			lazy = false
			continue
		}
		if !advance {
			return err
		}
		if err := db.advanceHorizon(ctx); err != nil {
			return err
		}
		advanced = true
	}
}

// view runs fn once in a REPEATABLE READ READ ONLY transaction (its BEGIN
// sent with the first statement, or with lazy with the second, conn.go)
// and reports whether it asked for the outbox horizon to be advanced and
// whether a lazy transaction began (fn ran a second statement). When the
// first statement's rows had changed by then, it returns errSnapshotMoved,
// whatever fn returned.
func (db *DB) view(ctx context.Context, fn func(shop.Tx) error, advanced, lazy bool) (advance, upgraded bool, err error) {
	c, err := db.acquire(ctx, "begin isolation level repeatable read read only")
	if err != nil {
		return false, false, err
	}
	defer c.release(ctx)
	c.lazy = lazy
	t := &tx{ctx: ctx, ptx: c, advanced: advanced}
	err = fn(t)
	upgraded = lazy && c.begun
	if c.err == errSnapshotMoved {
		return false, upgraded, errSnapshotMoved
	}
	return t.needAdvance, upgraded, err
}

// Update runs fn in a serializable transaction, re-running it on
// serialization failures and deadlocks (see the package doc), and once
// after advancing the outbox horizon if a read of the outbox asks for it.
// Concurrent Updates that name their payer (shop.WithUpdateKey: orders)
// share transactions (group commit, batch.go), except a leader's fenced
// ones; the others run alone.
func (db *DB) Update(ctx context.Context, fn func(shop.Tx) error) error {
	if g, key := db.partOf(ctx); g != nil && fenceOf(ctx) == nil {
		return db.grouped(ctx, g, key, fn)
	}
	return db.updateAlone(ctx, fn)
}

// updateAlone is Update in a transaction of fn's own.
func (db *DB) updateAlone(ctx context.Context, fn func(shop.Tx) error) error {
	backoff := minBackoff
	queue, advanced := false, false
	for attempt := 1; ; attempt++ {
		// The first run is optimistic; a re-run after a serialization
		// failure queues behind the other re-runs first (see update).
		retry, advance, err := db.update(ctx, fn, queue, advanced)
		if advance {
			if err := db.advanceHorizon(ctx); err != nil {
				return err
			}
			advanced = true
			continue
		}
		if !retry {
			return err
		}
		if attempt >= maxAttempts {
			return fmt.Errorf("pgstore: update gave up after %d serialization failures: %w", attempt, err)
		}
		db.retries.Add(1)
		queue = true
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// update runs fn once and reports whether the transaction must be re-run
// (a serialization failure) or re-run after advancing the outbox horizon.
//
// With queue, the transaction first takes table update_queue (empty; only
// this locks it) in SHARE ROW EXCLUSIVE mode, which conflicts with itself. LOCK TABLE takes no snapshot (PostgreSQL's
// LOCK documentation: a serializable transaction's snapshot is taken by its
// first SELECT or data-modification statement), so fn's snapshot is taken
// once the lock is held, after every earlier re-run has committed: re-runs
// wait for each other instead of failing again.
func (db *DB) update(ctx context.Context, fn func(shop.Tx) error, queue, advanced bool) (retry, advance bool, err error) {
	c, err := db.acquire(ctx, "begin isolation level serializable")
	if err != nil {
		return false, false, err
	}
	defer c.release(ctx)
	t := &tx{ctx: ctx, ptx: c, writable: true, advanced: advanced}
	if queue {
		// Sent with the first statement, after BEGIN (conn.go).
		_ = c.queue("lock update_queue", `LOCK TABLE update_queue IN SHARE ROW EXCLUSIVE MODE`)
	}
	if f := fenceOf(ctx); f != nil {
		if err := t.checkFence(f); err != nil {
			return t.conflict != nil, false, err
		}
	}
	ferr := fn(t)
	t.noteQueuedConflict()
	if t.conflict != nil || t.needAdvance || ferr != nil {
		if t.conflict != nil {
			// A statement hit a serialization failure: whatever fn made
			// of it, the transaction is void and fn runs again.
			return true, false, t.conflict
		}
		if t.needAdvance {
			// A read of the outbox stopped at the horizon: likewise.
			return false, true, nil
		}
		return false, false, ferr
	}
	if err := c.commit(ctx); err != nil {
		if err == c.err {
			return retryable(err), false, err // a queued write's, named
		}
		return retryable(err), false, fmt.Errorf("pgstore: commit: %w", err)
	}
	if t.appended {
		db.notifyOutbox()
	}
	return false, false, nil
}

// retryable reports whether err is a serialization failure, a deadlock,
// or a lock wait that timed out (only a batch sets lock_timeout: batch.go).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03")
}

// mustSub returns the migrations directory of the embedded files.
func mustSub(fsys embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // embedded at build time
	}
	return sub
}
