package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// listen starts a listener over u, stopped when the test ends, and
// waits for its first wake-up: it is listening.
func listen(t *testing.T, u string) *pgstore.Listener {
	t.Helper()
	l, err := pgstore.NewListener(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	woken(t, l, "after connecting")
	return l
}

// woken waits (up to 10 s) for a wake-up of l.
func woken(t *testing.T, l *pgstore.Listener, when string) {
	t.Helper()
	select {
	case <-l.C():
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up %s within 10 s", when)
	}
}

// appendEvent commits a transaction that appends one outbox event, or,
// with fail, rolls it back.
func appendEvent(t *testing.T, db *pgstore.DB, id string, fail bool) {
	t.Helper()
	errFail := shop.Errorf(shop.EVALIDATION, "rolled back")
	err := db.Update(context.Background(), func(tx shop.Tx) error {
		if err := tx.AppendOutbox(&shop.OutboxEvent{ID: id, Type: shop.PartnerBalanceCredited, UserID: 1,
			CreatedAt: time.Now(), Balance: &shop.BalanceChange{Amount: 1, Balance: 1, Reason: shop.CreditAdmin}}); err != nil {
			return err
		}
		if fail {
			return errFail
		}
		return nil
	})
	if (err != nil) != fail {
		t.Fatalf("update: %v", err)
	}
}

// TestListener_Notify: a committed transaction that appended outbox
// events wakes a listener on its schema.
func TestListener_Notify(t *testing.T) {
	u := pgtest.NewSchema(t)
	db, err := pgstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := listen(t, u)
	appendEvent(t, db, "evt_a", false)
	woken(t, l, "after a commit")
}

// TestOutboxNotify_OnlyEvents: a transaction without events, or rolled
// back, sends no notification (TestListener_Notify: a committed one with
// events does).
func TestOutboxNotify_OnlyEvents(t *testing.T) {
	ctx := context.Background()
	db, err := pgstore.Open(ctx, pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(ctx, func(tx shop.Tx) error { return tx.PutCursor(&shop.Cursor{Account: "a", LT: 1, Hash: "h"}) }); err != nil {
		t.Fatal(err)
	}
	appendEvent(t, db, "evt_rolled_back", true)
	if db.Notifying() {
		t.Error("a notification is under way after commits without events and a rollback")
	}
}

// TestOutboxNotify_Channels: each schema has its own channel, a valid
// identifier.
func TestOutboxNotify_Channels(t *testing.T) {
	ctx := context.Background()
	seen := map[string]bool{}
	for range 2 {
		conn, err := pgx.Connect(ctx, pgtest.NewSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		var channel string
		err = conn.QueryRow(ctx, "SELECT "+pgstore.OutboxChannelSQL).Scan(&channel)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(channel) > 63 || seen[channel] {
			t.Errorf("channel %q: too long, or another schema's", channel)
		}
		seen[channel] = true
	}
}

// TestListener_Reconnect: after the server ends the listener's session
// (pg_terminate_backend), it connects again, wakes its consumer (what was
// sent meanwhile is lost to it) and hears the next commit.
func TestListener_Reconnect(t *testing.T) {
	u := pgtest.NewSchema(t)
	ctx := context.Background()
	db, err := pgstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := listen(t, u)
	admin, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for range 3 {
		pid := l.BackendPID()
		if pid == 0 {
			t.Fatal("BackendPID = 0 while listening")
		}
		if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int64(pid)); err != nil {
			t.Fatal(err)
		}
		woken(t, l, "after reconnecting")
		if got := l.BackendPID(); got == pid || got == 0 {
			t.Fatalf("BackendPID = %d after reconnecting, was %d", got, pid)
		}
		appendEvent(t, db, "evt_"+time.Now().Format("150405.000000000"), false)
		woken(t, l, "after a commit on the new session")
	}
}

// BenchmarkNotifyInTx shows why Update notifies after the commit rather
// than in the transaction: one-row INSERT transactions from 64 goroutines over
// 32 connections (synchronous commit as the server is configured), plain and with a
// pg_notify inside, which holds PostgreSQL's cluster-wide notify lock
// until the commit is flushed:
//
//	go test -run '^$' -bench BenchmarkNotifyInTx -benchtime 3s ./pgstore
func BenchmarkNotifyInTx(b *testing.B) {
	for _, notify := range []bool{false, true} {
		name := "plain"
		if notify {
			name = "notify_in_tx"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			cfg, err := pgxpool.ParseConfig(pgtest.NewSchema(b))
			if err != nil {
				b.Fatal(err)
			}
			cfg.MaxConns = 32 // commits that may share a flush
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			if _, err := pool.Exec(ctx, `CREATE TABLE bench_notify (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(64)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
						if _, err := tx.Exec(ctx, `INSERT INTO bench_notify (v) VALUES ($1)`, int64(42)); err != nil {
							return err
						}
						if notify {
							_, err := tx.Exec(ctx, `SELECT pg_notify('starsbot_bench_notify', '')`)
							return err
						}
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
