package pgstore

import (
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
// Not done: running a View's lone statement outside a transaction (one
// round trip fewer for an API key's lookup). View cannot know that fn
// will run no second statement, and running fn again in a transaction
// when it does would repeat what fn does outside the store (the contract
// suite's Views record what they see), so a View still ends with
// ROLLBACK.
type txConn struct {
	conn *pgxpool.Conn
	// begin is the BEGIN statement, sent with the first statement.
	begin   string
	begun   bool
	pending []queued
	err     error // the first failed write (or BEGIN): every later statement returns it
}

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
	b.Queue(sql, args...)
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

// Exec runs sql (after what is ahead of it) and returns its command tag.
func (c *txConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if ahead, err := c.ahead(); err != nil {
		return pgconn.CommandTag{}, err
	} else if !ahead {
		return c.conn.Exec(ctx, sql, args...)
	}
	br, err := c.send(ctx, sql, args...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Query runs sql (after what is ahead of it); closing the rows ends the
// pipeline.
func (c *txConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if ahead, err := c.ahead(); err != nil {
		return nil, err
	} else if !ahead {
		return c.conn.Query(ctx, sql, args...)
	}
	br, err := c.send(ctx, sql, args...)
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

// QueryRow runs sql (after what is ahead of it).
func (c *txConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
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

// errRow is a row that fails with err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
