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

func TestTx_Order(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := storetest.Open(t)
		want := &shop.Order{
			UserID:          1,
			Status:          shop.StatusPaid,
			Type:            shop.OrderPremium,
			Stars:           0,
			Months:          6,
			Recipient:       "someone_x",
			PriceTON:        7_123_456_789,
			PriceUSD:        23_990_000,
			FeeTON:          123_456_789,
			TONUSD:          3_512_345,
			PaymentMethod:   shop.PayTONMemo,
			PaymentAddress:  "UQAbc",
			PaymentMemo:     "PREM-A1B2C3",
			ClientReference: "ref 1",
			Source:          "simple_api",
			ExpiresAt:       t0.Add(30 * time.Minute),
			CreatedAt:       t0,
			PaidAt:          t0.Add(time.Minute),
			CompletedAt:     t0.Add(2 * time.Minute),
			FailureReason:   "none",
			FulfillmentRef:  "fr",
			PaidTxHash:      "abcdef",
		}
		update(t, db, func(tx shop.Tx) error {
			if err := tx.PutUser(newUser(1, "", "")); err != nil {
				return err
			}
			putOrder(t, tx, want)
			return nil
		})
		if want.ID != 1 {
			t.Fatalf("first order id = %d, want 1", want.ID)
		}
		view(t, db, func(tx shop.Tx) error {
			got, err := tx.FindOrderByID(want.ID)
			if err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(got, want) {
				t.Errorf("FindOrderByID = %+v\nwant %+v", got, want)
			}
			if got, err := tx.FindOrderByMemo(" prem-a1b2c3"); err != nil || got.ID != want.ID {
				t.Errorf("FindOrderByMemo = %v, %v", got, err)
			}
			if taken, _ := tx.MemoTaken("PREM-A1B2C3"); !taken {
				t.Error("order memo not taken")
			}
			if got, err := tx.FindOrdersByReference(1, "ref 1"); err != nil || !slices.Equal(orderIDs(got), []int64{1}) {
				t.Errorf("FindOrdersByReference = %v, %v", got, err)
			}
			return nil
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		db := storetest.Open(t)
		update(t, db, func(tx shop.Tx) error {
			if err := tx.PutUser(newUser(1, "", "AP1")); err != nil {
				return err
			}
			o := newOrder(0, 1, shop.StatusPaid, shop.OrderStars)
			o.ClientReference = "REF"
			putOrder(t, tx, o)
			return nil
		})
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindOrderByID(2)
			wantNotFound(t, "FindOrderByID", err)
			_, err = tx.FindOrderByMemo("STARS-NONE")
			wantNotFound(t, "FindOrderByMemo", err)
			_, err = tx.FindOrderByMemo("AP1") // a user's memo
			wantNotFound(t, "FindOrderByMemo of user", err)
			for _, ref := range []string{"ref", "", "REFX"} {
				if got, err := tx.FindOrdersByReference(1, ref); err != nil || len(got) != 0 {
					t.Errorf("FindOrdersByReference(1, %q) = %v, %v; want none, nil", ref, got, err)
				}
			}
			if got, err := tx.FindOrdersByReference(2, "REF"); err != nil || len(got) != 0 {
				t.Errorf("FindOrdersByReference of another user = %v, %v", got, err)
			}
			return nil
		})
	})

	t.Run("InvalidID", func(t *testing.T) {
		db := storetest.Open(t)
		err := db.Update(t.Context(), func(tx shop.Tx) error { return tx.PutOrder(newOrder(0, 1, shop.StatusPaid, shop.OrderStars)) })
		if err == nil {
			t.Fatal("PutOrder with id 0: no error")
		}
	})

	t.Run("NextOrderID", func(t *testing.T) {
		db := storetest.Open(t)
		var ids []int64
		for range 3 {
			update(t, db, func(tx shop.Tx) error {
				id, err := tx.NextOrderID()
				ids = append(ids, id)
				return err
			})
		}
		if !slices.Equal(ids, []int64{1, 2, 3}) {
			t.Errorf("ids = %v", ids)
		}
	})
}

