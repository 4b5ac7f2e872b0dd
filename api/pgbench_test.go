package api_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"starsbot/api"
	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// BenchmarkAPIPostgres measures POST /api/v1/orders/stars paid from
// balance on PostgreSQL (package pgstore, SERIALIZABLE, synchronous commit
// as the server is configured) beside a raw baseline on the same server in
// the same run, each in a schema of its own (pgtest's TEST_DATABASE_URL).
// The clients are those of benchHTTP: benchAPIParallelism × GOMAXPROCS
// goroutines. Every pgstore.DB and the raw baseline use pgxpool's default
// pool (max(4, NumCPU) connections per pool).
//
//   - raw_insert: one INSERT of a row into a two-column table in its own
//     SERIALIZABLE transaction, committed, from the same number of
//     goroutines through one pool. Its ops/s is the baseline (req/s).
//   - POST_orders_stars_1replica_1partner: one api.Server over one
//     shop.Service over one pgstore.DB; every order is paid by the same
//     partner, so every transaction updates the same balance row.
//   - POST_orders_stars_1replica_64partners: the same, the requests
//     round-robin over 64 partners (64 balance rows).
//   - POST_orders_stars_2replicas_*: two api.Server, each over its own
//     shop.Service and pgstore.DB (own pool) on the same schema, the
//     requests alternating between them.
//
// Besides benchHTTP's req/s and latencies, each POST reports raw-req/s,
// the raw baseline's rate run for rawWindow just before and just after it
// (their mean: a shared machine's speed drifts over a whole run), and
// raw-% (its req/s as a percentage of that; target ≥ 40), retries/op (pgstore re-runs after serialization
// failures, per request), batched-% (the requests whose transaction was
// shared with others: pgstore's group commit) and calls/batch. Every case also reports its CPU time per
// operation, which a machine shared with other work disturbs much less
// than a rate: pg-cpu-µs/op, the server's (its backends serving the
// case's pools, by /proc; Linux only, 0 elsewhere), and go-cpu-µs/op,
// this process's (the HTTP clients, servers, shop and pgx; for
// raw_insert, pgx alone):
//
//	go test -run '^$' -bench BenchmarkAPIPostgres -benchtime 3s ./api
//
// pgstore's TestRoundTrips_BalanceOrder lists the statements and counts
// the round trips of one such order (go test -v -run RoundTrips ./pgstore).
func BenchmarkAPIPostgres(b *testing.B) {
	b.Run("raw_insert", func(b *testing.B) {
		benchRawInsert(b)
	})
	raw := newRawInserts(b)
	for _, replicas := range []int{1, 2} {
		for _, partners := range []int{1, 64} {
			name := fmt.Sprintf("POST_orders_stars_%dreplica", replicas)
			if replicas > 1 {
				name += "s"
			}
			name += fmt.Sprintf("_%dpartner", partners)
			if partners > 1 {
				name += "s"
			}
			b.Run(name, func(b *testing.B) {
				urls, keys, stats, pool, app := benchPGServers(b, replicas, partners)
				body := []byte(`{"recipient_username":"pandus","quantity":100,"payment_method":"balance","payment_currency":"TON"}`)
				var n atomic.Uint64
				rawBefore := raw.rate(b, rawWindow)
				retries0, batches0, joined0 := stats()
				cpu := startCPU(b, pool, app)
				benchHTTP(b, func() *http.Request {
					i := n.Add(1)
					req, _ := http.NewRequest("POST", urls[i%uint64(len(urls))]+"/api/v1/orders/stars", bytes.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+keys[(i/uint64(len(urls)))%uint64(len(keys))])
					req.Header.Set("Content-Type", "application/json")
					return req
				})
				cpu.report(b)
				rate := float64(b.N) / b.Elapsed().Seconds()
				rawRate := (rawBefore + raw.rate(b, rawWindow)) / 2
				b.ReportMetric(rawRate, "raw-req/s")
				b.ReportMetric(100*rate/rawRate, "raw-%")
				retries, batches, joined := stats()
				b.ReportMetric(float64(retries-retries0)/float64(b.N), "retries/op")
				b.ReportMetric(100*float64(joined-joined0)/float64(b.N), "batched-%")
				if batches > batches0 {
					b.ReportMetric(float64(joined-joined0)/float64(batches-batches0), "calls/batch")
				}
			})
		}
	}
}

