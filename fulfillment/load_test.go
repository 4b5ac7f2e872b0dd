package fulfillment

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
	"starsbot/ton"
	"starsbot/ton/tontest/walletchain"
)

// The delivery load test (issue 15): the real worker and the real Fragment
// provider against the fake fragment.com answering every call after 150 ms,
// paying through the real hot wallet (ton.NewWallet, v5r1, as main builds
// it) over a simulated liteserver (walletchain, real tonutils-go cells)
// that executes each external message 5 s after it is sent; the wallet
// contract takes one message per seqno, so one is in flight. Fragment's
// address is an account of that chain: fragment.com learns of a payment
// when the chain delivers it (the internal message, with the external
// message that sent it), not from our code. 200 paid orders are drained in
// each mode, in one run: one order at a time with one payment per message
// (the worker before batching: the same wallet, offered to the provider
// without SendBatch, so it pays by Send); FRAGMENT_CONCURRENCY=4 with
// batched payments (SendBatch, v5r1: up to 255 per message) over one
// Fragment session, whose state update + init pairs run one at a time; and
// the same over two and three sessions (FRAGMENT_COOKIES with a line per
// login, FragmentPool). The wallet checks outcomes every 2 s
// (PollInterval, production's default; divided by the scale too). The one-at-a-time
// mode's latencies are divided by -fulfillment.load.scale so that it takes
// minutes, the batched modes run in real time (-fulfillment.load.batchscale
// 1), and the times printed are scaled back.
//
//	go test ./fulfillment -run TestLoad_Delivery -fulfillment.load -v
var (
	loadRun   = flag.Bool("fulfillment.load", false, "run the delivery load test")
	loadScale = flag.Float64("fulfillment.load.scale", 10, "divide every latency of the one-at-a-time mode by this")
	loadBatch = flag.Float64("fulfillment.load.batchscale", 1, "divide every latency of the batched modes by this")
	loadN     = flag.Int("fulfillment.load.orders", 200, "paid orders to drain")
	loadModes = flag.String("fulfillment.load.modes", "", "the modes to run, by number (e.g. 1,3); empty: all")
)

func TestLoad_Delivery(t *testing.T) {
	if !*loadRun {
		t.Skip("the load test runs with -fulfillment.load")
	}
	type result struct {
		mode       string
		scale      float64
		perMin     float64
		p50, p95   time.Duration
		signatures int
	}
	var results []result
	for _, mode := range []struct {
		name        string
		concurrency int
		batch       int // 0: a wallet that pays one payout per message
		sessions    int // Fragment sessions (lines of FRAGMENT_COOKIES)
	}{
		{"one at a time (before)", 1, 0, 1},
		{"concurrency 4, 1 session, batched", 4, 255, 1},
		{"concurrency 4, 2 sessions, batched", 4, 255, 2},
		{"concurrency 8, 3 sessions, batched", 8, 255, 3},
	} {
		if *loadModes != "" && !slices.Contains(strings.Split(*loadModes, ","), strconv.Itoa(len(results)+1)) {
			results = append(results, result{mode: mode.name + " (not run)"})
			continue
		}
		// The one-at-a-time mode would take 23 minutes in real time, nearly
		// all of it waiting for 200 confirmations, so it runs faster; the
		// batched modes run in real time by default, because the store's
		// own writes (fsync) do not shrink with the scale and would weigh
		// ten times too much in a run at 1/10.
		scale := *loadScale
		if mode.batch > 0 {
			scale = *loadBatch
		}
		call := time.Duration(float64(150*time.Millisecond) / scale)
		confirm := time.Duration(float64(5*time.Second) / scale)
		e := newBatchEnv(t, 1) // its fake wallet is not used
		if mode.sessions > 1 {
			e.useSessions(mode.sessions)
		}
		e.svc.Now = time.Now
		e.srv.SetLatency(call)
		chain, hot := e.loadChain(confirm, scale)
		var wallet Wallet = struct{ Wallet }{hot} // no SendBatch: one payment per message
		if mode.batch > 0 {
			wallet = hot
		}
		f := e.provider(wallet, slog.New(slog.DiscardHandler))
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
		var messages, refused int
		chain.Set(func(c *walletchain.Chain) { messages, refused = len(c.Executed), c.Refused })
		if refused > 0 {
			t.Errorf("%s: the wallet contract refused %d messages (a seqno used twice or a message expired)", mode.name, refused)
		}
		if got := e.srv.Calls("initBuyStarsRequest"); got != len(orders) {
			t.Errorf("%s: %d init calls for %d orders: a state update + init pair met another in one session", mode.name, got, len(orders))
		}
		slices.Sort(waits)
		scaled := func(d time.Duration) time.Duration {
			return time.Duration(float64(d) * scale).Round(100 * time.Millisecond)
		}
		results = append(results, result{
			mode:       mode.name,
			scale:      scale,
			perMin:     float64(len(orders)) / (elapsed.Minutes() * scale),
			p50:        scaled(waits[len(waits)/2]),
			p95:        scaled(waits[len(waits)*95/100]),
			signatures: messages,
		})
	}
	t.Logf("%d paid orders; fragment.com 150 ms per call; ton.Wallet v5r1 over a simulated liteserver, 5 s per wallet message, one seqno in flight (times scaled back to real time)", *loadN)
	for _, r := range results {
		t.Logf("%-38s drain %6.1f orders/min   paid→completed p50 %-8s p95 %-8s wallet messages %-3d (run at 1/%g)", r.mode, r.perMin, r.p50, r.p95, r.signatures, r.scale)
	}
	fmt.Println()
}

// loadChain is the simulated liteserver of the load test, executing each
// external message confirm after it is sent, with the hot wallet deployed
// on it (1000 TON) and Fragment's Stars address as an account: each
// payment it receives is handed to the fake fragment.com as paid, and one
// that pays no request fails the test.
func (e *batchEnv) loadChain(confirm time.Duration, scale float64) (*walletchain.Chain, *ton.Wallet) {
	e.t.Helper()
	chain := walletchain.New(walletchain.RealClock(), ton.WalletV5R1).Deployed(1, 1000e9)
	hot, err := ton.NewWallet(chain, ton.WalletConfig{Mnemonic: sessionTestMnemonic, Version: ton.WalletV5R1})
	if err != nil {
		e.t.Fatal(err)
	}
	hot.PollInterval = time.Duration(float64(hot.PollInterval) / scale)
	hot.Logger = slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	var bad []error
	e.t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, err := range bad {
			e.t.Errorf("a payment reached Fragment but pays nothing: %v", err)
		}
	})
	chain.Set(func(c *walletchain.Chain) {
		c.Addr = address.MustParseAddr(hot.Address())
		c.ConfirmAfter = confirm
		c.Dest = &walletchain.Dest{
			Addr: address.MustParseAddr(fragmenttest.StarsAddress),
			OnReceive: func(ext []byte, m *tlb.InternalMessage) {
				err := e.srv.Pay(fragmenttest.Payment{BOC: ext, To: m.DstAddr.String(), Amount: shop.NanoTON(m.Amount.Nano().Int64()), Payload: m.Body.ToBOC()})
				if err != nil {
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
				}
			},
		}
	})
	return chain, hot
}