func TestTx_PutOrder_Indexes(t *testing.T) {
	db := storetest.Open(t)
	var o *shop.Order
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{1, 2} {
			if err := tx.PutUser(newUser(id, "", "")); err != nil {
				return err
			}
		}
		o = newOrder(0, 1, shop.StatusPendingPayment, shop.OrderStars)
		o.PaymentMethod, o.PaymentMemo, o.ClientReference = shop.PayTONMemo, "STARS-OLD", "old-ref"
		putOrder(t, tx, o)
		return nil
	})

	o.Status, o.PaymentMemo, o.ClientReference = shop.StatusPaid, "STARS-NEW", "new-ref"
	update(t, db, func(tx shop.Tx) error { return tx.PutOrder(o) })
	view(t, db, func(tx shop.Tx) error {
		_ = tx.ForEachOrderByStatus(shop.StatusPendingPayment, func(o *shop.Order) error {
			t.Errorf("order %d still indexed as pending_payment", o.ID)
			return nil
		})
		if got, _, _ := tx.FindOrders(shop.OrderFilter{Status: shop.StatusPaid}); !slices.Equal(orderIDs(got), []int64{o.ID}) {
			t.Errorf("paid orders = %v", orderIDs(got))
		}
		_, err := tx.FindOrderByMemo("STARS-OLD")
		wantNotFound(t, "old memo", err)
		if got, err := tx.FindOrderByMemo("STARS-NEW"); err != nil || got.ID != o.ID {
			t.Errorf("new memo: %v, %v", got, err)
		}
		if got, _ := tx.FindOrdersByReference(1, "old-ref"); len(got) != 0 {
			t.Errorf("old reference still finds %v", orderIDs(got))
		}
		if got, _ := tx.FindOrdersByReference(1, "new-ref"); len(got) != 1 {
			t.Errorf("new reference finds %v", orderIDs(got))
		}
		return nil
	})
	check(t, db)

	// Clearing the reference and memo, and moving to another owner.
	o.PaymentMemo, o.ClientReference, o.UserID = "", "", 2
	update(t, db, func(tx shop.Tx) error { return tx.PutOrder(o) })
	view(t, db, func(tx shop.Tx) error {
		if taken, _ := tx.MemoTaken("STARS-NEW"); taken {
			t.Error("cleared memo still taken")
		}
		if got, _ := tx.FindOrdersByReference(1, "new-ref"); len(got) != 0 {
			t.Errorf("cleared reference still finds %v", orderIDs(got))
		}
		if got, _, _ := tx.FindOrders(shop.OrderFilter{UserID: 1}); len(got) != 0 {
			t.Errorf("old owner still lists %v", orderIDs(got))
		}
		if got, _, _ := tx.FindOrders(shop.OrderFilter{UserID: 2}); len(got) != 1 {
			t.Errorf("new owner lists %v", orderIDs(got))
		}
		return nil
	})
	check(t, db)

	t.Run("MemoCollision", func(t *testing.T) {
		update(t, db, func(tx shop.Tx) error {
			if err := tx.PutUser(newUser(3, "", "AP3")); err != nil {
				return err
			}
			o := newOrder(0, 1, shop.StatusPendingPayment, shop.OrderStars)
			o.PaymentMemo = "STARS-TAKEN"
			putOrder(t, tx, o)
			return nil
		})
		for _, memo := range []string{"ap3", "stars-taken"} {
			err := db.Update(t.Context(), func(tx shop.Tx) error {
				o := newOrder(0, 1, shop.StatusPendingPayment, shop.OrderStars)
				o.PaymentMemo = memo
				id, err := tx.NextOrderID()
				if err != nil {
					return err
				}
				o.ID = id
				return tx.PutOrder(o)
			})
			if err == nil {
				t.Errorf("PutOrder with taken memo %q: no error", memo)
			}
		}
		check(t, db)
	})
}

func TestTx_FindOrdersByReference(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{1, 2} {
			if err := tx.PutUser(newUser(id, "", "")); err != nil {
				return err
			}
		}
		for _, x := range []struct {
			user int64
			ref  string
		}{{1, "a"}, {1, "a\x00b"}, {2, "a"}, {1, "A"}, {1, "a"}, {1, "ab"}} {
			o := newOrder(0, x.user, shop.StatusPaid, shop.OrderStars)
			o.ClientReference = x.ref
			putOrder(t, tx, o)
		}
		return nil
	})
	view(t, db, func(tx shop.Tx) error {
		for ref, want := range map[string][]int64{"a": {5, 1}, "a\x00b": {2}, "A": {4}, "ab": {6}, "b": nil} {
			got, err := tx.FindOrdersByReference(1, ref)
			if err != nil || !slices.Equal(orderIDs(got), want) {
				t.Errorf("FindOrdersByReference(1, %q) = %v, %v; want %v", ref, orderIDs(got), err, want)
			}
		}
		return nil
	})
}