// benchRawInsert runs b.N raw inserts (rawInsert) from benchHTTP's number
// of goroutines through one default pool, and reports the rate.
func benchRawInsert(b *testing.B) {
	ctx := context.Background()
	u, app := benchAppName(b, pgtest.NewSchema(b))
	pool := rawPool(b, u)
	var failures atomic.Int64
	b.SetParallelism(benchAPIParallelism)
	cpu := startCPU(b, pool, app)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rawInsert(ctx, pool); err != nil {
				failures.Add(1)
			}
		}
	})
	b.StopTimer()
	cpu.report(b)
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d inserts failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// rawInsert is the raw baseline: one INSERT of a row into a two-column
// table in its own SERIALIZABLE transaction, committed.
func rawInsert(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO bench_raw (v) VALUES ($1)`, int64(42))
		return err
	})
}

// rawWindow is how long the raw baseline runs just before and just after
// each POST case: a shared machine's speed drifts over a run of the whole
// benchmark, so each case is set beside the raw rate of its own minutes.
const rawWindow = 2 * time.Second

// rawInserts is the raw baseline of benchRawInsert, run for a time rather
// than b.N times, beside each POST case.
type rawInserts struct {
	pool *pgxpool.Pool
}

func newRawInserts(b *testing.B) *rawInserts {
	return &rawInserts{pool: rawPool(b, pgtest.NewSchema(b))}
}

// rawPool opens a default pool on the schema of u and creates the raw
// baseline's table there (rawInsert).
func rawPool(b *testing.B, u string) *pgxpool.Pool {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return pool
}

// rate runs raw inserts, as benchRawInsert does, from as many goroutines,
// for d, and returns their rate.
func (r *rawInserts) rate(b *testing.B, d time.Duration) float64 {
	ctx := context.Background()
	var n, failures atomic.Int64
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range benchAPIParallelism * runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := rawInsert(ctx, r.pool); err != nil {
					failures.Add(1)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d raw inserts failed", f, n.Load())
	}
	return float64(n.Load()) / time.Since(start).Seconds()
}

// benchPGServers starts replicas api.Servers, each over its own
// shop.Service and pgstore.DB on one new schema, with partners partners
// holding 1,000,000 TON each. It returns the servers' URLs, the partners'
// osk_ keys, a function summing the stores' serialization re-runs, and
// a pool and the application_name of the stores' connections (for
// startCPU).
// When the benchmark ends the servers stop, then the store is checked
// (pgstore.DB.Check) and the schema dropped.
func benchPGServers(b *testing.B, replicas, partners int) (urls, keys []string, stats func() (retries, batches, joined int64), pool *pgxpool.Pool, app string) {
	b.Helper()
	ctx := context.Background()
	discard := slog.New(slog.DiscardHandler)
	u, app := benchAppName(b, pgtest.NewSchema(b))
	start := time.Now()
	clock := shoptest.NewClock(start)
	var dbs []*pgstore.DB
	var svcs []*shop.Service
	for range replicas {
		db, err := pgstore.Open(ctx, u)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		svc, err := shop.NewService(db, shop.StaticRate{TONUSD: shoptest.Rate, Since: start}, shop.DefaultPricing(), shoptest.DepositAddress)
		if err != nil {
			b.Fatal(err)
		}
		svc.Now = clock.Now
		svc.Logger = discard
		dbs = append(dbs, db)
		svcs = append(svcs, svc)
	}
	b.Cleanup(func() {
		if err := dbs[0].Check(context.Background()); err != nil {
			b.Errorf("store check after benchmark: %v", err)
		}
	})
	for i := range partners {
		id := int64(1001 + i)
		if _, err := svcs[0].EnsureUser(ctx, shop.UserUpdate{ID: id, Username: fmt.Sprintf("partner_%d", i), LanguageCode: "en"}); err != nil {
			b.Fatal(err)
		}
		key, _, err := svcs[0].IssueKey(ctx, id, shop.KeyPrefixOrders)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svcs[0].AdminCredit(ctx, 9, id, 1_000_000*shop.TON, "bench"); err != nil {
			b.Fatal(err)
		}
		keys = append(keys, key)
	}
	for _, svc := range svcs {
		s, err := api.NewServer(api.ServerConfig{
			Shop:      svc,
			RateLimit: 1e9,
			RateBurst: 1 << 30,
			Logger:    discard,
		})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		b.Cleanup(srv.Close) // runs before the check and the closes above
		urls = append(urls, srv.URL)
	}
	stats = func() (retries, batches, joined int64) {
		for _, db := range dbs {
			b, j := db.BatchStats()
			retries, batches, joined = retries+db.Retries(), batches+b, joined+j
		}
		return retries, batches, joined
	}
	return urls, keys, stats, dbs[0].Pool(), app
}

// benchCPU is the CPU time spent so far by this process and by the
// server's backends of a benchmark case's pools.
type benchCPU struct {
	pool  *pgxpool.Pool
	app   string
	goCPU time.Duration
	pgCPU time.Duration
}

// benchAppName returns a URL for u whose connections name themselves
// (application_name) uniquely, for startCPU, and that name.
func benchAppName(b *testing.B, u string) (string, string) {
	b.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		b.Fatal(err)
	}
	app := fmt.Sprintf("starsbot_bench_%d", time.Now().UnixNano()) // no spaces: pgx reads the URL's + literally
	q := parsed.Query()
	q.Set("application_name", app)
	parsed.RawQuery = q.Encode()
	return parsed.String(), app
}

// startCPU notes the CPU time spent so far by this process and by the
// server's backends named app (benchAppName), which pool can query.
func startCPU(b *testing.B, pool *pgxpool.Pool, app string) *benchCPU {
	c := &benchCPU{pool: pool, app: app}
	c.goCPU, c.pgCPU = processCPU(), c.backends(b)
	return c
}

// report reports the CPU time per operation since startCPU: the server's
// (pg-cpu-µs/op) and this process's (go-cpu-µs/op). A backend opened
// meanwhile counts whole, one closed meanwhile not at all: the pools keep
// their connections under a steady load.
func (c *benchCPU) report(b *testing.B) {
	goCPU, pgCPU := processCPU()-c.goCPU, c.backends(b)-c.pgCPU
	b.ReportMetric(float64(pgCPU.Microseconds())/float64(b.N), "pg-cpu-µs/op")
	b.ReportMetric(float64(goCPU.Microseconds())/float64(b.N), "go-cpu-µs/op")
}

// backends sums the user and system CPU time of the server's backends
// named c.app, read from /proc: the server must be on this machine, as the
// tests' is (0 where /proc cannot say).
func (c *benchCPU) backends(b *testing.B) time.Duration {
	rows, err := c.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, c.app)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, pid := range pids {
		total += procCPU(pid)
	}
	return total
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU time of process pid from
// /proc/pid/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux),
// or 0.
func procCPU(pid int32) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
