package pgstore_test

import (
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// TestOrderTotals_Backfilled: a database that an older version filled
// (schema 4, no order_totals) gets its totals from its orders when the
// migration runs, and the triggers keep them from then on.
func TestOrderTotals_Backfilled(t *testing.T) {
	// A schema at 4 with orders in it.
	u := pgtest.NewSchema(t)
	if err := pgstore.MigrateTo(ctx, u, 4); err != nil {
		t.Fatal(err)
	}
	old, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, balance, data) VALUES (1, 0, '{"ID":1,"Balance":"0"}'), (2, 0, '{"ID":2,"Balance":"0"}')`,
		`INSERT INTO orders (id, user_id, status, type, price_ton, fee_ton, stars, months, client_reference, data) VALUES
			(1, 1, 'completed', 'stars', 2000000000, 100000000, 100, 0, '', '{"ID":1,"UserID":1,"Status":"completed","PriceTON":"2"}'),
			(2, 1, 'completed', 'stars', 3000000000, 200000000, 150, 0, '', '{"ID":2,"UserID":1,"Status":"completed","PriceTON":"3"}'),
			(3, 1, 'paid', 'premium', 9000000000, 300000000, 0, 3, '', '{"ID":3,"UserID":1,"Status":"paid","PriceTON":"9"}'),
			(4, 2, 'refunded', 'stars', 1000000000, 0, 50, 0, '', '{"ID":4,"UserID":2,"Status":"refunded","PriceTON":"1"}')`,
	} {
		if _, err := old.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_ = old.Close(ctx)
	db, err := pgstore.Open(ctx, u) // applies the rest: 00005 backfills
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	totals := func(user int64) map[shop.OrderStatus]shop.OrderTotals {
		t.Helper()
		var got map[shop.OrderStatus]shop.OrderTotals
		if err := db.View(ctx, func(tx shop.Tx) (err error) { got, err = tx.OrderTotals(user); return err }); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want1 := map[shop.OrderStatus]shop.OrderTotals{
		shop.StatusCompleted: {Count: 2, PriceTON: 5 * shop.TON, FeeTON: 3 * shop.TON / 10, Stars: 250},
		shop.StatusPaid:      {Count: 1, PriceTON: 9 * shop.TON, FeeTON: 3 * shop.TON / 10, Months: 3},
	}
	if got := totals(1); !reflect.DeepEqual(got, want1) {
		t.Errorf("user 1 after the migration: %v, want %v", got, want1)
	}
	wantAll := map[shop.OrderStatus]shop.OrderTotals{
		shop.StatusCompleted: want1[shop.StatusCompleted],
		shop.StatusPaid:      want1[shop.StatusPaid],
		shop.StatusRefunded:  {Count: 1, PriceTON: shop.TON, Stars: 50},
	}
	if got := totals(shop.AnyOwner); !reflect.DeepEqual(got, wantAll) {
		t.Errorf("everyone after the migration: %v, want %v", got, wantAll)
	}
	// The triggers go on from there: order 3 completes, order 4 goes.
	if _, err := db.Pool().Exec(ctx, `UPDATE orders SET status = 'completed', data = jsonb_set(data, '{Status}', '"completed"') WHERE id = 3`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `DELETE FROM orders WHERE id = 4`); err != nil {
		t.Fatal(err)
	}
	want1 = map[shop.OrderStatus]shop.OrderTotals{
		shop.StatusCompleted: {Count: 3, PriceTON: 14 * shop.TON, FeeTON: 6 * shop.TON / 10, Stars: 250, Months: 3},
	}
	if got := totals(1); !reflect.DeepEqual(got, want1) {
		t.Errorf("user 1 after a completion: %v, want %v", got, want1)
	}
	if got := totals(2); len(got) != 0 {
		t.Errorf("user 2 after its order went: %v, want none", got)
	}
	if err := db.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
}
