package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// Group commit. Under load most of the cost of a short transaction is not
// its statements but what surrounds them: BEGIN, COMMIT and its WAL flush,
// and a network round trip (two system calls on each end, two context
// switches) per pipeline. Concurrent Updates therefore share transactions,
// as package store's share bbolt's (bbolt's DB.Batch):
//
//   - Only Updates that name their payer (shop.WithUpdateKey: an order's)
//     are grouped, by partition of the payers (the id modulo the number
//     of partitions, BatchPartitions: 1 unless set): the batches of
//     different partitions touch different users' rows and run side by
//     side, each on its own connection. Others run alone, as before.
//   - An Update that finds its partition's lane free (batchLanes) runs
//     alone, in its own goroutine and with its own ctx. One that finds it
//     busy waits; when the lane frees, the first waiting call leads the
//     next batch: every call of the partition waiting then, up to
//     maxBatch, in arrival order.
//   - The batches of a partition take turns across every process on the
//     database (LOCK TABLE batch_turn_N): two at once would conflict on
//     the rows they share and abort each other, or wait out each other's
//     row locks. A batch first waits for its turn, then takes the calls
//     waiting by then. Hence one lane per partition and process: a second
//     would only wait for the turn.
//   - A batch waits for no row lock (lock_timeout batchLockTimeout): an
//     fn that touches another partition's rows (the key is a hint), or an
//     Update alone, may hold one; the batch then runs again, as after a
//     serialization failure, instead of waiting deadlock_timeout (1 s by
//     default) to be told of a deadlock.
//   - A lane that finishes nothing for defaultStallAfter (an fn waiting
//     on something else: a test's held writer) lets a waiting call open
//     a lane of its own, with the calls behind it.
//   - A batch is one SERIALIZABLE transaction. Each call's fn runs in turn
//     on a Tx of its own on that transaction, so it sees what the earlier
//     ones wrote (queued writes go ahead of its first read, conn.go), and
//     the writes of all go with one COMMIT. Every caller gets its result
//     only once that COMMIT is done.
//   - A serialization failure, a deadlock or a horizon advance runs the
//     whole batch again (every fn may run more than once: shop.Store).
//   - An fn that returns an error after calling no write method (a
//     refused order: the balance is too low) leaves the batch as it is and
//     gets its error. One that returns an error after a write method, or
//     panics, is taken out: the others run again as a batch, it runs alone
//     (Update's ordinary path, its error then returned as it is) or its
//     panic is raised again in its caller's goroutine.
//   - Anything else that fails a statement on the server (a queued write
//     hitting a constraint, a read's error) cannot be pinned on one fn, so
//     every fn of the batch then runs alone. A COMMIT that fails otherwise
//     (the connection lost) fails every call with that error: as for an
//     Update alone, whether it committed is unknown.
//   - Fenced Updates (a leader's, fence.go) never join a batch.
//
// A caller whose ctx ends while it waits leaves; once its fn is in a
// batch it waits for the batch's result, which runs under a context of its
// own (batchTimeout), so that no caller's cancellation fails the others.
const (
	batchLanes = 1
	// defaultBatchParts is the partitions' number unless BatchPartitions
	// sets it; maxBatchParts, the batch_turn_N tables (migration 00007).
	// One: on a server whose cores the batches share with everything else
	// (this project's 2-core machines), a second partition's batch running
	// beside the first cost 65 % more CPU per order, and halved the
	// batches (README, "Speed").
	defaultBatchParts = 1
	maxBatchParts     = 8
	maxBatch          = 64
	batchTimeout      = 30 * time.Second
	// defaultStallAfter: a call waits this long without a lane finishing
	// before it opens a lane of its own (await).
	defaultStallAfter = 100 * time.Millisecond
	// batchLockTimeout is a batch's lock_timeout (beginBatch).
	batchLockTimeout = "10ms"
)

// batcher is the group commit's state for one partition of the users
// (partOf).
type batcher struct {
	part     int
	mu       sync.Mutex
	running  int     // lanes in use
	progress uint64  // lanes that finished, since Open
	waiting  []*call // in arrival order
	batches  int64   // batches of more than one call run, since Open
	joined   int64   // calls they held
	// stallAfter is defaultStallAfter (0) or what a test set.
	stallAfter time.Duration
}

// call is one Update waiting for, or in, a batch.
type call struct {
	ctx  context.Context
	key  int64 // the payer it names (shop.WithUpdateKey)
	fn   func(shop.Tx) error
	lead chan struct{} // signalled when the call is to lead the next batch
	done chan struct{} // closed once err (or panicked) is set
	// taken is set under batcher.mu when the call joins a batch or is
	// promoted to lead one: it can no longer leave on its ctx.
	taken    bool
	err      error
	panicked any // its fn's panic (never nil for a panic: runtime.PanicNilError)
}

