package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"starsbot/shop"
)

// openTest opens a database in tb.TempDir() and closes it at cleanup. Unlike
// storetest.Open it does not run Check: these tests corrupt the file.
func openTest(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "test.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func mustUpdate(tb testing.TB, db *DB, fn func(*tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), func(t shop.Tx) error { return fn(t.(*tx)) }); err != nil {
		tb.Fatal(err)
	}
}

// raw runs fn on the bbolt file directly, bypassing the tx wrapper.
func raw(tb testing.TB, db *DB, fn func(*bolt.Tx) error) {
	tb.Helper()
	if err := db.bdb.Update(fn); err != nil {
		tb.Fatal(err)
	}
}

func TestOpen_SchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	raw(t, db, func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketMeta).Get(keySchemaVersion); string(v) != fmt.Sprint(SchemaVersion) {
			t.Errorf("schema_version = %q, want %d", v, SchemaVersion)
		}
		return btx.Bucket(bucketMeta).Put(keySchemaVersion, fmt.Append(nil, SchemaVersion+1))
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if want := fmt.Sprintf("database schema version %d is newer than this program (%d)", SchemaVersion+1, SchemaVersion); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v, want an error containing %q", err, want)
	}
}

func TestOpen_Locked(t *testing.T) {
	db := openTest(t)
	start := time.Now()
	if other, err := Open(db.Path()); err == nil {
		_ = other.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open gave up after %v, want about 1s", d)
	}
}

func TestTx_ReadOnlyError(t *testing.T) {
	db := openTest(t)
	err := db.View(t.Context(), func(t shop.Tx) error { return t.Enqueue(1) })
	if !errors.Is(err, berrors.ErrTxNotWritable) {
		t.Errorf("Enqueue in View = %v, want ErrTxNotWritable", err)
	}
}

// seed stores a small consistent database: user 1 with 5 TON from one
// ledger entry, a ton_memo order with a reference, a deposit, a queue entry.
func seed(tb testing.TB, db *DB) {
	mustUpdate(tb, db, func(t *tx) error {
		u := &shop.User{ID: 1, Username: "alice_a", Memo: "AP1", Balance: 5 * shop.TON}
		if err := t.PutUser(u); err != nil {
			return err
		}
		if err := t.AppendLedger(&shop.LedgerEntry{UserID: 1, Amount: 5 * shop.TON, BalanceAfter: 5 * shop.TON}); err != nil {
			return err
		}
		id, err := t.NextOrderID()
		if err != nil {
			return err
		}
		o := &shop.Order{ID: id, UserID: 1, Status: shop.StatusPaid, PaymentMemo: "STARS-1", ClientReference: "r"}
		if err := t.PutOrder(o); err != nil {
			return err
		}
		if err := t.PutAPIKey(&shop.APIKey{Hash: "abcd", UserID: 1}); err != nil {
			return err
		}
		if err := t.Enqueue(id); err != nil {
			return err
		}
		return t.PutDeposit(&shop.Deposit{TxHash: "cafe", Status: shop.DepositOrderPaid, UserID: 1, OrderID: id})
	})
}

func putJSON(tb testing.TB, b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b.Put(key, data)
}

