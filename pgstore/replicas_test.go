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

// waitCounts waits (up to limit) until r has reported the counts want,
// in order, through OnChange, and counts the last of them.
func waitCounts(t *testing.T, r *pgstore.Replicas, log *countLog, want []int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := log.get()
		if slices.Equal(got, want) && r.Count() == want[len(want)-1] {
			return
		}
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("replica %s reported the counts %v, want %v", r.ID(), got, want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s reported the counts %v after %s, want %v", r.ID(), got, limit, want)
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
	waitCounts(t, a, logA, []int{1}, 5*ttl)
	b, logB, stopB := startReplicas(t, db, ttl)
	waitCounts(t, b, logB, []int{2}, 5*ttl)
	waitCounts(t, a, logA, []int{1, 2}, 5*ttl)
	stopB()
	waitCounts(t, a, logA, []int{1, 2, 1}, 5*ttl)

	// A replica that dies: its last heartbeat, never renewed.
	if _, err := db.Pool().Exec(context.Background(),
		`INSERT INTO replicas (id, expires_at) VALUES ('dead', now() + make_interval(secs => $1))`, ttl.Seconds()); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, a, logA, []int{1, 2, 1, 2}, 5*ttl)
	waitCounts(t, a, logA, []int{1, 2, 1, 2, 1}, 5*ttl)
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
