package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// benchParallelism × GOMAXPROCS goroutines write at once, like many partners
// calling POST /orders/stars together.
const benchParallelism = 32

func openBench(b *testing.B) *DB {
	b.Helper()
	db, err := Open(filepath.Join(b.TempDir(), "bench.db")) // fsync on: bbolt's default
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st := db.bdb.Stats()
		b.ReportMetric(float64(st.TxStats.GetWrite())/float64(b.N), "pagewrites/op")
		db.Close()
	})
	return db
}

// BenchmarkCreateOrder measures parallel CreateOrder paid from balance: a
// user read, an order and its indexes, the balance, a ledger entry and the
// queue entry, in one group-committed transaction per batch. Compare with
// BenchmarkRawBatchPut from the same run. buyers is how many distinct users
// the orders spread over: one partner ordering in bulk, or many at once,
// whose per-user index pages each commit must rewrite.
func BenchmarkCreateOrder(b *testing.B) {
	for _, buyers := range []int64{1, 64} {
		b.Run(fmt.Sprintf("buyers=%d", buyers), func(b *testing.B) { benchCreateOrder(b, buyers) })
	}
}

func benchCreateOrder(b *testing.B, buyers int64) {
	ctx := context.Background()
	db := openBench(b)
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_590_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		b.Fatal(err)
	}
	for id := int64(1); id <= buyers; id++ {
		if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: id, Username: "buyer_bench"}); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.AdminCredit(ctx, 1, id, 1_000_000*shop.TON, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(benchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := next.Add(1)%buyers + 1
			_, err := svc.CreateOrder(ctx, shop.CreateOrderRequest{
				UserID: id, Type: shop.OrderStars, Stars: 100, Recipient: "pandus", PaymentMethod: shop.PayBalance,
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRawBatchPut is the baseline of the foundation issue: one small
// record per call through bolt.DB.Batch with its delay at 2 ms (the value
// the store used then), with the same parallelism and fsync.
func BenchmarkRawBatchPut(b *testing.B) {
	db := openBench(b)
	db.bdb.MaxBatchDelay = 2 * time.Millisecond
	benchRawPut(b, db.bdb.Batch)
}

// BenchmarkRawGroupPut is the same put through the store's own group
// commit (DB.update), which commits a group as soon as the previous commit
// ends instead of on Batch's timer.
func BenchmarkRawGroupPut(b *testing.B) {
	db := openBench(b)
	benchRawPut(b, db.update)
}

func benchRawPut(b *testing.B, update func(func(*bolt.Tx) error) error) {
	bucket := []byte("bench")
	if err := update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 200) // about the size of an order record
	b.SetParallelism(benchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(bucket)
				seq, err := bk.NextSequence()
				if err != nil {
					return err
				}
				return bk.Put(binary.BigEndian.AppendUint64(nil, seq), value)
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
