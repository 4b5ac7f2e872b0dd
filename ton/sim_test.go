package ton

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"

	"starsbot/shop"
	"starsbot/shop/shoptest"
)

func TestSimSender(t *testing.T) {
	a, err := address.ParseAddr(simSender)
	h := sha256.Sum256([]byte("starsbot sandbox sender"))
	if err != nil || !a.IsTestnetOnly() || a.IsBounceable() || string(a.Data()) != string(h[:]) {
		t.Fatalf("simSender %s: %v", simSender, err)
	}
}

// TestSimChain_Watcher runs simulated deposits through the watcher and the
// shop, across a restart of both, as the sandbox does.
func TestSimChain_Watcher(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	sim := NewSimChain(e.db, account)
	sim.Now = func() time.Time { return t0 }
	e.w.Chain = sim
	e.w.FromStart = true

	hash := strings.Repeat("ab", 32)
	for range 2 { // the same tx_hash twice
		if got, err := sim.Deposit(ctx, e.alice.Memo, shop.TON, hash); err != nil || got != hash {
			t.Fatalf("Deposit = %q, %v", got, err)
		}
	}
	for range 20 {
		if _, err := sim.Deposit(ctx, strings.ToLower(e.alice.Memo), shop.TON, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.poll(); n != 21 {
		t.Fatalf("polled %d, want 21", n)
	}
	if got := e.balance(); got != 21*shop.TON {
		t.Errorf("balance %s, want 21", got)
	}

	// A new watcher over the same store (a restart) sees nothing new, then
	// the next deposit.
	w2 := mustWatcher(t, WatcherConfig{Chain: NewSimChain(e.db, account), Shop: e.svc, Account: account, FromStart: true})
	if n, err := w2.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("after restart: %d, %v", n, err)
	}
	if _, err := sim.Deposit(ctx, e.alice.Memo, 5, ""); err != nil {
		t.Fatal(err)
	}
	if n, err := w2.Poll(ctx); err != nil || n != 1 || e.balance() != 21*shop.TON+5 {
		t.Fatalf("after restart: %d, %v, balance %s", n, err, e.balance())
	}
}

func TestSimChain_DepositErrors(t *testing.T) {
	e := newEnv(t)
	sim := NewSimChain(e.db, account)
	for _, tt := range []struct {
		amount shop.NanoTON
		hash   string
	}{{0, ""}, {-1, ""}, {1, "xyz"}, {1, "abcd"}} {
		if _, err := sim.Deposit(context.Background(), "m", tt.amount, tt.hash); shop.ErrorCode(err) != shop.EVALIDATION {
			t.Errorf("Deposit(%d, %q) = %v", tt.amount, tt.hash, err)
		}
	}
}

func TestWatcher_Poke(t *testing.T) {
	e := newEnv(t)
	e.w.Interval = time.Hour
	sim := NewSimChain(e.db, account)
	sim.OnAppend = e.w.Poke
	e.w.Chain = sim
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	events := shoptest.Subscribe(e.svc)
	go func() { done <- e.w.Run(ctx) }()
	if _, err := sim.Deposit(ctx, e.alice.Memo, shop.TON, ""); err != nil {
		t.Fatal(err)
	}
	events.Wait(t, shop.EventDepositCredited, 1) // the poke made the watcher poll
	if e.balance() != shop.TON {
		t.Fatalf("balance %s after the deposit was credited", e.balance())
	}
	cancel()
	<-done
}

// TestSimChain_USDT: the simulated chain's USDT notifications come from the
// jetton wallet its get_wallet_address answers, so the watcher credits
// them; one from another jetton wallet is rejected; a repeated tx_hash is
// one transaction.
func TestSimChain_USDT(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.USDT = shop.USDTConfig{FeePPM: 0}
	sim := NewSimChain(e.db, account)
	sim.Now = func() time.Time { return t0 }
	e.w.Chain, e.w.USDTMaster, e.w.Jettons = sim, MainnetUSDTMaster, sim

	ours, err := sim.JettonWallet(ctx, MainnetUSDTMaster, account)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := SimJettonWallet(MainnetUSDTMaster, simSender)
	if ours == other || !strings.HasPrefix(ours, "EQ") {
		t.Fatalf("jetton wallets %s, %s", ours, other)
	}
	hash := strings.Repeat("cd", 32)
	for range 2 {
		if _, err := sim.DepositUSDT(ctx, MainnetUSDTMaster, e.alice.Memo, 3_590_000, 0, "", hash); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.DepositUSDT(ctx, MainnetUSDTMaster, e.alice.Memo, 100_000_000, 0, other, ""); err != nil {
		t.Fatal(err)
	}
	if n := e.poll(); n != 2 {
		t.Fatalf("polled %d, want 2", n)
	}
	// 3.59 USDT at shoptest's 3.59 USD/TON is 1 TON, plus the 1 nanoTON
	// the notification carried.
	if got := e.balance(); got != shop.TON+1 {
		t.Errorf("balance %s, want 1.000000001", got)
	}
	deps, err := e.svc.FindDeposits(ctx, shop.DepositRejected, 0, 0)
	if err != nil || len(deps) != 1 || deps[0].JettonAmount != 100_000_000 || deps[0].Reason != shop.ReasonFakeJetton {
		t.Errorf("rejected %+v, %v", deps, err)
	}
	for _, tt := range []struct {
		units  int64
		wallet string
	}{{0, ""}, {-5, ""}, {1, "not an address"}} {
		if _, err := sim.DepositUSDT(ctx, MainnetUSDTMaster, "m", tt.units, 0, tt.wallet, ""); shop.ErrorCode(err) != shop.EVALIDATION {
			t.Errorf("DepositUSDT(%d, %q) = %v", tt.units, tt.wallet, err)
		}
	}
}
