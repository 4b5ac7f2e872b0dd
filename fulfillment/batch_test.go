package fulfillment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
)

// fakeBatchWallet is the fake hot wallet and chain of fragment_test.go
// paying many payouts with one message: one signature and one seqno per
// batch, each payout settled on its own (as ton.Wallet.SendBatch does, by
// its own out-message). balance, if positive, refuses (before signing) a
// batch it cannot cover; bounce makes Fragment's address bounce a payout.
type fakeBatchWallet struct {
	*fakeWallet
	limit   int
	balance shop.NanoTON
	bounce  func(p shop.Payout) bool
	batches []int // sizes of the batches signed
}

var _ BatchWallet = (*fakeBatchWallet)(nil)

func newFakeBatchWallet(t *testing.T, srv *fragmenttest.Server, limit int) *fakeBatchWallet {
	return &fakeBatchWallet{fakeWallet: newFakeWallet(t, srv), limit: limit}
}

func (w *fakeBatchWallet) BatchLimit() int { return w.limit }

func (w *fakeBatchWallet) SendBatch(ctx context.Context, ps []shop.Payout, record func(context.Context, []*shop.SignedPayout) error) ([]*shop.PayoutResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mode == walletUnreachable {
		return nil, errors.New("liteserver unreachable")
	}
	if len(ps) == 0 || len(ps) > w.limit {
		w.t.Errorf("batch of %d payouts, limit %d", len(ps), w.limit)
		return nil, errors.New("bad batch")
	}
	var total shop.NanoTON
	for _, p := range ps {
		total += p.Amount
	}
	if w.balance > 0 && total > w.balance {
		return nil, shop.ErrUnaffordable
	}
	for _, p := range ps {
		if _, err := w.srv.Match(p.To, p.Amount, p.Payload); err != nil {
			w.t.Errorf("wallet asked to pay what Fragment did not ask: %v", err)
		}
	}
	w.seqno++
	w.signatures++
	w.batches = append(w.batches, len(ps))
	boc := fmt.Appendf(nil, "ext-in batch seqno=%d n=%d", w.seqno, len(ps))
	sum := sha256.Sum256(boc)
	hash := hex.EncodeToString(sum[:])
	validUntil := time.Now().Add(3 * time.Minute)
	for _, p := range ps {
		if !p.ValidUntil.IsZero() && p.ValidUntil.Before(validUntil) {
			validUntil = p.ValidUntil
		}
	}
	msgs := make([]*fakeMsg, len(ps))
	recs := make([]*shop.SignedPayout, len(ps))
	for i, p := range ps {
		body := sha256.Sum256(p.Payload)
		sp := shop.SignedPayout{
			Hash: hash, BOC: boc, Wallet: testWalletInfo.Address, Seqno: w.seqno, ValidUntil: validUntil, SignedAt: time.Now(),
			To: p.To, Amount: p.Amount, BodyHash: hex.EncodeToString(body[:]),
		}
		p.Payload = bytes.Clone(p.Payload)
		w.sent = append(w.sent, p)
		msgs[i] = &fakeMsg{p: p, sp: sp}
		w.msgs[hash+"/"+sp.BodyHash] = msgs[i]
		rec := sp
		rec.BOC = bytes.Clone(boc)
		recs[i] = &rec
	}
	if err := record(ctx, recs); err != nil {
		return nil, err // not broadcast
	}
	out := make([]*shop.PayoutResult, len(ps))
	switch w.mode {
	case walletDieOnRecord:
		return nil, errCrash
	case walletStuck:
		for i := range out {
			out[i] = &shop.PayoutResult{State: shop.PayoutPending}
		}
		return out, nil
	}
	for i, m := range msgs {
		if w.bounce != nil && w.bounce(m.p) {
			w.broadcasts++
			m.onChain, m.state, m.bounced = true, shop.PayoutFailed, true
		} else {
			w.broadcast(m)
		}
		out[i] = m.result()
	}
	return out, nil
}

// batchEnv is the worker, the real Fragment provider and the real shop,
// with the batching fake wallet.
type batchEnv struct {
	*fragmentWorkerEnv
	bw       *fakeBatchWallet
	sessions []string      // Cookie lines of more logins (useSessions); none: one session
	pool     *FragmentPool // the last pool provider made
}

// useSessions makes e's provider a pool of n sessions of the fake's
// account: the first login and n-1 more.
func (e *batchEnv) useSessions(n int) {
	e.sessions = []string{fragmenttest.Cookies}
	for range n - 1 {
		e.sessions = append(e.sessions, e.srv.AddSession())
	}
}

