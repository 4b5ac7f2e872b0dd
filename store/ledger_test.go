package store_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

// credit appends a ledger entry for u and updates its balance, as Service
// does.
func credit(tb testing.TB, tx shop.Tx, userID int64, amount shop.NanoTON) *shop.LedgerEntry {
	tb.Helper()
	u, err := tx.FindUserByID(userID)
	if err != nil {
		tb.Fatal(err)
	}
	u.Balance += amount
	e := &shop.LedgerEntry{UserID: userID, Type: shop.LedgerAdminCredit, Amount: amount, BalanceAfter: u.Balance, CreatedAt: t0}
	if err := tx.AppendLedger(e); err != nil {
		tb.Fatal(err)
	}
	if err := tx.PutUser(u); err != nil {
		tb.Fatal(err)
	}
	return e
}

func TestTx_Ledger(t *testing.T) {
	db := storetest.Open(t)
	want := &shop.LedgerEntry{
		UserID:       1,
		Type:         shop.LedgerDeposit,
		Amount:       2 * shop.TON,
		BalanceAfter: 2 * shop.TON,
		OrderID:      7,
		TxHash:       "ab12",
		AdminID:      9,
		Reason:       "why",
		CreatedAt:    t0,
	}
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{1, 2} {
			if err := tx.PutUser(newUser(id, "", "")); err != nil {
				return err
			}
		}
		if err := tx.AppendLedger(want); err != nil {
			return err
		}
		u, _ := tx.FindUserByID(1)
		u.Balance = want.BalanceAfter
		return tx.PutUser(u)
	})
	if want.ID != 1 {
		t.Fatalf("first entry id = %d, want 1", want.ID)
	}
	view(t, db, func(tx shop.Tx) error {
		got, more, err := tx.FindLedger(shop.LedgerFilter{UserID: 1})
		if err != nil || more || len(got) != 1 || !reflect.DeepEqual(got[0], want) {
			t.Errorf("FindLedger = %+v, %v, %v; want [%+v]", got, more, err, want)
		}
		got, more, err = tx.FindLedger(shop.LedgerFilter{UserID: 2})
		if err != nil || more || len(got) != 0 {
			t.Errorf("FindLedger of user without entries = %v, %v, %v", got, more, err)
		}
		return nil
	})

	// Entries of users 1 and 2 interleave: user 1 gets ids 2,4,...,60,
	// user 2 gets 3,5,...,61.
	update(t, db, func(tx shop.Tx) error {
		for i := range 60 {
			credit(t, tx, int64(1+i%2), shop.NanoTON(i+1))
		}
		return nil
	})
	var user2 []uint64 // newest first
	for id := uint64(61); id >= 3; id -= 2 {
		user2 = append(user2, id)
	}
	tests := []struct {
		name     string
		f        shop.LedgerFilter
		want     []uint64
		wantMore bool
	}{
		{"DefaultLimit", shop.LedgerFilter{UserID: 2}, user2[:20], true},
		{"Limit", shop.LedgerFilter{UserID: 2, Limit: 3}, []uint64{61, 59, 57}, true},
		{"Before", shop.LedgerFilter{UserID: 2, Before: 57, Limit: 2}, []uint64{55, 53}, true},
		{"BeforeOdd", shop.LedgerFilter{UserID: 2, Before: 56, Limit: 2}, []uint64{55, 53}, true},
		{"Tail", shop.LedgerFilter{UserID: 2, Before: 7, Limit: 2}, []uint64{5, 3}, false},
		{"TailShort", shop.LedgerFilter{UserID: 2, Before: 7, Limit: 10}, []uint64{5, 3}, false},
		{"MaxLimit", shop.LedgerFilter{UserID: 2, Limit: 1000}, user2, false},
		{"BeforeFirst", shop.LedgerFilter{UserID: 2, Before: 3}, nil, false},
		{"User1", shop.LedgerFilter{UserID: 1, Before: 5}, []uint64{4, 2, 1}, false},
		{"NoUser", shop.LedgerFilter{UserID: 3}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, db, func(tx shop.Tx) error {
				got, more, err := tx.FindLedger(tt.f)
				if err != nil {
					t.Fatal(err)
				}
				var ids []uint64
				for _, e := range got {
					ids = append(ids, e.ID)
					if e.UserID != tt.f.UserID {
						t.Errorf("entry %d of user %d", e.ID, e.UserID)
					}
				}
				if !slices.Equal(ids, tt.want) || more != tt.wantMore {
					t.Errorf("ids %v more %v; want %v more %v", ids, more, tt.want, tt.wantMore)
				}
				return nil
			})
		})
	}
	check(t, db)
}

