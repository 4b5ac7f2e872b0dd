package ton

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

const account = "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC5"

var t0 = time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC)

// fakeChain is an account history in memory, oldest first. It fails the
// next failN calls when failN > 0.
type fakeChain struct {
	mu    sync.Mutex
	txs   []Tx
	fail  int
	calls int
}

func (c *fakeChain) add(memo string, amount shop.NanoTON, at time.Time) Tx {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.txs) + 1
	t := Tx{ID: TxID{LT: uint64(n * 1000), Hash: fmt.Sprintf("%064x", n)}, Time: at}
	if len(c.txs) > 0 {
		t.Prev = c.txs[len(c.txs)-1].ID
	}
	if amount > 0 {
		t.Transfer = &shop.Transfer{Hash: t.ID.Hash, LT: t.ID.LT, Time: at, From: "EQsender", Amount: amount, Memo: memo}
	} else {
		t.Skip = SkipZeroValue
	}
	c.txs = append(c.txs, t)
	return t
}

func (c *fakeChain) failing() error {
	c.calls++
	if c.fail > 0 {
		c.fail--
		return errors.New("liteserver: timeout")
	}
	return nil
}

func (c *fakeChain) LastTx(ctx context.Context, acc string) (TxID, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.failing(); err != nil {
		return TxID{}, time.Time{}, err
	}
	if len(c.txs) == 0 {
		return TxID{}, t0, nil
	}
	last := c.txs[len(c.txs)-1]
	return last.ID, last.Time.Add(time.Second), nil
}

func (c *fakeChain) Transactions(ctx context.Context, acc string, from TxID, limit int) ([]Tx, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.failing(); err != nil {
		return nil, err
	}
	for i := len(c.txs) - 1; i >= 0; i-- {
		if c.txs[i].ID == from {
			var out []Tx
			for j := i; j >= 0 && len(out) < limit; j-- {
				out = append(out, c.txs[j])
			}
			return out, nil
		}
	}
	return nil, nil
}

// failingCredits fails CreditDeposits once, on call number failAt.
type failingCredits struct {
	Credits
	calls, failAt int
}

func (f *failingCredits) CreditDeposits(ctx context.Context, ts []shop.Transfer, cur *shop.Cursor) ([]*shop.Deposit, error) {
	f.calls++
	if f.calls == f.failAt {
		return nil, errors.New("crash")
	}
	return f.Credits.CreditDeposits(ctx, ts, cur)
}

type env struct {
	t     *testing.T
	db    *store.DB
	svc   *shop.Service
	chain *fakeChain
	w     *Watcher
	alice *shop.User
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// Retry: every CreditDeposits transaction runs twice, the first rolled
	// back, as in a commit group where another update fails.
	s := shoptest.New(t, &shoptest.Options{Start: t0, DepositAddress: account, Retry: true})
	db, svc := s.DB, s.Service
	alice, err := svc.EnsureUser(context.Background(), shop.UserUpdate{ID: 1001, Username: "alice_1"})
	if err != nil {
		t.Fatal(err)
	}
	chain := &fakeChain{}
	return &env{t: t, db: db, svc: svc, chain: chain, alice: alice,
		w: mustWatcher(t, WatcherConfig{Chain: chain, Shop: svc, Account: account, FromStart: true, Now: func() time.Time { return t0.Add(time.Hour) }})}
}

