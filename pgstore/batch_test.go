package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// keyed is the context of the batch tests' Updates: one payer, so one
// partition of the group commit.
var keyed = shop.WithUpdateKey(ctx, 1)

// holdLanes runs an Update on every lane of keyed's partition and keeps
// them there until the returned function is called, so that the Updates
// started meanwhile wait and then run as one batch.
func holdLanes(t *testing.T, db *pgstore.DB) (release func()) {
	t.Helper()
	// The lanes are stalled on purpose: no waiting call may open one of
	// its own while the test arranges its batch.
	pgstore.SetStallAfter(db, time.Hour)
	gate := make(chan struct{})
	var held, done sync.WaitGroup
	for range pgstore.BatchLanes {
		held.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			_ = db.Update(keyed, func(shop.Tx) error {
				held.Done()
				<-gate
				return nil
			})
		}()
	}
	held.Wait()
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(gate)
			done.Wait()
		})
	}
	t.Cleanup(release)
	return release
}

// waitFor waits until n Updates wait for a batch.
func waitFor(t *testing.T, db *pgstore.DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pgstore.BatchWaiting(db) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d updates wait for a batch, want %d", pgstore.BatchWaiting(db), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// batchOf starts the fns as concurrent Updates while the lanes are held,
// then lets them run as one batch and returns their results, in fns'
// order.
func batchOf(t *testing.T, db *pgstore.DB, fns ...func(shop.Tx) error) []error {
	t.Helper()
	calls := make([]func() error, len(fns))
	for i, fn := range fns {
		calls[i] = func() error { return db.Update(keyed, fn) }
	}
	return batchOfCalls(t, db, calls...)
}

// batchOfCalls is batchOf for calls that each make one Update in keyed's
// partition (a shop.Service's CreateOrder of an odd payer).
func batchOfCalls(t *testing.T, db *pgstore.DB, calls ...func() error) []error {
	t.Helper()
	release := holdLanes(t, db)
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
		waitFor(t, db, i+1) // in this order in the batch
	}
	release()
	wg.Wait()
	return errs
}

// wantSetting fails the test unless setting key is want ("" for none).
func wantSetting(t *testing.T, db *pgstore.DB, key, want string) {
	t.Helper()
	if got := setting(t, db, key); got != want {
		t.Errorf("setting %s = %q, want %q", key, got, want)
	}
}

func setting(t *testing.T, db *pgstore.DB, key string) string {
	t.Helper()
	var v []byte
	if err := db.View(ctx, func(tx shop.Tx) (err error) { v, err = tx.FindSetting(key); return err }); err != nil {
		t.Fatal(err)
	}
	return string(v)
}

// increment adds one to setting n (absent: 0), counting its runs.
func increment(runs *atomic.Int64) func(shop.Tx) error {
	return func(tx shop.Tx) error {
		runs.Add(1)
		v, err := tx.FindSetting("n")
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(v))
		return tx.PutSetting("n", []byte(strconv.Itoa(n+1)))
	}
}

