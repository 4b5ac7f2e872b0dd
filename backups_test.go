package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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