// provider is the Fragment provider as a freshly started process builds
// it: one Fragment, or a pool over e.sessions.
func (e *batchEnv) provider(wallet Wallet, logger *slog.Logger) BatchProvider {
	cfg := FragmentConfig{BaseURL: e.srv.URL, Cookies: fragmenttest.Cookies, Wallet: wallet, HTTP: e.srv.Client(), Tolerance: 10_000_000, Logger: logger}
	if len(e.sessions) == 0 {
		return NewFragment(cfg)
	}
	members := make([]*Fragment, len(e.sessions))
	for i, c := range e.sessions {
		cfg.Cookies = c
		members[i] = NewFragment(cfg)
	}
	p, err := NewFragmentPool(members...)
	if err != nil {
		e.t.Fatal(err)
	}
	p.Now = func() time.Time { return e.now }
	p.OnSessionDown = func(ctx context.Context, reason string) {
		e.alerts.Alert(ctx, shop.Alert{Kind: shop.AlertSessionDown, Message: reason})
	}
	e.pool = p
	return p
}

func newBatchEnv(t *testing.T, limit int) *batchEnv {
	e := &batchEnv{fragmentWorkerEnv: newFragmentWorkerEnv(t)}
	e.bw = newFakeBatchWallet(t, e.srv, limit)
	e.wallet = e.bw.fakeWallet
	for i := range 3 {
		if _, err := e.svc.EnsureUser(context.Background(), shop.UserUpdate{ID: int64(2001 + i), Username: fmt.Sprintf("partner_%d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AdminCredit(context.Background(), 9, int64(2001+i), 100*shop.TON, "test funds"); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// worker is a batching worker as a freshly started process builds it.
func (e *batchEnv) worker(concurrency int, sizes *[]int) *Worker {
	f := e.provider(e.bw, slog.New(slog.DiscardHandler))
	var mu sync.Mutex
	return mustWorker(e.t, WorkerConfig{Shop: e.shop, Provider: f, Name: "fragment", Notifier: e.alerts, Concurrency: concurrency,
		OnBatch: func(n int) {
			if sizes != nil {
				mu.Lock()
				*sizes = append(*sizes, n)
				mu.Unlock()
			}
		},
		Now: func() time.Time { return e.now }, Logger: testLogger(e.t)})
}

// orders creates n Stars orders, owners taking turns, each for its own
// recipient.
func (e *batchEnv) orders(n int) []*shop.Order { return createOrders(e.t, e.svc, e.srv, n) }

// createOrders creates n Stars orders paid from balances, owners 2001–2003
// taking turns, each for its own recipient, whom the fake Fragment knows.
func createOrders(t *testing.T, svc *shop.Service, srv *fragmenttest.Server, n int) []*shop.Order {
	t.Helper()
	var out []*shop.Order
	for i := range n {
		recipient := fmt.Sprintf("buyer_%03d", i)
		srv.AddUser(recipient)
		o, err := svc.CreateOrder(context.Background(), shop.CreateOrderRequest{UserID: int64(2001 + i%3), Type: shop.OrderStars, Stars: 100, Recipient: recipient, PaymentMethod: shop.PayBalance, Source: "api"})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// requireEachPaidOnce checks that every order is completed and that
// Fragment received exactly one payment for each.
func (e *batchEnv) requireEachPaidOnce(orders []*shop.Order) {
	e.t.Helper()
	for _, o := range orders {
		if got := e.get(o.ID); got.Status != shop.StatusCompleted {
			e.t.Errorf("order %d is %s (%s)", o.ID, got.Status, got.FailureReason)
		}
	}
	requirePayments(e.t, e.srv, len(orders))
}

// requirePayments checks that the fake Fragment was paid n times in all,
// at most once per request.
func requirePayments(t *testing.T, srv *fragmenttest.Server, n int) {
	t.Helper()
	paid := 0
	for _, r := range srv.Requests() {
		if r.Payments > 1 {
			t.Errorf("request %s paid %d times", r.ID, r.Payments)
		}
		paid += r.Payments
	}
	if paid != n {
		t.Errorf("%d payments for %d orders", paid, n)
	}
}

// TestWorker_FragmentBatches: orders are prepared concurrently and paid in
// batches of at most the wallet's limit, each paid exactly once, with far
// fewer signatures than orders.
func TestWorker_FragmentBatches(t *testing.T) {
	for _, limit := range []int{4, 255} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			e := newBatchEnv(t, limit)
			orders := e.orders(30)
			var sizes []int
			e.runOnce(e.worker(8, &sizes))
			e.requireEachPaidOnce(orders)
			total := 0
			for _, n := range sizes {
				total += n
				if n > limit {
					t.Errorf("batch of %d, limit %d", n, limit)
				}
			}
			if total != 30 || len(e.bw.batches) != len(sizes) || e.bw.signatures != len(sizes) {
				t.Errorf("batches %v (signed %v, %d signatures), want 30 orders in all", sizes, e.bw.batches, e.bw.signatures)
			}
			if len(sizes) >= 30 {
				t.Errorf("%d batches for 30 orders: nothing was batched", len(sizes))
			}
		})
	}
}

// TestWorker_FragmentBatchOneBounces: one payout of a batch bounces; the
// others complete, and only that order goes to an admin, paid once.
func TestWorker_FragmentBatchOneBounces(t *testing.T) {
	e := newBatchEnv(t, 255)
	orders := e.orders(6)
	var bounced shop.Payout
	var once sync.Once
	e.bw.bounce = func(p shop.Payout) (b bool) {
		once.Do(func() { bounced, b = p, true })
		return b
	}
	e.runOnce(e.worker(6, nil))
	manual := 0
	for _, o := range orders {
		switch got := e.get(o.ID); got.Status {
		case shop.StatusCompleted:
		case shop.StatusManual:
			manual++
		default:
			t.Errorf("order %d is %s", o.ID, got.Status)
		}
	}
	if manual != 1 || bounced.Amount == 0 {
		t.Fatalf("%d orders manual, want the bounced one", manual)
	}
	if e.bw.signatures != 1 && len(e.bw.batches) < 1 {
		t.Errorf("signatures %d", e.bw.signatures)
	}
}

// TestWorker_FragmentBatchCrash: the process dies at each point of a
// batched payment: the batch is recorded on every order before broadcast,
// so after a restart every order is paid exactly once, none twice.
func TestWorker_FragmentBatchCrash(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *batchEnv)
	}{
		{"record fails: nothing broadcast", func(e *batchEnv) { e.shop.failBatch = true }},
		{"dies after record, before broadcast", func(e *batchEnv) { e.bw.setMode(walletDieOnRecord) }},
		{"dies after broadcast, before confirmation", func(e *batchEnv) { e.bw.setMode(walletStuck) }},
	} {
		for _, sessions := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s, %d sessions", tc.name, sessions), func(t *testing.T) {
				e := newBatchEnv(t, 255)
				if sessions > 1 {
					e.useSessions(sessions)
				}
				orders := e.orders(12)
				tc.setup(e)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				w := e.worker(12, nil)
				w.Grace = 10 * time.Millisecond
				w.RunOnce(ctx)
				cancel()
				signed := e.bw.signatures
				if signed == 0 {
					t.Fatal("nothing was signed")
				}
				// Restart: a normal wallet, a normal store; retries due.
				e.bw.setMode(walletNormal)
				e.shop.failBatch = false
				e.now = e.now.Add(time.Hour)
				for range 3 {
					e.runOnce(e.worker(12, nil))
					e.now = e.now.Add(time.Hour)
				}
				e.requireEachPaidOnce(orders)
				if tc.name != "record fails: nothing broadcast" && e.bw.signatures != signed {
					t.Errorf("%d signatures after restart, %d before: a recorded batch was signed again", e.bw.signatures, signed)
				}
				if sessions > 1 {
					logins := map[int]bool{}
					for _, r := range e.srv.Requests() {
						logins[r.Login] = true
					}
					if len(logins) != sessions {
						t.Errorf("requests made by logins %v, want all %d", logins, sessions)
					}
				}
			})
		}
	}
}

