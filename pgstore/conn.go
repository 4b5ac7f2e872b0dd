package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Round trips. A balance-paid order is a dozen short statements, and on a
// busy server the time between them (a network round trip each, and the
// system calls on both ends) costs more than running them. txConn runs one
// transaction's statements on one pooled connection with fewer round
// trips, without changing what runs or in what order:
//
//   - BEGIN is not sent alone: it goes in one pipeline (a pgx.Batch, one
//     Sync) with the first statement. A transaction that runs no statement
//     sends nothing at all.
//   - Blind writes (Tx methods whose statement returns nothing the shop
//     reads: a Put, Enqueue, …) are queued, not sent, and go in the
//     pipeline of the next statement or of COMMIT. So are the appends of
//     ledger entries and outbox events, whose ids the server draws: their
//     RETURNING is read with that pipeline, which sets the id on the
//     caller's record when the next reading Tx method or the commit runs
//     (the shop reads those ids after Update returns: shop.Tx's
//     AppendLedger and AppendOutbox allow it). They still run before
//     every later statement of the transaction, which sees them. If one
//     fails, its error is kept (err): the statement it travelled with, and
//     every later one, returns it; Update rolls back and returns it (or
//     runs fn again after a serialization failure) even when fn returned
//     nil. So no transaction commits past a failed write, as before; only
//     the Tx method that reports the failure is a later one. Checks that
//     the shop relies on (a memo owned by someone else, a deposit's hash)
//     are reads made before the write is queued, so those Put methods
//     still fail at once.
//
// A failure in a pipeline leaves the transaction aborted on the server;
// release then sends ROLLBACK, and the pool drops a connection that is not
// idle when it is released.
//
// A View's first statement runs alone, outside a transaction (lazy): a
// View of one statement — an API key's lookup, an order's — then costs
// one round trip, not two (no BEGIN, no ROLLBACK), and sees one snapshot,
// as a statement does. When fn runs a second statement, the transaction
// begins then, in one pipeline: BEGIN, the first statement again, the
// second. If the first statement's rows, read again in the transaction's
// snapshot, are the ones fn was given (byte for byte), fn's reads are all
// of that snapshot and it goes on, none the wiser; if not (a commit came
// between), every later statement fails with errSnapshotMoved and View
// runs fn again in a transaction from its start. View learns which of
// its callers run more than one statement (by the code of fn) and begins
// theirs at once, so that they do not run their first statement twice.
type txConn struct {
	conn *pgxpool.Conn
	// begin is the BEGIN statement, sent with the first statement.
	begin   string
	begun   bool
	pending []queued
	err     error // the first failed write (or BEGIN): every later statement returns it
	// lazy: the first statement runs outside a transaction (a View's);
	// first is that statement once it ran.
	lazy  bool
	first *firstStatement
}

// firstStatement is a lazy View's first statement and the rows fn was
// given, as the server sent them.
type firstStatement struct {
	sql  string
	args []any
	rows [][][]byte
	ok   bool // every row was read without error
}

// errSnapshotMoved is what a lazy View's statements return once its first
// statement's rows changed before its second (see txConn).
var errSnapshotMoved = errors.New("pgstore: the data read first changed before the next read; the view runs again")

// queued is a write waiting for the next pipeline: blind, or with a scan
// that takes what its RETURNING gives back (an id drawn by the server)
// when the pipeline's results are read.
type queued struct {
	op, sql string
	args    []any
	scan    func(pgx.Row) error
}

// acquire takes a connection from the pool for a transaction that starts
// with begin (nothing is sent yet).
func (db *DB) acquire(ctx context.Context, begin string) (*txConn, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: begin: %w", err)
	}
	return &txConn{conn: conn, begin: begin}, nil
}

// queue queues a blind write for the next pipeline; it returns the error
// of an earlier failed write, if any.
func (c *txConn) queue(op, sql string, args ...any) error {
	if c.err != nil {
		return c.err
	}
	c.pending = append(c.pending, queued{op: op, sql: sql, args: args})
	return nil
}

// queueRow queues a write whose one row scan reads when the pipeline that
// carries it is read: by the next statement's method or by COMMIT, so
// before Update returns. It returns the error of an earlier failed write,
// if any.
func (c *txConn) queueRow(op string, scan func(pgx.Row) error, sql string, args ...any) error {
	if c.err != nil {
		return c.err
	}
	c.pending = append(c.pending, queued{op: op, sql: sql, args: args, scan: scan})
	return nil
}

