package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store"
)

// service is a sandbox starsbot run by run in a goroutine, with its
// partner's keys.
type service struct {
	t       *testing.T
	base    string
	osk, sk string
	memo    string
	stderr  *syncBuffer
	done    chan error
	cancel  context.CancelFunc
}

func startService(t *testing.T, dir string, extra ...map[string]string) *service {
	t.Helper()
	vars := map[string]string{"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0"}
	for _, m := range extra {
		maps.Copy(vars, m)
	}
	env := envOf(vars)
	var stdout syncBuffer
	s := &service{t: t, stderr: &syncBuffer{}, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- run(ctx, nil, env, &stdout, s.stderr) }()
	t.Cleanup(func() { s.stop() })
	s.base = waitListening(t, s.stderr, s.done)
	s.osk = regexp.MustCompile(`osk_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	s.sk = regexp.MustCompile(`\bsk_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	s.memo = regexp.MustCompile(`AP[0-9]{9}`).FindString(stdout.String())
	if s.osk == "" || s.sk == "" || s.memo == "" {
		t.Fatalf("no keys or memo printed:\n%s", stdout.String())
	}
	return s
}

// stop stops the service once and fails the test if run failed.
func (s *service) stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	if err := <-s.done; err != nil {
		s.t.Errorf("run = %v\n%s", err, s.stderr.String())
	}
}

func (s *service) call(method, path, key, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// fill gives the partner a balance and two completed orders.
func (s *service) fill() {
	s.t.Helper()
	if code, body := s.call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+s.memo+`","amount_ton":"10"}`); code != 200 {
		s.t.Fatalf("deposit: %d %s", code, body)
	}
	if s.stderr.wait(s.t, regexp.MustCompile(`msg="deposit booked" .*amount=10 status=credited`), 10*time.Second, s.done) == nil {
		s.t.Fatalf("deposit not booked:\n%s", s.stderr.String())
	}
	for _, q := range []int{100, 250} {
		code, body := s.call("POST", "/api/v1/orders/stars", s.osk, `{"recipient_username":"pandus","quantity":`+strconv.Itoa(q)+`,"payment_method":"balance"}`)
		if code != 200 || !strings.Contains(body, `"status":"paid"`) {
			s.t.Fatalf("order: %d %s", code, body)
		}
		id := regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(body)[1]
		if s.stderr.wait(s.t, regexp.MustCompile(`msg="order delivered" component=fulfillment order_id=`+id+` `), 10*time.Second, s.done) == nil {
			s.t.Fatalf("order %s not delivered:\n%s", id, s.stderr.String())
		}
	}
}

// state is what the partner sees of its money and orders.
func (s *service) state() string {
	s.t.Helper()
	var out []string
	for _, p := range []struct{ path, key string }{{"/api/v1/balance", s.sk}, {"/api/v1/orders", s.osk}} {
		code, body := s.call("GET", p.path, p.key, "")
		if code != 200 {
			s.t.Fatalf("GET %s: %d %s", p.path, code, body)
		}
		out = append(out, body)
	}
	return strings.Join(out, "")
}

// command runs `starsbot args...` with DATA_DIR=dir and returns its output
// and error.
func command(dir string, args ...string) (string, error) {
	var out syncBuffer
	err := run(context.Background(), args, envOf(map[string]string{"DATA_DIR": dir}), &out, &out)
	return out.String(), err
}