func (c *call) finish(err error) {
	c.err = err
	close(c.done)
}

// BatchStats reports how many batches of more than one Update have
// committed since Open, and how many Updates they held.
func (db *DB) BatchStats() (batches, calls int64) {
	for i := range db.batch {
		g := &db.batch[i]
		g.mu.Lock()
		batches, calls = batches+g.batches, calls+g.joined
		g.mu.Unlock()
	}
	return batches, calls
}

// partOf returns the batcher of the user ctx names (shop.WithUpdateKey)
// and that user's id, or nil: an Update without a key runs alone.
func (db *DB) partOf(ctx context.Context) (*batcher, int64) {
	key, ok := shop.UpdateKeyOf(ctx)
	if !ok {
		return nil, 0
	}
	return &db.batch[uint64(key)%uint64(len(db.batch))], key
}

// grouped runs fn, whose Update names key, through the group commit of g.
func (db *DB) grouped(ctx context.Context, g *batcher, key int64, fn func(shop.Tx) error) error {
	c := &call{ctx: ctx, key: key, fn: fn, lead: make(chan struct{}, 1), done: make(chan struct{})}
	g.mu.Lock()
	if g.running < batchLanes {
		// A lane is free: run alone, as an Update always did.
		g.running++
		g.mu.Unlock()
		defer db.nextBatch(g)
		return db.updateAlone(ctx, fn)
	}
	g.waiting = append(g.waiting, c)
	seen, stallAfter := g.progress, g.stallAfter
	g.mu.Unlock()
	if stallAfter == 0 {
		stallAfter = defaultStallAfter
	}
	lead, ok := db.await(ctx, g, c, seen, stallAfter)
	if !ok {
		return ctx.Err()
	}
	if lead {
		db.leadBatch(g, c)
	}
	<-c.done
	if c.panicked != nil {
		panic(c.panicked)
	}
	return c.err
}

// await waits until c is to lead a batch (lead) or is in one; !ok: it
// left, its ctx done. When no lane has finished anything for stallAfter
// (an fn that waits on something, a lock held elsewhere), c leads a batch
// on a lane of its own: a stalled lane holds nobody else up for long.
func (db *DB) await(ctx context.Context, g *batcher, c *call, seen uint64, stallAfter time.Duration) (lead, ok bool) {
	timer := time.NewTimer(stallAfter)
	defer timer.Stop()
	for {
		select {
		case <-c.lead:
			return true, true
		case <-c.done:
			return false, true
		case <-timer.C:
			g.mu.Lock()
			if !c.taken && g.progress == seen {
				g.remove(c)
				c.taken = true
				g.running++
				g.mu.Unlock()
				return true, true
			}
			seen = g.progress
			g.mu.Unlock()
			timer.Reset(stallAfter)
		case <-ctx.Done():
			g.mu.Lock()
			if !c.taken {
				g.remove(c)
				g.mu.Unlock()
				return false, false
			}
			g.mu.Unlock()
			select {
			case <-c.lead:
				return true, true
			case <-c.done:
				return false, true
			}
		}
	}
}

// remove takes c out of the waiting list (held: mu).
func (g *batcher) remove(c *call) {
	for i, w := range g.waiting {
		if w == c {
			g.waiting = append(g.waiting[:i], g.waiting[i+1:]...)
			return
		}
	}
}

// nextBatch hands a lane that is done to the first waiting call, or frees
// it. (A lane a stall opened lasts while calls wait: a partition's
// batches take turns in the database anyway.) The call promoted leaves
// the waiting list: no other batch takes it.
func (db *DB) nextBatch(g *batcher) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.progress++
	if len(g.waiting) == 0 {
		g.running--
		return
	}
	next := g.waiting[0]
	g.waiting = append(g.waiting[:0], g.waiting[1:]...)
	next.taken = true
	next.lead <- struct{}{}
}

// leadBatch runs a batch of own and the calls waiting, in arrival order,
// then hands the lane on. Whatever happens to this goroutine, no call it
// took is left without a result (runBatch).
func (db *DB) leadBatch(g *batcher, own *call) {
	defer db.nextBatch(g)
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	// The batch's turn first, then its calls: those that came while it
	// waited for another process's batch go with it.
	first, err := db.beginBatch(ctx, g.part)
	if err == nil {
		if err = first.flush(ctx); err != nil {
			first.release(ctx)
			first = nil
		}
	}
	g.mu.Lock()
	n := min(len(g.waiting), maxBatch-1)
	calls := append([]*call{own}, g.waiting[:n]...)
	g.waiting = append(g.waiting[:0], g.waiting[n:]...)
	for _, c := range calls {
		c.taken = true
	}
	g.mu.Unlock()
	db.runBatch(ctx, g, calls, first)
}