func TestTx_Deposit(t *testing.T) {
	db := storetest.Open(t)
	want := &shop.Deposit{
		TxHash:    "AbCdEf01",
		LT:        123456789,
		From:      "EQsender",
		Amount:    1_500_000_000,
		Memo:      "ap1 ",
		Status:    shop.DepositCredited,
		Reason:    "any text", // the store keeps what it is given
		UserID:    1,
		OrderID:   0,
		AdminID:   0,
		ChainTime: t0,
		CreatedAt: t0.Add(time.Second),
	}
	update(t, db, func(tx shop.Tx) error { return tx.PutDeposit(want) })
	if want.ID != 1 {
		t.Fatalf("first deposit id = %d, want 1", want.ID)
	}

	t.Run("OK", func(t *testing.T) {
		view(t, db, func(tx shop.Tx) error {
			got, err := tx.FindDepositByID(1)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("FindDepositByID = %+v, %v; want %+v", got, err, want)
			}
			for _, h := range []string{"abcdef01", "ABCDEF01"} {
				if got, err := tx.FindDepositByHash(h); err != nil || got.ID != 1 {
					t.Errorf("FindDepositByHash(%q) = %v, %v", h, got, err)
				}
			}
			return nil
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindDepositByID(2)
			wantNotFound(t, "FindDepositByID", err)
			_, err = tx.FindDepositByHash("ffff")
			wantNotFound(t, "FindDepositByHash", err)
			_, err = tx.FindDepositByHash("")
			wantNotFound(t, "FindDepositByHash empty", err)
			return nil
		})
	})

	t.Run("DuplicateHash", func(t *testing.T) {
		for _, d := range []*shop.Deposit{
			{TxHash: "abcdef01", Status: shop.DepositUnmatched}, // new
			{ID: 5, TxHash: "ABCDEF01", Status: shop.DepositUnmatched},
		} {
			err := db.Update(t.Context(), func(tx shop.Tx) error { return tx.PutDeposit(d) })
			if err == nil {
				t.Errorf("PutDeposit(%+v) with a used hash: no error", d)
			}
		}
		view(t, db, func(tx shop.Tx) error {
			if got, _ := tx.FindDeposits("", 0, 0); len(got) != 1 {
				t.Errorf("%d deposits after duplicate puts, want 1", len(got))
			}
			return nil
		})
	})

	t.Run("Replace", func(t *testing.T) {
		d := *want
		d.Status, d.UserID, d.AdminID = shop.DepositAssigned, 2, 3
		update(t, db, func(tx shop.Tx) error { return tx.PutDeposit(&d) })
		d.TxHash = "beef"
		update(t, db, func(tx shop.Tx) error { return tx.PutDeposit(&d) })
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindDepositByHash("abcdef01")
			wantNotFound(t, "old hash", err)
			got, err := tx.FindDepositByHash("BEEF")
			if err != nil || !reflect.DeepEqual(got, &d) {
				t.Errorf("replaced deposit = %+v, %v; want %+v", got, err, d)
			}
			return nil
		})
		// Put it back for the next subtests.
		update(t, db, func(tx shop.Tx) error { return tx.PutDeposit(want) })
		check(t, db)
	})

	t.Run("FindDeposits", func(t *testing.T) {
		update(t, db, func(tx shop.Tx) error {
			for i := 2; i <= 130; i++ {
				status := shop.DepositCredited
				if i%4 == 0 {
					status = shop.DepositUnmatched
				}
				d := &shop.Deposit{TxHash: fmt.Sprintf("hash%03d", i), Status: status, Amount: shop.NanoTON(i)}
				if err := tx.PutDeposit(d); err != nil {
					return err
				}
				if d.ID != uint64(i) {
					t.Fatalf("deposit id = %d, want %d", d.ID, i)
				}
			}
			return nil
		})
		tests := []struct {
			name   string
			status shop.DepositStatus
			before uint64
			limit  int
			want   []uint64 // nil: check the length only
			n      int
		}{
			{"Default", "", 0, 0, nil, shop.DefaultPageSize},
			{"Max", "", 0, 1000, nil, shop.MaxPageSize},
			{"Before", "", 4, 10, []uint64{3, 2, 1}, 3},
			{"Unmatched", shop.DepositUnmatched, 0, 3, []uint64{128, 124, 120}, 3},
			{"UnmatchedBefore", shop.DepositUnmatched, 9, 10, []uint64{8, 4}, 2},
			{"None", shop.DepositOrderPaid, 0, 10, nil, 0},
			{"BeforeFirst", "", 1, 10, nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				view(t, db, func(tx shop.Tx) error {
					got, err := tx.FindDeposits(tt.status, tt.before, tt.limit)
					if err != nil {
						t.Fatal(err)
					}
					var ids []uint64
					for i, d := range got {
						ids = append(ids, d.ID)
						if i > 0 && d.ID >= got[i-1].ID {
							t.Errorf("not newest first: %v", ids)
						}
						if tt.status != "" && d.Status != tt.status {
							t.Errorf("deposit %d has status %s", d.ID, d.Status)
						}
					}
					if len(ids) != tt.n || (tt.want != nil && !slices.Equal(ids, tt.want)) {
						t.Errorf("ids = %v, want %v (%d)", ids, tt.want, tt.n)
					}
					return nil
				})
			})
		}
	})
}

