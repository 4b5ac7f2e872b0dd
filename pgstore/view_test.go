package pgstore_test

import (
	"testing"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// rename gives user id the username name, in a transaction of its own.
func rename(t *testing.T, db *pgstore.DB, id int64, name string) {
	t.Helper()
	err := db.Update(ctx, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(id)
		if err != nil {
			return err
		}
		u.Username = name
		return tx.PutUser(u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestView_SecondStatementSameSnapshot: a View whose first statement ran
// outside a transaction (conn.go, lazy) goes on in one when it reads
// again, once, and its reads agree; the call site is then known to read
// more than once.
func TestView_SecondStatementSameSnapshot(t *testing.T) {
	db := pgtest.Open(t)
	putUsers(t, db, 2)
	rename(t, db, 1, "ann")
	rename(t, db, 2, "bob")
	read := func() (runs int, names []string) {
		err := db.View(ctx, func(tx shop.Tx) error {
			runs++
			names = names[:0]
			for _, id := range []int64{1, 2} {
				u, err := tx.FindUserByID(id)
				if err != nil {
					return err
				}
				names = append(names, u.Username)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return runs, names
	}
	runs, names := read()
	if runs != 1 || len(names) != 2 || names[0] != "ann" || names[1] != "bob" {
		t.Fatalf("first view: %d runs, %v; want 1 run, [ann bob]", runs, names)
	}
	// Its code is now known to read more than once (the compiler may make
	// several copies of one function literal, each known on its own).
	known := db.MultiViews()
	if known == 0 {
		t.Error("a view of two reads is not known to read more than once")
	}
	if runs, names = read(); runs != 1 || names[1] != "bob" {
		t.Fatalf("second view: %d runs, %v", runs, names)
	}
	known = db.MultiViews()
	// A View of one statement stays outside a transaction: not recorded.
	if err := db.View(ctx, func(tx shop.Tx) error { _, err := tx.FindUserByID(1); return err }); err != nil {
		t.Fatal(err)
	}
	if n := db.MultiViews(); n != known {
		t.Errorf("a one-statement view was recorded as reading more than once (%d sites, %d before)", n, known)
	}
}

// TestView_FirstRowsChangedRunsAgain: a commit changes what a lazy View's
// first statement read before its second statement: the transaction that
// begins then sees other rows, so fn is told (every statement fails) and
// runs again, in a transaction, and sees one state of the data.
func TestView_FirstRowsChangedRunsAgain(t *testing.T) {
	db := pgtest.Open(t)
	putUsers(t, db, 2)
	rename(t, db, 1, "ann")
	var runs int
	var first, second string
	var secondErr error
	err := db.View(ctx, func(tx shop.Tx) error {
		runs++
		u, err := tx.FindUserByID(1)
		if err != nil {
			return err
		}
		first = u.Username
		if runs == 1 {
			rename(t, db, 1, "ann_renamed") // commits between the two reads
		}
		u, secondErr = tx.FindUserByID(1)
		if secondErr != nil {
			return secondErr
		}
		second = u.Username
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 {
		t.Fatalf("fn ran %d times, want 2 (once more after the commit between its reads)", runs)
	}
	if first != "ann_renamed" || second != "ann_renamed" {
		t.Errorf("the run that counted read %q then %q, want ann_renamed twice", first, second)
	}
}

// TestView_FirstStatementNoRows: a lazy View's first statement that finds
// nothing reports not found, and a second read still agrees with it.
func TestView_FirstStatementNoRows(t *testing.T) {
	db := pgtest.Open(t)
	putUsers(t, db, 1)
	runs := 0
	err := db.View(ctx, func(tx shop.Tx) error {
		runs++
		if _, err := tx.FindUserByID(99); shop.ErrorCode(err) != shop.ENOTFOUND {
			t.Errorf("missing user: %v, want NOT_FOUND", err)
		}
		_, err := tx.FindUserByID(1)
		return err
	})
	if err != nil || runs != 1 {
		t.Fatalf("view: %v after %d runs, want nil after 1", err, runs)
	}
}