func TestTx_FindOrders(t *testing.T) {
	const n = 130
	db := storetest.Open(t)
	var all []*shop.Order // by id, ascending
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{1, 2} {
			if err := tx.PutUser(newUser(id, "", "")); err != nil {
				return err
			}
		}
		for i := int64(1); i <= n; i++ {
			user, status, typ := int64(1), shop.StatusCompleted, shop.OrderStars
			if i%3 == 0 {
				user = 2
			}
			if i%2 == 0 {
				status = shop.StatusPaid
			}
			if i%5 == 0 {
				typ = shop.OrderPremium
			}
			all = append(all, putOrder(t, tx, newOrder(0, user, status, typ)))
		}
		return nil
	})

	// match is the reference implementation of the filter, newest first.
	match := func(f shop.OrderFilter) []int64 {
		var ids []int64
		for _, o := range slices.Backward(all) {
			if (f.UserID == 0 || o.UserID == f.UserID) && (f.Status == "" || o.Status == f.Status) &&
				(f.Type == "" || o.Type == f.Type) && (f.Before == 0 || o.ID < f.Before) {
				ids = append(ids, o.ID)
			}
		}
		return ids
	}

	tests := []struct {
		name     string
		f        shop.OrderFilter
		wantIDs  []int64 // nil: only compare with match
		wantMore bool
	}{
		{name: "AllDefaultLimit", f: shop.OrderFilter{}, wantMore: true},
		{name: "AllLimitClamped", f: shop.OrderFilter{Limit: 1000}, wantMore: true},
		{name: "AllExactlyLimit", f: shop.OrderFilter{Before: 4, Limit: 3}, wantIDs: []int64{3, 2, 1}, wantMore: false},
		{name: "AllBefore", f: shop.OrderFilter{Before: 10, Limit: 3}, wantIDs: []int64{9, 8, 7}, wantMore: true},
		{name: "User2", f: shop.OrderFilter{UserID: 2, Limit: 4}, wantIDs: []int64{129, 126, 123, 120}, wantMore: true},
		{name: "User2Before", f: shop.OrderFilter{UserID: 2, Before: 10, Limit: 5}, wantIDs: []int64{9, 6, 3}, wantMore: false},
		{name: "User2Paid", f: shop.OrderFilter{UserID: 2, Status: shop.StatusPaid, Limit: 3}, wantIDs: []int64{126, 120, 114}, wantMore: true},
		{name: "User1PremiumPaid", f: shop.OrderFilter{UserID: 1, Status: shop.StatusPaid, Type: shop.OrderPremium, Limit: 2}, wantIDs: []int64{130, 110}, wantMore: true},
		{name: "StatusOnly", f: shop.OrderFilter{Status: shop.StatusCompleted, Before: 8, Limit: 3}, wantIDs: []int64{7, 5, 3}, wantMore: true},
		{name: "StatusOnlyTail", f: shop.OrderFilter{Status: shop.StatusCompleted, Before: 3}, wantIDs: []int64{1}, wantMore: false},
		{name: "TypeOnly", f: shop.OrderFilter{Type: shop.OrderPremium, Limit: 100}, wantMore: false},
		{name: "NoStatusMatch", f: shop.OrderFilter{Status: shop.StatusRefunded}, wantIDs: []int64{}, wantMore: false},
		{name: "UnknownUser", f: shop.OrderFilter{UserID: 3}, wantIDs: []int64{}, wantMore: false},
		{name: "BeforeFirst", f: shop.OrderFilter{Before: 1}, wantIDs: []int64{}, wantMore: false},
		{name: "BeforeBeyondLast", f: shop.OrderFilter{Before: 1000, Limit: 1}, wantIDs: []int64{130}, wantMore: true},
		{name: "BeforeNegative", f: shop.OrderFilter{Before: -1}, wantIDs: []int64{}, wantMore: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			view(t, db, func(tx shop.Tx) error {
				got, more, err := tx.FindOrders(tt.f)
				if err != nil {
					t.Fatal(err)
				}
				ids := orderIDs(got)
				limit := tt.f.Limit
				if limit <= 0 {
					limit = shop.DefaultPageSize
				}
				limit = min(limit, shop.MaxPageSize)
				want := match(tt.f)
				if tt.f.Before < 0 {
					want = nil
				}
				if len(want) > limit {
					want = want[:limit]
				}
				if !slices.Equal(ids, want) {
					t.Errorf("ids = %v, want %v (reference)", ids, want)
				}
				if tt.wantIDs != nil && !slices.Equal(ids, tt.wantIDs) {
					t.Errorf("ids = %v, want %v", ids, tt.wantIDs)
				}
				if more != tt.wantMore {
					t.Errorf("more = %v, want %v", more, tt.wantMore)
				}
				return nil
			})
		})
	}

	// Paging with Before = last id visits every match exactly once.
	for _, f := range []shop.OrderFilter{
		{Limit: 7},
		{UserID: 1, Status: shop.StatusPaid, Limit: 6},
		{Type: shop.OrderPremium, Limit: 5},
		{Status: shop.StatusCompleted, Type: shop.OrderStars, Limit: 9},
	} {
		t.Run(fmt.Sprintf("Pages%+v", f), func(t *testing.T) {
			var got []int64
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				var page []*shop.Order
				var more bool
				view(t, db, func(tx shop.Tx) (err error) {
					page, more, err = tx.FindOrders(f)
					return err
				})
				got = append(got, orderIDs(page)...)
				if !more {
					break
				}
				f.Before = page[len(page)-1].ID
			}
			f.Before = 0
			if want := match(f); !slices.Equal(got, want) {
				t.Errorf("pages = %v, want %v", got, want)
			}
		})
	}
}

