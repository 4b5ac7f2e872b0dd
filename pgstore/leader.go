package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// LeaderLockKey is the PostgreSQL advisory lock the leader holds, mixed
// with a hash of the connection's schema (current_schema()) so that shops
// on separate schemas of one database (and tests, one schema each) hold
// separate locks. It differs from goose's migration lock
// (5887940537704921958).
const LeaderLockKey int64 = 0x5374617273426f74 // "StarsBot"

// Elector elects one leader among the processes on one database: the one
// that holds the advisory lock pg_try_advisory_lock(key) on a dedicated
// connection (not the pool: a session lock belongs to its connection). A
// follower retries every TTL/3; the leader pings its connection every
// TTL/3 and, on a failed ping or a lost connection, steps down at once
// (cancels the leader context) and closes the connection, which releases
// the lock server-side. The session asks the server for TCP keepalives of
// about TTL, so that the server also releases the lock of a leader it can
// no longer reach. Each leadership has a term, and the leader context
// carries it: the store's Updates made under it are fenced (fence.go), and
// one that finds a newer term also steps this leader down. Run runs it;
// Wait waits to lead.
type Elector struct {
	url    string
	ttl    time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	leading context.Context // non-nil while leader
	gained  chan struct{}   // closed when leadership is next gained
}

// NewElector returns an elector over the database at url (postgres://…).
// ttl is LEADER_TTL: how long the replicas may go without a leader.
func NewElector(url string, ttl time.Duration, logger *slog.Logger) (*Elector, error) {
	if _, err := pgx.ParseConfig(url); err != nil {
		return nil, errors.New("pgstore: leader: invalid DATABASE_URL (it is not shown: it may hold a password)")
	}
	if ttl < 30*time.Millisecond {
		return nil, fmt.Errorf("pgstore: leader: TTL %s is too short", ttl)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{url: url, ttl: ttl, logger: logger, gained: make(chan struct{})}, nil
}

// Wait blocks until this process leads, and returns a context that is
// cancelled when it stops leading (or ctx ends). The context carries the
// leadership's term (TermOf): the store's Updates made under it, or under
// a context made from it, are fenced. It returns ctx's error
// when ctx ends first.
func (e *Elector) Wait(ctx context.Context) (context.Context, error) {
	for {
		e.mu.Lock()
		l, ch := e.leading, e.gained
		e.mu.Unlock()
		if l != nil && l.Err() == nil {
			return l, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Leader reports whether this process leads now.
func (e *Elector) Leader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.leading != nil && e.leading.Err() == nil
}

// Run campaigns until ctx ends, then steps down and releases the lock. It
// returns nil: database errors only make it a follower that retries.
func (e *Elector) Run(ctx context.Context) error {
	every := e.ttl / 3
	for ctx.Err() == nil {
		conn, key, err := e.connect(ctx)
		if err != nil {
			e.logger.Warn("leader election: cannot connect; retrying", "err", err, "every", every)
		} else {
			e.campaign(ctx, conn, key, every)
			closeConn(conn)
		}
		if !sleep(ctx, every) {
			break
		}
	}
	return nil
}

// campaign tries for the lock every interval on conn, leads while it holds
// it, and returns when conn fails or ctx ends.
func (e *Elector) campaign(ctx context.Context, conn *pgx.Conn, key int64, every time.Duration) {
	for {
		var got bool
		qctx, cancel := context.WithTimeout(ctx, every)
		err := conn.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				e.logger.Warn("leader election: lock query failed; reconnecting", "err", err)
			}
			return
		}
		if got {
			break
		}
		if !sleep(ctx, every) {
			return
		}
	}
	tctx, cancel := context.WithTimeout(ctx, e.ttl)
	var term int64
	err := conn.QueryRow(tctx, nextTermSQL, key).Scan(&term)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			e.logger.Warn("leader election: took the lock but could not start a new term; reconnecting", "err", err)
		}
		return // Run closes conn, which releases the lock
	}
	lctx, stepDown := context.WithCancel(ctx)
	defer stepDown()
	lctx = withFence(lctx, &fence{key: key, term: term, depose: stepDown})
	e.mu.Lock()
	e.leading = lctx
	close(e.gained)
	e.gained = make(chan struct{})
	e.mu.Unlock()
	e.logger.Info("leader election: this process leads", "ttl", e.ttl, "term", term)
	defer func() {
		e.mu.Lock()
		e.leading = nil
		e.mu.Unlock()
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-lctx.Done():
			if ctx.Err() == nil {
				// A fenced Update found a newer term (checkFence).
				e.logger.Warn("leader election: a newer leader has been elected; stepped down", "term", term)
				return
			}
			e.logger.Info("leader election: stepping down (stopping)")
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key)
			cancel()
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, every)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				stepDown()
				e.logger.Warn("leader election: lost the database connection; stepped down", "err", err)
				return
			}
		}
	}
}

// connect opens the dedicated connection (dialHeld) and computes the
// lock key of its schema.
func (e *Elector) connect(ctx context.Context) (*pgx.Conn, int64, error) {
	conn, schema, err := dialHeld(ctx, e.url, e.ttl)
	if err != nil {
		return nil, 0, err
	}
	return conn, leaderKey(schema), nil
}

// dialHeld opens a connection that holds session advisory locks (not the
// pool's: a session lock belongs to its connection), asks for server-side
// TCP keepalives of about ttl (best effort: not on Unix sockets), so that
// the server releases the locks of a process it can no longer reach, and
// returns the connection's schema (current_schema()), which the lock keys
// are mixed with.
func dialHeld(ctx context.Context, url string, ttl time.Duration) (*pgx.Conn, string, error) {
	cctx, cancel := context.WithTimeout(ctx, ttl)
	defer cancel()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, "", errors.New("invalid DATABASE_URL")
	}
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("connect to %s:%d: %w", cfg.Host, cfg.Port, err)
	}
	secs := strconv.Itoa(max(1, int(ttl/3/time.Second)))
	for _, set := range []string{"tcp_keepalives_idle", "tcp_keepalives_interval"} {
		_, _ = conn.Exec(cctx, "SELECT set_config($1, $2, false)", set, secs)
	}
	_, _ = conn.Exec(cctx, "SELECT set_config('tcp_keepalives_count', '2', false)")
	var schema string
	if err := conn.QueryRow(cctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		closeConn(conn)
		return nil, "", fmt.Errorf("current_schema: %w", err)
	}
	return conn, schema, nil
}

// leaderKey is the advisory lock key of the shop in schema.
func leaderKey(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(schema))
	return LeaderLockKey ^ int64(h.Sum64()>>1)
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
