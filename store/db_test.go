package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"starsbot/shop"
	"starsbot/store"
	"starsbot/store/storetest"
)

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "starsbot.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s: mode %v, want at most %v", p, got, want)
		}
	}
	check(t, db)
}

func TestDB_Update_ErrorRollsBack(t *testing.T) {
	db := storetest.Open(t)
	errBoom := errors.New("boom")
	calls := 0
	err := db.Update(t.Context(), func(tx shop.Tx) error {
		calls++
		if err := tx.PutUser(newUser(1, "alice_a", "AP1")); err != nil {
			return err
		}
		if _, err := tx.NextOrderID(); err != nil {
			return err
		}
		if err := tx.PutCursor(&shop.Cursor{Account: "acc", LT: 1}); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("Update = %v, want errBoom unchanged", err)
	}
	if calls < 1 {
		t.Fatal("fn not called")
	}
	view(t, db, func(tx shop.Tx) error {
		_, err := tx.FindUserByID(1)
		wantNotFound(t, "user after rollback", err)
		_, err = tx.FindUserByUsername("alice_a")
		wantNotFound(t, "username after rollback", err)
		if taken, _ := tx.MemoTaken("AP1"); taken {
			t.Error("memo taken after rollback")
		}
		_, err = tx.FindCursor("acc")
		wantNotFound(t, "cursor after rollback", err)
		return nil
	})
	var id int64
	update(t, db, func(tx shop.Tx) (err error) {
		id, err = tx.NextOrderID()
		return err
	})
	if id != 1 {
		t.Errorf("order id after a rolled-back NextOrderID = %d, want 1", id)
	}
}

func TestDB_Update_Concurrent(t *testing.T) {
	db := storetest.Open(t)
	const n = 50
	errOdd := errors.New("odd goroutine fails")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Update(context.Background(), func(tx shop.Tx) error {
				id := int64(i + 1)
				if err := tx.PutUser(newUser(id, fmt.Sprintf("user_%03d", id), fmt.Sprintf("AP%d", id))); err != nil {
					return err
				}
				e := &shop.LedgerEntry{UserID: id, Type: shop.LedgerAdminCredit, Amount: shop.NanoTON(id), BalanceAfter: shop.NanoTON(id)}
				if err := tx.AppendLedger(e); err != nil {
					return err
				}
				u, err := tx.FindUserByID(id)
				if err != nil {
					return err
				}
				u.Balance = e.BalanceAfter
				if err := tx.PutUser(u); err != nil {
					return err
				}
				if i%10 == 9 {
					return errOdd
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%10 == 9 {
			if err != errOdd {
				t.Errorf("goroutine %d: err = %v, want errOdd", i, err)
			}
		} else if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	users := 0
	view(t, db, func(tx shop.Tx) error {
		return tx.ForEachUser(func(u *shop.User) error {
			users++
			if u.ID%10 == 0 {
				t.Errorf("user %d of a failed update was committed", u.ID)
			}
			entries, _, err := tx.FindLedger(shop.LedgerFilter{UserID: u.ID})
			if err != nil || len(entries) != 1 || u.Balance != shop.NanoTON(u.ID) {
				t.Errorf("user %d: balance %d, entries %v, %v", u.ID, u.Balance, entries, err)
			}
			return nil
		})
	})
	if users != n-n/10 {
		t.Errorf("%d users committed, want %d", users, n-n/10)
	}
	check(t, db)
}

// TestDB_Update_Panic checks that an update that panics inside a group
// panics in its own caller and leaves the others committed.
func TestDB_Update_Panic(t *testing.T) {
	db := storetest.Open(t)
	const n = 20
	var wg sync.WaitGroup
	panicked := make([]any, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			defer func() { panicked[i] = recover() }()
			errs[i] = db.Update(context.Background(), func(tx shop.Tx) error {
				id := int64(i + 1)
				if err := tx.PutUser(newUser(id, fmt.Sprintf("user_%03d", id), fmt.Sprintf("AP%d", id))); err != nil {
					return err
				}
				if i == 7 {
					panic("boom")
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range n {
		switch {
		case i == 7 && panicked[i] != "boom":
			t.Errorf("update 7 did not panic in its caller: %v", panicked[i])
		case i != 7 && (panicked[i] != nil || errs[i] != nil):
			t.Errorf("update %d: panic %v, err %v", i, panicked[i], errs[i])
		}
	}
	view(t, db, func(tx shop.Tx) error {
		for i := range n {
			_, err := tx.FindUserByID(int64(i + 1))
			if (i == 7) != (shop.ErrorCode(err) == shop.ENOTFOUND) {
				t.Errorf("user %d: %v", i+1, err)
			}
		}
		return nil
	})
}

func TestDB_Context(t *testing.T) {
	db := storetest.Open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	fn := func(shop.Tx) error { called = true; return nil }
	if err := db.View(ctx, fn); !errors.Is(err, context.Canceled) {
		t.Errorf("View = %v, want context.Canceled", err)
	}
	if err := db.Update(ctx, fn); !errors.Is(err, context.Canceled) {
		t.Errorf("Update = %v, want context.Canceled", err)
	}
	if err := db.Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check = %v, want context.Canceled", err)
	}
	if called {
		t.Error("fn called with a cancelled context")
	}
}

func TestTx_ReadOnly(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error { return tx.PutUser(newUser(1, "", "")) })
	writes := map[string]func(shop.Tx) error{
		"PutUser":     func(tx shop.Tx) error { return tx.PutUser(newUser(2, "", "")) },
		"PutAPIKey":   func(tx shop.Tx) error { return tx.PutAPIKey(&shop.APIKey{Hash: "ab", UserID: 1}) },
		"NextOrderID": func(tx shop.Tx) error { _, err := tx.NextOrderID(); return err },
		"PutOrder":    func(tx shop.Tx) error { return tx.PutOrder(newOrder(1, 1, shop.StatusPaid, shop.OrderStars)) },
		"AppendLedger": func(tx shop.Tx) error {
			return tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Amount: 1, BalanceAfter: 1})
		},
		"PutDeposit":               func(tx shop.Tx) error { return tx.PutDeposit(&shop.Deposit{TxHash: "ab"}) },
		"PutIdempotency":           func(tx shop.Tx) error { return tx.PutIdempotency(&shop.Idempotency{UserID: 1, Key: "k"}) },
		"DeleteIdempotencyExpired": func(tx shop.Tx) error { _, err := tx.DeleteIdempotencyExpired(t0, 100); return err },
		"Enqueue":                  func(tx shop.Tx) error { return tx.Enqueue(1) },
		"Dequeue":                  func(tx shop.Tx) error { return tx.Dequeue(1) },
		"PutCursor":                func(tx shop.Tx) error { return tx.PutCursor(&shop.Cursor{Account: "a"}) },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			if err := db.View(t.Context(), write); err == nil {
				t.Error("write in a View: no error")
			}
		})
	}
}

// seedAll stores one record of every kind, with every index in use.
func seedAll(tb testing.TB, db *store.DB) {
	tb.Helper()
	update(tb, db, func(tx shop.Tx) error {
		if err := tx.PutUser(newUser(1, "Alice_A", "AP1")); err != nil {
			return err
		}
		credit(tb, tx, 1, 5*shop.TON)
		if err := tx.PutAPIKey(&shop.APIKey{Hash: shop.HashKey("osk_x"), Prefix: shop.KeyPrefixOrders, UserID: 1, CreatedAt: t0}); err != nil {
			return err
		}
		o := newOrder(0, 1, shop.StatusPaid, shop.OrderStars)
		o.PaymentMemo, o.ClientReference = "STARS-1", "ref-1"
		putOrder(tb, tx, o)
		if err := tx.Enqueue(o.ID); err != nil {
			return err
		}
		if err := tx.PutDeposit(&shop.Deposit{TxHash: "cafe", Status: shop.DepositOrderPaid, UserID: 1, OrderID: o.ID}); err != nil {
			return err
		}
		if err := tx.PutIdempotency(&shop.Idempotency{UserID: 1, Key: "idem", OrderID: o.ID, ExpiresAt: t0}); err != nil {
			return err
		}
		return tx.PutCursor(&shop.Cursor{Account: "acc", LT: 7, Hash: "cafe"})
	})
}

// verifyAll checks that everything seedAll stored is found through every
// index.
func verifyAll(tb testing.TB, db *store.DB) {
	tb.Helper()
	view(tb, db, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(1)
		if err != nil || u.Balance != 5*shop.TON {
			tb.Errorf("FindUserByID = %+v, %v", u, err)
		}
		for name, err := range map[string]error{
			"FindUserByUsername": second(tx.FindUserByUsername("alice_a")),
			"FindUserByMemo":     second(tx.FindUserByMemo("ap1")),
			"FindAPIKeyByHash":   second(tx.FindAPIKeyByHash(shop.HashKey("osk_x"))),
			"FindOrderByMemo":    second(tx.FindOrderByMemo("stars-1")),
			"FindDepositByHash":  second(tx.FindDepositByHash("CAFE")),
			"FindIdempotency":    second(tx.FindIdempotency(1, "idem")),
			"FindCursor":         second(tx.FindCursor("acc")),
		} {
			if err != nil {
				tb.Errorf("%s: %v", name, err)
			}
		}
		if keys, _ := tx.FindAPIKeysByUser(1); len(keys) != 1 {
			tb.Errorf("FindAPIKeysByUser = %v", keys)
		}
		if orders, _ := tx.FindOrdersByReference(1, "ref-1"); len(orders) != 1 {
			tb.Errorf("FindOrdersByReference = %v", orders)
		}
		if orders, _, _ := tx.FindOrders(shop.OrderFilter{Status: shop.StatusPaid}); len(orders) != 1 {
			tb.Errorf("FindOrders by status = %v", orders)
		}
		if entries, _, _ := tx.FindLedger(shop.LedgerFilter{UserID: 1}); len(entries) != 1 {
			tb.Errorf("FindLedger = %v", entries)
		}
		if ids, _ := tx.Queued(10); len(ids) != 1 {
			tb.Errorf("Queued = %v", ids)
		}
		return nil
	})
	check(tb, db)
}

func second[T any](_ T, err error) error { return err }

func TestDB_Reopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starsbot.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	seedAll(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	verifyAll(t, db)
	// Sequences survive: the next ids follow the old ones.
	update(t, db, func(tx shop.Tx) error {
		if id, err := tx.NextOrderID(); err != nil || id != 2 {
			t.Errorf("NextOrderID after reopen = %d, %v; want 2", id, err)
		}
		return nil
	})
}

func TestDB_WriteTo(t *testing.T) {
	db := storetest.Open(t)
	seedAll(t, db)
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Size() != n || n == 0 {
		t.Errorf("WriteTo wrote %d bytes, file has %d", n, fi.Size())
	}
	backup, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer backup.Close()
	verifyAll(t, backup)
}