func mustWatcher(tb testing.TB, cfg WatcherConfig) *Watcher {
	tb.Helper()
	w, err := NewWatcher(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return w
}

func (e *env) poll() int {
	e.t.Helper()
	n, err := e.w.Poll(context.Background())
	if err != nil {
		e.t.Fatalf("Poll: %v", err)
	}
	return n
}

func (e *env) balance() shop.NanoTON {
	e.t.Helper()
	u, err := e.svc.FindUser(context.Background(), e.alice.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Balance
}

func (e *env) cursor() *shop.Cursor {
	e.t.Helper()
	c, err := e.svc.Cursor(context.Background(), account)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestWatcher_Paging(t *testing.T) {
	e := newEnv(t)
	for i := range 40 {
		e.chain.add(e.alice.Memo, shop.NanoTON(i+1), t0)
	}
	if n := e.poll(); n != 40 {
		t.Fatalf("polled %d, want 40", n)
	}
	if got := e.balance(); got != 820 {
		t.Errorf("balance %d, want 820", got)
	}
	if c := e.cursor(); c.LT != 40000 {
		t.Errorf("cursor %+v", c)
	}
	// Nothing new: nothing happens.
	if n := e.poll(); n != 0 {
		t.Errorf("second poll %d", n)
	}
	e.chain.add(e.alice.Memo, 1000, t0)
	if n := e.poll(); n != 1 || e.balance() != 1820 {
		t.Errorf("after one more: polled %d, balance %d", n, e.balance())
	}
}

func TestWatcher_FirstStartAtHead(t *testing.T) {
	e := newEnv(t)
	e.w.FromStart = false
	e.chain.add(e.alice.Memo, shop.TON, t0)
	if n := e.poll(); n != 0 || e.balance() != 0 {
		t.Fatalf("history credited: %d, balance %d", n, e.balance())
	}
	e.chain.add(e.alice.Memo, 2*shop.TON, t0)
	if n := e.poll(); n != 1 || e.balance() != 2*shop.TON {
		t.Errorf("new transfer: %d, balance %d", n, e.balance())
	}
}

func TestWatcher_DuplicateDelivery(t *testing.T) {
	e := newEnv(t)
	first := e.chain.add(e.alice.Memo, shop.TON, t0)
	e.chain.add(e.alice.Memo, shop.TON, t0)
	e.poll()
	// The cursor goes back (a restored backup, a replay): the same
	// transactions come again and are booked once.
	if err := e.svc.SaveCursor(context.Background(), &shop.Cursor{Account: account, LT: first.ID.LT, Hash: first.ID.Hash}); err != nil {
		t.Fatal(err)
	}
	if n := e.poll(); n != 1 {
		t.Errorf("replayed %d", n)
	}
	if got := e.balance(); got != 2*shop.TON {
		t.Errorf("balance %s, want 2", got)
	}
}

func TestWatcher_CrashBetweenBatches(t *testing.T) {
	e := newEnv(t)
	for range 25 {
		e.chain.add(e.alice.Memo, shop.TON, t0)
	}
	e.w.BatchSize = 10
	e.w.Shop = &failingCredits{Credits: e.svc, failAt: 2}
	if _, err := e.w.Poll(context.Background()); err == nil {
		t.Fatal("no error from the crashed batch")
	}
	if got, c := e.balance(), e.cursor(); got != 10*shop.TON || c.LT != 10000 {
		t.Fatalf("after the crash: balance %s, cursor lt %d; want the first batch only", got, c.LT)
	}
	// The restart continues from the cursor.
	e.w.Shop = e.svc
	if n := e.poll(); n != 15 || e.balance() != 25*shop.TON {
		t.Errorf("after restart: polled %d, balance %s", n, e.balance())
	}
}

func TestWatcher_ChainErrorThenRecovery(t *testing.T) {
	e := newEnv(t)
	e.chain.add(e.alice.Memo, shop.TON, t0)
	e.chain.fail = 1
	if _, err := e.w.Poll(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if _, ok := e.w.Lag(); ok {
		t.Error("lag known before any complete poll")
	}
	e.poll()
	if e.balance() != shop.TON {
		t.Errorf("balance %s", e.balance())
	}
	if lag, ok := e.w.Lag(); !ok || lag != time.Hour-time.Second {
		t.Errorf("lag %v %v", lag, ok)
	}
}

func TestWatcher_Run(t *testing.T) {
	e := newEnv(t)
	e.w.Interval = 5 * time.Millisecond
	e.chain.fail = 2
	e.chain.add(e.alice.Memo, shop.TON, t0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	events := shoptest.Subscribe(e.svc)
	go func() { done <- e.w.Run(ctx) }()
	events.Wait(t, shop.EventDepositCredited, 1) // after the chain recovered
	if e.balance() != shop.TON {
		t.Fatalf("balance %s after the deposit was credited", e.balance())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestWatcher_Memos(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	order := func() *shop.Order {
		o, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: e.alice.ID, Type: shop.OrderStars, Stars: 100, Recipient: "pandus", PaymentMethod: shop.PayTONMemo})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	under, exact, over, late := order(), order(), order(), order()
	var skipped []string
	e.w.OnSkip = func(r string) { skipped = append(skipped, r) }
	e.chain.add("nobody-knows", shop.TON, t0)
	e.chain.add(under.PaymentMemo, under.PriceTON-1, t0)
	e.chain.add(exact.PaymentMemo, exact.PriceTON, t0)
	e.chain.add(over.PaymentMemo, over.PriceTON+5, t0)
	e.chain.add(late.PaymentMemo, late.PriceTON, t0.Add(16*time.Minute))
	e.chain.add("", 0, t0) // not a deposit
	if n := e.poll(); n != 6 {
		t.Fatalf("polled %d", n)
	}
	status := func(o *shop.Order) shop.OrderStatus {
		got, err := e.svc.FindOrder(ctx, 0, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	if status(under) != shop.StatusPendingPayment || status(exact) != shop.StatusPaid || status(over) != shop.StatusPaid || status(late) == shop.StatusPaid {
		t.Errorf("statuses: under %s, exact %s, over %s, late %s", status(under), status(exact), status(over), status(late))
	}
	// Underpaid and late go to the balance, with the overpaid surplus.
	if got, want := e.balance(), under.PriceTON-1+5+late.PriceTON; got != want {
		t.Errorf("balance %s, want %s", got, want)
	}
	deps, err := e.svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 10)
	if err != nil || len(deps) != 1 || deps[0].Memo != "nobody-knows" {
		t.Errorf("unmatched %v, %v", deps, err)
	}
	if fmt.Sprint(skipped) != "[zero_value]" {
		t.Errorf("skipped %v", skipped)
	}
}

func TestWatcher_CursorNotInHistory(t *testing.T) {
	e := newEnv(t)
	e.chain.add(e.alice.Memo, shop.TON, t0)
	if err := e.svc.SaveCursor(context.Background(), &shop.Cursor{Account: account, LT: 500, Hash: fmt.Sprintf("%064x", 99)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.w.Poll(context.Background()); err == nil {
		t.Fatal("no error for a cursor the chain does not know")
	}
	if e.balance() != 0 {
		t.Error("credited anyway")
	}
}