// ahead reports whether statements must go before the next one (BEGIN, or
// queued writes).
func (c *txConn) ahead() (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	return !c.begun || len(c.pending) > 0, nil
}

// send sends BEGIN (if not yet sent), the queued writes and then sql in
// one pipeline, and reads the results of all but sql. On a failure it
// closes the batch and returns the error, which it keeps.
func (c *txConn) send(ctx context.Context, sql string, args ...any) (pgx.BatchResults, error) {
	return c.sendAhead(ctx, func(b *pgx.Batch) { b.Queue(sql, args...) })
}

// flush sends what is ahead of the next statement (BEGIN, queued writes)
// in a pipeline of its own and reads it: a group commit's batch waits
// for its turn with it before it takes its calls (batch.go).
func (c *txConn) flush(ctx context.Context) error {
	if ahead, err := c.ahead(); err != nil || !ahead {
		return err
	}
	br, err := c.sendAhead(ctx, nil)
	if err != nil {
		return err
	}
	return br.Close()
}

// sendAhead is send, the last statement queued by last (none: nil).
func (c *txConn) sendAhead(ctx context.Context, last func(*pgx.Batch)) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	begin := !c.begun
	if begin {
		b.Queue(c.begin)
		c.begun = true
	}
	pending := c.pending
	c.pending = nil
	for _, q := range pending {
		b.Queue(q.sql, q.args...)
	}
	if last != nil {
		last(b)
	}
	br := c.conn.SendBatch(ctx, b)
	if begin {
		if _, err := br.Exec(); err != nil {
			c.err = fmt.Errorf("pgstore: begin: %w", err)
			_ = br.Close()
			return nil, c.err
		}
	}
	for _, q := range pending {
		var err error
		if q.scan != nil {
			err = q.scan(br.QueryRow())
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			c.err = fmt.Errorf("pgstore: %s: %w", q.op, err)
			_ = br.Close()
			return nil, c.err
		}
	}
	return br, nil
}

// lazyFirst reports whether sql is a lazy View's first statement, to run
// alone; lazySecond, whether it is the second, which begins the
// transaction with the first again (upgrade).
func (c *txConn) lazyFirst() bool  { return c.lazy && c.first == nil && !c.begun && c.err == nil }
func (c *txConn) lazySecond() bool { return c.lazy && c.first != nil && !c.begun && c.err == nil }

// queryFirst runs a lazy View's first statement outside a transaction and
// keeps its rows as fn reads them.
func (c *txConn) queryFirst(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c.first = &firstStatement{sql: sql, args: args}
	rows, err := c.conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return &capturedRows{Rows: rows, f: c.first}, nil
}

// upgrade begins the transaction of a lazy View at its second statement:
// BEGIN, the first statement again and sql in one pipeline. It returns
// the pipeline, positioned at sql's result, if the first statement's rows
// are the ones fn was given; else errSnapshotMoved, which it keeps.
func (c *txConn) upgrade(ctx context.Context, sql string, args ...any) (pgx.BatchResults, error) {
	f := c.first
	b := &pgx.Batch{}
	b.Queue(c.begin)
	b.Queue(f.sql, f.args...)
	b.Queue(sql, args...)
	c.begun = true
	br := c.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		c.err = fmt.Errorf("pgstore: begin: %w", err)
		_ = br.Close()
		return nil, c.err
	}
	same, err := sameRows(br, f)
	if err != nil || !same {
		c.err = errSnapshotMoved
		_ = br.Close()
		return nil, c.err
	}
	return br, nil
}

