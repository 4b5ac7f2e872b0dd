package main

import (
	"context"
	"strings"
	"testing"
)

// TestMigrate: a sandbox service's bbolt database (a deposit, orders
// delivered, API keys, the simulated chain) copied to PostgreSQL answers
// the same through the API; migrate refuses a running service and a
// database that is not empty.
func TestMigrate(t *testing.T) {
	dir, db := t.TempDir(), pgURL(t)
	s := startService(t, dir)
	s.fill()
	want := s.state()

	if out, err := command(dir, "migrate", "--to", db); err == nil || !strings.Contains(err.Error(), "stop the service first") {
		t.Errorf("migrate of a running service = %v\n%s", err, out)
	}
	s.stop()

	out, err := command(dir, "migrate", "--to", db)
	if err != nil {
		t.Fatalf("migrate = %v\n%s", err, out)
	}
	if !strings.Contains(out, "counts, balances and ledgers match") || strings.Contains(out, "pw-never-shown") {
		t.Errorf("migrate said:\n%s", out)
	}
	t.Log(out)

	pg := startService(t, dir, map[string]string{"DATABASE_URL": db})
	if got := pg.state(); got != want {
		t.Errorf("on PostgreSQL:\n got %s\nwant %s", got, want)
	}
	// New ids continue after the copied ones.
	pg.fill()
	pg.stop()

	out, err = command(dir, "migrate", "--to", db)
	if err == nil || !strings.Contains(err.Error(), "not empty") || strings.Contains(err.Error(), "pw-never-shown") {
		t.Errorf("migrate into a non-empty database = %v\n%s", err, out)
	}
	if out, err := command(dir, "migrate"); err == nil || !strings.Contains(out, "usage: starsbot migrate") {
		t.Errorf("migrate without --to = %v\n%s", err, out)
	}
	_ = context.Background
}
