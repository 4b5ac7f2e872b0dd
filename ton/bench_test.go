package ton

import (
	"context"
	"fmt"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// BenchmarkWatcher_CatchUp measures a catch-up: b.N new transfers on the
// chain (a fake chain in memory, so only our side is measured), to 1,000
// users' memos, booked by one Poll through CreditDeposits on a store with
// fsync on. The target is 20,000 transfers/s:
//
//	go test -run '^$' -bench CatchUp -benchtime 100000x ./ton
func BenchmarkWatcher_CatchUp(b *testing.B) {
	ctx := context.Background()
	svc := shoptest.New(b, &shoptest.Options{Start: t0, DepositAddress: account}).Service
	const users = 1000
	memos := make([]string, users)
	for i := range users {
		u, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: int64(i + 1), Username: fmt.Sprintf("user_%04d", i)})
		if err != nil {
			b.Fatal(err)
		}
		memos[i] = u.Memo
	}
	chain := &fakeChain{}
	for i := range b.N {
		chain.add(memos[i%users], shop.NanoTON(1_000_000+i), t0)
	}
	w := mustWatcher(b, WatcherConfig{Chain: chain, Shop: svc, Account: account, FromStart: true})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n, err := w.Poll(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("Poll = %d, %v", n, err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
}

// BenchmarkWatcher_CatchUpUSDT is BenchmarkWatcher_CatchUp with every
// transfer a USDT notification from our jetton wallet: it adds the
// jetton-wallet check (two address parses) and the valuation at the rate.
// Compare with BenchmarkWatcher_CatchUp in the same run:
//
//	go test -run '^$' -bench 'CatchUp' -benchtime 100000x ./ton
func BenchmarkWatcher_CatchUpUSDT(b *testing.B) {
	ctx := context.Background()
	svc := shoptest.New(b, &shoptest.Options{Start: t0, DepositAddress: account}).Service
	const users = 1000
	memos := make([]string, users)
	for i := range users {
		u, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: int64(i + 1), Username: fmt.Sprintf("user_%04d", i)})
		if err != nil {
			b.Fatal(err)
		}
		memos[i] = u.Memo
	}
	jw, err := SimJettonWallet(MainnetUSDTMaster, account)
	if err != nil {
		b.Fatal(err)
	}
	chain := &fakeChain{}
	for i := range b.N {
		tx := chain.add(memos[i%users], 1, t0)
		tx.Transfer.Asset, tx.Transfer.JettonAmount, tx.Transfer.JettonWallet = shop.AssetJetton, int64(1_000_000+i), jw
	}
	sim := NewSimChain(nil, account)
	w := mustWatcher(b, WatcherConfig{Chain: chain, Shop: svc, Account: account, FromStart: true, USDTMaster: MainnetUSDTMaster, Jettons: sim})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n, err := w.Poll(ctx)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil || n != b.N {
		b.Fatalf("Poll = %d, %v", n, err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "transfers/s")
}

// BenchmarkSimTransaction measures what the simulated chain now does per
// transaction it serves: build the real cells, serialize, parse them back
// and run ParseTransfer; a TON comment transfer and a USDT notification.
func BenchmarkSimTransaction(b *testing.B) {
	jw, _ := SimJettonWallet(MainnetUSDTMaster, account)
	for _, tc := range []struct {
		name string
		t    shop.Transfer
	}{
		{"TON", shop.Transfer{Hash: fmt.Sprintf("%064x", 1), LT: 1000, Time: t0, From: simSender, Amount: shop.TON, Memo: "AP123456789"}},
		{"USDT", shop.Transfer{Hash: fmt.Sprintf("%064x", 1), LT: 1000, Time: t0, From: simSender, Amount: 1, Memo: "AP123456789", Asset: shop.AssetUSDT, JettonAmount: 10_000_000, JettonWallet: jw}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw, err := simTransaction(account, tc.t)
				if err != nil {
					b.Fatal(err)
				}
				if convert(raw).Transfer == nil {
					b.Fatal("not a transfer")
				}
			}
		})
	}
}
