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