// TestBatch_OneTransaction: Updates that wait for a lane run as one
// batch, one transaction: each fn sees what the earlier ones wrote, and
// twenty read-modify-writes of one row commit without a conflict.
func TestBatch_OneTransaction(t *testing.T) {
	db := pgtest.Open(t)
	var runs atomic.Int64
	fns := make([]func(shop.Tx) error, 20)
	for i := range fns {
		fns[i] = increment(&runs)
	}
	for i, err := range batchOf(t, db, fns...) {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	wantSetting(t, db, "n", "20")
	if n := runs.Load(); n != 20 {
		t.Errorf("fns ran %d times, want 20 (once each)", n)
	}
	if n := db.Retries(); n != 0 {
		t.Errorf("Retries() = %d, want 0", n)
	}
	if batches, calls := db.BatchStats(); batches != 1 || calls != 20 {
		t.Errorf("BatchStats() = %d batches, %d calls; want 1, 20", batches, calls)
	}
}

// TestBatch_RefusedCallStays: an fn that returns an error without
// writing gets its error; the batch commits the others, each fn run once.
func TestBatch_RefusedCallStays(t *testing.T) {
	db := pgtest.Open(t)
	var runs atomic.Int64
	refused := errors.New("balance too low")
	errs := batchOf(t, db, increment(&runs), func(tx shop.Tx) error {
		runs.Add(1)
		if _, err := tx.FindSetting("n"); err != nil {
			return err
		}
		return refused
	}, increment(&runs))
	if errs[0] != nil || errs[2] != nil || errs[1] != refused {
		t.Fatalf("results %v, want nil, the refusal unchanged, nil", errs)
	}
	wantSetting(t, db, "n", "2")
	if n := runs.Load(); n != 3 {
		t.Errorf("fns ran %d times, want 3", n)
	}
	if batches, calls := db.BatchStats(); batches != 1 || calls != 3 {
		t.Errorf("BatchStats() = %d, %d; want 1, 3", batches, calls)
	}
}

// TestBatch_ErrorAfterWriteRunsAlone: an fn that returns an error after a
// write leaves the batch and runs alone; its write is never committed,
// its caller gets its error, the others commit.
func TestBatch_ErrorAfterWriteRunsAlone(t *testing.T) {
	db := pgtest.Open(t)
	var runs, badRuns atomic.Int64
	bad := errors.New("changed its mind")
	errs := batchOf(t, db, increment(&runs), func(tx shop.Tx) error {
		badRuns.Add(1)
		if err := tx.PutSetting("bad", []byte("written")); err != nil {
			return err
		}
		return bad
	}, increment(&runs), increment(&runs))
	if errs[0] != nil || errs[2] != nil || errs[3] != nil || errs[1] != bad {
		t.Fatalf("results %v, want nil, the error unchanged, nil, nil", errs)
	}
	wantSetting(t, db, "bad", "")
	wantSetting(t, db, "n", "3")
	if n := badRuns.Load(); n != 2 {
		t.Errorf("the failing fn ran %d times, want 2 (in the batch, then alone)", n)
	}
	if n := runs.Load(); n != 4 {
		t.Errorf("the others ran %d times, want 4 (the first again without the failing one)", n)
	}
}

// TestBatch_PayerReadAhead: a batch reads its payers before its fns run
// (prefetched, batch.go), and each fn still reads the payer as the fns
// before it left it: absent until one creates it, then as the last one
// put it. A run that a failing fn's write spoiled is read again without
// that write.
func TestBatch_PayerReadAhead(t *testing.T) {
	db := pgtest.Open(t)
	const payer = 1 // keyed's
	var seen []string
	readThenPut := func(tx shop.Tx) error {
		u, err := tx.FindUserByID(payer)
		switch {
		case shop.ErrorCode(err) == shop.ENOTFOUND:
			seen = append(seen, "absent")
			u = &shop.User{ID: payer, CreatedAt: time.Unix(1, 0).UTC()}
		case err != nil:
			return err
		default:
			seen = append(seen, u.StartPayload)
		}
		u.StartPayload += "x"
		return tx.PutUser(u)
	}
	bad := errors.New("changed its mind")
	errs := batchOf(t, db, readThenPut, readThenPut, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(payer)
		if err != nil {
			return err
		}
		u.StartPayload = "spoiled"
		if err := tx.PutUser(u); err != nil {
			return err
		}
		return bad
	}, readThenPut)
	if errs[0] != nil || errs[1] != nil || errs[2] != bad || errs[3] != nil {
		t.Fatalf("results %v, want nil, nil, the error unchanged, nil", errs)
	}
	// The first run: absent, x, then the failing fn ends it; the batch
	// again without it: absent, x, xx. (The failing fn runs alone after.)
	want := []string{"absent", "x", "absent", "x", "xx"}
	if strings.Join(seen, " ") != strings.Join(want, " ") {
		t.Errorf("the fns read %q, want %q", seen, want)
	}
	var u *shop.User
	if err := db.View(ctx, func(tx shop.Tx) (err error) { u, err = tx.FindUserByID(payer); return err }); err != nil {
		t.Fatal(err)
	}
	if u.StartPayload != "xxx" {
		t.Errorf("stored start payload %q, want xxx (the failing fn's write rolled back)", u.StartPayload)
	}
}