func TestTx_Idempotency(t *testing.T) {
	db := storetest.Open(t)
	now := t0.Add(48 * time.Hour)
	recs := []*shop.Idempotency{
		{UserID: 1, Key: "k1", Fingerprint: "f1", OrderID: 10, ExpiresAt: now.Add(-time.Hour)},
		{UserID: 1, Key: "K1", Fingerprint: "f2", OrderID: 11, ExpiresAt: now.Add(time.Hour)},
		{UserID: 2, Key: "k1", Fingerprint: "f3", OrderID: 12, ExpiresAt: now.Add(-time.Nanosecond)},
		{UserID: 2, Key: "k2", Fingerprint: "f4", OrderID: 13, ExpiresAt: now},
	}
	update(t, db, func(tx shop.Tx) error {
		for _, r := range recs {
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx shop.Tx) error {
		for _, r := range recs {
			got, err := tx.FindIdempotency(r.UserID, r.Key)
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Errorf("FindIdempotency(%d, %q) = %+v, %v; want %+v", r.UserID, r.Key, got, err, r)
			}
		}
		_, err := tx.FindIdempotency(3, "k1")
		wantNotFound(t, "FindIdempotency other user", err)
		_, err = tx.FindIdempotency(1, "k3")
		wantNotFound(t, "FindIdempotency other key", err)
		return nil
	})

	// Replace.
	r := *recs[1]
	r.Fingerprint = "f2b"
	update(t, db, func(tx shop.Tx) error { return tx.PutIdempotency(&r) })
	view(t, db, func(tx shop.Tx) error {
		if got, _ := tx.FindIdempotency(1, "K1"); got == nil || got.Fingerprint != "f2b" {
			t.Errorf("replaced record = %+v", got)
		}
		return nil
	})

	var n int
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteIdempotencyExpired(now)
		return err
	})
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	view(t, db, func(tx shop.Tx) error {
		for i, r := range recs {
			_, err := tx.FindIdempotency(r.UserID, r.Key)
			if expired := i == 0 || i == 2; expired {
				wantNotFound(t, "expired record", err)
			} else if err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		}
		return nil
	})
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteIdempotencyExpired(now)
		return err
	})
	if n != 0 {
		t.Errorf("second delete removed %d, want 0", n)
	}
}

func TestTx_Queue(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error {
		if err := tx.PutUser(newUser(1, "", "")); err != nil {
			return err
		}
		for range 5 {
			putOrder(t, tx, newOrder(0, 1, shop.StatusPaid, shop.OrderStars))
		}
		for _, id := range []int64{4, 2, 5, 2, 1} {
			if err := tx.Enqueue(id); err != nil {
				return err
			}
		}
		return nil
	})
	queued := func(limit int) []int64 {
		var ids []int64
		view(t, db, func(tx shop.Tx) (err error) {
			ids, err = tx.Queued(limit)
			return err
		})
		return ids
	}
	if got, want := queued(10), []int64{1, 2, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("Queued(10) = %v, want %v", got, want)
	}
	if got, want := queued(2), []int64{1, 2}; !slices.Equal(got, want) {
		t.Errorf("Queued(2) = %v, want %v", got, want)
	}
	if got, want := queued(0), []int64{1, 2, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("Queued(0) = %v, want %v", got, want)
	}
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{2, 2, 3} { // twice, and never queued
			if err := tx.Dequeue(id); err != nil {
				return err
			}
		}
		return tx.Enqueue(4) // again
	})
	if got, want := queued(10), []int64{1, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("after Dequeue: Queued = %v, want %v", got, want)
	}
}

func TestTx_Cursor(t *testing.T) {
	db := storetest.Open(t)
	want := &shop.Cursor{Account: "UQAccount-_1", LT: 42, Hash: "abcd", Time: t0}
	update(t, db, func(tx shop.Tx) error { return tx.PutCursor(want) })
	view(t, db, func(tx shop.Tx) error {
		got, err := tx.FindCursor("UQAccount-_1")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("FindCursor = %+v, %v; want %+v", got, err, want)
		}
		_, err = tx.FindCursor("uqaccount-_1") // addresses are case-sensitive
		wantNotFound(t, "FindCursor", err)
		return nil
	})
	next := &shop.Cursor{Account: want.Account, LT: 43, Hash: "ef01", Time: t0.Add(time.Second)}
	update(t, db, func(tx shop.Tx) error { return tx.PutCursor(next) })
	view(t, db, func(tx shop.Tx) error {
		if got, err := tx.FindCursor(want.Account); err != nil || !reflect.DeepEqual(got, next) {
			t.Errorf("FindCursor after replace = %+v, %v", got, err)
		}
		return nil
	})
}
