package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
)

// Replicas counts the live replicas on one database, for what they share
// by dividing it (the API's per-key rate limit): each replica heartbeats
// a row of table replicas (its id, an expiry in the server's clock, so
// that the replicas' own clocks do not matter) and counts the rows that
// have not expired. A replica that stops deletes its row; one that dies
// stops counting when its row expires. Run runs it; Count and OnChange
// give the count. It costs one statement per heartbeat, none per request.
type Replicas struct {
	db     *DB
	id     string
	every  time.Duration
	ttl    time.Duration
	logger *slog.Logger
	// OnChange, if set before Run, is called by Run with the count when
	// it changes, the first time included; never concurrently.
	OnChange func(n int)

	n atomic.Int64
}

// NewReplicas returns the heartbeat of this process (a new random id,
// prefixed by the host name for people reading the table). A row is live
// for ttl after each heartbeat; heartbeats come every ttl/3, so a missed
// one or two do not drop the replica from the count.
func NewReplicas(db *DB, ttl time.Duration, logger *slog.Logger) (*Replicas, error) {
	if ttl < 30*time.Millisecond {
		return nil, fmt.Errorf("pgstore: replicas: TTL %s is too short", ttl)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	r := &Replicas{db: db, id: host + "-" + hex.EncodeToString(b), every: ttl / 3, ttl: ttl, logger: logger}
	r.n.Store(1)
	return r, nil
}

// ID returns this replica's row id.
func (r *Replicas) ID() string { return r.id }

// Count returns the number of live replicas, this one included, as of the
// last heartbeat: 1 before the first and while the database cannot be
// reached for the first time; the last count while it cannot be reached
// later.
func (r *Replicas) Count() int { return int(r.n.Load()) }

// Run heartbeats every ttl/3 until ctx ends, then deletes this replica's
// row. It returns nil: a failed heartbeat keeps the last count and is
// logged.
func (r *Replicas) Run(ctx context.Context) error {
	last := 0
	failing := false
	for {
		n, err := r.beat(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				r.logger.Warn("replicas: heartbeat failed; keeping the last count", "err", err, "replicas", r.Count())
			}
			failing = true
		case err == nil:
			failing = false
			r.n.Store(int64(n))
			if n != last {
				r.logger.Info("replicas: live replicas on the database", "replicas", n)
				if r.OnChange != nil {
					r.OnChange(n)
				}
				last = n
			}
		}
		if !sleep(ctx, r.every) {
			break
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.every)
	defer cancel()
	if _, err := r.db.pool.Exec(dctx, `DELETE FROM replicas WHERE id = $1`, r.id); err != nil {
		r.logger.Warn("replicas: could not remove this replica's row; it expires by itself", "err", err, "ttl", r.ttl)
	}
	return nil
}

// beat renews this replica's row, removes rows long expired, and returns
// the live rows, this one included (a statement does not see its own
// writes, hence the +1).
func (r *Replicas) beat(ctx context.Context) (int, error) {
	bctx, cancel := context.WithTimeout(ctx, r.every)
	defer cancel()
	var others int
	err := r.db.pool.QueryRow(bctx, `WITH up AS (
		INSERT INTO replicas (id, expires_at) VALUES ($1, now() + make_interval(secs => $2))
		ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at
	), gone AS (
		DELETE FROM replicas WHERE id <> $1 AND expires_at < now() - make_interval(secs => $2)
	)
	SELECT count(*) FROM replicas WHERE id <> $1 AND expires_at > now()`, r.id, r.ttl.Seconds()).Scan(&others)
	if err != nil {
		return 0, fmt.Errorf("pgstore: replicas heartbeat: %w", err)
	}
	return others + 1, nil
}
