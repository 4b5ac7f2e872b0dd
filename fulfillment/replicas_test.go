package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// Several replicas' workers on one PostgreSQL schema (WorkerConfig.Replica):
// every replica prepares with the Fragment sessions it holds (real
// pgstore.SessionLocks), the leader's worker pays. The remote parties are
// the fakes of the other worker tests: fragment.com (fragmenttest) and the
// batching hot wallet (fakeBatchWallet); the store, the shop, the claims
// and the locks are the real ones.

// replicasEnv is one database, one fake fragment.com with a login per
// replica, and the shop over them.
type replicasEnv struct {
	t        *testing.T
	url      string
	db       *pgstore.DB
	svc      *shop.Service
	clock    *shoptest.Clock // the shop's: the claims' leases
	srv      *fragmenttest.Server
	wallet   *fakeBatchWallet // the payer's
	sessions []string         // the lines of FRAGMENT_COOKIES
	alerts   *alertLog
}

func newReplicasEnv(t *testing.T, sessions int) *replicasEnv {
	t.Helper()
	e := &replicasEnv{t: t, url: pgtest.NewSchema(t), alerts: &alertLog{}, clock: shoptest.NewClock(time.Now())}
	ctx := context.Background()
	db, err := pgstore.Open(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e.db = db
	e.svc, err = shop.NewService(db, shop.StaticRate{TONUSD: shoptest.Rate, Since: e.clock.Now().Add(-time.Hour)}, shop.DefaultPricing(), testWalletInfo.Address)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Now = e.clock.Now
	for i := range 3 {
		if _, err := e.svc.EnsureUser(ctx, shop.UserUpdate{ID: int64(2001 + i), Username: fmt.Sprintf("partner_%d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AdminCredit(ctx, 9, int64(2001+i), 100*shop.TON, "test funds"); err != nil {
			t.Fatal(err)
		}
	}
	e.srv = fragmenttest.New(t)
	e.srv.SetRequirePayment(true)
	e.srv.SetStarPrice(3_000_000)
	e.sessions = []string{fragmenttest.Cookies}
	for range sessions - 1 {
		e.sessions = append(e.sessions, e.srv.AddSession())
	}
	e.wallet = newFakeBatchWallet(t, e.srv, 255)
	return e
}

// orders creates n Stars orders, paid from balances, owners taking turns.
func (e *replicasEnv) orders(n int) []*shop.Order { return createOrders(e.t, e.svc, e.srv, n) }

// preparerWallet is the hot wallet as a preparer replica sees it: the same
// description (Fragment's link call sends it), and a test failure if it is
// ever asked to sign.
type preparerWallet struct{ *fakeBatchWallet }

func (w preparerWallet) Send(context.Context, shop.Payout, func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error) {
	w.t.Error("a preparer replica signed a payment")
	return nil, errors.New("a preparer does not pay")
}

func (w preparerWallet) SendBatch(context.Context, []shop.Payout, func(context.Context, []*shop.SignedPayout) error) ([]*shop.PayoutResult, error) {
	w.t.Error("a preparer replica signed a payment")
	return nil, errors.New("a preparer does not pay")
}

func (w preparerWallet) Resume(context.Context, *shop.SignedPayout) (*shop.PayoutResult, error) {
	w.t.Error("a preparer replica resumed a payment")
	return nil, errors.New("a preparer does not pay")
}

// replica is one replica's worker, pool and session locks.
type replica struct {
	name   string
	worker *Worker
	pool   *FragmentPool
	locks  *pgstore.SessionLocks
	shop   Shop
}

// replica builds a replica as wire does on PostgreSQL; payer replicas pay
// from the fake wallet. share is the sessions it holds; its locks run
// until the test ends or stop.
func (e *replicasEnv) replica(ctx context.Context, name string, payer bool, share int, s Shop) *replica {
	e.t.Helper()
	var wallet Wallet = preparerWallet{e.wallet}
	if payer {
		wallet = e.wallet
	}
	members := make([]*Fragment, len(e.sessions))
	for i, c := range e.sessions {
		members[i] = NewFragment(FragmentConfig{BaseURL: e.srv.URL, Cookies: c, Wallet: wallet, HTTP: e.srv.Client(), Tolerance: 10_000_000, Logger: testLogger(e.t).With("replica", name)})
	}
	pool, err := NewFragmentPool(members...)
	if err != nil {
		e.t.Fatal(err)
	}
	locks, err := pgstore.NewSessionLocks(e.url, pool.SessionIDs(), 300*time.Millisecond, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	locks.Share = func() int { return share }
	pool.SetLocks(locks)
	go func() { _ = locks.Run(ctx) }()
	if s == nil {
		s = e.svc
	}
	w := mustWorker(e.t, WorkerConfig{Shop: s, Provider: pool, Name: "fragment", Notifier: e.alerts, Concurrency: 4,
		Interval: 20 * time.Millisecond, Replica: name, Logger: testLogger(e.t).With("replica", name)})
	return &replica{name: name, worker: w, pool: pool, locks: locks, shop: s}
}

// held returns the sessions r holds.
func (r *replica) held() []int {
	var out []int
	for i := range r.pool.Sessions() {
		if r.locks.Held(i) {
			out = append(out, i)
		}
	}
	return out
}

// waitSessions waits until every replica holds exactly want sessions.
func waitSessions(t *testing.T, rs []*replica, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, r := range rs {
			ok = ok && len(r.held()) == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, r := range rs {
				t.Logf("%s holds %v", r.name, r.held())
			}
			t.Fatalf("the replicas do not hold %d session(s) each", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitStatus waits until every order has status want.
func (e *replicasEnv) waitStatus(orders []*shop.Order, want shop.OrderStatus, limit time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		done := 0
		var last *shop.Order
		for _, o := range orders {
			got, err := e.svc.FindOrder(context.Background(), 0, o.ID)
			if err != nil {
				e.t.Fatal(err)
			}
			if got.Status == want {
				done++
			} else {
				last = got
			}
		}
		if done == len(orders) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d orders %s after %s; e.g. order %d is %s (%s)", done, len(orders), want, limit, last.ID, last.Status, last.FailureReason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requirePaidOnce checks that Fragment received exactly one payment for
// each order, none for any other request, that every init call found its
// session primed (no pair met another in one session: the fake refuses a
// cold init with "Price was changed"), and that the store checks clean.
func (e *replicasEnv) requirePaidOnce(orders []*shop.Order) {
	e.t.Helper()
	requirePayments(e.t, e.srv, len(orders))
	if inits, reqs := e.srv.Calls("initBuyStarsRequest"), len(e.srv.Requests()); inits != reqs {
		e.t.Errorf("%d init calls made %d requests: some pair met another in one session", inits, reqs)
	}
	if err := e.db.Check(context.Background()); err != nil {
		e.t.Errorf("store check: %v", err)
	}
}

// run runs each replica's preparer, and the payer's Pay, until the
// returned stop is called.
func run(rs []*replica, payer *replica) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() { _ = r.worker.Run(ctx) })
	}
	if payer != nil {
		wg.Go(func() { _ = payer.worker.Pay(ctx) })
	}
	return func() { cancel(); wg.Wait() }
}

// TestReplicas_SharedFulfillment_Postgres: three replicas, one session
// each, the first the leader (it prepares and pays), on 30 orders: every
// order is paid exactly once, by the leader alone, every replica prepared
// some (in its own session), no pair met another in a session, and the
// store checks clean.
func TestReplicas_SharedFulfillment_Postgres(t *testing.T) {
	e := newReplicasEnv(t, 3)
	e.srv.SetLatency(5 * time.Millisecond) // so that no replica does it all before the others scan
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := []*replica{e.replica(ctx, "leader", true, 1, nil), e.replica(ctx, "second", false, 1, nil), e.replica(ctx, "third", false, 1, nil)}
	waitSessions(t, rs, 1)
	orders := e.orders(30)
	stop := run(rs, rs[0])
	e.waitStatus(orders, shop.StatusCompleted, 60*time.Second)
	stop()
	e.requirePaidOnce(orders)
	perLogin := map[int]int{}
	for _, r := range e.srv.Requests() {
		perLogin[r.Login]++
	}
	for _, r := range rs {
		login := r.held()[0] + 1
		if perLogin[login] == 0 {
			t.Errorf("replica %s (session %d) prepared nothing; requests per login %v", r.name, login, perLogin)
		}
	}
	if sigs, _ := e.wallet.counts(); sigs == 0 || sigs >= len(orders) {
		t.Errorf("%d signatures for %d orders: the prepared orders were not paid in batches", sigs, len(orders))
	}
}

// hangingShop is the shop of a replica that stops (a long GC pause, a
// stalled network) at its first leased save: the save reaches the store
// only when resume is closed, and its error is kept.
type hangingShop struct {
	*shop.Service
	once    sync.Once
	hung    chan struct{} // closed when the save hangs
	resume  chan struct{}
	mu      sync.Mutex
	lateErr error
	late    atomic.Bool
}

func (s *hangingShop) SaveDeliveriesLeased(ctx context.Context, ds []*shop.Delivery, ls []*shop.Lease) error {
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Service.SaveDeliveriesLeased(ctx, ds, ls)
	}
	close(s.hung)
	<-s.resume
	err := s.Service.SaveDeliveriesLeased(ctx, ds, ls)
	s.mu.Lock()
	s.lateErr = err
	s.mu.Unlock()
	s.late.Store(true)
	return err
}

// TestReplicas_LapsedPreparer_Postgres: a preparer stops right after its
// claim and its first Fragment request; once its lease runs out, another
// replica takes the order, prepares it again and the leader pays it; when
// the stopped preparer wakes, its save is refused (ErrLeaseLost) and it
// leaves the order alone: paid exactly once, the stale request never.
func TestReplicas_LapsedPreparer_Postgres(t *testing.T) {
	e := newReplicasEnv(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := &hangingShop{Service: e.svc, hung: make(chan struct{}), resume: make(chan struct{})}
	stuck := e.replica(ctx, "stuck", false, 1, hs)
	leader := e.replica(ctx, "leader", true, 1, nil)
	waitSessions(t, []*replica{stuck, leader}, 1)
	orders := e.orders(1)

	// The stuck replica claims the order and hangs on saving its request.
	stopStuck := run([]*replica{stuck}, nil)
	select {
	case <-hs.hung:
	case <-time.After(30 * time.Second):
		t.Fatal("the preparer never saved")
	}
	// Within the lease, the leader leaves the order to it.
	if _, err := leader.worker.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.worker.PayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.FindOrder(ctx, 0, orders[0].ID); got.Status != shop.StatusProcessing || len(e.srv.Requests()) != 1 {
		t.Fatalf("within the lease: order %s, %d requests; want it left to the stuck replica", got.Status, len(e.srv.Requests()))
	}

	// The lease runs out: the leader takes the order over and pays it.
	e.clock.Advance(DefaultLease)
	stopLeader := run([]*replica{leader}, leader)
	e.waitStatus(orders, shop.StatusCompleted, 30*time.Second)
	stopLeader()

	close(hs.resume)
	stopStuck()
	if !hs.late.Load() {
		t.Fatal("the stuck replica's save never ran")
	}
	hs.mu.Lock()
	lateErr := hs.lateErr
	hs.mu.Unlock()
	if !errors.Is(lateErr, shop.ErrLeaseLost) {
		t.Fatalf("the lapsed preparer's save = %v, want ErrLeaseLost", lateErr)
	}
	e.requirePaidOnce(orders)
	if reqs := e.srv.Requests(); len(reqs) != 2 || reqs[0].Payments != 0 {
		t.Errorf("requests %+v: want the stuck replica's unpaid and the leader's paid", reqs)
	}
	if got, _ := e.svc.FindOrder(ctx, 0, orders[0].ID); got.Status != shop.StatusCompleted {
		t.Errorf("after the stuck replica woke: order %s", got.Status)
	}
}

// TestReplicas_ExpiredLinkPreparedAgain_Postgres: a prepared order whose
// payment request expired while it waited is not paid as recorded: the
// leader prepares it again itself when it holds a session, else hands it
// back to the preparers; either way it is paid once, on the new request.
func TestReplicas_ExpiredLinkPreparedAgain_Postgres(t *testing.T) {
	for _, leaderHolds := range []bool{true, false} {
		t.Run(fmt.Sprintf("leader holds a session %v", leaderHolds), func(t *testing.T) {
			sessions := 1
			if leaderHolds {
				sessions = 2
			}
			e := newReplicasEnv(t, sessions)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			prep := e.replica(ctx, "preparer", false, 1, nil)
			waitSessions(t, []*replica{prep}, 1)
			leader := e.replica(ctx, "leader", true, 1, nil)
			if leaderHolds {
				waitSessions(t, []*replica{prep, leader}, 1)
			}
			o := e.orders(1)[0]
			if _, err := prep.worker.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			// The request's validity runs out while the order waits: its
			// record now says it expires in less than the 30 s a payment
			// needs.
			q, err := e.svc.Queue(ctx, 0)
			if err != nil || len(q) != 1 || q[0].Delivery == nil || !leader.pool.Prepared(q[0].Delivery) {
				t.Fatalf("queue %+v, %v: want the order prepared", q, err)
			}
			d := q[0].Delivery
			d.PayBy = time.Now().Add(10 * time.Second)
			if err := e.svc.SaveDelivery(ctx, d); err != nil {
				t.Fatal(err)
			}
			if _, err := leader.worker.PayOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if !leaderHolds {
				if got, _ := e.svc.FindOrder(ctx, 0, o.ID); got.Status != shop.StatusProcessing {
					t.Fatalf("after the leader's scan: %s", got.Status)
				}
				if _, err := prep.worker.RunOnce(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := leader.worker.PayOnce(ctx); err != nil {
					t.Fatal(err)
				}
			}
			e.waitStatus([]*shop.Order{o}, shop.StatusCompleted, 10*time.Second)
			e.requirePaidOnce([]*shop.Order{o})
			if reqs := e.srv.Requests(); len(reqs) != 2 || reqs[0].Payments != 0 || reqs[1].Payments != 1 {
				t.Errorf("requests %+v: want the expired one unpaid, the new one paid", reqs)
			}
		})
	}
}

// TestReplicas_LostSessionHold_Postgres: a replica whose session hold is
// gone (its locks stopped: Held false, as on a lost connection, which
// pgstore's tests cover) prepares nothing more and leaves the orders to
// the replica that holds a session; when it holds one again, it prepares
// again.
func TestReplicas_LostSessionHold_Postgres(t *testing.T) {
	e := newReplicasEnv(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lctx, dropLocks := context.WithCancel(ctx)
	lost := e.replica(lctx, "lost", false, 1, nil)
	leader := e.replica(ctx, "leader", true, 1, nil)
	waitSessions(t, []*replica{lost, leader}, 1)
	lostLogin := lost.held()[0] + 1
	dropLocks()
	for deadline := time.Now().Add(10 * time.Second); lost.pool.CanPrepare(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replica still holds a session after its locks stopped")
		}
	}
	orders := e.orders(4)
	if n, err := lost.worker.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("the replica without a session took %d orders (%v)", n, err)
	}
	stop := run([]*replica{lost, leader}, leader)
	e.waitStatus(orders, shop.StatusCompleted, 30*time.Second)
	stop()
	e.requirePaidOnce(orders)
	for _, r := range e.srv.Requests() {
		if r.Login == lostLogin {
			t.Errorf("request %s made in session %d after its hold was lost", r.ID, lostLogin)
		}
	}

	// Held again (a new connection): it prepares again.
	again := e.replica(ctx, "again", false, 1, nil)
	waitSessions(t, []*replica{again}, 1)
	more := e.orders(2)
	if _, err := again.worker.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.worker.PayOnce(ctx); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(more, shop.StatusCompleted, 10*time.Second)
	e.requirePaidOnce(append(orders, more...))
}

// TestReplicas_SessionDownWithoutAnother_Postgres: a replica whose only
// held session loses its login does not go on in a session another
// replica holds (nor loop back to its own): the order goes to the admins
// and this replica's worker pauses, as one process with one session does.
func TestReplicas_SessionDownWithoutAnother_Postgres(t *testing.T) {
	e := newReplicasEnv(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rs := []*replica{e.replica(ctx, "a", false, 1, nil), e.replica(ctx, "b", true, 1, nil)}
	waitSessions(t, rs, 1)
	victim := rs[0]
	if victim.held()[0] != 0 {
		victim = rs[1]
	}
	o := e.orders(1)[0]
	e.srv.ExpireLogin() // the first login: the victim's session
	done := make(chan error, 1)
	go func() { _, err := victim.worker.RunOnce(ctx); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the replica's preparation never ended")
	}
	if got, _ := e.svc.FindOrder(ctx, 0, o.ID); got.Status != shop.StatusManual {
		t.Errorf("order %s (%s), want manual", got.Status, got.FailureReason)
	}
	if ok, _ := victim.worker.Health(); ok {
		t.Error("the replica's worker did not pause")
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Errorf("%d requests made: the replica went on in a session it does not hold", n)
	}
}
