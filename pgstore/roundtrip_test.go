package pgstore_test

import (
	"context"
	"net"
	"slices"
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

// add traces a statement (a pipeline's with its prefix "  ").
func (rt *roundTrips) add(prefix, sql string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.sqls = append(rt.sqls, prefix+strings.Join(strings.Fields(sql), " "))
}

func (rt *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	rt.add("", d.SQL)
	return ctx
}

func (rt *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (rt *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	rt.add("", "batch:")
	return ctx
}

func (rt *roundTrips) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	rt.add("  ", d.SQL)
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
	// One connection: every statement prepared on it after the first
	// order.
	_, rt, svc, key := tracedShop(t, 1)
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

// partner is the payer of tracedShop's orders: its id is odd, as
// batch_test.go's keyed is, so their Updates share a partition.
const partner = 1001

// tracedShop opens a store whose pool of maxConns connections counts its
// round trips (rt) and a shop.Service on it, with partner holding
// 1,000 TON and an API key (key).
func tracedShop(t *testing.T, maxConns int32) (*pgstore.DB, *roundTrips, *shop.Service, string) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.ConnConfig.DialFunc = rt.dial
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = maxConns
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
	rt.take()
	return db, rt, svc, key
}

// TestRoundTrips_BatchOfOrders counts the pipelines of a group commit's
// batch of balance-paid orders (batch.go): its turn, one read ahead (the
// payers and an order id per order) and its COMMIT, however many orders
// it holds. No order's fn waits on the server. (Pipelines, as pgx sends
// them, not socket writes: a connection's first use of a statement adds
// its preparation, and which pooled connection a batch takes varies.)
func TestRoundTrips_BatchOfOrders(t *testing.T) {
	const batchPipelines = 3
	db, rt, svc, _ := tracedShop(t, 4)
	before, err := svc.FindUser(ctx, partner)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the set-up's outbox notification
	rt.take()
	orders := make([]func() error, 16)
	ids := make([]int64, len(orders))
	prices := make([]shop.NanoTON, len(orders))
	for i := range orders {
		orders[i] = func() error {
			o, err := svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: partner, Type: shop.OrderStars, Stars: 100,
				Recipient: "pandus", PaymentMethod: shop.PayBalance, Source: shop.SourceAPI})
			if err == nil {
				ids[i], prices[i] = o.ID, o.PriceTON
			}
			return err
		}
	}
	for i, err := range batchOfCalls(t, db, orders...) {
		if err != nil {
			t.Errorf("order %d: %v", i, err)
		}
	}
	time.Sleep(100 * time.Millisecond) // the outbox notification, counted apart
	_, sqls := rt.take()
	var pipelines []string
	for _, s := range sqls {
		if !strings.HasPrefix(s, "  ") && !strings.Contains(s, "pg_notify") {
			pipelines = append(pipelines, s)
		}
	}
	t.Logf("a batch of %d orders: %d pipelines:\n\t%s", len(orders), len(pipelines), strings.Join(sqls, "\n\t"))
	if len(pipelines) > batchPipelines {
		t.Errorf("a batch of %d orders: %d pipelines, want at most %d", len(orders), len(pipelines), batchPipelines)
	}
	if n, _ := db.BatchStats(); n != 1 {
		t.Errorf("%d batches, want 1", n)
	}
	// In the batch's order, which is the calls' order (batchOfCalls).
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) || ids[0] <= 0 {
		t.Errorf("order ids %v: want them positive, ascending, distinct", ids)
	}
	var spent shop.NanoTON
	for _, p := range prices {
		spent += p
	}
	// Each order read the balance the one before it left (the batch's
	// own view of the row, not the record it read ahead).
	after, err := svc.FindUser(ctx, partner)
	if err != nil {
		t.Fatal(err)
	}
	if want := before.Balance - spent; after.Balance != want {
		t.Errorf("balance %s TON after the batch, want %s - %s = %s", after.Balance, before.Balance, spent, want)
	}
}
