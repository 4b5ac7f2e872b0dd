package fulfillment

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
)

// The delivery load test (issue 15): the real worker and the real Fragment
// provider against the fake fragment.com answering every call after 150 ms,
// and a fake chain that executes each external message 5 s after it is
// sent, one seqno in flight. 200 paid orders are drained in two modes, in
// one run: one order at a time with one payment per message (the worker
// before batching), and FRAGMENT_CONCURRENCY=4 with batched payments (v5r1:
// up to 255 per message). Every latency is divided by -fulfillment.load.scale
// so the run takes minutes, and the times printed are scaled back.
//
//	go test ./fulfillment -run TestLoad_Delivery -fulfillment.load -v
var (
	loadRun   = flag.Bool("fulfillment.load", false, "run the delivery load test")
	loadScale = flag.Float64("fulfillment.load.scale", 10, "divide every latency by this")
	loadN     = flag.Int("fulfillment.load.orders", 200, "paid orders to drain")
)

func TestLoad_Delivery(t *testing.T) {
	if !*loadRun {
		t.Skip("the load test runs with -fulfillment.load")
	}
	scale := *loadScale
	call := time.Duration(float64(150*time.Millisecond) / scale)
	confirm := time.Duration(float64(5*time.Second) / scale)
	type result struct {
		mode       string
		perMin     float64
		p50, p95   time.Duration
		signatures int
	}
	var results []result
	for _, mode := range []struct {
		name        string
		concurrency int
		batch       int // 0: a wallet that pays one payout per message
	}{
		{"one at a time (before)", 1, 0},
		{"concurrency 4, batched (v5r1, 255)", 4, 255},
	} {
		e := newBatchEnv(t, max(mode.batch, 1))
		e.svc.Now = time.Now
		e.srv.SetLatency(call)
		e.bw.confirm = confirm
		var wallet Wallet = e.bw.fakeWallet
		if mode.batch > 0 {
			wallet = e.bw
		}
		f := NewFragment(FragmentConfig{BaseURL: e.srv.URL, Cookies: fragmenttest.Cookies, Wallet: wallet, HTTP: e.srv.Client(), Tolerance: 10_000_000, Logger: slog.New(slog.DiscardHandler)})
		orders := e.orders(*loadN)
		w := mustWorker(t, WorkerConfig{Shop: e.shop, Provider: f, Name: "fragment", Notifier: e.alerts, Concurrency: mode.concurrency,
			Interval: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		for {
			q, err := e.svc.Queue(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(q) == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		cancel()
		<-done
		var waits []time.Duration
		for _, o := range orders {
			got := e.get(o.ID)
			if got.Status != shop.StatusCompleted {
				t.Fatalf("%s: order %d is %s (%s)", mode.name, o.ID, got.Status, got.FailureReason)
			}
			waits = append(waits, got.CompletedAt.Sub(got.PaidAt))
		}
		e.requireEachPaidOnce(orders)
		slices.Sort(waits)
		scaled := func(d time.Duration) time.Duration {
			return time.Duration(float64(d) * scale).Round(100 * time.Millisecond)
		}
		results = append(results, result{
			mode:       mode.name,
			perMin:     float64(len(orders)) / (elapsed.Minutes() * scale),
			p50:        scaled(waits[len(waits)/2]),
			p95:        scaled(waits[len(waits)*95/100]),
			signatures: e.bw.signatures,
		})
	}
	t.Logf("%d paid orders; fragment.com 150 ms per call, 5 s per wallet message, one seqno in flight (run at 1/%g of real time, times scaled back)", *loadN, scale)
	for _, r := range results {
		t.Logf("%-36s drain %6.1f orders/min   paid→completed p50 %-8s p95 %-8s wallet messages %d", r.mode, r.perMin, r.p50, r.p95, r.signatures)
	}
	fmt.Println()
}
