package store_test

import (
	"reflect"
	"slices"
	"testing"

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
