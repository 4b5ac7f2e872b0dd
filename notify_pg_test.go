package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// pgReplica is one replica as wire makes it on PostgreSQL with a bot: its
// own pool, service (with its Replica), elector, bot (on its own fake Bot
// API, so that a test sees which replica told what) and notifier, run as
// a singleton while the elector leads (runWhileLeader). It campaigns from
// campaign on. Stopping it as run does stops the notifier first and then
// the elector; killing it stops everything at once.
type pgReplica struct {
	svc *shop.Service
	bot *bot.Bot
	tg  *bottest.Server
	el  *pgstore.Elector
	n   *shop.Notifier

	kill           context.CancelFunc // ends everything
	stopSingletons context.CancelFunc // ends the notifier
	stopElector    context.CancelFunc
	singletons     context.Context
	electorCtx     context.Context
	singletonsDone sync.WaitGroup
	all            sync.WaitGroup
}

// startPGReplica opens a replica on the schema at url. Its notifier polls
// every 50 ms and is poked by its service's events; its elector's TTL is
// 300 ms.
func startPGReplica(t *testing.T, url string) *pgReplica {
	t.Helper()
	return startPGReplicaTTL(t, url, pgReplicaTTL)
}

// pgReplicaTTL is startPGReplica's elector TTL.
const pgReplicaTTL = 300 * time.Millisecond

