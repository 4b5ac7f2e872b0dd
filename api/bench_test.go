package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// benchAPIParallelism × GOMAXPROCS client goroutines call the server at
// once, over loopback HTTP with keep-alive connections: the same
// parallelism as store's benchmarks, so that POST /orders/stars and the raw
// baseline commit groups of the same size.
const benchAPIParallelism = 32

// BenchmarkAPI measures the partner API end to end over real loopback HTTP
// (httptest.NewServer), with benchAPIParallelism × GOMAXPROCS clients
// sharing one keep-alive http.Client; client and server share the CPUs, as
// a load generator on the same host would. Every response must be 200 and
// its body is read in full. Besides ns/op (wall time / requests) it reports
// req/s (requests / wall time of the parallel run) and the p50 and p99
// latency of single requests, in microseconds.
//
//   - bare: a bare net/http handler writing a fixed small JSON body. It is
//     the ceiling of net/http plus the client on this machine, measured in
//     the same run.
//   - GET_balance: GET /api/v1/balance with an osk_ key through
//     api.Server.Handler over a real store: routing, authentication (a
//     bbolt read transaction), the rate limiter and the JSON envelope.
//   - POST_orders_stars: POST /api/v1/orders/stars paid from balance on a
//     store with fsync on (the default): decoding, validation and one
//     group-committed write transaction per batch.
//
// Targets: GET_balance reaches at least 50% of bare's req/s, and
// POST_orders_stars at least 40% of the ops/s (1e9 / ns/op) of the raw
// bbolt baseline, store's BenchmarkRawBatchPut (bolt.DB.Batch at 2 ms, as
// measured in the foundation issue), run in the same command.
// BenchmarkRawGroupPut is the same raw put through the store's own group
// commit, for comparison:
//
//	go test -run '^$' -bench 'BenchmarkAPI|BenchmarkRaw' -benchtime 3s ./api ./store
func BenchmarkAPI(b *testing.B) {
	b.Run("bare", func(b *testing.B) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"balance_ton":1.5,"currency":"TON"}`)
		}))
		b.Cleanup(srv.Close)
		benchHTTP(b, func() *http.Request {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/balance", nil)
			return req
		})
	})
	b.Run("GET_balance", func(b *testing.B) {
		url, key := benchAPIServer(b)
		benchHTTP(b, func() *http.Request {
			req, _ := http.NewRequest("GET", url+"/api/v1/balance", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			return req
		})
	})
	b.Run("POST_orders_stars", func(b *testing.B) {
		url, key := benchAPIServer(b)
		body := []byte(`{"recipient_username":"pandus","quantity":100,"payment_method":"balance","payment_currency":"TON"}`)
		benchHTTP(b, func() *http.Request {
			req, _ := http.NewRequest("POST", url+"/api/v1/orders/stars", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			return req
		})
	})
}

// benchAPIServer starts the API over a fresh store (fsync on) with one
// partner holding 1,000,000 TON, and returns its URL and the partner's
// osk_ key. The rate limit is high enough never to refuse a request.
func benchAPIServer(b *testing.B) (url, key string) {
	b.Helper()
	ctx := context.Background()
	discard := slog.New(slog.DiscardHandler)
	svc := shoptest.New(b, &shoptest.Options{Start: time.Now()}).Service
	svc.Logger = discard
	if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: 1001, Username: "alice_1", LanguageCode: "en"}); err != nil {
		b.Fatal(err)
	}
	key, _, err := svc.IssueKey(ctx, 1001, shop.KeyPrefixOrders)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.AdminCredit(ctx, 9, 1001, 1_000_000*shop.TON, "bench"); err != nil {
		b.Fatal(err)
	}
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
	b.Cleanup(srv.Close) // registered after storetest's cleanup, so it runs first
	return srv.URL, key
}

// benchHTTP sends b.N requests made by newReq from parallel clients over
// one shared keep-alive client, fails the benchmark if any answer is not
// 200, and reports req/s and the p50 and p99 latency.
func benchHTTP(b *testing.B, newReq func() *http.Request) {
	b.Helper()
	tr := &http.Transport{
		MaxIdleConns:        0, // no limit
		MaxIdleConnsPerHost: 256,
		MaxConnsPerHost:     0, // no limit
		IdleConnTimeout:     time.Minute,
	}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		failures  int
		firstFail string
	)
	b.SetParallelism(benchAPIParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var lat []time.Duration
		var failed int
		var fail string
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Do(newReq())
			if err != nil {
				failed++
				if fail == "" {
					fail = err.Error()
				}
				continue
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			lat = append(lat, time.Since(t0))
			if err != nil || resp.StatusCode != http.StatusOK {
				failed++
				if fail == "" {
					fail = resp.Status + ": " + string(body)
					if err != nil {
						fail += " (" + err.Error() + ")"
					}
				}
			}
		}
		mu.Lock()
		latencies = append(latencies, lat...)
		failures += failed
		if firstFail == "" {
			firstFail = fail
		}
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if failures > 0 {
		b.Fatalf("%d of %d requests failed; first: %s", failures, b.N, firstFail)
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(benchPercentile(latencies, 50), "p50-µs")
	b.ReportMetric(benchPercentile(latencies, 99), "p99-µs")
}

// benchPercentile returns the p-th percentile of sorted latencies in
// microseconds (nearest rank).
func benchPercentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := max(int(math.Ceil(p/100*float64(len(sorted))))-1, 0)
	return float64(sorted[i]) / float64(time.Microsecond)
}