// TestBatch_PayersReadAheadApart: a batch of several payers reads each
// one's own record ahead, and each fn gets its own payer's.
func TestBatch_PayersReadAheadApart(t *testing.T) {
	db := pgtest.Open(t)
	payers := []int64{1, 2, 3, 4, 5}
	for _, id := range payers {
		if err := db.Update(ctx, func(tx shop.Tx) error {
			return tx.PutUser(&shop.User{ID: id, StartPayload: fmt.Sprint("payer-", id), CreatedAt: time.Unix(1, 0).UTC()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	calls := make([]func() error, len(payers))
	for i, id := range payers {
		calls[i] = func() error {
			return db.Update(shop.WithUpdateKey(ctx, id), func(tx shop.Tx) error {
				u, err := tx.FindUserByID(id)
				if err != nil {
					return err
				}
				if want := fmt.Sprint("payer-", id); u.ID != id || u.StartPayload != want {
					return fmt.Errorf("payer %d read user %d with %q, want %q", id, u.ID, u.StartPayload, want)
				}
				return nil
			})
		}
	}
	for i, err := range batchOfCalls(t, db, calls...) {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	if n, joined := db.BatchStats(); n != 1 || joined != int64(len(payers)) {
		t.Errorf("%d batches of %d updates, want 1 of %d", n, joined, len(payers))
	}
}

// TestBatch_PanicReachesItsCaller: an fn that panics in a batch panics in
// its own caller's goroutine, with its value; the others commit.
func TestBatch_PanicReachesItsCaller(t *testing.T) {
	db := pgtest.Open(t)
	var runs atomic.Int64
	release := holdLanes(t, db)
	var wg sync.WaitGroup
	var recovered atomic.Value
	var others [2]error
	start := func(i int, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
		waitFor(t, db, i+1)
	}
	start(0, func() { others[0] = db.Update(keyed, increment(&runs)) })
	start(1, func() {
		defer func() { recovered.Store(recover()) }()
		_ = db.Update(keyed, func(tx shop.Tx) error {
			_ = tx.PutSetting("panicked", []byte("yes"))
			panic("fn bug")
		})
	})
	start(2, func() { others[1] = db.Update(keyed, increment(&runs)) })
	release()
	wg.Wait()
	if got := recovered.Load(); got != "fn bug" {
		t.Errorf("the caller recovered %v, want the fn's panic value", got)
	}
	if others[0] != nil || others[1] != nil {
		t.Errorf("the others' results: %v", others)
	}
	wantSetting(t, db, "n", "2")
	wantSetting(t, db, "panicked", "")
}

// TestBatch_FailedStatementRunsEachAlone: a queued write that fails on
// the server fails the next statement, another fn's; as the failure
// cannot be pinned on one fn, every fn then runs alone: the one whose
// write fails gets the error, the others commit.
func TestBatch_FailedStatementRunsEachAlone(t *testing.T) {
	db := pgtest.Open(t)
	if _, err := db.Pool().Exec(ctx, `CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'boom refused'; END $$;
		CREATE TRIGGER refuse_boom BEFORE INSERT ON settings FOR EACH ROW WHEN (NEW.key = 'boom') EXECUTE FUNCTION refuse_boom()`); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int64
	errs := batchOf(t, db, increment(&runs), func(tx shop.Tx) error {
		return tx.PutSetting("boom", []byte("x")) // queued: fails with the next fn's read
	}, increment(&runs))
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("the others' results: %v, %v", errs[0], errs[2])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "boom refused") {
		t.Errorf("the failing write's caller got %v, want the server's error", errs[1])
	}
	wantSetting(t, db, "n", "2")
	if batches, _ := db.BatchStats(); batches != 0 {
		t.Errorf("%d batches committed, want 0 (each ran alone)", batches)
	}
}

// TestBatch_SerializationFailureRunsBatchAgain: a conflict with another
// transaction runs the whole batch again, once queued behind other
// re-runs; only the second run's writes are committed.
func TestBatch_SerializationFailureRunsBatchAgain(t *testing.T) {
	db := pgtest.Open(t)
	if err := db.Update(ctx, func(tx shop.Tx) error { return tx.PutSetting("n", []byte("10")) }); err != nil {
		t.Fatal(err)
	}
	var runs, conflicted atomic.Int64
	errs := batchOf(t, db, increment(&runs), func(tx shop.Tx) error {
		v, err := tx.FindSetting("other")
		if err != nil {
			return err
		}
		if conflicted.Add(1) == 1 {
			// Another writer commits a change to what this fn read
			// and will write.
			if _, err := db.Pool().Exec(ctx, `INSERT INTO settings (key, value) VALUES ('other', '5')`); err != nil {
				return err
			}
		}
		return tx.PutSetting("other", append(v, '+'))
	}, increment(&runs))
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	wantSetting(t, db, "other", "5+")
	wantSetting(t, db, "n", "12")
	if n := runs.Load(); n != 4 {
		t.Errorf("the increments ran %d times, want 4 (the batch twice)", n)
	}
	if n := db.Retries(); n != 1 {
		t.Errorf("Retries() = %d, want 1", n)
	}
}

// TestBatch_LockWaitRunsAgain: a batch does not wait for a row lock that
// another transaction holds (lock_timeout): it runs again, and commits
// once the lock is free.
func TestBatch_LockWaitRunsAgain(t *testing.T) {
	db := pgtest.Open(t)
	if err := db.Update(ctx, func(tx shop.Tx) error { return tx.PutSetting("n", []byte("0")) }); err != nil {
		t.Fatal(err)
	}
	other, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT 1 FROM settings WHERE key = 'n' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		_ = other.Rollback(ctx)
	}()
	var runs atomic.Int64
	for i, err := range batchOf(t, db, increment(&runs), increment(&runs)) {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	wantSetting(t, db, "n", "2")
	if db.Retries() == 0 {
		t.Error("the batch was not run again after its lock wait timed out")
	}
}

// TestBatch_CanceledWhileWaiting: a caller whose context ends while it
// waits for a batch leaves without its fn running; the batch and the
// lanes go on.
func TestBatch_CanceledWhileWaiting(t *testing.T) {
	db := pgtest.Open(t)
	release := holdLanes(t, db)
	c, cancel := context.WithCancel(keyed)
	var ran atomic.Bool
	result := make(chan error, 1)
	go func() {
		result <- db.Update(c, func(tx shop.Tx) error { ran.Store(true); return tx.PutSetting("canceled", []byte("x")) })
	}()
	waitFor(t, db, 1)
	var runs atomic.Int64
	stay := make(chan error, 1)
	go func() { stay <- db.Update(keyed, increment(&runs)) }()
	waitFor(t, db, 2)
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled caller got %v, want context.Canceled", err)
	}
	waitFor(t, db, 1)
	release()
	if err := <-stay; err != nil {
		t.Fatal(err)
	}
	if ran.Load() || setting(t, db, "canceled") != "" {
		t.Error("the canceled caller's fn ran")
	}
	if err := db.Update(keyed, increment(&runs)); err != nil {
		t.Fatal(err)
	}
	wantSetting(t, db, "n", "2")
}

// TestBatch_StalledLaneOpensAnother: an Update whose fn waits on
// something else holds no other Update up for long: once no lane has
// finished anything for the stall time, a waiting call leads a batch on a
// lane of its own, with the calls waiting behind it.
func TestBatch_StalledLaneOpensAnother(t *testing.T) {
	db := pgtest.Open(t)
	release := holdLanes(t, db)
	pgstore.SetStallAfter(db, 50*time.Millisecond)
	var runs atomic.Int64
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- db.Update(keyed, increment(&runs)) }()
	}
	for range 3 {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the Updates waited for the stalled lane")
		}
	}
	wantSetting(t, db, "n", "3")
	release()
	if pgstore.BatchWaiting(db) != 0 {
		t.Errorf("%d calls still wait", pgstore.BatchWaiting(db))
	}
	// The lanes are back to their number: the next Update runs at once.
	if err := db.Update(keyed, increment(&runs)); err != nil {
		t.Fatal(err)
	}
}

// TestBatch_ProcessesTakeTurns: the batches of two stores on one
// database (two replicas) take turns instead of aborting each other: a
// batch waits for the other's commit before its first read, and every
// increment of one row commits once, without a re-run.
func TestBatch_ProcessesTakeTurns(t *testing.T) {
	u := pgtest.NewSchema(t)
	var dbs [2]*pgstore.DB
	for i := range dbs {
		db, err := pgstore.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		pgtest.CheckAndClose(t, db)
		dbs[i] = db
	}
	var releases [2]func()
	for i, db := range dbs {
		releases[i] = holdLanes(t, db)
	}
	gate := make(chan struct{})
	var openGate sync.Once
	t.Cleanup(func() { openGate.Do(func() { close(gate) }) }) // before the lanes' release
	var gated atomic.Bool
	var runs atomic.Int64
	errs := make(chan error, 10)
	for i, db := range dbs {
		for j := range 5 {
			fn := increment(&runs)
			if i == 0 && j == 0 {
				inc := fn
				fn = func(tx shop.Tx) error {
					if err := inc(tx); err != nil {
						return err
					}
					if gated.CompareAndSwap(false, true) {
						<-gate // the first batch holds its turn
					}
					return nil
				}
			}
			go func() { errs <- db.Update(keyed, fn) }()
			waitFor(t, db, j+1)
		}
	}
	go releases[0]()
	for !gated.Load() {
		time.Sleep(time.Millisecond)
	}
	go releases[1]()
	// The second store's batch waits for its turn: on the lock, not in
	// a snapshot of its own.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := dbs[0].Pool().QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'batch_turn_0'::regclass`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second batch does not wait for its turn")
		}
		time.Sleep(5 * time.Millisecond)
	}
	openGate.Do(func() { close(gate) })
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	wantSetting(t, dbs[0], "n", "10")
	if n := dbs[0].Retries() + dbs[1].Retries(); n != 0 {
		t.Errorf("%d re-runs, want 0: the batches took turns", n)
	}
	if n := runs.Load(); n != 10 {
		t.Errorf("fns ran %d times, want 10", n)
	}
}

