package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

var ctx = context.Background()

// TestUpdate_RerunsOnSerializationFailure: a concurrent commit that
// conflicts with fn's reads makes Update run fn again, and only the second
// run's writes are committed.
func TestUpdate_RerunsOnSerializationFailure(t *testing.T) {
	db := pgtest.Open(t)
	if err := db.Update(ctx, func(tx shop.Tx) error { return tx.PutSetting("n", []byte("0")) }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := db.Update(ctx, func(tx shop.Tx) error {
		runs++
		v, err := tx.FindSetting("n")
		if err != nil {
			return err
		}
		if runs == 1 {
			// Another writer commits between fn's read and its write.
			if _, err := db.Pool().Exec(ctx, `UPDATE settings SET value = '5' WHERE key = 'n'`); err != nil {
				return err
			}
		}
		return tx.PutSetting("n", append(v, '+'))
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Errorf("fn ran %d times, want 2", runs)
	}
	if n := db.Retries(); n != 1 {
		t.Errorf("Retries() = %d, want 1", n)
	}
	var v []byte
	_ = db.View(ctx, func(tx shop.Tx) (err error) { v, err = tx.FindSetting("n"); return err })
	if string(v) != "5+" {
		t.Errorf("value %q, want the second run's write on the other writer's, 5+", v)
	}
}

// TestUpdate_CanceledContext: Update with a canceled context fails.
func TestUpdate_CanceledContext(t *testing.T) {
	db := pgtest.Open(t)
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.Update(c, func(tx shop.Tx) error { return nil }); err == nil {
		t.Error("Update with a canceled context succeeded")
	}
}

// TestCheck_FindsViolations breaks each invariant behind the store's back
// and expects Check to name it.
func TestCheck_FindsViolations(t *testing.T) {
	db := pgtest.Open(t)
	err := db.Update(ctx, func(tx shop.Tx) error {
		u := &shop.User{ID: 1, Memo: "AP1", Username: "ann", Balance: shop.TON, CreatedAt: time.Now()}
		if err := tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Type: shop.LedgerDeposit, Amount: shop.TON, BalanceAfter: shop.TON, TxHash: "aa"}); err != nil {
			return err
		}
		if err := tx.PutUser(u); err != nil {
			return err
		}
		return tx.PutDeposit(&shop.Deposit{TxHash: "aa", Amount: shop.TON, Status: shop.DepositCredited, UserID: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Check(ctx); err != nil {
		t.Fatalf("check of a sound database: %v", err)
	}
	for _, q := range []string{
		`UPDATE users SET balance = balance + 1`,
		`INSERT INTO ledger (id, user_id, amount, balance_after, tx_hash, data) VALUES (100, 2, 5, 5, '', '{}')`,
		`INSERT INTO orders (id, user_id, status, type, price_ton, fee_ton, stars, months, client_reference, data)
			VALUES (7, 3, 'paid', 'stars', 0, 0, 0, 0, '', '{"Status":"paid","UserID":3,"PriceTON":0}')`,
		`UPDATE deposits SET status = 'ignored'`,
		`DELETE FROM memos`,
		`UPDATE usernames SET name = 'bob'`,
		`INSERT INTO queue (order_id, enqueued_ns) VALUES (99, 0)`,
		`UPDATE order_totals SET count = count + 1 WHERE user_id = 3`,
	} {
		if _, err := db.Pool().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	err = db.Check(ctx)
	if err == nil {
		t.Fatal("Check found nothing")
	}
	for _, want := range []string{
		"user 1: balance 1000000001, sum of ledger entries 1000000000",
		"ledger entry 100: user 2 missing",
		"order 7: user 3 missing",
		"deposit 1: ignored, but names user 1",
		"deposit 1: ignored, but ledger entry 1 carries its tx hash",
		`user 1: memo "AP1" is not indexed to it`,
		`usernames "bob": user 1 has username "ann"`,
		"queue: order 99 missing",
		"user 1: record balance",
		"order totals of user 3, paid: 1 orders counted, 2 stored",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check did not report %q; it said:\n%v", want, err)
		}
	}
	// Leave a sound database for pgtest's own check at cleanup.
	for _, q := range []string{`DELETE FROM queue`, `DELETE FROM orders`, `DELETE FROM order_totals`, `DELETE FROM ledger WHERE id = 100`,
		`UPDATE users SET balance = balance - 1`, `UPDATE deposits SET status = 'credited'`,
		`UPDATE usernames SET name = 'ann'`, `INSERT INTO memos (memo, user_id) VALUES ('AP1', 1)`} {
		if _, err := db.Pool().Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestOpen_Unreachable: no server is an error that names the host and
// never the password.
func TestOpen_Unreachable(t *testing.T) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := pgstore.Open(c, "postgres://admin:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, err := pgstore.Open(c, "postgres://admin:s3cret-pw@[bad"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("invalid URL: %v", err)
	}
}

// TestOpen_Twice: a second Open of a migrated database applies nothing and
// keeps the data.
func TestOpen_Twice(t *testing.T) {
	u := pgtest.NewSchema(t)
	db, err := pgstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx shop.Tx) error { return tx.PutSetting("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	db, err = pgstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var v []byte
	if err := db.View(ctx, func(tx shop.Tx) (err error) { v, err = tx.FindSetting("k"); return err }); err != nil || string(v) != "v" {
		t.Errorf("setting after reopening = %q, %v", v, err)
	}
}

// TestEncode_NegativeMoney: a record with a negative amount outside the
// ledger (whose JSON form could not be read back) is refused at write, and
// the transaction writes nothing; a debit in the ledger is stored.
func TestEncode_NegativeMoney(t *testing.T) {
	db := pgtest.Open(t)
	err := db.Update(ctx, func(tx shop.Tx) error {
		return tx.PutDeposit(&shop.Deposit{TxHash: "aa", Amount: -1, Status: shop.DepositUnmatched})
	})
	if err == nil || !strings.Contains(err.Error(), "negative amount at .Amount") {
		t.Errorf("negative deposit: %v", err)
	}
	err = db.Update(ctx, func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1}); err != nil {
			return err
		}
		if err := tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Amount: shop.TON, BalanceAfter: shop.TON}); err != nil {
			return err
		}
		if err := tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Amount: -shop.TON, BalanceAfter: 0}); err != nil {
			return err
		}
		es, _, err := tx.FindLedger(shop.LedgerFilter{UserID: 1})
		if err == nil && (len(es) != 2 || es[0].Amount != -shop.TON) {
			t.Errorf("ledger = %+v", es)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestUpdate_QueuedWriteFails: a blind write is sent with the next
// statement or with COMMIT (conn.go), so its Tx method returns nil; when
// it fails there, the statement it went with returns its error, and
// Update rolls back and returns it even if fn swallowed it or returned
// nil: nothing fn wrote is committed.
func TestUpdate_QueuedWriteFails(t *testing.T) {
	db := pgtest.Open(t)
	if _, err := db.Pool().Exec(ctx, `ALTER TABLE queue ADD CONSTRAINT small CHECK (order_id < 100)`); err != nil {
		t.Fatal(err)
	}
	for _, swallow := range []bool{false, true} {
		err := db.Update(ctx, func(tx shop.Tx) error {
			if err := tx.PutSetting("k", []byte("v")); err != nil {
				return err
			}
			if err := tx.Enqueue(500); err != nil {
				t.Errorf("Enqueue returned %v before the write was sent", err)
			}
			if swallow {
				// The read goes with the queued writes and reports the
				// failed one; fn ignores it.
				if _, err := tx.FindSetting("k"); err == nil || !strings.Contains(err.Error(), "enqueue") {
					t.Errorf("the read after a failed write: %v, want the enqueue's error", err)
				}
			}
			return nil
		})
		if err == nil || !strings.Contains(err.Error(), "enqueue") || !strings.Contains(err.Error(), "small") {
			t.Errorf("swallow=%v: Update = %v, want the enqueue's failure", swallow, err)
		}
		var v []byte
		if err := db.View(ctx, func(tx shop.Tx) (err error) { v, err = tx.FindSetting("k"); return err }); err != nil {
			t.Fatal(err)
		}
		if v != nil {
			t.Errorf("swallow=%v: setting %q committed beside a failed write", swallow, v)
		}
	}
	// The connections are clean again: a good Update commits.
	for range 8 {
		if err := db.Update(ctx, func(tx shop.Tx) error { return tx.Enqueue(7) }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool().Exec(ctx, `DELETE FROM queue`); err != nil {
		t.Fatal(err)
	}
}

// TestUpdate_NoStatementsSendsNothing: an Update or View whose fn runs no
// statement commits without error (BEGIN is only ever sent with a
// statement).
func TestUpdate_NoStatementsSendsNothing(t *testing.T) {
	db := pgtest.Open(t)
	if err := db.Update(ctx, func(shop.Tx) error { return nil }); err != nil {
		t.Error(err)
	}
	if err := db.View(ctx, func(shop.Tx) error { return nil }); err != nil {
		t.Error(err)
	}
}

// TestFindAPIKeyByHash_Owner: in a View the key's owner comes with the
// key (tx.go); FindUserByID then returns a copy of it each time, and a key
// whose owner is missing still finds no user.
func TestFindAPIKeyByHash_Owner(t *testing.T) {
	db := pgtest.Open(t)
	now := time.Now().UTC()
	err := db.Update(ctx, func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1, Username: "ann", Memo: "AP1", Balance: 0, CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.PutAPIKey(&shop.APIKey{Hash: "aa11", UserID: 1, CreatedAt: now}); err != nil {
			return err
		}
		return tx.PutAPIKey(&shop.APIKey{Hash: "bb22", UserID: 2, CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(tx shop.Tx) error {
		k, err := tx.FindAPIKeyByHash("AA11")
		if err != nil || k.UserID != 1 {
			t.Fatalf("FindAPIKeyByHash = %+v, %v", k, err)
		}
		u, err := tx.FindUserByID(1)
		if err != nil || u.Username != "ann" {
			t.Fatalf("FindUserByID(1) = %+v, %v", u, err)
		}
		u.Username = "changed"
		if u2, err := tx.FindUserByID(1); err != nil || u2.Username != "ann" {
			t.Errorf("FindUserByID(1) again = %+v, %v: not a fresh copy", u2, err)
		}
		if _, err := tx.FindAPIKeyByHash("bb22"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.FindUserByID(2); shop.ErrorCode(err) != shop.ENOTFOUND {
			t.Errorf("FindUserByID(2), the owner of a key but no user: %v, want ENOTFOUND", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool().Exec(ctx, `DELETE FROM api_keys WHERE hash = 'bb22'`); err != nil {
		t.Fatal(err)
	}
}

// TestPutUser_MemoClaimAfterRead: PutUser skips the memo check only for
// the memo the transaction read for that user; a new memo owned by
// someone else still fails at once.
func TestPutUser_MemoClaimAfterRead(t *testing.T) {
	db := pgtest.Open(t)
	now := time.Now().UTC()
	err := db.Update(ctx, func(tx shop.Tx) error {
		if err := tx.PutUser(&shop.User{ID: 1, Memo: "AP1", CreatedAt: now}); err != nil {
			return err
		}
		return tx.PutUser(&shop.User{ID: 2, Memo: "AP2", CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(1)
		if err != nil {
			return err
		}
		u.Referrals = 7
		if err := tx.PutUser(u); err != nil { // the same memo: no check
			return err
		}
		u.Memo = "ap2"
		if err := tx.PutUser(u); err == nil {
			t.Error("PutUser with user 2's memo succeeded")
		}
		u.Memo = "AP1"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var u *shop.User
	if err := db.View(ctx, func(tx shop.Tx) (err error) { u, err = tx.FindUserByMemo("AP1"); return err }); err != nil {
		t.Fatal(err)
	}
	if u.ID != 1 || u.Referrals != 7 {
		t.Errorf("user by memo AP1 = %+v, want user 1 with 7 referrals", u)
	}
}
