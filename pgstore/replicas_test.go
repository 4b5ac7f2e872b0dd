package pgstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"starsbot/pgstore"
)

// countLog records the counts a Replicas reports through OnChange.
type countLog struct {
	mu sync.Mutex
	ns []int
}

func (c *countLog) add(n int) { c.mu.Lock(); c.ns = append(c.ns, n); c.mu.Unlock() }

func (c *countLog) get() []int { c.mu.Lock(); defer c.mu.Unlock(); return slices.Clone(c.ns) }

// startReplicas runs a heartbeat on db until the returned stop is called
// (or the test ends).
func startReplicas(t *testing.T, db *pgstore.DB, ttl time.Duration) (*pgstore.Replicas, *countLog, func()) {
	t.Helper()
	r, err := pgstore.NewReplicas(db, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := &countLog{}
	r.OnChange = log.add
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	stop := sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(stop)
	return r, log, stop
}

// waitCount waits (up to limit) until r counts want replicas.
func waitCount(t *testing.T, r *pgstore.Replicas, want int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for r.Count() != want {
		if time.Now().After(deadline) {
			t.Fatalf("replica %s counts %d replicas after %s, want %d", r.ID(), r.Count(), limit, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Two replicas on one schema count each other; when one stops (and
// removes its row) the other counts itself alone. A replica that stops
// heartbeating without removing its row (one that died) drops from the
// count when its row expires.
func TestReplicas_CountComesAndGoes(t *testing.T) {
	_, db := migrated(t)
	const ttl = 1200 * time.Millisecond
	a, logA, _ := startReplicas(t, db, ttl)
	waitCount(t, a, 1, 5*ttl)
	b, logB, stopB := startReplicas(t, db, ttl)
	waitCount(t, a, 2, 5*ttl)
	waitCount(t, b, 2, 5*ttl)
	stopB()
	waitCount(t, a, 1, 5*ttl)

	// A replica that dies: its last heartbeat, never renewed.
	if _, err := db.Pool().Exec(context.Background(),
		`INSERT INTO replicas (id, expires_at) VALUES ('dead', now() + make_interval(secs => $1))`, ttl.Seconds()); err != nil {
		t.Fatal(err)
	}
	waitCount(t, a, 2, 5*ttl)
	waitCount(t, a, 1, 5*ttl)

	if got, want := logA.get(), []int{1, 2, 1, 2, 1}; !slices.Equal(got, want) {
		t.Errorf("A's counts %v, want %v", got, want)
	}
	if got := logB.get(); !slices.Equal(got, []int{2}) {
		t.Errorf("B's counts %v, want [2]", got)
	}
	var rows int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM replicas WHERE id <> $1`, a.ID()).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows > 1 {
		t.Errorf("%d rows of other replicas left, want at most the expired one", rows)
	}
}
