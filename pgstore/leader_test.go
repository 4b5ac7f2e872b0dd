package pgstore_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
)

// migrated returns the URL of a new schema with the store's tables (the
// electors' term table among them) and the store on it, checked and
// closed when the test ends.
func migrated(t *testing.T) (string, *pgstore.DB) {
	t.Helper()
	u := pgtest.NewSchema(t)
	db, err := pgstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.CheckAndClose(t, db)
	return u, db
}

// electors starts n electors over one schema and stops them when the test
// ends.
func electors(t *testing.T, u string, ttl time.Duration, n int) []*pgstore.Elector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var es []*pgstore.Elector
	for range n {
		e, err := pgstore.NewElector(u, ttl, nil)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
		wg.Go(func() { _ = e.Run(ctx) })
	}
	return es
}

// waitLeader waits (up to limit) until exactly one of es leads and returns
// its index.
func waitLeader(t *testing.T, es []*pgstore.Elector, limit time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		leader, count := -1, 0
		for i, e := range es {
			if e.Leader() {
				leader, count = i, count+1
			}
		}
		if count > 1 {
			t.Fatalf("%d leaders at once", count)
		}
		if count == 1 {
			return leader
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader after %s", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lockHolder returns the backend pid that holds the schema's leader lock.
func lockHolder(t *testing.T, conn *pgx.Conn, u string) int {
	t.Helper()
	pu, _ := url.Parse(u)
	key := uint64(pgstore.LeaderKeyOf(pu.Query().Get("search_path")))
	var pid int
	err := conn.QueryRow(context.Background(),
		`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1 AND objid = $2`,
		int64(key>>32), int64(key&0xffffffff)).Scan(&pid)
	if err != nil {
		t.Fatalf("leader lock holder: %v", err)
	}
	return pid
}

// Two electors on one database: exactly one leads; when the leader's
// connection is killed server-side, it steps down and the other takes over
// within the TTL.
func TestElector_OneLeaderAndTakeover(t *testing.T) {
	u, _ := migrated(t)
	const ttl = 900 * time.Millisecond
	es := electors(t, u, ttl, 2)
	first := waitLeader(t, es, 5*ttl)
	// Several checks apart: still exactly one, the same.
	for range 3 {
		time.Sleep(ttl / 3)
		if got := waitLeader(t, es, ttl); got != first {
			t.Fatalf("leader changed from %d to %d without a failure", first, got)
		}
	}
	lctx, err := es[first].Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	admin, err := pgx.Connect(context.Background(), pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	pid := lockHolder(t, admin, u)
	killed := time.Now()
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lctx.Done():
	case <-time.After(ttl):
		t.Fatalf("the old leader did not step down within the TTL (%s)", ttl)
	}
	steppedDown := time.Since(killed)
	other := 1 - first
	deadline := time.Now().Add(ttl)
	for !es[other].Leader() {
		if es[first].Leader() {
			t.Fatal("the old leader leads again before the other took over")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no takeover within the TTL (%s)", ttl)
		}
		time.Sleep(2 * time.Millisecond)
	}
	takeover := time.Since(killed)
	t.Logf("LEADER_TTL %s: old leader stepped down %s after its connection was killed; the other led after %s", ttl, steppedDown.Round(time.Millisecond), takeover.Round(time.Millisecond))
	if got := waitLeader(t, es, ttl); got != other {
		t.Fatalf("leader is %d, want %d", got, other)
	}
}

// Stopping the leader releases the lock: the follower takes over.
func TestElector_StopReleases(t *testing.T) {
	u, _ := migrated(t)
	const ttl = 600 * time.Millisecond
	a, err := pgstore.NewElector(u, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	actx, stopA := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(actx); close(done) }()
	lctx, err := a.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := electors(t, u, ttl, 1)[0]
	time.Sleep(ttl / 2)
	if b.Leader() {
		t.Fatal("two leaders")
	}
	stopA()
	<-done
	if lctx.Err() == nil {
		t.Fatal("leader context still live after Run returned")
	}
	if _, err := b.Wait(ctxTimeout(t, 3*ttl)); err != nil {
		t.Fatalf("the follower did not take over: %v", err)
	}
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
