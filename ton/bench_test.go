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
