package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starsbot/pgstore/pgtest"
)

// pgURL is a new schema's URL with a password added (the CI server trusts
// local connections, so any password is accepted): the tests check that
// it shows nowhere.
func pgURL(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "pw-never-shown")
	return u.String()
}

// TestService_Postgres: the whole service (sandbox) on DATABASE_URL:
// orders through the API are delivered, a restarted service on the same
// database answers the same, nothing is written to DATA_DIR's bbolt file,
// and the password is in no log line.
func TestService_Postgres(t *testing.T) {
	dir, db := t.TempDir(), pgURL(t)
	s := startService(t, dir, map[string]string{"DATABASE_URL": db})
	s.fill()
	want := s.state()
	if !strings.Contains(want, `"status":"completed"`) {
		t.Fatalf("state: %s", want)
	}
	s.stop()
	if _, err := os.Stat(filepath.Join(dir, "starsbot.db")); err == nil {
		t.Error("a bbolt file was created in DATA_DIR with DATABASE_URL")
	}
	if log := s.stderr.String(); strings.Contains(log, "pw-never-shown") {
		t.Errorf("the log shows the database password:\n%s", log)
	} else if !strings.Contains(log, "PostgreSQL") {
		t.Errorf("the log does not say the store is PostgreSQL:\n%s", log)
	}

	again := startService(t, dir, map[string]string{"DATABASE_URL": db})
	if got := again.state(); got != want {
		t.Errorf("after a restart:\n got %s\nwant %s", got, want)
	}
}

// TestCommands_Postgres: the bbolt commands say plainly that they are not
// available with DATABASE_URL.
func TestCommands_Postgres(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"DATA_DIR": dir, "DATABASE_URL": "postgres://u:pw-never-shown@127.0.0.1:1/db"})
	for _, args := range [][]string{{"backup", filepath.Join(dir, "b.db")}, {"restore", filepath.Join(dir, "b.db")}, {"check"}} {
		var out syncBuffer
		err := run(context.Background(), args, env, &out, &out)
		if err == nil || !strings.Contains(err.Error(), args[0]+": not available with DATABASE_URL") || strings.Contains(err.Error(), "pw-never-shown") {
			t.Errorf("%q = %v", args, err)
		}
	}
}
