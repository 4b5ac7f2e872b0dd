// Package pgtest opens throwaway PostgreSQL stores for tests: each in a
// schema of its own on the server that TEST_DATABASE_URL names (default:
// the CI machines' server, DefaultURL), checked and dropped when the test
// ends. An unreachable server fails the test: CI must never pass by
// skipping the PostgreSQL suite.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/pgstore"
)

// DefaultURL is the server of this project's CI machines: local, trust
// authentication, database test.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns TEST_DATABASE_URL, or DefaultURL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewSchema creates an empty schema t_<random> and returns a URL whose
// connections use it (search_path), dropping it (CASCADE) when the test
// ends.
func NewSchema(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := URL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("PostgreSQL at TEST_DATABASE_URL (default %s) is unreachable: %v", DefaultURL, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens a store in a new schema. When the test ends it runs
// db.Check, reporting any problem with tb.Errorf, closes the store and
// drops the schema.
func Open(tb testing.TB) *pgstore.DB {
	tb.Helper()
	u := NewSchema(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgstore.Open(ctx, u)
	if err != nil {
		tb.Fatal(err)
	}
	CheckAndClose(tb, db)
	return db
}

// CheckAndClose runs db.Check when the test ends, reporting any problem
// with tb.Errorf, and closes db.
func CheckAndClose(tb testing.TB, db *pgstore.DB) {
	tb.Cleanup(func() {
		if err := db.Check(context.Background()); err != nil {
			tb.Errorf("store check after test: %v", err)
		}
		_ = db.Close()
	})
}
