package store_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_User(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		db := storetest.Open(t)
		want := newUser(100, "Alice_1", "AP100")
		want.Banned = true
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(want) })

		view(t, db, func(tx shop.Tx) error {
			got, err := tx.FindUserByID(100)
			if err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(got, want) {
				t.Errorf("FindUserByID = %+v, want %+v", got, want)
			}
			for _, name := range []string{"Alice_1", "alice_1", "@ALICE_1", " @alice_1 "} {
				if got, err := tx.FindUserByUsername(name); err != nil || got.ID != 100 {
					t.Errorf("FindUserByUsername(%q) = %v, %v", name, got, err)
				}
			}
			for _, memo := range []string{"AP100", "ap100", " Ap100 "} {
				if got, err := tx.FindUserByMemo(memo); err != nil || got.ID != 100 {
					t.Errorf("FindUserByMemo(%q) = %v, %v", memo, got, err)
				}
				if taken, err := tx.MemoTaken(memo); err != nil || !taken {
					t.Errorf("MemoTaken(%q) = %v, %v", memo, taken, err)
				}
			}
			return nil
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		db := storetest.Open(t)
		update(t, db, func(tx shop.Tx) error {
			if err := tx.PutUser(newUser(1, "bobby_b", "AP1")); err != nil {
				return err
			}
			putOrder(t, tx, &shop.Order{UserID: 1, Status: shop.StatusPendingPayment, PaymentMemo: "STARS-X"})
			return nil
		})
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindUserByID(2)
			wantNotFound(t, "FindUserByID", err)
			_, err = tx.FindUserByUsername("nobody_x")
			wantNotFound(t, "FindUserByUsername", err)
			_, err = tx.FindUserByUsername("")
			wantNotFound(t, "FindUserByUsername empty", err)
			_, err = tx.FindUserByMemo("AP2")
			wantNotFound(t, "FindUserByMemo", err)
			_, err = tx.FindUserByMemo("STARS-X") // an order's memo
			wantNotFound(t, "FindUserByMemo of order", err)
			_, err = tx.FindUserByMemo("")
			wantNotFound(t, "FindUserByMemo empty", err)
			for _, memo := range []string{"AP2", ""} {
				if taken, err := tx.MemoTaken(memo); err != nil || taken {
					t.Errorf("MemoTaken(%q) = %v, %v", memo, taken, err)
				}
			}
			return nil
		})
	})

	t.Run("InvalidID", func(t *testing.T) {
		db := storetest.Open(t)
		err := db.Update(t.Context(), func(tx shop.Tx) error { return tx.PutUser(newUser(0, "", "")) })
		if err == nil {
			t.Fatal("PutUser with id 0: no error")
		}
	})

	t.Run("ForEachUser", func(t *testing.T) {
		db := storetest.Open(t)
		update(t, db, func(tx shop.Tx) error {
			for _, id := range []int64{30, 1, 200, 7} {
				if err := tx.PutUser(newUser(id, "", "")); err != nil {
					return err
				}
			}
			return nil
		})
		var ids []int64
		view(t, db, func(tx shop.Tx) error {
			return tx.ForEachUser(func(u *shop.User) error { ids = append(ids, u.ID); return nil })
		})
		if want := []int64{1, 7, 30, 200}; !slices.Equal(ids, want) {
			t.Errorf("ForEachUser ids = %v, want %v", ids, want)
		}

		errStop := errors.New("stop")
		ids = nil
		err := db.View(t.Context(), func(tx shop.Tx) error {
			return tx.ForEachUser(func(u *shop.User) error {
				ids = append(ids, u.ID)
				if len(ids) == 2 {
					return errStop
				}
				return nil
			})
		})
		if err != errStop || len(ids) != 2 {
			t.Errorf("ForEachUser stop: err %v after %v", err, ids)
		}

		// fn may write users while the walk goes on.
		update(t, db, func(tx shop.Tx) error {
			return tx.ForEachUser(func(u *shop.User) error {
				u.Balance = 0
				u.Language = "ru"
				return tx.PutUser(u)
			})
		})
		view(t, db, func(tx shop.Tx) error {
			return tx.ForEachUser(func(u *shop.User) error {
				if u.Language != "ru" {
					t.Errorf("user %d not updated", u.ID)
				}
				return nil
			})
		})
	})
}

