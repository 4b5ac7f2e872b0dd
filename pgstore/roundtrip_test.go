package pgstore_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// roundTrips counts what the client sends: each write to a connection is
// one message flush, which the client then waits on (a round trip), and
// the statements traced.
type roundTrips struct {
	writes atomic.Int64
	mu     sync.Mutex
	sqls   []string
}

type countingConn struct {
	net.Conn
	rt *roundTrips
}

func (c countingConn) Write(b []byte) (int, error) {
	c.rt.writes.Add(1)
	return c.Conn.Write(b)
}

func (rt *roundTrips) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return countingConn{c, rt}, nil
}

func (rt *roundTrips) add(sql string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.sqls = append(rt.sqls, strings.Join(strings.Fields(sql), " "))
}

func (rt *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	rt.add(d.SQL)
	return ctx
}

func (rt *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (rt *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	rt.add("batch:")
	return ctx
}

func (rt *roundTrips) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	rt.add("  " + d.SQL)
}

func (rt *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns the writes and statements since the last take.
func (rt *roundTrips) take() (int64, []string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	sqls := rt.sqls
	rt.sqls = nil
	return rt.writes.Swap(0), sqls
}

// TestRoundTrips_BalanceOrder counts the round trips of what the API does
// for one balance-paid order: Authenticate (the key and its owner), then
// CreateOrder. It logs the statements (go test -v) and fails when the
// count grows past maxRoundTrips, so that a change that adds one is seen.
func TestRoundTrips_BalanceOrder(t *testing.T) {
	const authRoundTrips, orderRoundTrips = 1, 3
	cfg, err := pgxpool.ParseConfig(pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.ConnConfig.DialFunc = rt.dial
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = 1 // every statement prepared on it after the first order
	db, err := pgstore.OpenConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pgtest.CheckAndClose(t, db)
	start := shoptest.Start
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: shoptest.Rate, Since: start}, shop.DefaultPricing(), shoptest.DepositAddress)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = shoptest.NewClock(start).Now
	const partner = 1001
	if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: partner, Username: "partner", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	key, _, err := svc.IssueKey(ctx, partner, shop.KeyPrefixOrders)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AdminCredit(ctx, 9, partner, 1000*shop.TON, "test"); err != nil {
		t.Fatal(err)
	}
	// The first order prepares the statements on the connection: only
	// the second is counted.
	order := func(count bool) {
		t.Helper()
		user, _, err := svc.Authenticate(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if auth, sqls := rt.take(); count {
			t.Logf("Authenticate: %d round trips:\n\t%s", auth, strings.Join(sqls, "\n\t"))
			if auth > authRoundTrips {
				t.Errorf("Authenticate: %d round trips, want at most %d", auth, authRoundTrips)
			}
		}
		if _, err := svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: user.ID, Type: shop.OrderStars, Stars: 100,
			Recipient: "pandus", PaymentMethod: shop.PayBalance, Source: shop.SourceAPI}); err != nil {
			t.Fatal(err)
		}
		// The outbox notification after the commit goes out on its own
		// (notify.go): let it, and count it apart.
		time.Sleep(100 * time.Millisecond)
		n, sqls := rt.take()
		if !count {
			return
		}
		var notify int64
		for _, s := range sqls {
			if strings.Contains(s, "pg_notify") {
				notify++
			}
		}
		t.Logf("CreateOrder: %d round trips (%d of them the outbox notification, after the commit):\n\t%s", n, notify, strings.Join(sqls, "\n\t"))
		if n-notify > orderRoundTrips {
			t.Errorf("CreateOrder: %d round trips before the notification, want at most %d", n-notify, orderRoundTrips)
		}
	}
	order(false)
	order(true)
}
