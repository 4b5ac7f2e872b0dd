package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"starsbot/api"
	"starsbot/backup"
)

// TestScheduledBackup_RestoreDrill: a service with BACKUP_INTERVAL writes a
// compressed backup at start and shows its age on /health; the backup
// checks, restores into a fresh data directory and serves the same balance
// and orders. starsbot backup to a .zst name writes the same format. A
// copy with one byte flipped is refused by restore and check, and
// replaces nothing.
func TestScheduledBackup_RestoreDrill(t *testing.T) {
	src := t.TempDir()
	s := startService(t, src)
	s.fill()
	want := s.state()
	s.stop()

	s = startService(t, src, map[string]string{"BACKUP_INTERVAL": "1h", "BACKUP_KEEP": "2"})
	if s.stderr.wait(t, regexp.MustCompile(`msg="scheduled backup written"`), 10*time.Second, s.done) == nil {
		t.Fatalf("no scheduled backup:\n%s", s.stderr.String())
	}
	if code, body := s.call("GET", "/api/v1/health", "", ""); code != 200 || !regexp.MustCompile(`"backup":\{"status":"ok","detail":"last backup \d+s ago, \d+ bytes"\}`).MatchString(body) {
		t.Errorf("health: %d %s", code, body)
	}
	if code, body := s.call("GET", "/metrics", "", ""); code != 200 || !regexp.MustCompile(`(?m)^starsbot_backup_last_timestamp_seconds [1-9]`).MatchString(body) ||
		!regexp.MustCompile(`(?m)^starsbot_backup_failing 0$`).MatchString(body) {
		t.Errorf("metrics: %d\n%s", code, body)
	}
	manual := filepath.Join(t.TempDir(), "manual.db.zst")
	if out, err := command(src, "backup", manual); err != nil || !strings.Contains(out, "from the running service compressed to") {
		t.Errorf("backup to .zst = %v\n%s", err, out)
	}
	s.stop()
	files, _ := filepath.Glob(filepath.Join(src, "backups", "starsbot-*.db.zst"))
	if len(files) != 1 {
		t.Fatalf("backups: %q", files)
	}
	file := files[0]

	for _, f := range []string{file, manual} {
		if out, err := command(t.TempDir(), "check", f); err != nil || !strings.Contains(out, "intact (") || !strings.Contains(out, "ok, every invariant holds") {
			t.Errorf("check %s = %v\n%s", f, err, out)
		}
	}
	dst := t.TempDir()
	if out, err := command(dst, "restore", file); err != nil || !strings.Contains(out, "as its trailer says, every invariant holds") {
		t.Fatalf("restore = %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(dst); len(entries) != 1 {
		t.Errorf("restore left files behind: %v", entries)
	}
	r := startService(t, dst)
	if got := r.state(); got != want {
		t.Errorf("restored state:\n%s\nwant:\n%s", got, want)
	}
	r.stop()

	// One byte flipped in the middle of the compressed data.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x10
	bad := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(bad, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	out, err := command(empty, "restore", bad)
	if err == nil || !strings.Contains(err.Error(), "not replaced") || !strings.Contains(err.Error(), "not an intact starsbot backup") {
		t.Errorf("restore of a corrupted backup = %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("a refused restore left files: %v", entries)
	}
	if out, err := command(dst, "restore", "-force", bad); err == nil || !strings.Contains(err.Error(), "not an intact starsbot backup") {
		t.Errorf("restore -force of a corrupted backup = %v\n%s", err, out)
	}
	if out, err := command(dst, "check"); err != nil {
		t.Errorf("the restored database after a refused restore: %v\n%s", err, out)
	}
	if out, err := command(empty, "check", bad); err == nil || !strings.Contains(err.Error(), "not an intact starsbot backup") {
		t.Errorf("check of a corrupted backup = %v\n%s", err, out)
	}
	t.Log(err)
}

// TestScheduledBackup_S3: the service configured from the environment
// uploads its scheduled backup to S3 (gofakes3 behind httptest), and no
// log line shows the credentials.
func TestScheduledBackup_S3(t *testing.T) {
	be := s3mem.New()
	if err := be.CreateBucket("shop-backups"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	defer srv.Close()
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	src := t.TempDir()
	s := startService(t, src, map[string]string{
		"BACKUP_INTERVAL":             "1h",
		"BACKUP_S3_URL":               "s3://shop-backups/prod?region=us-east-1&endpoint=" + srv.URL,
		"BACKUP_S3_ACCESS_KEY_ID":     "AKIAIOSFODNN7EXAMPLE",
		"BACKUP_S3_SECRET_ACCESS_KEY": secret,
	})
	if s.stderr.wait(t, regexp.MustCompile(`msg="backup uploaded" component=backup to=s3://shop-backups/prod/starsbot-\d{8}-\d{6}\.db\.zst`), 10*time.Second, s.done) == nil {
		t.Fatalf("no upload:\n%s", s.stderr.String())
	}
	s.stop()
	files, _ := filepath.Glob(filepath.Join(src, "backups", "starsbot-*.db.zst"))
	if len(files) != 1 {
		t.Fatalf("local backups: %q", files)
	}
	obj, err := be.GetObject("shop-backups", "prod/"+filepath.Base(files[0]), nil)
	if err != nil {
		t.Fatalf("the object: %v", err)
	}
	got, _ := io.ReadAll(obj.Contents)
	obj.Contents.Close()
	if want, _ := os.ReadFile(files[0]); !bytes.Equal(got, want) {
		t.Errorf("the object (%d bytes) differs from the local backup (%d bytes)", len(got), len(want))
	}
	if log := s.stderr.String(); strings.Contains(log, secret) || strings.Contains(log, "AKIAIOSFODNN7EXAMPLE") {
		t.Errorf("credentials logged:\n%s", log)
	}
}

// TestBackupProbe: /health's backup component, from the scheduler's state:
// disabled, no backup yet, ok with the age, degraded when the newest is
// older than two intervals or the latest attempt failed; never a path.
func TestBackupProbe(t *testing.T) {
	if c := backupProbe(nil, time.Now)(context.Background()); c.Status != api.ComponentDisabled || !strings.Contains(c.Detail, "BACKUP_INTERVAL") {
		t.Errorf("off: %+v", c)
	}
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	fail := false
	s, err := backup.New(backup.Config{
		Snapshot: func(w io.Writer) (int64, error) {
			if fail {
				return 0, errors.New("disk full at " + dir)
			}
			n, err := w.Write([]byte("a database"))
			return int64(n), err
		},
		Dir: dir, Interval: time.Hour, Keep: 3, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	probe := func(at time.Time) api.Component {
		return backupProbe(s, func() time.Time { return at })(context.Background())
	}
	if c := probe(now); c.Status != api.ComponentOK || c.Detail != "no backup yet" {
		t.Errorf("before the first: %+v", c)
	}
	if c := probe(now.Add(2 * time.Hour)); c.Status != api.ComponentDegraded {
		t.Errorf("none for two hours: %+v", c)
	}
	if _, err := s.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := probe(now.Add(90 * time.Minute)); c.Status != api.ComponentOK || !regexp.MustCompile(`^last backup 1h30m0s ago, \d+ bytes$`).MatchString(c.Detail) {
		t.Errorf("after one: %+v", c)
	}
	if c := probe(now.Add(121 * time.Minute)); c.Status != api.ComponentDegraded {
		t.Errorf("two intervals old: %+v", c)
	}
	fail = true
	now = now.Add(time.Hour)
	if _, err := s.RunOnce(context.Background()); err == nil {
		t.Fatal("no error")
	}
	c := probe(now.Add(time.Minute))
	if c.Status != api.ComponentDegraded || !strings.Contains(c.Detail, "the latest attempt failed 1m0s ago") || strings.Contains(c.Detail, dir) {
		t.Errorf("after a failure: %+v", c)
	}
}