// sameRows reads the next result of br and reports whether its rows are
// f's, byte for byte.
func sameRows(br pgx.BatchResults, f *firstStatement) (bool, error) {
	rows, err := br.Query()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	same := f.ok
	n := 0
	for rows.Next() {
		if n >= len(f.rows) || !equalRaw(rows.RawValues(), f.rows[n]) {
			same = false
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	return same && n == len(f.rows), nil
}

func equalRaw(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// capturedRows are a lazy View's first rows: each row fn reads is kept
// (copied: pgx reuses its buffers), and Close reads and keeps the rest,
// so that upgrade can compare them all.
type capturedRows struct {
	pgx.Rows
	f      *firstStatement
	closed bool
}

func (r *capturedRows) Next() bool {
	if !r.Rows.Next() {
		return false
	}
	raw := r.Rows.RawValues()
	row := make([][]byte, len(raw))
	for i, v := range raw {
		if v != nil {
			row[i] = append([]byte{}, v...)
		}
	}
	r.f.rows = append(r.f.rows, row)
	return true
}

func (r *capturedRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	for r.Next() {
	}
	r.Rows.Close()
	r.f.ok = r.Rows.Err() == nil
}

// Exec runs sql (after what is ahead of it) and returns its command tag.
func (c *txConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if c.lazyFirst() {
		c.lazy = false // a View runs no Exec; begin as usual
	}
	if c.lazySecond() {
		return lastExec(c.upgrade(ctx, sql, args...))
	}
	if ahead, err := c.ahead(); err != nil {
		return pgconn.CommandTag{}, err
	} else if !ahead {
		return c.conn.Exec(ctx, sql, args...)
	}
	return lastExec(c.send(ctx, sql, args...))
}

// lastExec returns the command tag of a pipeline's last statement and
// ends the pipeline.
func lastExec(br pgx.BatchResults, err error) (pgconn.CommandTag, error) {
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// lastRows returns the rows of a pipeline's last statement; closing them
// ends the pipeline.
func lastRows(br pgx.BatchResults, err error) (pgx.Rows, error) {
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// Query runs sql (after what is ahead of it); closing the rows ends the
// pipeline.
func (c *txConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	switch {
	case c.lazyFirst():
		return c.queryFirst(ctx, sql, args...)
	case c.lazySecond():
		return lastRows(c.upgrade(ctx, sql, args...))
	}
	if ahead, err := c.ahead(); err != nil {
		return nil, err
	} else if !ahead {
		return c.conn.Query(ctx, sql, args...)
	}
	return lastRows(c.send(ctx, sql, args...))
}

// QueryRow runs sql (after what is ahead of it).
func (c *txConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	switch {
	case c.lazyFirst():
		rows, err := c.queryFirst(ctx, sql, args...)
		if err != nil {
			return errRow{err}
		}
		return firstRow{rows}
	case c.lazySecond():
		br, err := c.upgrade(ctx, sql, args...)
		if err != nil {
			return errRow{err}
		}
		return batchRow{row: br.QueryRow(), br: br}
	}
	if ahead, err := c.ahead(); err != nil {
		return errRow{err}
	} else if !ahead {
		return c.conn.QueryRow(ctx, sql, args...)
	}
	br, err := c.send(ctx, sql, args...)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), br: br}
}

// commit sends the queued writes and COMMIT in one pipeline (nothing if
// the transaction never began: it ran no statement). A transaction left
// open by a failure is rolled back.
func (c *txConn) commit(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	if !c.begun && len(c.pending) == 0 {
		return nil
	}
	br, err := c.send(ctx, "commit")
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil && tag.String() == "ROLLBACK" {
			err = pgx.ErrTxCommitRollback
		}
	}
	if err != nil {
		c.rollback(ctx)
	}
	return err
}

// rollback ends a transaction that was begun and discards queued writes.
func (c *txConn) rollback(ctx context.Context) {
	c.pending = nil
	if c.begun && c.conn.Conn().PgConn().TxStatus() != 'I' {
		_, _ = c.conn.Exec(context.WithoutCancel(ctx), "rollback")
	}
}

// release rolls back what is still open and returns the connection to the
// pool (which drops it unless it is idle).
func (c *txConn) release(ctx context.Context) {
	c.rollback(ctx)
	c.conn.Release()
}

// batchRows are the rows of a pipeline's last statement; Close ends the
// pipeline.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow is the row of a pipeline's last statement.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil || errors.Is(err, pgx.ErrNoRows) && cerr != nil {
		err = cerr
	}
	return err
}

// firstRow is the row of a lazy View's first statement, read as pgx's
// QueryRow reads one: the first row, or ErrNoRows.
type firstRow struct{ rows pgx.Rows }

func (r firstRow) Scan(dest ...any) error {
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// errRow is a row that fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