func TestTx_ForEachOrder(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error {
		for _, id := range []int64{1, 2} {
			if err := tx.PutUser(newUser(id, "", "")); err != nil {
				return err
			}
		}
		for i := range 10 {
			status := shop.StatusPaid
			if i%2 == 1 {
				status = shop.StatusProcessing
			}
			putOrder(t, tx, newOrder(0, int64(1+i%3/2), status, shop.OrderStars))
		}
		return nil
	})
	collect := func(walk func(shop.Tx, func(*shop.Order) error) error) []int64 {
		var ids []int64
		view(t, db, func(tx shop.Tx) error {
			return walk(tx, func(o *shop.Order) error { ids = append(ids, o.ID); return nil })
		})
		return ids
	}
	byStatus := func(s shop.OrderStatus) func(shop.Tx, func(*shop.Order) error) error {
		return func(tx shop.Tx, fn func(*shop.Order) error) error { return tx.ForEachOrderByStatus(s, fn) }
	}
	byUser := func(u int64) func(shop.Tx, func(*shop.Order) error) error {
		return func(tx shop.Tx, fn func(*shop.Order) error) error { return tx.ForEachOrderOfUser(u, fn) }
	}
	if got, want := collect(byStatus(shop.StatusPaid)), []int64{1, 3, 5, 7, 9}; !slices.Equal(got, want) {
		t.Errorf("paid = %v, want %v", got, want)
	}
	if got, want := collect(byUser(2)), []int64{3, 6, 9}; !slices.Equal(got, want) {
		t.Errorf("user 2 = %v, want %v", got, want)
	}
	if got := collect(byStatus(shop.StatusFailed)); len(got) != 0 {
		t.Errorf("failed = %v, want none", got)
	}
	if got := collect(byUser(3)); len(got) != 0 {
		t.Errorf("user 3 = %v, want none", got)
	}

	// fn moves each paid order to processing while the walk goes on.
	var visited []int64
	update(t, db, func(tx shop.Tx) error {
		visited = visited[:0]
		return tx.ForEachOrderByStatus(shop.StatusPaid, func(o *shop.Order) error {
			visited = append(visited, o.ID)
			o.Status = shop.StatusProcessing
			return tx.PutOrder(o)
		})
	})
	if want := []int64{1, 3, 5, 7, 9}; !slices.Equal(visited, want) {
		t.Errorf("visited while updating = %v, want %v", visited, want)
	}
	if got := collect(byStatus(shop.StatusProcessing)); len(got) != 10 {
		t.Errorf("processing = %v, want all 10", got)
	}
	check(t, db)
}