// TestFairOrder: owners take turns, each owner's orders oldest first.
func TestFairOrder(t *testing.T) {
	q := func(id, user int64) shop.QueuedOrder { return shop.QueuedOrder{OrderID: id, UserID: user} }
	in := []shop.QueuedOrder{q(1, 7), q(2, 7), q(3, 7), q(4, 8), q(5, 7), q(6, 9), q(7, 8)}
	var got []int64
	for _, o := range fairOrder(in) {
		got = append(got, o.OrderID)
	}
	if want := []int64{1, 4, 6, 2, 7, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("fairOrder = %v, want %v", got, want)
	}
}

// TestWorker_BurstDoesNotStarve: a partner's burst of queued orders does
// not keep a bot buyer's later order waiting behind all of them.
func TestWorker_BurstDoesNotStarve(t *testing.T) {
	e := newBatchEnv(t, 4)
	var burst []*shop.Order
	for i := range 20 {
		recipient := fmt.Sprintf("burst_%02d", i)
		e.srv.AddUser(recipient)
		o, err := e.svc.CreateOrder(context.Background(), shop.CreateOrderRequest{UserID: 2001, Type: shop.OrderStars, Stars: 100, Recipient: recipient, PaymentMethod: shop.PayBalance, Source: "api"})
		if err != nil {
			t.Fatal(err)
		}
		burst = append(burst, o)
	}
	mine := e.order(shop.OrderStars, testRecipient) // alice, after the burst
	var sizes []int
	w := e.worker(1, &sizes)
	// One order at a time, so the order of preparation is the order of
	// the queue as the worker takes it: alice's comes second.
	e.runOnce(w)
	if e.get(mine.ID).Status != shop.StatusCompleted {
		t.Fatal("the buyer's order was not delivered")
	}
	reqs := e.srv.Requests()
	pos := slices.IndexFunc(reqs, func(r fragmenttest.Request) bool { return r.Username == testRecipient })
	if pos != 1 {
		t.Errorf("the buyer's order was prepared %d-th, want 2nd (right after the burst's first)", pos+1)
	}
	_ = burst
}