func TestDB_Check(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := openTest(t)
		seed(t, db)
		if err := db.Check(t.Context()); err != nil {
			t.Fatal(err)
		}
	})

	tests := []struct {
		name    string
		corrupt func(tb testing.TB, db *DB)
		want    []string // substrings of the error
	}{
		{
			name: "BalanceMismatch",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return putJSON(tb, btx.Bucket(bucketUsers), i64(1), &userRecord{ID: 1, Username: "alice_a", Memo: "AP1", Balance: 7})
				})
			},
			want: []string{"user 1: balance 7, sum of ledger entries 5000000000"},
		},
		{
			name: "NegativeBalance",
			corrupt: func(tb testing.TB, db *DB) {
				mustUpdate(tb, db, func(t *tx) error {
					if err := t.PutUser(&shop.User{ID: 2, Balance: -3}); err != nil {
						return err
					}
					return t.AppendLedger(&shop.LedgerEntry{UserID: 2, Amount: -3, BalanceAfter: -3})
				})
			},
			want: []string{"user 2: negative balance -3", "ledger entry 2 of user 2: running balance -3 is negative"},
		},
		{
			name: "BalanceAfterWrong",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return putJSON(tb, btx.Bucket(bucketLedger), u64(1), &ledgerRecord{ID: 1, UserID: 1, Amount: 5 * int64(shop.TON), BalanceAfter: 4})
				})
			},
			want: []string{"ledger entry 1 of user 1: balance_after 4, running sum 5000000000"},
		},
		{
			name: "LedgerOfMissingUser",
			corrupt: func(tb testing.TB, db *DB) {
				mustUpdate(tb, db, func(t *tx) error {
					return t.AppendLedger(&shop.LedgerEntry{UserID: 9, Amount: 1, BalanceAfter: 1})
				})
			},
			want: []string{"ledger entry 2: user 9 missing"},
		},
		{
			name: "DanglingUserOrders",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return btx.Bucket(bucketUserOrderStatus).Put(userStatusKey(1, "paid", 99), nil)
				})
			},
			want: []string{`user_order_status 1/"paid"/99: order missing`},
		},
		{
			name: "DeliveryOfMissingOrder",
			corrupt: func(tb testing.TB, db *DB) {
				mustUpdate(tb, db, func(t *tx) error { return t.PutDelivery(&shop.Delivery{OrderID: 77}) })
			},
			want: []string{"delivery: order 77 missing"},
		},
		{
			name: "QuoteIndexMissing",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return putJSON(tb, btx.Bucket(bucketQuotes), []byte("q1"), &quoteRecord{ID: "q1", UserID: 1, Type: "stars", Stars: 100, PriceTON: 5, ExpiresAt: time.Unix(100, 0)})
				})
			},
			want: []string{`quote "q1": missing from quote_expiry`},
		},
		{
			name: "QuoteIndexDangling",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return btx.Bucket(bucketQuoteExpiry).Put(quoteExpiryKey(time.Unix(100, 0), "ghost"), nil)
				})
			},
			want: []string{`quote "ghost" missing`},
		},
		{
			name: "QuoteUsedByWrongOrder",
			corrupt: func(tb testing.TB, db *DB) {
				mustUpdate(tb, db, func(t *tx) error {
					q := &shop.LockedQuote{ID: "q2", UserID: 1, OrderID: 1, ExpiresAt: time.Unix(100, 0),
						Quote: shop.Quote{Type: shop.OrderStars, Stars: 100, PriceTON: 5}}
					if err := t.PutQuote(q); err != nil {
						return err
					}
					return t.PutQuote(&shop.LockedQuote{ID: "q3", UserID: 8, ExpiresAt: time.Unix(100, 0), Quote: shop.Quote{Type: shop.OrderStars, Stars: 100, PriceTON: 5}})
				})
			},
			want: []string{`quote "q2" (stars 100/0 at 5): order 1 is  0/0 at 0`, `quote "q3": user 8 missing`},
		},
		{
			name: "DanglingUsername",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error { return btx.Bucket(bucketUsernames).Put([]byte("ghost"), i64(42)) })
			},
			want: []string{`usernames "ghost": user 42 missing`},
		},
		{
			name: "UsernameMismatch",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error { return btx.Bucket(bucketUsernames).Put([]byte("bob_b"), i64(1)) })
			},
			want: []string{`usernames "bob_b": user 1 has username "alice_a"`},
		},
		{
			name: "CounterWrong",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return addCounter(btx.Bucket(bucketCounters), keyUserCounter, 4, 0)
				})
			},
			want: []string{"counter users: [5 5000000000], recount [1 5000000000]"},
		},
		{
			name: "CounterMissingAndExtra",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					b := btx.Bucket(bucketCounters)
					if err := b.Delete(orderCounterKey(1, statusCode("paid"))); err != nil {
						return err
					}
					return addCounter(b, depositCounterKey("unmatched"), 1, 7)
				})
			},
			want: []string{"counter orders of user 1 in paid: missing, recount [1 0 0 0 0]", "counter deposits unmatched: [1 7], but the recount finds nothing"},
		},
		{
			name: "ExpiryIndexes",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					if err := btx.Bucket(bucketOrderExpiry).Put(cat(i64(5), i64(1)), nil); err != nil {
						return err
					}
					return btx.Bucket(bucketIdempotencyExpiry).Put(cat(i64(5), idempotencyKey(1, "k")), nil)
				})
			},
			want: []string{"order_expiry 0000000000000005: order 1 is paid", "idempotency_expiry 0000000000000005: record"},
		},
		{
			name: "StaleStatus",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return btx.Bucket(bucketOrderByStatus).Put(statusKey(string(shop.StatusPendingPayment), 1), nil)
				})
			},
			want: []string{`order_by_status "pending_payment"/1: order has status "paid"`},
		},
		{
			name: "MissingStatusAndRef",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					if err := btx.Bucket(bucketOrderByStatus).Delete(statusKey(string(shop.StatusPaid), 1)); err != nil {
						return err
					}
					return btx.Bucket(bucketOrderRefs).Delete(cat(refPrefix(1, "r"), i64(1)))
				})
			},
			want: []string{`order 1: missing from order_by_status "paid"`, `order 1: missing from order_refs "r"`},
		},
		{
			name: "StaleRef",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					return btx.Bucket(bucketOrderRefs).Put(cat(refPrefix(1, "old"), i64(1)), nil)
				})
			},
			want: []string{`order_refs 1/"old"/1: order has user 1, reference "r"`},
		},
		{
			name: "MissingMemos",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					if err := btx.Bucket(bucketMemos).Delete([]byte("STARS-1")); err != nil {
						return err
					}
					return btx.Bucket(bucketMemos).Delete([]byte("AP1"))
				})
			},
			want: []string{`order 1: memo "STARS-1" is not indexed to it`, `user 1: memo "AP1" is not indexed to it`},
		},
		{
			name: "DanglingMemo",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error { return btx.Bucket(bucketMemos).Put([]byte("X"), memoValue(memoOrder, 5)) })
			},
			want: []string{`memos "X": order 5 missing`},
		},
		{
			name: "APIKeyIndexes",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					if err := btx.Bucket(bucketUserAPIKeys).Delete(cat(i64(1), []byte("abcd"))); err != nil {
						return err
					}
					return btx.Bucket(bucketUserAPIKeys).Put(cat(i64(2), []byte("ffff")), nil)
				})
			},
			want: []string{`api key "abcd": missing from user_apikeys of user 1`, `user_apikeys 2/"ffff": api key missing`},
		},
		{
			name: "DepositHashes",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					if err := btx.Bucket(bucketDepositHashes).Delete([]byte("cafe")); err != nil {
						return err
					}
					return btx.Bucket(bucketDepositHashes).Put([]byte("beef"), u64(1))
				})
			},
			want: []string{`deposit 1: tx hash "cafe" is not indexed to it`, `deposit_hashes "beef": deposit 1 has tx hash "cafe"`},
		},
		{
			name: "IgnoredDepositMovedMoney",
			corrupt: func(tb testing.TB, db *DB) {
				mustUpdate(tb, db, func(t *tx) error {
					// Dust that a bug credited to user 1 (the seed's ledger
					// entry gets its hash) and tied to an order.
					if err := t.PutDeposit(&shop.Deposit{TxHash: "d057", Status: shop.DepositIgnored, Reason: shop.ReasonDust, UserID: 1, OrderID: 1}); err != nil {
						return err
					}
					e, err := get[ledgerRecord](t.bucket(bucketLedger), u64(1))
					if err != nil {
						return err
					}
					e.TxHash = "D057"
					return put(t.bucket(bucketLedger), u64(1), e)
				})
			},
			want: []string{"deposit 2: ignored, but names user 1, order 1", "deposit 2: ignored, but ledger entry 1 carries its tx hash"},
		},
		{
			name: "DanglingUserLedger",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error { return btx.Bucket(bucketUserLedger).Put(cat(i64(1), u64(77)), nil) })
			},
			want: []string{"user_ledger 1/77: entry missing"},
		},
		{
			name: "QueueAndSequence",
			corrupt: func(tb testing.TB, db *DB) {
				mustUpdate(tb, db, func(t *tx) error {
					if err := t.Enqueue(8); err != nil {
						return err
					}
					return t.PutOrder(&shop.Order{ID: 50, UserID: 1, Status: shop.StatusPaid})
				})
			},
			want: []string{"queue: order 8 missing", "order 50: id outside the sequence (1)"},
		},
		{
			name: "Undecodable",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error { return btx.Bucket(bucketDeposits).Put(u64(1), []byte("{")) })
			},
			want: []string{"deposits: store: decode"},
		},
		{
			name: "Capped",
			corrupt: func(tb testing.TB, db *DB) {
				raw(tb, db, func(btx *bolt.Tx) error {
					for i := range 60 {
						if err := btx.Bucket(bucketQueue).Put(i64(int64(100+i)), nil); err != nil {
							return err
						}
					}
					return nil
				})
			},
			want: []string{"queue: order 100 missing", "10 more problems not shown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			seed(t, db)
			tt.corrupt(t, db)
			err := db.Check(t.Context())
			if err == nil {
				t.Fatal("Check found no problem")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Check error lacks %q:\n%v", want, err)
				}
			}
		})
	}
}

func BenchmarkTx_FindOrders(b *testing.B) {
	db := openTest(b)
	mustUpdate(b, db, func(t *tx) error {
		for i := range 10_000 {
			id, err := t.NextOrderID()
			if err != nil {
				return err
			}
			status := shop.StatusCompleted
			if i%10 == 0 {
				status = shop.StatusPaid
			}
			if err := t.PutOrder(&shop.Order{ID: id, UserID: int64(1 + i%5), Status: status, Type: shop.OrderStars}); err != nil {
				return err
			}
		}
		return nil
	})
	f := shop.OrderFilter{UserID: 1, Status: shop.StatusPaid, Limit: 20}
	for b.Loop() {
		err := db.View(context.Background(), func(t shop.Tx) error {
			_, _, err := t.FindOrders(f)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