func TestTx_PutUser_Indexes(t *testing.T) {
	t.Run("UsernameChange", func(t *testing.T) {
		db := storetest.Open(t)
		u := newUser(1, "alice_a", "AP1")
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(u) })
		u.Username = "Alicia_A"
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(u) })
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindUserByUsername("alice_a")
			wantNotFound(t, "old username", err)
			if got, err := tx.FindUserByUsername("alicia_a"); err != nil || got.ID != 1 {
				t.Errorf("new username: %v, %v", got, err)
			}
			return nil
		})
		u.Username = ""
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(u) })
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindUserByUsername("alicia_a")
			wantNotFound(t, "removed username", err)
			return nil
		})
		check(t, db)
	})

	t.Run("UsernameTakenOver", func(t *testing.T) {
		db := storetest.Open(t)
		a, b := newUser(1, "alice_a", ""), newUser(2, "ALICE_A", "")
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(a) })
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(b) })
		findAlice := func() int64 {
			var id int64
			view(t, db, func(tx shop.Tx) error {
				u, err := tx.FindUserByUsername("@Alice_A")
				if err != nil {
					return err
				}
				id = u.ID
				return nil
			})
			return id
		}
		if id := findAlice(); id != 2 {
			t.Errorf("after B took the name: user %d, want 2", id)
		}
		check(t, db) // A still has the name in its record: not a problem

		// A renames: the index, which names B, stays.
		a.Username = "alice_new"
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(a) })
		if id := findAlice(); id != 2 {
			t.Errorf("after A renamed: user %d, want 2", id)
		}
		// The most recently Put user with the name wins.
		a.Username = "alice_a"
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(a) })
		if id := findAlice(); id != 1 {
			t.Errorf("after A took it back: user %d, want 1", id)
		}
		check(t, db)
	})

	t.Run("MemoChange", func(t *testing.T) {
		db := storetest.Open(t)
		u := newUser(1, "", "AP1")
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(u) })
		u.Memo = "AP1B"
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(u) })
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindUserByMemo("AP1")
			wantNotFound(t, "old memo", err)
			if taken, _ := tx.MemoTaken("AP1"); taken {
				t.Error("old memo still taken")
			}
			if got, err := tx.FindUserByMemo("ap1b"); err != nil || got.ID != 1 {
				t.Errorf("new memo: %v, %v", got, err)
			}
			return nil
		})
		check(t, db)
	})

	t.Run("MemoCollision", func(t *testing.T) {
		db := storetest.Open(t)
		update(t, db, func(tx shop.Tx) error {
			if err := tx.PutUser(newUser(1, "", "AP1")); err != nil {
				return err
			}
			putOrder(t, tx, &shop.Order{UserID: 1, Status: shop.StatusPendingPayment, PaymentMemo: "STARS-1"})
			return nil
		})
		for _, memo := range []string{"ap1", "stars-1"} {
			err := db.Update(t.Context(), func(tx shop.Tx) error { return tx.PutUser(newUser(2, "", memo)) })
			if err == nil {
				t.Errorf("PutUser with taken memo %q: no error", memo)
			}
		}
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindUserByID(2)
			wantNotFound(t, "user with colliding memo", err)
			return nil
		})
		// Putting the owner again with its own memo is fine.
		update(t, db, func(tx shop.Tx) error { return tx.PutUser(newUser(1, "", "Ap1")) })
		check(t, db)
	})
}

func TestTx_APIKey(t *testing.T) {
	db := storetest.Open(t)
	k1 := &shop.APIKey{Hash: shop.HashKey("osk_one"), Prefix: shop.KeyPrefixOrders, Hint: "osk_one…", UserID: 1, CreatedAt: t0.Add(2 * time.Hour)}
	k2 := &shop.APIKey{Hash: shop.HashKey("sk_two"), Prefix: shop.KeyPrefixSimple, Hint: "sk_two…", UserID: 1, CreatedAt: t0}
	k3 := &shop.APIKey{Hash: shop.HashKey("osk_three"), Prefix: shop.KeyPrefixOrders, UserID: 2, CreatedAt: t0.Add(time.Hour)}
	update(t, db, func(tx shop.Tx) error {
		for _, u := range []*shop.User{newUser(1, "", ""), newUser(2, "", "")} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		for _, k := range []*shop.APIKey{k1, k2, k3} {
			if err := tx.PutAPIKey(k); err != nil {
				return err
			}
		}
		return nil
	})

	t.Run("OK", func(t *testing.T) {
		view(t, db, func(tx shop.Tx) error {
			got, err := tx.FindAPIKeyByHash(k1.Hash)
			if err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(got, k1) {
				t.Errorf("FindAPIKeyByHash = %+v, want %+v", got, k1)
			}
			keys, err := tx.FindAPIKeysByUser(1)
			if err != nil {
				t.Fatal(err)
			} else if len(keys) != 2 || keys[0].Hash != k2.Hash || keys[1].Hash != k1.Hash {
				t.Errorf("FindAPIKeysByUser(1) = %v, want k2, k1 (oldest first)", keys)
			}
			return nil
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		view(t, db, func(tx shop.Tx) error {
			_, err := tx.FindAPIKeyByHash(shop.HashKey("osk_missing"))
			wantNotFound(t, "FindAPIKeyByHash", err)
			keys, err := tx.FindAPIKeysByUser(3)
			if err != nil || len(keys) != 0 {
				t.Errorf("FindAPIKeysByUser(3) = %v, %v; want none, nil", keys, err)
			}
			return nil
		})
	})

	t.Run("RevokeAndMove", func(t *testing.T) {
		k1.RevokedAt = t0.Add(3 * time.Hour)
		k1.UserID = 2
		update(t, db, func(tx shop.Tx) error { return tx.PutAPIKey(k1) })
		view(t, db, func(tx shop.Tx) error {
			got, err := tx.FindAPIKeyByHash(k1.Hash)
			if err != nil || got.Active() || got.UserID != 2 {
				t.Errorf("revoked key = %+v, %v", got, err)
			}
			if keys, _ := tx.FindAPIKeysByUser(1); len(keys) != 1 {
				t.Errorf("user 1 has %d keys, want 1", len(keys))
			}
			if keys, _ := tx.FindAPIKeysByUser(2); len(keys) != 2 {
				t.Errorf("user 2 has %d keys, want 2", len(keys))
			}
			return nil
		})
		check(t, db)
	})
}