// TestBatch_PartitionsSideBySide: with two partitions (BatchPartitions),
// Updates of payers in the other partition, and Updates without a payer,
// do not wait for a partition's lane.
func TestBatch_PartitionsSideBySide(t *testing.T) {
	db, err := pgstore.Open(ctx, pgtest.NewSchema(t), pgstore.BatchPartitions(2))
	if err != nil {
		t.Fatal(err)
	}
	pgtest.CheckAndClose(t, db)
	holdLanes(t, db) // keyed's partition (payer 1: the odd ids), held to the end
	for _, c := range []context.Context{shop.WithUpdateKey(ctx, 2), ctx} {
		done := make(chan error, 1)
		go func() {
			done <- db.Update(c, func(tx shop.Tx) error { return tx.PutSetting("other", []byte("x")) })
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("an Update outside the held partition waited for it")
		}
	}
}

// TestBatch_PartitionsBounded: Open takes 1 to 8 partitions (the
// batch_turn_N tables), and refuses others before it connects.
func TestBatch_PartitionsBounded(t *testing.T) {
	for _, n := range []int{0, -1, 9} {
		if db, err := pgstore.Open(ctx, pgtest.DefaultURL, pgstore.BatchPartitions(n)); err == nil {
			_ = db.Close()
			t.Errorf("Open with %d partitions: no error", n)
		} else if !strings.Contains(err.Error(), "want 1 to 8") {
			t.Errorf("Open with %d partitions: %v", n, err)
		}
	}
}
