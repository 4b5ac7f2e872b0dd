// Package storetest opens throwaway stores for tests of packages that use
// package store.
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"starsbot/store"
)

// Open opens a new, empty database in tb.TempDir(). When the test ends it
// runs db.Check, reporting any problem with tb.Errorf, and closes the
// database.
func Open(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "starsbot.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Check(context.Background()); err != nil {
			tb.Errorf("store check after test: %v", err)
		}
		if err := db.Close(); err != nil {
			tb.Errorf("close store: %v", err)
		}
	})
	return db
}