// beginBatch takes a connection for a batch's transaction and queues what
// goes first: its turn among batches, and its lock_timeout.
func (db *DB) beginBatch(ctx context.Context, part int) (*txConn, error) {
	c, err := db.acquire(ctx, "begin isolation level serializable")
	if err != nil {
		return nil, err
	}
	// The batches of one partition take turns, across every process on
	// the database: two at once would conflict on the rows they share and
	// abort each other, so one waits. The lock takes no snapshot (see
	// update).
	_ = c.queue("lock batch turn", fmt.Sprintf(`LOCK TABLE batch_turn_%d IN SHARE ROW EXCLUSIVE MODE`, part))
	// Nor does a batch wait for a row lock that another transaction
	// holds: that one's commit would make it fail anyway (PostgreSQL's
	// documentation, Repeatable Read Isolation Level), and were the other
	// waiting on it, they would wait deadlock_timeout (1 s by default)
	// to be told.
	_ = c.queue("lock timeout", `SET LOCAL lock_timeout = '`+batchLockTimeout+`'`)
	return c, nil
}

// runBatch runs calls as batches until each has its result (see the
// group commit above), the first on first when it is not nil (begun by
// beginBatch).
func (db *DB) runBatch(ctx context.Context, g *batcher, calls []*call, first *txConn) {
	// pending are the calls this goroutine still owes a result: a call
	// handed to a goroutine of its own leaves it.
	pending := calls
	defer func() {
		if first != nil {
			first.release(ctx)
		}
		// A Goexit or a panic outside the fns (a bug) must not leave a
		// caller waiting forever.
		for _, c := range pending {
			select {
			case <-c.done:
			default:
				c.finish(errors.New("pgstore: the batch this update was in stopped"))
			}
		}
	}()
	backoff := minBackoff
	advanced := false
	for attempt := 1; len(pending) > 0; attempt++ {
		c := first
		first = nil
		r := db.updateBatch(ctx, g.part, c, pending, advanced)
		switch {
		case r.errs != nil:
			if len(pending) > 1 {
				g.mu.Lock()
				g.batches++
				g.joined += int64(len(pending))
				g.mu.Unlock()
			}
			for i, c := range pending {
				c.finish(r.errs[i])
			}
			return
		case r.out >= 0:
			// Out of the batch: a panic raised again by its caller, or an
			// error after a write, from a run alone.
			c := pending[r.out]
			pending = append(pending[:r.out:r.out], pending[r.out+1:]...)
			if r.panic != nil {
				c.panicked = r.panic
				c.finish(nil)
			} else {
				go func() { c.finish(db.updateAlone(c.ctx, c.fn)) }()
			}
			if len(pending) == 1 {
				c := pending[0]
				c.finish(db.updateAlone(c.ctx, c.fn))
				return
			}
			attempt = 0
		case r.alone:
			alone := pending
			pending = nil
			for _, c := range alone {
				go func() { c.finish(db.updateAlone(c.ctx, c.fn)) }()
			}
			return
		case r.advance:
			if err := db.advanceHorizon(ctx); err != nil {
				for _, c := range pending {
					c.finish(err)
				}
				return
			}
			advanced = true
		case r.retry:
			if attempt >= maxAttempts {
				err := fmt.Errorf("pgstore: update gave up after %d serialization failures: %w", attempt, r.err)
				for _, c := range pending {
					c.finish(err)
				}
				return
			}
			db.retries.Add(1)
			wait := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, maxBackoff)
			time.Sleep(wait)
		default:
			for _, c := range pending {
				c.finish(r.err)
			}
			return
		}
	}
}

// batchRun is what one run of a batch came to.
type batchRun struct {
	errs    []error // committed: each call's result
	out     int     // ≥ 0: this call leaves the batch (see runBatch)
	panic   any     // … because its fn panicked with this
	alone   bool    // every call runs alone
	advance bool    // run again after advancing the outbox horizon
	retry   bool    // run again: a serialization failure or deadlock (err)
	err     error
}

