package pgstore_test

import (
	"context"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
)

// sessionLocks starts n SessionLocks over one schema, each with its own
// share, and stops them when the test ends (or at stop[i]()).
func sessionLocks(t *testing.T, u string, ids []string, ttl time.Duration, shares []*atomic.Int64) (ls []*pgstore.SessionLocks, stop []func()) {
	t.Helper()
	var wg sync.WaitGroup
	var cancels []context.CancelFunc
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	})
	for _, share := range shares {
		l, err := pgstore.NewSessionLocks(u, ids, ttl, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Share = func() int { return int(share.Load()) }
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		done := make(chan struct{})
		wg.Go(func() { _ = l.Run(ctx); close(done) })
		ls = append(ls, l)
		stop = append(stop, func() { cancel(); <-done })
	}
	return ls, stop
}

// heldBy returns, per session, the index of the SessionLocks holding it
// (-1: none), failing on a session held twice.
func heldBy(t *testing.T, ls []*pgstore.SessionLocks, sessions int) []int {
	t.Helper()
	out := make([]int, sessions)
	for i := range out {
		out[i] = -1
		for j, l := range ls {
			if l.Held(i) {
				if out[i] >= 0 {
					t.Fatalf("session %d held by replicas %d and %d at once", i, out[i], j)
				}
				out[i] = j
			}
		}
	}
	return out
}

// waitHeld polls until ok(heldBy) or limit passes.
func waitHeld(t *testing.T, ls []*pgstore.SessionLocks, sessions int, limit time.Duration, what string, ok func([]int) bool) []int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		h := heldBy(t, ls, sessions)
		if ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: sessions held by %v after %s", what, h, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func count(h []int, j int) int {
	n := 0
	for _, x := range h {
		if x == j {
			n++
		}
	}
	return n
}

// Two replicas, two sessions, a share of one each: each holds one session,
// never the same; when one stops, the other (its share now two) takes the
// freed session; when its connection is killed server-side, it holds none
// at once and takes them again on a new connection.
func TestSessionLocks_ShareTakeoverAndLoss(t *testing.T) {
	u := pgtest.NewSchema(t)
	const ttl = 600 * time.Millisecond
	ids := []string{"ssid-one", "ssid-two"}
	shares := []*atomic.Int64{new(atomic.Int64), new(atomic.Int64)}
	shares[0].Store(1)
	shares[1].Store(1)
	ls, stop := sessionLocks(t, u, ids, ttl, shares)
	waitHeld(t, ls, 2, 5*ttl, "one each", func(h []int) bool { return count(h, 0) == 1 && count(h, 1) == 1 })

	stop[1]()
	shares[0].Store(2)
	waitHeld(t, ls, 2, 5*ttl, "takeover", func(h []int) bool { return count(h, 0) == 2 })

	admin, err := pgx.Connect(context.Background(), pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	pu, _ := url.Parse(u)
	key := uint64(pgstore.SessionKeyOf(pu.Query().Get("search_path"), ids[0]))
	var pid int
	if err := admin.QueryRow(context.Background(),
		`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid = $1 AND objid = $2`,
		int64(key>>32), int64(key&0xffffffff)).Scan(&pid); err != nil {
		t.Fatalf("session lock holder: %v", err)
	}
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, ls[:1], 2, ttl, "after the connection was killed", func(h []int) bool { return count(h, 0) == 0 })
	waitHeld(t, ls[:1], 2, 5*ttl, "on a new connection", func(h []int) bool { return count(h, 0) == 2 })
}

// A replica above its share gives the last sessions up: Held is false at
// once (the release follows sessionReleaseAfter later, not waited for
// here).
func TestSessionLocks_GiveUp(t *testing.T) {
	u := pgtest.NewSchema(t)
	const ttl = 300 * time.Millisecond
	ids := []string{"ssid-a", "ssid-b", "ssid-c"}
	first := new(atomic.Int64)
	first.Store(3)
	ls, _ := sessionLocks(t, u, ids, ttl, []*atomic.Int64{first})
	waitHeld(t, ls, 3, 5*ttl, "all", func(h []int) bool { return count(h, 0) == 3 })
	first.Store(1)
	waitHeld(t, ls, 3, 5*ttl, "given up", func(h []int) bool { return count(h, 0) == 1 })
}
