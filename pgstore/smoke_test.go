package pgstore_test

import (
	"context"
	"testing"

	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

func TestOpen_Smoke(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	err := db.Update(ctx, func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1, Username: "Bob", Memo: "ap1", Balance: 0}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx shop.Tx) error {
		u, err := tx.FindUserByUsername("@bob")
		if err != nil {
			return err
		}
		if u.ID != 1 {
			t.Errorf("user %d", u.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