// startPGReplicaTTL is startPGReplica with an elector TTL of ttl (it pings
// its lock's connection every ttl/3).
func startPGReplicaTTL(t *testing.T, url string, ttl time.Duration) *pgReplica {
	t.Helper()
	ctx, kill := context.WithCancel(context.Background())
	db, svc := openReplica(t, ctx, url)
	el, err := pgstore.NewElector(url, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &pgReplica{svc: svc, tg: bottest.New(t, notifyToken), el: el, kill: kill}
	r.singletons, r.stopSingletons = context.WithCancel(ctx)
	r.electorCtx, r.stopElector = context.WithCancel(ctx)
	b, botDone := startBot(t, ctx, svc, db, r.tg)
	r.all.Go(func() { <-botDone })
	n, err := shop.NewNotifier(shop.NotifierConfig{Shop: svc, Teller: b, Poll: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc.Subscribe(func(shop.Event) { n.Poke() })
	r.bot, r.n = b, n
	t.Cleanup(func() {
		r.kill()
		r.all.Wait()
		if err := db.Check(context.Background()); err != nil {
			t.Errorf("check: %v", err)
		}
		db.Close()
	})
	return r
}

// campaign starts the elector and, while it leads, the notifier.
func (r *pgReplica) campaign() {
	r.all.Go(func() { _ = r.el.Run(r.electorCtx) })
	r.singletonsDone.Add(1)
	r.all.Go(func() {
		defer r.singletonsDone.Done()
		_ = runWhileLeader(r.singletons, r.el, slog.New(slog.DiscardHandler), "buyer notifier", r.n.Run)
	})
}

// waitLeading waits (up to 10 s) until r leads.
func (r *pgReplica) waitLeading(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.el.Wait(ctx); err != nil {
		t.Fatalf("the replica does not lead: %v", err)
	}
}

// startLeading starts a replica (elector TTL ttl) that campaigns, and
// waits until it leads and its notifier has placed its cursor.
func startLeading(t *testing.T, url string, ttl time.Duration) *pgReplica {
	t.Helper()
	r := startPGReplicaTTL(t, url, ttl)
	r.campaign()
	r.waitLeading(t)
	waitCursor(t, r.n)
	return r
}

// ensureBuyer makes a buyer who talks to the bot in English.
func ensureBuyer(t *testing.T, svc *shop.Service, id int64, username string) {
	t.Helper()
	if _, err := svc.EnsureUser(context.Background(), shop.UserUpdate{ID: id, Username: username, LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
}

// stop stops r as run does on a clean stop: the notifier (which finishes
// its page and saves its cursor under its leadership), then the elector,
// which steps down, then the bot.
func (r *pgReplica) stop() {
	r.stopSingletons()
	r.singletonsDone.Wait()
	r.stopElector()
	r.kill()
	r.all.Wait()
}

// TestNotifier_Postgres_LeaderDiesBeforeTelling: the leader tells a
// credit; then its notifier stops (it saves its cursor) while it keeps
// leading, it commits another credit, and dies: the credit was committed
// and never told, and the Event it emitted in memory died with it, as
// when a leader is killed between a commit and the message. The next
// leader tells that credit, once, and not the first again.
func TestNotifier_Postgres_LeaderDiesBeforeTelling(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startLeading(t, u, pgReplicaTTL)
	b := startPGReplica(t, u)
	b.campaign()

	const buyer = 7_300_001
	ensureBuyer(t, a.svc, buyer, "dies_buyer")
	credit(t, a.svc, buyer, 1)
	waitTold(t, buyer, []string{creditNote(1)}, a.tg)
	a.stopSingletons()
	a.singletonsDone.Wait()
	if !a.el.Leader() {
		t.Fatal("A stopped leading with its notifier")
	}
	credit(t, a.svc, buyer, 2)
	a.kill()
	a.all.Wait()

	b.waitLeading(t)
	waitTold(t, buyer, []string{creditNote(2)}, b.tg)
	credit(t, b.svc, buyer, 3)
	waitTold(t, buyer, []string{creditNote(3)}, b.tg)
	if err := b.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	toldOnce(t, buyer, []string{creditNote(1), creditNote(2), creditNote(3)}, a.tg, b.tg)
}

// TestNotifier_Postgres_FollowerEventsWithoutLeader: the leader dies;
// while no replica leads, a follower's API and admins go on (credits
// committed on the follower, whose own bot tells nobody). When the
// follower is elected, it tells each of them once, and not what the old
// leader had told.
func TestNotifier_Postgres_FollowerEventsWithoutLeader(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startLeading(t, u, pgReplicaTTL)
	b := startPGReplica(t, u) // not campaigning yet

	const buyer = 7_400_001
	ensureBuyer(t, b.svc, buyer, "follower_buyer")
	credit(t, b.svc, buyer, 1) // made on the follower, told by the leader (polling)
	waitTold(t, buyer, []string{creditNote(1)}, a.tg)
	a.kill()
	a.all.Wait()

	for i := 2; i <= 4; i++ {
		credit(t, b.svc, buyer, i)
	}
	if err := b.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(b.tg.Messages(buyer)); n != 0 {
		t.Fatalf("the follower's bot told the buyer %d things before it led", n)
	}
	b.campaign()
	b.waitLeading(t)
	waitTold(t, buyer, []string{creditNote(2), creditNote(3), creditNote(4)}, b.tg)
	if err := b.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	toldOnce(t, buyer, []string{creditNote(1), creditNote(2), creditNote(3), creditNote(4)}, a.tg, b.tg)
}

// TestNotifier_Postgres_RestartResumes: the only replica stops cleanly;
// credits are committed while none runs (through the store: a replica
// without a notifier); a new replica on the same database tells those,
// from the stored cursor, and nothing it told before.
func TestNotifier_Postgres_RestartResumes(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startLeading(t, u, pgReplicaTTL)
	const buyer = 7_500_001
	ensureBuyer(t, a.svc, buyer, "restart_buyer")
	credit(t, a.svc, buyer, 1)
	credit(t, a.svc, buyer, 2)
	waitTold(t, buyer, []string{creditNote(1), creditNote(2)}, a.tg)
	a.stop()

	offline := startPGReplica(t, u) // never campaigns
	credit(t, offline.svc, buyer, 3)
	credit(t, offline.svc, buyer, 4)

	again := startPGReplica(t, u)
	again.campaign()
	waitTold(t, buyer, []string{creditNote(3), creditNote(4)}, again.tg)
	if err := again.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	toldOnce(t, buyer, []string{creditNote(1), creditNote(2), creditNote(3), creditNote(4)}, a.tg, offline.tg, again.tg)
	if n := len(again.tg.Messages(buyer)); n != 2 {
		t.Errorf("the restarted replica sent %d messages, want 2 (credits 3 and 4)", n)
	}
}

// TestNotifier_Postgres_CleanHandover: two replicas take credits for 20
// buyers in turn, without pause, while the leader stops cleanly halfway
// (its notifier finishes or cuts short its page and saves what it told
// before its elector steps down, as run orders them). Every credit is told
// exactly once, by one replica or the other. (Several buyers: the bot
// sends one message a second per chat, Telegram's limit.)
func TestNotifier_Postgres_CleanHandover(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startLeading(t, u, pgReplicaTTL)
	b := startPGReplica(t, u)
	b.campaign()

	const first, buyers, rounds = 7_600_001, 20, 4
	for i := range buyers {
		if _, err := a.svc.EnsureUser(ctx, shop.UserUpdate{ID: first + int64(i), Username: fmt.Sprintf("handover_%d", i), LanguageCode: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for round := 1; round <= rounds; round++ {
		for i := range buyers {
			through := a
			if n%2 == 1 || round > rounds/2 {
				through = b
			}
			credit(t, through.svc, first+int64(i), round)
			n++
		}
		if round == rounds/2 {
			a.stop()
		}
	}
	b.waitLeading(t)
	var notes []string
	for round := 1; round <= rounds; round++ {
		notes = append(notes, creditNote(round))
	}
	for i := range buyers {
		waitTold(t, first+int64(i), notes, a.tg, b.tg)
	}
	if err := b.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	toldByA, toldByB := 0, 0
	for i := range buyers {
		toldOnce(t, first+int64(i), notes, a.tg, b.tg)
		toldByA += told(first+int64(i), "credited", a.tg)
		toldByB += told(first+int64(i), "credited", b.tg)
	}
	if toldByA == 0 || toldByB == 0 {
		t.Errorf("A told %d credits and B %d: the handover happened outside the test's stream", toldByA, toldByB)
	}
	t.Logf("A told %d credits, B %d", toldByA, toldByB)
}

// TestNotifier_Postgres_DeposedLeader: A's lock's session is cut, and B is
// elected while A, which pings its connection only every 100 s, still
// believes it leads. A commits a credit; A's notifier tells it, but its
// save of the cursor is fenced: it fails, and A steps down at once
// (long before its ping). B tells the credit too, from the cursor A could
// not move: at least once, the duplicate being the price of a leader that
// did not know it was deposed. Later credits are B's alone.
func TestNotifier_Postgres_DeposedLeader(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	a := startLeading(t, u, 5*time.Minute)
	b := startPGReplica(t, u)
	b.campaign()

	const buyer = 7_700_001
	ensureBuyer(t, a.svc, buyer, "deposed_buyer")
	credit(t, a.svc, buyer, 1)
	waitTold(t, buyer, []string{creditNote(1)}, a.tg)

	killLeaderLock(t, u)
	b.waitLeading(t)
	if !a.el.Leader() {
		t.Fatal("A noticed before the test could use its stale leadership")
	}

	credit(t, a.svc, buyer, 2)
	waitTold(t, buyer, []string{creditNote(2)}, a.tg) // told by the deposed A
	waitTold(t, buyer, []string{creditNote(2)}, b.tg) // and by B, whose cursor A could not move
	for deadline := time.Now().Add(30 * time.Second); a.el.Leader(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("A still leads: its fenced save did not depose it")
		}
	}
	credit(t, a.svc, buyer, 3) // A, a follower now, tells nobody
	waitTold(t, buyer, []string{creditNote(3)}, b.tg)
	if err := b.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.bot.Idle(ctx); err != nil {
		t.Fatal(err)
	}
	toldOnce(t, buyer, []string{creditNote(1), creditNote(2)}, a.tg)
	toldOnce(t, buyer, []string{creditNote(2), creditNote(3)}, b.tg)
	if n := told(buyer, creditNote(3), a.tg) + told(buyer, creditNote(1), b.tg); n != 0 {
		t.Errorf("%d notices repeated beyond the deposed leader's one page", n)
	}
}
