package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Outbox notifications. After a transaction that appended outbox events
// commits, Update has the outbox channel of its schema notified
// (pg_notify), so that every replica's Listener wakes its relay; the
// payload is empty: a notification only says "read the outbox", which the
// relay reads by its cursor, so a lost one costs a reader's poll interval,
// never an event.
//
// Not in the transaction itself, although NOTIFY is transactional: a
// transaction that notifies takes PostgreSQL's cluster-wide notify lock
// (LockSharedObject on "database 0", async.c PreCommit_Notify) and holds it
// until after its commit record is flushed, so every event-writing
// transaction would commit one at a time. Instead each process sends at
// most one notification at a time, from its own short transaction with
// synchronous_commit off (it holds the lock for no flush), and folds the
// commits that end meanwhile into the next one, which it sends no sooner
// than notifyInterval after the last: under load a notification per
// couple of commits cost a transaction of their own each, and a reader
// woken 20 ms later loses nothing (the relays poll every 5 s anyway).

// outboxChannelSQL is the outbox channel's name as SQL over the session's
// schema: "starsbot_outbox_" and 16 hex digits of md5(current_schema()),
// so that shops on separate schemas of one database (and the tests, one
// schema each) do not wake each other. Notifiers and the Listener compute
// it the same way, on their own connections.
const outboxChannelSQL = `'starsbot_outbox_' || left(md5(coalesce(current_schema(), '')), 16)`

// notifySQL sends the notification: one round trip (the simple protocol
// runs the statements in order; a failure leaves the connection in a
// transaction, and the pool then drops it).
const notifySQL = `BEGIN; SET LOCAL synchronous_commit TO OFF; SELECT pg_notify(` + outboxChannelSQL + `, ''); COMMIT`

// notifier sends a DB's outbox notifications, one at a time.
type notifier struct {
	pending atomic.Bool // a commit is not yet covered by a notification
	sending atomic.Bool // a goroutine is sending
}

// notifyOutbox has the outbox notified after a commit: by the sending
// goroutine if one runs (it sends again for this commit), else by a new
// one. It never blocks; errors are dropped (the readers poll).
func (db *DB) notifyOutbox() {
	n := &db.notifier
	n.pending.Store(true)
	if n.sending.CompareAndSwap(false, true) {
		go db.sendNotifications()
	}
}

// sendNotifications notifies while commits are pending, then stops.
func (db *DB) sendNotifications() {
	n := &db.notifier
	for {
		for n.pending.Swap(false) {
			ctx, cancel := context.WithTimeout(context.Background(), listenerTimeout)
			_, _ = db.pool.Exec(ctx, notifySQL)
			cancel()
			time.Sleep(notifyInterval) // the commits meanwhile share the next
		}
		n.sending.Store(false)
		// A commit between the last Swap and the Store saw a sender
		// running and started none: take it unless another did.
		if !n.pending.Load() || !n.sending.CompareAndSwap(false, true) {
			return
		}
	}
}

// notifyInterval is the least time between two outbox notifications of
// one process.
const notifyInterval = 20 * time.Millisecond

// Listener timing: a silent connection is pinged after listenerIdle, and a
// lost one reconnected after a backoff that doubles from listenerMinBackoff
// up to listenerMaxBackoff.
const (
	listenerIdle       = 30 * time.Second
	listenerTimeout    = 10 * time.Second
	listenerMinBackoff = 100 * time.Millisecond
	listenerMaxBackoff = 10 * time.Second
)

// ListenerAppName is the application_name of a Listener's session, as
// pg_stat_activity shows it.
const ListenerAppName = "starsbot outbox listener"

// Listener wakes a consumer when another session commits outbox events:
// it holds a dedicated connection (not the pool's: LISTEN belongs to its
// session) that LISTENs on the outbox channel of its schema. After a lost
// connection it reconnects with backoff; each (re)connection also wakes
// the consumer, since notifications sent meanwhile are lost. C delivers
// the wake-ups, coalesced; Run runs it.
type Listener struct {
	url    string
	logger *slog.Logger
	c      chan struct{}
	pid    atomic.Uint32
}

// NewListener returns a listener over the database at url (postgres://…);
// logger may be nil.
func NewListener(url string, logger *slog.Logger) (*Listener, error) {
	if _, err := pgx.ParseConfig(url); err != nil {
		return nil, errors.New("pgstore: listener: invalid DATABASE_URL (it is not shown: it may hold a password)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{url: url, logger: logger, c: make(chan struct{}, 1)}, nil
}

// C receives after an outbox notification or a (re)connection: at least
// once after each, several of them possibly folded into one.
func (l *Listener) C() <-chan struct{} { return l.c }

// BackendPID is the server process of the listening session (what
// pg_stat_activity and pg_terminate_backend name), 0 while disconnected.
func (l *Listener) BackendPID() uint32 { return l.pid.Load() }

// Run listens until ctx ends and returns nil: database errors only make
// it reconnect.
func (l *Listener) Run(ctx context.Context) error {
	backoff := listenerMinBackoff
	for ctx.Err() == nil {
		conn, err := l.connect(ctx)
		if err != nil {
			if ctx.Err() == nil {
				l.logger.Warn("outbox listener: cannot listen; retrying", "err", err, "in", backoff)
			}
		} else {
			backoff = listenerMinBackoff
			l.logger.Debug("outbox listener: listening", "pid", conn.PgConn().PID())
			l.pid.Store(conn.PgConn().PID())
			l.wake() // what was sent while we were not listening
			err := l.listen(ctx, conn)
			l.pid.Store(0)
			closeConn(conn)
			if ctx.Err() != nil {
				break
			}
			l.logger.Warn("outbox listener: lost the connection; reconnecting", "err", err)
		}
		if !sleep(ctx, backoff) {
			break
		}
		backoff = min(2*backoff, listenerMaxBackoff)
	}
	return nil
}

// connect opens the session and LISTENs on its schema's channel.
func (l *Listener) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, listenerTimeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(l.url)
	if err != nil {
		return nil, errors.New("invalid DATABASE_URL")
	}
	cfg.RuntimeParams["application_name"] = ListenerAppName
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	// Server-side keepalives, as the elector's (best effort): the
	// session's own pings catch a dead peer too.
	secs := strconv.Itoa(int(listenerIdle / time.Second))
	for _, set := range []string{"tcp_keepalives_idle", "tcp_keepalives_interval"} {
		_, _ = conn.Exec(cctx, "SELECT set_config($1, $2, false)", set, secs)
	}
	var channel string
	if err := conn.QueryRow(cctx, "SELECT "+outboxChannelSQL).Scan(&channel); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("outbox channel: %w", err)
	}
	if _, err := conn.Exec(cctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// listen waits for notifications on conn, pinging it when it has been
// silent for listenerIdle, until ctx ends or the connection fails.
func (l *Listener) listen(ctx context.Context, conn *pgx.Conn) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, listenerIdle)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			l.wake()
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Silence: a timeout leaves the connection usable (pgconn
			// closes it on any other error). Is the server still there?
			pctx, cancel := context.WithTimeout(ctx, listenerTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// wake hands the consumer a wake-up unless one is already waiting.
func (l *Listener) wake() {
	select {
	case l.c <- struct{}{}:
	default:
	}
}