// TestWorker_Overloaded: Fragment's 429 holds every delivery back without
// costing the order an attempt; the orders not started keep their place.
func TestWorker_Overloaded(t *testing.T) {
	e := newBatchEnv(t, 255)
	orders := e.orders(5)
	e.srv.Fail("searchStarsRecipient", fragmenttest.HTTP429)
	e.runOnce(e.worker(1, nil))
	started := 0
	for _, o := range orders {
		d, err := e.svc.Queue(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		_ = d
		if got := e.get(o.ID); got.Status != shop.StatusPaid {
			started++
		}
	}
	if started != 1 {
		t.Errorf("%d orders started while Fragment was overloaded, want only the first", started)
	}
	q, _ := e.svc.Queue(context.Background(), 0)
	for _, x := range q {
		if x.Delivery != nil && x.Delivery.Attempts != 0 {
			t.Errorf("order %d lost an attempt to the provider's overload", x.OrderID)
		}
	}
	// Later: everything goes.
	e.now = e.now.Add(time.Hour)
	e.runOnce(e.worker(1, nil))
	e.requireEachPaidOnce(orders)
}

// testLogger logs to the test's output when -v, for debugging.
func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, nil))
	}
	return slog.New(slog.DiscardHandler)
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// TestWorker_FragmentBatchAffordable: a batch the wallet cannot pay in full
// is never signed; it is split, and an order the wallet cannot pay at all
// goes to the admins (and pauses the provider) unpaid.
func TestWorker_FragmentBatchAffordable(t *testing.T) {
	e := newBatchEnv(t, 255)
	orders := e.orders(8)
	e.bw.balance = 3 * 300_000_000 // three orders' worth (Fragment asks 0.3 TON each)
	e.runOnce(e.worker(8, nil))
	for _, n := range e.bw.batches {
		if n > 3 {
			t.Errorf("signed a batch of %d the wallet could not pay", n)
		}
	}
	completed, manual := 0, 0
	for _, o := range orders {
		switch e.get(o.ID).Status {
		case shop.StatusCompleted:
			completed++
		case shop.StatusManual:
			manual++
		}
	}
	if completed == 0 || completed+manual != len(orders) {
		t.Errorf("%d completed, %d manual of %d", completed, manual, len(orders))
	}
	for _, r := range e.srv.Requests() {
		if r.Payments > 1 {
			t.Errorf("request %s paid %d times", r.ID, r.Payments)
		}
	}

	// A wallet that cannot pay even one order: it goes to the admins,
	// unpaid, and the provider pauses.
	e2 := newBatchEnv(t, 255)
	one := e2.orders(1)[0]
	e2.bw.balance = 1
	w := e2.worker(4, nil)
	e2.runOnce(w)
	if got := e2.get(one.ID); got.Status != shop.StatusManual || e2.bw.signatures != 0 {
		t.Errorf("order %s (%s), %d signatures", got.Status, got.FailureReason, e2.bw.signatures)
	}
	if ok, _ := w.Health(); ok {
		t.Error("the provider is not paused")
	}
}
