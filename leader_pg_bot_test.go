package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/bot/bottest"
	"starsbot/pgstore"
	"starsbot/shop"
)

// TestReplicas_Postgres_BotPolling: two services with the bot in
// long-polling mode on one database. Only the leader polls and tells the
// buyer of a deposit, once; when the leader loses its lock without
// stopping (its lock's session is killed), it stops polling and stays up
// as a follower, and the new leader polls and tells the buyer of the next
// deposit, once.
func TestReplicas_Postgres_BotPolling(t *testing.T) {
	stopped := regexp.MustCompile(`msg="telegram polling: stopped until this replica leads again"`)
	buyer := bottest.User{ID: 5151, Username: "dora_d", LanguageCode: "en"}
	db, tg, a, b := startPollingPair(t, buyer)
	if strings.Contains(b.stderr.String(), "telegram polling: started") {
		t.Fatalf("the follower (B) polls:\n%s", b.stderr.String())
	}

	memo := userMemo(t, db, buyer.ID)
	deposit := func(through *service, amount string) {
		t.Helper()
		if code, body := through.call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+memo+`","amount_ton":"`+amount+`"}`); code != 200 {
			t.Fatalf("deposit: %d %s", code, body)
		}
		tg.Wait(buyer.ID, "Deposit received</b>: +"+amount+" TON")
		// A later answer to the buyer orders the notices before it.
		tg.Send(buyer, "/help")
		tg.Wait(buyer.ID, "How it works")
		n := 0
		for _, m := range tg.Messages(buyer.ID) {
			if strings.Contains(m.Text, "Deposit received</b>: +"+amount+" TON") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("the buyer was told of the %s TON deposit %d times, want once", amount, n)
		}
	}
	deposit(b, "3") // made through the follower's API, credited by the leader

	// A loses its lock but keeps running: it stops polling, B leads.
	killLeaderLock(t, db)
	if a.stderr.wait(t, stopped, 15*time.Second, a.done) == nil {
		t.Fatalf("A did not stop polling when it lost its lock:\n%s", a.stderr.String())
	}
	if b.stderr.wait(t, pollingStarted, 15*time.Second, b.done) == nil {
		t.Fatalf("B does not poll after taking over:\n%s", b.stderr.String())
	}
	deposit(a, "4") // through the old leader, now a follower: credited and told by B
	select {
	case err := <-a.done:
		t.Fatalf("A exited after losing leadership: %v\n%s", err, a.stderr.String())
	default:
	}
}

// pollingStarted is what a replica logs when it starts polling Telegram.
var pollingStarted = regexp.MustCompile(`msg="telegram polling: started \(this replica leads\)"`)

// startPollingPair starts two service processes on a new schema and a
// fake Bot API, in long-polling mode with LEADER_TTL 2s: A, once it
// leads and polls, then B; then buyer starts the bot. It returns the
// database's URL, the fake and the two processes.
func startPollingPair(t *testing.T, buyer bottest.User) (db string, tg *bottest.Server, a, b *service) {
	t.Helper()
	db = pgURL(t)
	const token = "123456789:AAsecretsecretsecretsecretsecret"
	tg = bottest.New(t, token)
	vars := map[string]string{"DATABASE_URL": db, "LEADER_TTL": "2s", "TELEGRAM_TOKEN": token, "TELEGRAM_API_URL": tg.URL}
	a = startProcess(t, vars)
	if a.stderr.wait(t, pollingStarted, 15*time.Second, a.done) == nil {
		t.Fatalf("A does not poll:\n%s", a.stderr.String())
	}
	b = startProcess(t, vars)
	tg.Send(buyer, "/start")
	tg.Wait(buyer.ID, "Stars")
	return db, tg, a, b
}

// startProcess runs the service in this process with vars (a fresh
// DATA_DIR and port) until the test ends.
func startProcess(t *testing.T, vars map[string]string) *service {
	t.Helper()
	all := map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0"}
	for k, v := range vars {
		all[k] = v
	}
	s := &service{t: t, stderr: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var out syncBuffer
	go func() { s.done <- run(ctx, nil, envOf(all), &out, s.stderr) }()
	t.Cleanup(func() { s.stop() })
	s.base = waitListening(t, s.stderr, s.done)
	return s
}

// userMemo returns the deposit memo of user id in the database at url.
func userMemo(t *testing.T, url string, id int64) string {
	t.Helper()
	ctx := context.Background()
	store, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var memo string
	err = store.View(ctx, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(id)
		if err == nil {
			memo = u.Memo
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return memo
}

// TestReplicas_Postgres_NotifyCleanHandover: two services with the bot on
// one database; top-ups keep coming through the follower's API while the
// leader stops cleanly halfway (run stops its notifier, which saves what
// it told, before its elector steps down). The buyer is told of each
// deposit exactly once, by the old leader or the new one.
func TestReplicas_Postgres_NotifyCleanHandover(t *testing.T) {
	buyer := bottest.User{ID: 5252, Username: "erin_e", LanguageCode: "en"}
	db, tg, a, b := startPollingPair(t, buyer)
	memo := userMemo(t, db, buyer.ID)

	const deposits = 6
	var notes []string
	for i := 1; i <= deposits; i++ {
		amount := strconv.Itoa(i)
		if code, body := b.call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+memo+`","amount_ton":"`+amount+`"}`); code != 200 {
			t.Fatalf("deposit: %d %s", code, body)
		}
		notes = append(notes, "Deposit received</b>: +"+amount+" TON")
		if i == deposits/2 {
			waitTold(t, buyer.ID, notes[:1], tg) // A has been telling
			a.stop()
		}
	}
	if b.stderr.wait(t, pollingStarted, 15*time.Second, b.done) == nil {
		t.Fatalf("B does not lead after A stopped:\n%s", b.stderr.String())
	}
	// In commit order: once the last is told, any repeat of an earlier one
	// would have come before it.
	waitTold(t, buyer.ID, notes, tg)
	toldOnce(t, buyer.ID, notes, tg)
}

// killLeaderLock ends the database session that holds the leader's lock
// on the schema of url (its process goes on, unaware until its next
// ping): the leader_terms row names the lock's key.
func killLeaderLock(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(l.pid) FROM pg_locks l, leader_terms k
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.classid::bigint = (k.key >> 32) & 4294967295 AND l.objid::bigint = k.key & 4294967295`); err != nil {
		t.Fatal(err)
	}
}