// updateBatch runs calls' fns in one serializable transaction, in order,
// and commits them (see the group commit above), on c if it is not nil
// (begun by beginBatch) or else on a connection of its own.
func (db *DB) updateBatch(ctx context.Context, part int, c *txConn, calls []*call, advanced bool) batchRun {
	if c == nil {
		var err error
		if c, err = db.beginBatch(ctx, part); err != nil {
			return batchRun{out: -1, err: err}
		}
	}
	defer c.release(ctx)
	pre, err := prefetch(ctx, c, calls)
	switch {
	case retryable(err):
		return batchRun{out: -1, retry: true, err: err}
	case err != nil:
		return batchRun{out: -1, alone: true}
	}
	errs := make([]error, len(calls))
	appended := false
	for i, call := range calls {
		t := &tx{ctx: ctx, ptx: c, writable: true, advanced: advanced, known: pre.users, ids: &pre.ids}
		p, ferr := runFn(call.fn, t)
		t.noteQueuedConflict()
		switch {
		case t.conflict != nil:
			return batchRun{out: -1, retry: true, err: t.conflict}
		case t.needAdvance:
			return batchRun{out: -1, advance: true}
		case p != nil:
			return batchRun{out: i, panic: p}
		case c.err != nil || c.conn.Conn().PgConn().TxStatus() == 'E':
			// A statement failed on the server: the transaction is void,
			// and the failure may be an earlier fn's queued write.
			return batchRun{out: -1, alone: true}
		case ferr != nil && t.wrote:
			return batchRun{out: i}
		}
		errs[i] = ferr
		appended = appended || t.appended
	}
	if err := c.commit(ctx); err != nil {
		switch {
		case retryable(err):
			return batchRun{out: -1, retry: true, err: err}
		case err == c.err:
			return batchRun{out: -1, alone: true} // a queued write's: whose is unknown
		}
		return batchRun{out: -1, err: fmt.Errorf("pgstore: commit: %w", err)}
	}
	if appended {
		db.notifyOutbox()
	}
	return batchRun{errs: errs}
}

// prefetched is what a batch reads before its fns run, in one round trip
// (with its turn's statements when they are still ahead): the record of
// every payer its calls name, and an order id for each call. An order's fn
// then reads its payer and draws its id without a round trip of its own;
// its writes wait for the next read or the COMMIT, so a batch of orders
// is sent in a few pipelines whatever its size.
//
// users is the transaction's own view of those rows, not a cache beside
// it: read in the transaction (so predicate-locked, as FindUserByID's read
// would be), then kept in step by every PutUser of the batch's fns (the
// only write to a users row; tx.known), so a later fn reads what an
// earlier one wrote, as it would from the server. A payer with no record is kept
// as nil: not found, until a PutUser creates it. ids are drawn from
// order_ids as NextOrderID draws them, ascending, and handed out in
// order; a run that does not use them all leaves gaps, as a rolled-back
// transaction does. Each run of a batch prefetches again.
type prefetched struct {
	users map[int64][]byte
	ids   []int64
}

// prefetch reads calls' payers and draws an order id per call, on c.
func prefetch(ctx context.Context, c *txConn, calls []*call) (pre *prefetched, err error) {
	pre = &prefetched{users: make(map[int64][]byte, len(calls)), ids: make([]int64, 0, len(calls))}
	keys := make([]int64, 0, len(calls))
	for _, call := range calls {
		if _, ok := pre.users[call.key]; !ok {
			pre.users[call.key] = nil
			keys = append(keys, call.key)
		}
	}
	br, err := c.sendAhead(ctx, func(b *pgx.Batch) {
		b.Queue(`SELECT id, data FROM users WHERE id = ANY($1)`, keys)
		b.Queue(`SELECT nextval('order_ids') FROM generate_series(1, $1::int)`, len(calls))
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			pre, err = nil, fmt.Errorf("pgstore: prefetch: %w", cerr)
		}
	}()
	rows, _ := br.Query()
	var id int64
	var data []byte
	if _, err := pgx.ForEachRow(rows, []any{&id, &data}, func() error {
		pre.users[id] = data
		return nil
	}); err != nil {
		return nil, fmt.Errorf("pgstore: prefetch users: %w", err)
	}
	rows, _ = br.Query()
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error {
		pre.ids = append(pre.ids, id)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("pgstore: prefetch order ids: %w", err)
	}
	slices.Sort(pre.ids)
	return pre, nil
}

// runFn runs fn, recovering a panic: p is its value, never nil for a
// panic (runtime.PanicNilError for panic(nil)). A Goexit is not
// recovered: it goes on, through runBatch's cleanup.
func runFn(fn func(shop.Tx) error, t *tx) (p any, err error) {
	defer func() { p = recover() }()
	return nil, fn(t)
}
