package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// eventLog records the events a service's subscribers get.
type eventLog struct {
	mu      sync.Mutex
	events  []shop.Event
	changed chan struct{} // closed and replaced at every event
}

func newEventLog(svc *shop.Service) *eventLog {
	l := &eventLog{changed: make(chan struct{})}
	svc.Subscribe(l.add)
	return l
}

func (l *eventLog) add(e shop.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *eventLog) all() []shop.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]shop.Event(nil), l.events...)
}

// wait waits (up to 10 s) for an event like e (its Type, UserID and
// Amount) to be published with remote; it fails the test otherwise.
func (l *eventLog) wait(t *testing.T, remote bool, typ shop.EventType, userID int64, amount shop.NanoTON) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		ch := l.changed
		for _, e := range l.events {
			if e.Remote == remote && e.Type == typ && e.UserID == userID && e.Amount == amount {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no event %s (remote %v) of user %d for %s TON within 10 s; got %+v", typ, remote, userID, amount, l.all())
		}
	}
}

// split returns the events a service emitted itself that a relay
// publishes, and those it got from a relay with Remote cleared.
func (l *eventLog) split() (local, remote []shop.Event) {
	for _, e := range l.all() {
		switch {
		case e.Remote:
			e.Remote = false
			remote = append(remote, e)
		case shop.InOutbox(e.Type): // what a relay publishes
			local = append(local, e)
		}
	}
	return local, remote
}

// testReplica is one replica of the shop as wire makes it on PostgreSQL:
// its own pool, service, listener and relay.
type testReplica struct {
	db       *pgstore.DB
	svc      *shop.Service
	listener *pgstore.Listener // nil: the relay only polls
	log      *eventLog
}

// openReplica opens the store on the schema of url and a service over it
// named as a replica of its own.
func openReplica(t *testing.T, ctx context.Context, url string) (*pgstore.DB, *shop.Service) {
	t.Helper()
	db, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	svc := newQuietService(t, db)
	svc.Replica = shop.NewReplicaID()
	return db, svc
}

// newQuietService is a service on db at a fixed rate that logs nothing.
func newQuietService(t *testing.T, db shop.Store) *shop.Service {
	t.Helper()
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_600_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	svc.Logger = slog.New(slog.DiscardHandler)
	return svc
}

// startReplica opens a replica on the schema of url and runs its relay
// (polling every poll, woken by a listener unless poll is short) until
// the test ends.
func startReplica(t *testing.T, url string, listen bool, poll time.Duration) *testReplica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, svc := openReplica(t, ctx, url)
	r := &testReplica{db: db, svc: svc, log: newEventLog(svc)}
	cfg := shop.RelayConfig{Shop: svc, Poll: poll}
	var wg sync.WaitGroup
	if listen {
		var err error
		if r.listener, err = pgstore.NewListener(url, nil); err != nil {
			t.Fatal(err)
		}
		cfg.Wake = r.listener.C()
		wg.Go(func() { _ = r.listener.Run(ctx) })
	}
	relay, err := shop.NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := relay.Seek(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = relay.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := db.Check(context.Background()); err != nil {
			t.Errorf("check: %v", err)
		}
		db.Close()
	})
	return r
}

// barrier makes a change on from and waits for to to publish it: every
// event from committed before has reached to by then (commit order).
func barrier(t *testing.T, from, to *testReplica, userID int64) shop.NanoTON {
	t.Helper()
	amount := shop.NanoTON(time.Now().UnixNano()%1_000_000 + 1)
	if _, err := from.svc.AdminCredit(context.Background(), 1, userID, amount, "barrier"); err != nil {
		t.Fatal(err)
	}
	to.log.wait(t, true, shop.EventAdminCredit, userID, amount)
	return amount
}

// sameEvents checks that each replica got, from its relay, exactly the
// relayable events the others emitted, in order, and nothing of its own.
func sameEvents(t *testing.T, names []string, rs ...*testReplica) {
	t.Helper()
	for i, r := range rs {
		_, remote := r.log.split()
		var want []shop.Event
		for j, o := range rs {
			if j != i {
				local, _ := o.log.split()
				want = append(want, local...)
			}
		}
		if len(rs) == 2 {
			if !reflect.DeepEqual(want, remote) {
				t.Errorf("%s's relayed events differ from what %s emitted:\nemitted %+v\nrelayed %+v", names[i], names[1-i], want, remote)
			}
			continue
		}
		// Several others: each one's events in its order, interleaved.
		key := func(e shop.Event) string { return fmt.Sprintf("%+v", e) }
		count := map[string]int{}
		for _, e := range want {
			count[key(e)]++
		}
		for _, e := range remote {
			count[key(e)]--
		}
		for k, n := range count {
			if n != 0 {
				t.Errorf("%s: event %s relayed %d times too few", names[i], k, n)
			}
		}
	}
}

