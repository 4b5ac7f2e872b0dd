package store_test

import (
	"context"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store"
)

// t0 is the base time of fixtures: UTC and without a monotonic reading, so
// that records round-trip to reflect.DeepEqual values.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)

func update(tb testing.TB, db *store.DB, fn func(shop.Tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

func view(tb testing.TB, db *store.DB, fn func(shop.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

func check(tb testing.TB, db *store.DB) {
	tb.Helper()
	if err := db.Check(context.Background()); err != nil {
		tb.Fatalf("Check: %v", err)
	}
}

func wantNotFound(tb testing.TB, what string, err error) {
	tb.Helper()
	if code := shop.ErrorCode(err); code != shop.ENOTFOUND {
		tb.Errorf("%s: err = %v (code %q), want %s", what, err, code, shop.ENOTFOUND)
	}
}

func newUser(id int64, username, memo string) *shop.User {
	return &shop.User{
		ID:           id,
		Username:     username,
		Language:     "en",
		Memo:         memo,
		StartPayload: "ref42",
		CreatedAt:    t0,
	}
}

func newOrder(id, userID int64, status shop.OrderStatus, typ shop.OrderType) *shop.Order {
	o := &shop.Order{
		ID:            id,
		UserID:        userID,
		Status:        status,
		Type:          typ,
		Recipient:     "recipient_1",
		PriceTON:      418_000_000,
		PriceUSD:      1_500_000,
		FeeTON:        18_000_000,
		TONUSD:        3_590_000,
		PaymentMethod: shop.PayBalance,
		Source:        "api",
		CreatedAt:     t0.Add(time.Duration(id) * time.Minute),
	}
	if typ == shop.OrderPremium {
		o.Months = 3
	} else {
		o.Stars = 50
	}
	return o
}

// putOrder stores a new order with the next id and returns it.
func putOrder(tb testing.TB, tx shop.Tx, o *shop.Order) *shop.Order {
	tb.Helper()
	id, err := tx.NextOrderID()
	if err != nil {
		tb.Fatal(err)
	}
	o.ID = id
	if err := tx.PutOrder(o); err != nil {
		tb.Fatal(err)
	}
	return o
}

func orderIDs(orders []*shop.Order) []int64 {
	ids := make([]int64, 0, len(orders))
	for _, o := range orders {
		ids = append(ids, o.ID)
	}
	return ids
}
