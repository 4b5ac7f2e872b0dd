package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// SessionLockKey is mixed into the advisory lock key of each Fragment
// session (sessionKey); it differs from LeaderLockKey.
const SessionLockKey int64 = 0x46726753657373 // "FrgSess"

// sessionReleaseAfter is how long a session given up (to share the
// sessions with a replica that joined) stays locked after this replica
// stopped starting calls in it: long enough for a state update + init
// pair under way to end (two calls of the Fragment client's 30 s timeout).
const sessionReleaseAfter = time.Minute

// SessionLocks holds the Fragment sessions this replica uses, one
// PostgreSQL advisory lock per session, on a dedicated connection, as the
// Elector holds the leader's lock: replicas usually share FRAGMENT_COOKIES,
// and a session's state update + init pair must never overlap another pair
// of the same session (fulfillment.FragmentPool), which only one process
// at a time can promise.
//
// Each lock's key mixes the connection's schema with the session's
// stel_ssid (the login's id, which FRAGMENT_COOKIES lines share across
// replicas), so shops on other schemas do not meet. The ids are secret:
// never logged, only hashed.
//
// Every TTL/3 it pings its connection and takes free sessions up to Share
// (a fair share among the live replicas), starting from a random one so
// that replicas starting together spread; a session above the share is
// given up: Held turns false at once and the lock is released
// sessionReleaseAfter later. On a failed ping or a lost connection every
// session stops being held at once (Held false), and the connection is
// closed, which releases the locks server-side. Run runs it.
type SessionLocks struct {
	url    string
	ids    []string
	ttl    time.Duration
	logger *slog.Logger

	// Share, if set, is how many sessions this replica should hold (at
	// least 1); nil: all it can. Set before Run.
	Share func() int

	held   []atomic.Bool // what Held reports
	mu     sync.Mutex
	locked []bool      // locks this connection holds (held, or being given up)
	giveUp []time.Time // when a session given up is released; zero: not given up
}

// NewSessionLocks returns the locks of the sessions with stel_ssid ids
// (one per line of FRAGMENT_COOKIES, in order) on the database at url;
// ttl is LEADER_TTL. An empty id (a line without stel_ssid) is refused:
// its session could not be told apart.
func NewSessionLocks(url string, ids []string, ttl time.Duration, logger *slog.Logger) (*SessionLocks, error) {
	if _, err := pgx.ParseConfig(url); err != nil {
		return nil, errors.New("pgstore: session locks: invalid DATABASE_URL (it is not shown: it may hold a password)")
	}
	if ttl < 30*time.Millisecond {
		return nil, fmt.Errorf("pgstore: session locks: TTL %s is too short", ttl)
	}
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("pgstore: session locks: Fragment session %d has no stel_ssid", i+1)
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SessionLocks{url: url, ids: ids, ttl: ttl, logger: logger,
		held: make([]atomic.Bool, len(ids)), locked: make([]bool, len(ids)), giveUp: make([]time.Time, len(ids))}, nil
}

// Held reports whether this replica holds session i now.
func (l *SessionLocks) Held(i int) bool {
	return i >= 0 && i < len(l.held) && l.held[i].Load()
}

// Run holds sessions until ctx ends, then releases them. It returns nil:
// database errors only make it hold nothing and retry.
func (l *SessionLocks) Run(ctx context.Context) error {
	every := l.ttl / 3
	for ctx.Err() == nil {
		conn, schema, err := dialHeld(ctx, l.url, l.ttl)
		if err != nil {
			l.logger.Warn("fragment session locks: cannot connect; retrying", "err", err, "every", every)
		} else {
			l.hold(ctx, conn, l.keys(schema), every)
			closeConn(conn)
		}
		if !sleep(ctx, every) {
			break
		}
	}
	return nil
}

// keys returns the lock key of every session in schema.
func (l *SessionLocks) keys(schema string) []int64 {
	keys := make([]int64, len(l.ids))
	for i, id := range l.ids {
		keys[i] = sessionKey(schema, id)
	}
	return keys
}

// sessionKey is the advisory lock key of the session with stel_ssid id in
// schema.
func sessionKey(schema, id string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(schema))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(id))
	return SessionLockKey ^ int64(h.Sum64()>>1)
}

// hold takes and keeps sessions on conn every interval, and returns when
// conn fails or ctx ends: every session is then not held.
func (l *SessionLocks) hold(ctx context.Context, conn *pgx.Conn, keys []int64, every time.Duration) {
	defer l.dropAll()
	for {
		if err := l.balance(ctx, conn, keys, every); err != nil {
			if ctx.Err() == nil {
				l.logger.Warn("fragment session locks: lost the database connection; using no session until it is back", "err", err)
			}
			return
		}
		if !sleep(ctx, every) {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), every)
			l.dropAll()
			_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock_all()")
			cancel()
			return
		}
	}
}

// balance pings conn, releases the sessions given up whose time came,
// gives up those above the share, and takes free ones up to it.
func (l *SessionLocks) balance(ctx context.Context, conn *pgx.Conn, keys []int64, every time.Duration) error {
	qctx, cancel := context.WithTimeout(ctx, every)
	defer cancel()
	if err := conn.Ping(qctx); err != nil {
		return err
	}
	want := len(keys)
	if l.Share != nil {
		want = min(max(l.Share(), 1), len(keys))
	}
	now := time.Now()
	l.mu.Lock()
	var release []int
	using := 0
	for i := range keys {
		switch {
		case !l.giveUp[i].IsZero() && !now.Before(l.giveUp[i]):
			release = append(release, i)
		case l.held[i].Load():
			using++
		}
	}
	// Give up the last sessions above the share (the others keep theirs).
	for i := len(keys) - 1; i >= 0 && using > want; i-- {
		if l.held[i].Load() {
			l.held[i].Store(false)
			l.giveUp[i] = now.Add(sessionReleaseAfter)
			using--
			l.logger.Info("fragment session locks: giving a session up to share them with the other replicas", "session", i+1, "share", want)
		}
	}
	l.mu.Unlock()
	for _, i := range release {
		var ok bool
		if err := conn.QueryRow(qctx, "SELECT pg_advisory_unlock($1)", keys[i]).Scan(&ok); err != nil {
			return err
		}
		l.mu.Lock()
		l.locked[i], l.giveUp[i] = false, time.Time{}
		l.mu.Unlock()
	}
	start := rand.IntN(len(keys))
	for k := range keys {
		if using >= want {
			break
		}
		i := (start + k) % len(keys)
		l.mu.Lock()
		locked := l.locked[i]
		l.mu.Unlock()
		if locked {
			continue
		}
		var got bool
		if err := conn.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", keys[i]).Scan(&got); err != nil {
			return err
		}
		if got {
			l.mu.Lock()
			l.locked[i] = true
			l.held[i].Store(true)
			l.mu.Unlock()
			using++
			l.logger.Info("fragment session locks: this replica uses a session", "session", i+1, "sessions", len(keys))
		}
	}
	return nil
}

// dropAll stops using every session (the connection closes next, or
// unlocks them all).
func (l *SessionLocks) dropAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.held {
		if l.held[i].Load() {
		}
		l.held[i].Store(false)
		l.locked[i], l.giveUp[i] = false, time.Time{}
	}
}