// TestBackup_RunningService_RestoreDrill: a backup of a running service
// (through its socket), restored into a fresh data directory, checked, and
// served again: the same balance and orders.
func TestBackup_RunningService_RestoreDrill(t *testing.T) {
	src := t.TempDir()
	s := startService(t, src)
	s.fill()
	want := s.state()
	if !strings.Contains(want, `"status":"completed"`) {
		t.Fatalf("state before the backup: %s", want)
	}

	file := filepath.Join(t.TempDir(), "b.db")
	out, err := command(src, "backup", file)
	if err != nil || !strings.Contains(out, "from the running service") {
		t.Fatalf("backup = %v\n%s", err, out)
	}
	if !strings.Contains(s.stderr.String(), `msg="online backup sent"`) {
		t.Errorf("the service did not log the backup:\n%s", s.stderr.String())
	}
	// A second backup to the same name is refused, the first one intact.
	if out, err := command(src, "backup", file); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file = %v\n%s", err, out)
	}
	// The service still works after the backup.
	if got := s.state(); got != want {
		t.Errorf("the service changed: %s", got)
	}
	s.stop()
	for _, name := range []string{adminSocketName, adminTokenName} {
		if _, err := os.Stat(filepath.Join(src, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after the stop: %v", name, err)
		}
	}

	dst := t.TempDir()
	if out, err := command(dst, "restore", file); err != nil || !strings.Contains(out, "every invariant holds") {
		t.Fatalf("restore = %v\n%s", err, out)
	}
	if out, err := command(dst, "check"); err != nil || !strings.Contains(out, "ok, every invariant holds") {
		t.Fatalf("check = %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 1 {
		t.Errorf("restore left files behind: %v", entries)
	}
	r := startService(t, dst) // the sandbox partner again, with new keys
	if got := r.state(); got != want {
		t.Errorf("restored state:\n%s\nwant:\n%s", got, want)
	}
}

// TestBackup_StoppedService: with no service running, backup reads the file
// under bbolt's shared lock.
func TestBackup_StoppedService(t *testing.T) {
	src := t.TempDir()
	s := startService(t, src)
	s.stop()
	file := filepath.Join(t.TempDir(), "b.db")
	if out, err := command(src, "backup", file); err != nil || !strings.Contains(out, "from the stopped service's file") {
		t.Fatalf("backup = %v\n%s", err, out)
	}
	if out, err := command(src, "check", file); err != nil {
		t.Fatalf("check = %v\n%s", err, out)
	}
}

// TestBackup_WrongToken: the socket answers only with the service's token.
func TestBackup_WrongToken(t *testing.T) {
	src := t.TempDir()
	s := startService(t, src)
	if err := os.WriteFile(filepath.Join(src, adminTokenName), []byte("guess\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := command(src, "backup", filepath.Join(t.TempDir(), "b.db"))
	if err == nil || !strings.Contains(err.Error(), "wrong token") {
		t.Fatalf("backup with a wrong token = %v\n%s", err, out)
	}
	if !strings.Contains(s.stderr.String(), "wrong token refused") {
		t.Errorf("the refusal is not logged:\n%s", s.stderr.String())
	}
}

// TestRestore_Refuses: never over a live database, over an existing one
// only with -force, never from a file that fails the check.
func TestRestore_Refuses(t *testing.T) {
	src := t.TempDir()
	s := startService(t, src)
	file := filepath.Join(t.TempDir(), "b.db")
	if out, err := command(src, "backup", file); err != nil {
		t.Fatalf("backup = %v\n%s", err, out)
	}
	before, _ := os.Stat(filepath.Join(src, "starsbot.db"))
	for _, args := range [][]string{{"restore", file}, {"restore", "-force", file}} {
		out, err := command(src, args...)
		if err == nil || !strings.Contains(err.Error(), "in use by a running service") {
			t.Errorf("%q on a live database = %v\n%s", args, err, out)
		}
	}
	s.stop()
	// The service itself writes to it meanwhile: the file must be the
	// same one, not replaced.
	if after, _ := os.Stat(filepath.Join(src, "starsbot.db")); !os.SameFile(before, after) {
		t.Errorf("the live database was replaced")
	}
	if out, err := command(src, "restore", file); err == nil || !strings.Contains(err.Error(), "exists; restore -force") {
		t.Errorf("restore over a stopped database without -force = %v\n%s", err, out)
	}
	if out, err := command(src, "restore", "-force", file); err != nil {
		t.Errorf("restore -force = %v\n%s", err, out)
	}

	// A damaged backup never replaces anything.
	bad := filepath.Join(t.TempDir(), "bad.db")
	if err := os.WriteFile(bad, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if out, err := command(dst, "restore", bad); err == nil || !strings.Contains(err.Error(), "not replaced") {
		t.Errorf("restore of garbage = %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 0 {
		t.Errorf("a failed restore left files: %v", entries)
	}
}

// TestCheck_Corrupted: a balance that no longer matches its ledger, written
// with bbolt directly, makes check fail with a readable report; a live
// database is refused with advice.
func TestCheck_Corrupted(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	if code, body := s.call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+s.memo+`","amount_ton":"10"}`); code != 200 {
		t.Fatalf("deposit: %d %s", code, body)
	}
	s.stderr.wait(t, regexp.MustCompile(`msg="deposit booked"`), 10*time.Second, s.done)
	if out, err := command(dir, "check"); err == nil || !strings.Contains(err.Error(), "in use by a running service; check a backup") {
		t.Errorf("check of a live database = %v\n%s", err, out)
	}
	s.stop()

	path := filepath.Join(dir, "starsbot.db")
	if out, err := command(dir, "check", path); err != nil {
		t.Fatalf("check before the damage = %v\n%s", err, out)
	}
	// The damage: a balance raised without its ledger entry, written
	// through the store (its records are not JSON since schema 2).
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	err = db.Update(context.Background(), func(tx shop.Tx) error {
		changed = 0
		var rich []*shop.User
		err := tx.ForEachUser(func(u *shop.User) error {
			if u.Balance == 10*shop.TON {
				rich = append(rich, u)
			}
			return nil
		})
		for _, u := range rich {
			u.Balance = 10*shop.TON + shop.TON/2
			changed++
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil || changed != 1 {
		t.Fatalf("damaging the balance: %v, %d users changed", err, changed)
	}

	out, err := command(dir, "check", path)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "violates the store's invariants") {
		t.Fatalf("check of a damaged database = %v; want one line", err)
	}
	if !regexp.MustCompile(`(?m)^check: .*starsbot\.db: \d+ problems:\n  - store check: user \d+: balance 10500000000`).MatchString(out) {
		t.Errorf("report:\n%s", out)
	}
	// A backup of it is refused as a restore source.
	if out, err := command(t.TempDir(), "restore", path); err == nil || !strings.Contains(err.Error(), "fails the invariant check") {
		t.Errorf("restore of a damaged database = %v\n%s", err, out)
	}
}

func TestCommands_Usage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"backup"}, {"restore"}, {"check", "a", "b"}, {"restore", "-nope", "x"}} {
		if out, err := command(dir, args...); err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(out, "usage: starsbot "+args[0]) {
			t.Errorf("%q = %v\n%s", args, err, out)
		}
	}
	if out, err := command(dir, "check", filepath.Join(dir, "none.db")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("check of a missing file = %v\n%s", err, out)
	}
}