// TestRelay_Postgres_TwoReplicas: two replicas on one schema, A leading
// (its notifier tells buyers through its bot), B following (its bot runs,
// and tells nobody).
// What B does — a credit, an order completed as B's worker completes it
// (with a referral reward), one moved to manual and refunded, a deposit, a
// cancelled order — reaches A's subscribers once each, as the very events
// B emitted (balances, deposit ids and all), and A's bot tells the buyer
// and the referrer (through A's notifier, poked by the relayed events);
// what A does reaches B; neither relays its own events.
// Then A's worker, which scans only hourly, delivers orders paid through
// B: woken by the relayed order_paid.
func TestRelay_Postgres_TwoReplicas(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startReplica(t, u, true, time.Hour)
	b := startReplica(t, u, true, time.Hour)

	const token = "123456789:AArelayrelayrelayrelayrelay"
	tg := bottest.New(t, token)
	tb, err := bot.New(bot.Config{Shop: a.svc, State: a.db, Token: token, APIURL: tg.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	bctx, stopBot := context.WithCancel(ctx)
	botDone := make(chan error, 2)
	go func() { botDone <- tb.Run(bctx) }()
	startNotifier(t, bctx, a.svc, tb) // A leads: its notifier tells, from the outbox
	// B's bot runs too (webhook mode: every replica's does) but B
	// follows (an elector that never ran): it tells nobody.
	tgB := bottest.New(t, token)
	tbB, err := bot.New(bot.Config{Shop: b.svc, State: b.db, Token: token, APIURL: tgB.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	go func() { botDone <- tbB.Run(bctx) }()
	defer func() { stopBot(); <-botDone; <-botDone }()
	follower, err := pgstore.NewElector(u, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.svc.Subscribe((&app{bot: tbB, elector: follower}).notifyBuyers)

	const buyer, marker, referrer = 6_100_001, 6_100_002, 6_100_003
	b.svc.ReferralPPM = 50_000 // 5 %: B's completions reward the buyer's referrer
	if _, err := b.svc.EnsureUser(ctx, shop.UserUpdate{ID: referrer, Username: "relay_referrer", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	user, err := b.svc.EnsureUser(ctx, shop.UserUpdate{ID: buyer, Username: "relay_buyer", LanguageCode: "en", StartPayload: shop.ReferralPayload(referrer)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.EnsureUser(ctx, shop.UserUpdate{ID: marker, Username: "relay_marker", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	order := func(s *shop.Service, method shop.PaymentMethod) *shop.Order {
		t.Helper()
		o, err := s.CreateOrder(ctx, shop.CreateOrderRequest{UserID: buyer, Type: shop.OrderStars, Stars: 50, Recipient: "relay_buyer",
			PaymentMethod: method, Source: shop.SourceBot})
		must(err)
		return o
	}

	// B credits the buyer: A's bot says so.
	_, err = b.svc.AdminCredit(ctx, 1, buyer, 10*shop.TON, "top-up")
	must(err)
	tg.Wait(buyer, "balance was credited")

	// B's worker completes an order.
	o1 := order(b.svc, shop.PayBalance)
	_, _, err = b.svc.ClaimOrder(ctx, o1.ID, "sandbox")
	must(err)
	_, err = b.svc.CompleteOrder(ctx, shop.SystemActor, o1.ID, "sandbox-ref")
	must(err)
	tg.Wait(buyer, fmt.Sprintf("Order #%d completed", o1.ID))
	tg.Wait(referrer, "Referral reward")

	// B's worker hands one to the admins, an admin on B refunds it.
	o2 := order(b.svc, shop.PayBalance)
	_, err = b.svc.MoveToManual(ctx, o2.ID, "provider down")
	must(err)
	tg.Wait(buyer, fmt.Sprintf("Order #%d (", o2.ID))
	_, err = b.svc.Refund(ctx, 1, o2.ID, "no luck")
	must(err)
	tg.Wait(buyer, "was refunded")

	// B's watcher credits a deposit; B cancels a ton_memo order.
	_, err = b.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("ab", 32), LT: 7, Time: time.Now(), From: "UQsender",
		Amount: 2 * shop.TON, Memo: user.Memo}, nil)
	must(err)
	tg.Wait(buyer, "Deposit received")
	o3 := order(b.svc, shop.PayTONMemo)
	_, err = b.svc.CancelOrder(ctx, buyer, o3.ID)
	must(err)

	// A credits the buyer itself: one notice, and B hears of it.
	_, err = a.svc.AdminCredit(ctx, 1, buyer, shop.TON, "bonus")
	must(err)
	tg.Wait(buyer, "balance was credited")

	barrier(t, b, a, marker)
	barrier(t, a, b, marker)
	sameEvents(t, []string{"A", "B"}, a, b)
	if _, remote := a.log.split(); len(remote) < 10 {
		t.Errorf("A got %d events from B, want every one of B's 10 and more: %+v", len(remote), remote)
	}
	completed := fmt.Sprintf("Order #%d completed", o1.ID)
	notices := map[string]int{}
	for _, m := range tg.Messages(buyer) {
		for _, s := range []string{"balance was credited", completed, "needs a manual step", "was refunded", "Deposit received"} {
			if strings.Contains(m.Text, s) {
				notices[s]++
			}
		}
	}
	if want := map[string]int{"balance was credited": 2, completed: 1, "needs a manual step": 1, "was refunded": 1, "Deposit received": 1}; !reflect.DeepEqual(notices, want) {
		t.Errorf("the buyer's notices = %v, want %v (once each)", notices, want)
	}

	// A's worker (as the leader's) scans hourly: orders paid through B
	// are delivered because the relay's order_paid pokes it.
	w, err := fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: a.svc, Provider: fulfillment.Sandbox{}, Name: "sandbox",
		Interval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	must(err)
	a.svc.Subscribe(func(e shop.Event) {
		if e.Type == shop.EventOrderPaid {
			w.Poke()
		}
	})
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); _ = w.Run(wctx) }()
	defer func() { stopWorker(); <-workerDone }()
	for range 2 { // the second is paid after the worker's first scan, surely
		o := order(b.svc, shop.PayBalance)
		tg.Wait(buyer, fmt.Sprintf("Order #%d completed", o.ID))
	}
	if m := tgB.Messages(buyer); len(m) > 0 {
		t.Errorf("the follower's bot told the buyer: %+v", m)
	}
	if v := tg.Violations(); len(v) > 0 {
		t.Errorf("Bot API violations: %v", v)
	}
}

// TestRelay_Postgres_ListenerLost: the server ends A's listening session
// while B commits events. A, which polls only hourly, still gets each of
// them exactly once: the listener reconnects and wakes the relay, which
// reads on from its cursor. C, without a listener, gets them by polling.
func TestRelay_Postgres_ListenerLost(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startReplica(t, u, true, time.Hour)
	b := startReplica(t, u, true, time.Hour)
	c := startReplica(t, u, false, 20*time.Millisecond)
	const user = 6_200_001
	if _, err := b.svc.EnsureUser(ctx, shop.UserUpdate{ID: user, Username: "relay_lost", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// waitPID waits for A's listener to be connected on another session
	// than old's.
	waitPID := func(old uint32) uint32 {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if pid := a.listener.BackendPID(); pid != 0 && pid != old {
				return pid
			}
		}
		t.Fatalf("A's listener has no new session (the old one: %d)", old)
		return 0
	}
	pid := waitPID(0)
	for round := range 3 {
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid)); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := b.svc.AdminCredit(ctx, 1, user, shop.NanoTON(1000*round+i+1), "while A is deaf"); err != nil {
				t.Fatal(err)
			}
		}
		a.log.wait(t, true, shop.EventAdminCredit, user, shop.NanoTON(1000*round+3))
		pid = waitPID(pid)
	}
	// Only B made changes: once A and C have B's last, each has all.
	amount := barrier(t, b, a, user)
	c.log.wait(t, true, shop.EventAdminCredit, user, amount)
	sameEvents(t, []string{"A", "B", "C"}, a, b, c)
	if _, remote := a.log.split(); len(remote) != 10 { // 9 credits and the barrier
		t.Errorf("A got %d events from B, want 10", len(remote))
	}
}
