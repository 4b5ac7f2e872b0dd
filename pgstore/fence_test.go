package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// A leads (term 1); its lock is lost (its backend terminated) and B takes
// over (term 2). A's work, which has not noticed (a context made from its
// leader context, as the worker's saves are), can neither record a signed
// payout nor credit a deposit: nothing is written and the error wraps
// shop.ErrDeposed. The same with B's term succeeds.
func TestFence_DeposedLeaderCommitsNothing(t *testing.T) {
	u, db := migrated(t)
	const ttl = 900 * time.Millisecond
	lctxA, stopA := leading(t, u, ttl)
	if term, ok := pgstore.TermOf(lctxA); !ok || term != 1 {
		t.Fatalf("A's term = %d, %v; want 1, true", term, ok)
	}
	b := electors(t, u, ttl, 1)[0]

	svc := &shop.Service{Store: db, Now: time.Now}
	orderID := processingOrder(t, db)
	payout := &shop.Delivery{OrderID: orderID, Provider: "fragment", Step: "signed",
		Payout: &shop.SignedPayout{Hash: strings.Repeat("ab", 32), BOC: []byte{1}, Wallet: "EQwallet", Seqno: 7, Amount: shop.TON}}
	deposit := shop.Transfer{Hash: strings.Repeat("cd", 32), LT: 10, From: "EQsender", Amount: shop.TON, Memo: "nobody-knows"}

	// Before the takeover A's term is current.
	if err := svc.SaveDeliveries(lctxA, []*shop.Delivery{{OrderID: orderID, Provider: "fragment", Step: "prepared"}}); err != nil {
		t.Fatalf("save under the current term: %v", err)
	}

	admin, err := pgx.Connect(context.Background(), pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", lockHolder(t, admin, u)); err != nil {
		t.Fatal(err)
	}
	stopA() // A stops campaigning, so that B takes the lock
	lctxB, err := b.Wait(ctxTimeout(t, 5*ttl))
	if err != nil {
		t.Fatal(err)
	}
	if term, ok := pgstore.TermOf(lctxB); !ok || term != 2 {
		t.Fatalf("B's term = %d, %v; want 2, true", term, ok)
	}

	// A's work goes on as if it had not noticed: a live context with A's
	// term (context.WithoutCancel keeps it, as the worker's saves do).
	stale := context.WithoutCancel(lctxA)
	if err := svc.SaveDeliveries(stale, []*shop.Delivery{payout}); !errors.Is(err, shop.ErrDeposed) {
		t.Fatalf("SaveDeliveries with A's term: %v; want ErrDeposed", err)
	}
	if _, err := svc.CreditDeposits(stale, []shop.Transfer{deposit}, nil); !errors.Is(err, shop.ErrDeposed) {
		t.Fatalf("CreditDeposits with A's term: %v; want ErrDeposed", err)
	}
	if d := findDelivery(t, db, orderID); d.Payout != nil || d.Step != "prepared" {
		t.Fatalf("delivery after the deposed save: step %q, payout %v; want step prepared and no payout", d.Step, d.Payout)
	}
	if n := countDeposits(t, db); n != 0 {
		t.Fatalf("%d deposits after the deposed credit; want 0", n)
	}

	// With B's term both commit.
	if err := svc.SaveDeliveries(lctxB, []*shop.Delivery{payout}); err != nil {
		t.Fatalf("SaveDeliveries with B's term: %v", err)
	}
	if d := findDelivery(t, db, orderID); d.Payout == nil || d.Payout.Seqno != 7 {
		t.Fatalf("delivery after B's save: payout %v; want seqno 7", d.Payout)
	}
	if _, err := svc.CreditDeposits(lctxB, []shop.Transfer{deposit}, nil); err != nil {
		t.Fatalf("CreditDeposits with B's term: %v", err)
	}
	if n := countDeposits(t, db); n != 1 {
		t.Fatalf("%d deposits after B's credit; want 1", n)
	}
	// Without a term (the API, every replica) nothing is fenced.
	if err := svc.SaveDeliveries(context.Background(), []*shop.Delivery{payout}); err != nil {
		t.Fatalf("SaveDeliveries without a term: %v", err)
	}
	if err := db.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A fenced Update that finds a newer term ends the leader context it was
// made from at once: the deposed leader's singletons stop without waiting
// for its next ping.
func TestFence_DeposedUpdateStepsDown(t *testing.T) {
	u, db := migrated(t)
	const ttl = 3 * time.Second
	e := electors(t, u, ttl, 1)[0]
	lctx, err := e.Wait(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// A newer term, as another elector would take after this one's lock
	// was lost.
	if _, err := db.Pool().Exec(context.Background(), `UPDATE leader_terms SET term = term + 1`); err != nil {
		t.Fatal(err)
	}
	err = db.Update(lctx, func(tx shop.Tx) error { return tx.PutUser(&shop.User{ID: 1}) })
	if !errors.Is(err, shop.ErrDeposed) {
		t.Fatalf("Update: %v; want ErrDeposed", err)
	}
	select {
	case <-lctx.Done():
	default:
		t.Fatal("the leader context is still live after a deposed Update")
	}
	// It campaigns again and, alone, leads with the next term.
	again, err := e.Wait(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("the elector did not lead again: %v", err)
	}
	if term, _ := pgstore.TermOf(again); term != 3 {
		t.Fatalf("term after stepping down and leading again = %d, want 3", term)
	}
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("users after the deposed Update: %d, %v; want 0", n, err)
	}
}

// processingOrder stores a user and a processing order of theirs, as
// ClaimOrder leaves it, and returns the order's id.
func processingOrder(t *testing.T, db *pgstore.DB) int64 {
	t.Helper()
	var id int64
	err := db.Update(context.Background(), func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1001}); err != nil {
			return err
		}
		var err error
		if id, err = tx.NextOrderID(); err != nil {
			return err
		}
		now := time.Now().UTC()
		return tx.PutOrder(&shop.Order{ID: id, UserID: 1001, Status: shop.StatusProcessing, Type: shop.OrderStars, Stars: 50,
			Recipient: "someone", PriceTON: shop.TON, PaymentMethod: shop.PayBalance, CreatedAt: now, PaidAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func findDelivery(t *testing.T, db *pgstore.DB, orderID int64) *shop.Delivery {
	t.Helper()
	var d *shop.Delivery
	err := db.View(context.Background(), func(tx shop.Tx) error {
		var err error
		d, err = tx.FindDelivery(orderID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func countDeposits(t *testing.T, db *pgstore.DB) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM deposits`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A transaction of the old leader that locked the term first is ordered
// before the new term: the new leader's increment waits for it to commit,
// and the new leader then sees what it wrote.
func TestFence_InFlightCommitPrecedesNewTerm(t *testing.T) {
	u, db := migrated(t)
	const ttl = 900 * time.Millisecond
	lctxA, stopA := leading(t, u, ttl)
	b := electors(t, u, ttl, 1)[0]

	entered, release := make(chan struct{}, 1), make(chan struct{})
	committed := make(chan error, 1)
	go func() {
		committed <- db.Update(context.WithoutCancel(lctxA), func(tx shop.Tx) error {
			if err := tx.PutUser(&shop.User{ID: 2002}); err != nil {
				return err
			}
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			return nil
		})
	}()
	<-entered

	admin, err := pgx.Connect(context.Background(), pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	if _, err := admin.Exec(context.Background(), "SELECT pg_terminate_backend($1)", lockHolder(t, admin, u)); err != nil {
		t.Fatal(err)
	}
	stopA()
	// B takes the lock and its increment waits for A's transaction.
	deadline := time.Now().Add(10 * ttl)
	for {
		var waiting bool
		// A writer waiting for a row's locker holds that row's tuple
		// lock (PostgreSQL queues row-lock waiters on it).
		err := admin.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE locktype = 'tuple' AND relation = to_regclass($1))`, schemaOf(t, u)+".leader_terms").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if b.Leader() {
			t.Fatal("B leads while A's fenced transaction is still open")
		}
		if time.Now().After(deadline) {
			t.Fatal("B's term increment never waited for A's transaction")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if err := <-committed; err != nil {
		t.Fatalf("A's transaction, begun under its current term: %v", err)
	}
	lctxB, err := b.Wait(ctxTimeout(t, 5*ttl))
	if err != nil {
		t.Fatal(err)
	}
	if term, _ := pgstore.TermOf(lctxB); term != 2 {
		t.Fatalf("B's term = %d, want 2", term)
	}
	err = db.View(lctxB, func(tx shop.Tx) error {
		_, err := tx.FindUserByID(2002)
		return err
	})
	if err != nil {
		t.Fatalf("B does not see A's commit: %v", err)
	}
}

// schemaOf returns the schema of a pgtest URL.
func schemaOf(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query().Get("search_path")
}

// BenchmarkUpdate_Fence: what fencing adds to a singleton's Update (one
// more statement: the term row locked FOR SHARE), with few writers and
// many.
func BenchmarkUpdate_Fence(b *testing.B) {
	u := pgtest.NewSchema(b)
	db, err := pgstore.Open(context.Background(), u)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	e, err := pgstore.NewElector(u, 30*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	lctx, err := e.Wait(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"unfenced", context.Background()}, {"fenced", lctx}} {
		for _, par := range []int{1, 8} {
			// RunParallel runs par × GOMAXPROCS writers.
			b.Run(fmt.Sprintf("%s/writers=%d", bc.name, par*runtime.GOMAXPROCS(0)), func(b *testing.B) {
				var next atomic.Int64
				b.SetParallelism(par)
				b.RunParallel(func(pb *testing.PB) {
					// Each writer its own user: the cost measured is the
					// fence's, not a hot row's.
					id := 1_000_000 + next.Add(1)
					for pb.Next() {
						err := db.Update(bc.ctx, func(tx shop.Tx) error { return tx.PutUser(&shop.User{ID: id}) })
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// leading runs an elector on u and returns its leader context, once it
// leads, and a func that stops it and waits (also run when the test ends).
func leading(t *testing.T, u string, ttl time.Duration) (context.Context, func()) {
	t.Helper()
	a, err := pgstore.NewElector(u, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	run, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(run); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	lctx, err := a.Wait(ctxTimeout(t, 5*ttl))
	if err != nil {
		t.Fatal(err)
	}
	return lctx, stop
}
