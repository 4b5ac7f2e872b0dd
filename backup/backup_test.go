package backup_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"starsbot/backup"
)

// data is a database stand-in: half random, half repetitive, so that it
// compresses a little.
func data(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b[:n/2]); err != nil {
		t.Fatal(err)
	}
	copy(b[n/2:], bytes.Repeat([]byte("starsbot order "), n/15+1))
	return b
}

func snapshotOf(b []byte) backup.SnapshotFunc {
	return func(w io.Writer) (int64, error) {
		n, err := w.Write(b)
		return int64(n), err
	}
}

func TestCompress_RoundTrip(t *testing.T) {
	want := data(t, 300_000)
	path := filepath.Join(t.TempDir(), "x"+backup.Ext)
	res, err := backup.WriteFile(context.Background(), path, snapshotOf(want))
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if res.Size != int64(len(want)) || res.Compressed != st.Size() || res.Compressed >= res.Size {
		t.Errorf("result %+v, file %d bytes", res, st.Size())
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if ok, err := backup.IsCompressed(path); !ok || err != nil {
		t.Errorf("IsCompressed = %v, %v", ok, err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	var got bytes.Buffer
	if r, err := backup.Decompress(f, &got); err != nil || r.SHA256 != res.SHA256 || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("Decompress: %+v, %v; equal %v", r, err, bytes.Equal(got.Bytes(), want))
	}
	// Any zstd decoder reads it: the trailer is a skippable frame.
	raw, _ := os.ReadFile(path)
	dec, _ := zstd.NewReader(nil)
	plain, err := dec.DecodeAll(raw, nil)
	if err != nil || !bytes.Equal(plain, want) {
		t.Errorf("a plain zstd decoder: %v, equal %v", err, bytes.Equal(plain, want))
	}
	// The trailer is readable text at the end.
	if tail := string(raw[len(raw)-116:]); !strings.HasPrefix(tail, "starsbot backup 1\nsha256 "+res.SHA256+"\nsize 00000000000000300000\n") {
		t.Errorf("trailer %q", tail)
	}
	// No temporary file is left.
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d files in the directory", len(entries))
	}
}

// TestDecompress_Corrupted flips one byte at several places (the zstd
// header, the compressed data, the trailer's checksum and size) and cuts
// the file short: each is refused with ErrCorrupt.
func TestDecompress_Corrupted(t *testing.T) {
	want := data(t, 200_000)
	dir := t.TempDir()
	path := filepath.Join(dir, "good"+backup.Ext)
	if _, err := backup.WriteFile(context.Background(), path, snapshotOf(want)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	n := len(good)
	cases := map[string]func([]byte) []byte{
		"frame header":    func(b []byte) []byte { b[5] ^= 0x40; return b },
		"compressed data": func(b []byte) []byte { b[n/2] ^= 0x01; return b },
		"last data byte":  func(b []byte) []byte { b[n-117] ^= 0x01; return b },
		"trailer sha256":  func(b []byte) []byte { b[n-116+27] ^= 0x01; return b },
		"trailer size":    func(b []byte) []byte { b[n-2] = '1'; return b },
		"trailer magic":   func(b []byte) []byte { b[n-124] ^= 0x01; return b },
		"cut short":       func(b []byte) []byte { return b[:n-1000] },
		"no trailer":      func(b []byte) []byte { return b[:n-124] },
		"empty":           func(b []byte) []byte { return nil },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			bad := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+backup.Ext)
			if err := os.WriteFile(bad, damage(slices.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := backup.Verify(bad)
			if !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("Verify = %v, want ErrCorrupt", err)
			}
			t.Log(err)
		})
	}
	if _, err := backup.Verify(path); err != nil {
		t.Errorf("the intact file: %v", err)
	}
}

// clock is the scheduler's time: Now reads it; each After call is handed
// to the test, which fires it.
type clock struct {
	mu     sync.Mutex
	now    time.Time
	afters chan after
}

type after struct {
	d  time.Duration
	ch chan time.Time
}

func newClock() *clock {
	return &clock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), afters: make(chan after)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.afters <- after{d, ch}
	return ch
}

// tick waits for the scheduler to wait, checks how long it wants to wait,
// moves the clock by that and fires.
func (c *clock) tick(t *testing.T, want time.Duration) {
	t.Helper()
	select {
	case a := <-c.afters:
		if a.d != want {
			t.Errorf("the scheduler waits %s, want %s", a.d, want)
		}
		c.mu.Lock()
		c.now = c.now.Add(a.d)
		now := c.now
		c.mu.Unlock()
		a.ch <- now
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler never waited")
	}
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type alerts struct {
	mu   sync.Mutex
	msgs []string
}

func (a *alerts) alert(_ context.Context, m string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.msgs = append(a.msgs, m)
}

func (a *alerts) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.msgs)
}

func backups(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestScheduler_RunsRotatesAndRetries drives the schedule with an
// injected clock: the first backup at start, one per interval after it,
// the newest BACKUP_KEEP kept, a failed snapshot logged, alerted and
// retried at the next tick (keeping the earlier backups), and a restart
// that continues the schedule from the newest file.
func TestScheduler_RunsRotatesAndRetries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	c := newClock()
	var logs logBuf
	var al alerts
	var mu sync.Mutex
	fail := false
	db := data(t, 50_000)
	cfg := backup.Config{
		Snapshot: func(w io.Writer) (int64, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				return 0, errors.New("disk on fire")
			}
			return snapshotOf(db)(w)
		},
		Dir:      dir,
		Interval: 6 * time.Hour,
		Keep:     3,
		Alert:    al.alert,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Now:      c.Now,
		After:    c.After,
	}
	// A stale temporary file from a crash, and a file that is not ours.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ".starsbot-20261130-000000.db.zst.tmp-123"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o600)

	s, err := backup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Last != nil || !st.Next.Equal(c.Now()) {
		t.Fatalf("fresh status %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	c.tick(t, 0) // the first backup at start
	for range 4 {
		c.tick(t, 6*time.Hour)
	}
	// Wait for the fifth backup to finish: the scheduler waits again.
	a := <-c.afters
	want := []string{"notes.txt", "starsbot-20261201-220000.db.zst", "starsbot-20261202-040000.db.zst", "starsbot-20261202-100000.db.zst"}
	if got := backups(t, dir); !slices.Equal(got, want) {
		t.Errorf("files %q, want %q", got, want)
	}
	st := s.Status()
	if st.Last == nil || st.Last.Path != filepath.Join(dir, want[3]) || st.Last.Size != 50_000 || st.Error != "" ||
		!st.Next.Equal(time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("status %+v, last %+v", st, st.Last)
	}
	if _, err := backup.Verify(st.Last.Path); err != nil {
		t.Error(err)
	}

	// A failure: logged, alerted, the earlier backups kept, retried at
	// the next tick.
	mu.Lock()
	fail = true
	mu.Unlock()
	c.mu.Lock()
	c.now = c.now.Add(a.d)
	c.mu.Unlock()
	a.ch <- c.Now()
	a = <-c.afters
	if a.d != 6*time.Hour {
		t.Errorf("after a failure the scheduler waits %s", a.d)
	}
	if got := backups(t, dir); !slices.Equal(got, want) {
		t.Errorf("after a failure: files %q", got)
	}
	st = s.Status()
	if !strings.Contains(st.Error, "disk on fire") || st.Last.Path != filepath.Join(dir, want[3]) {
		t.Errorf("status after a failure %+v", st)
	}
	if msgs := al.list(); len(msgs) != 1 || !strings.Contains(msgs[0], "Scheduled backup failed") || !strings.Contains(msgs[0], "disk on fire") {
		t.Errorf("alerts %q", msgs)
	}
	if !strings.Contains(logs.String(), "scheduled backup failed") {
		t.Errorf("log:\n%s", logs.String())
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	c.mu.Lock()
	c.now = c.now.Add(a.d)
	c.mu.Unlock()
	a.ch <- c.Now()
	<-c.afters
	if st := s.Status(); st.Error != "" || !strings.HasSuffix(st.Last.Path, "starsbot-20261202-220000.db.zst") {
		t.Errorf("status after the retry %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}

	// A restart two hours later finds the newest backup and waits for
	// the rest of its interval.
	c.mu.Lock()
	c.now = c.now.Add(2 * time.Hour)
	c.mu.Unlock()
	s2, err := backup.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st = s2.Status()
	if st.Last == nil || st.Last.SHA256 == "" || st.Last.Size != 50_000 || st.Next.Sub(c.Now()) != 4*time.Hour {
		t.Errorf("status after a restart %+v, last %+v", st, st.Last)
	}
}

func TestNew_Refuses(t *testing.T) {
	snap := snapshotOf([]byte("x"))
	for _, cfg := range []backup.Config{
		{Dir: t.TempDir(), Interval: time.Hour, Keep: 1},
		{Snapshot: snap, Interval: time.Hour, Keep: 1},
		{Snapshot: snap, Dir: t.TempDir(), Keep: 1},
		{Snapshot: snap, Dir: t.TempDir(), Interval: time.Hour},
	} {
		if _, err := backup.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestRunOnce_Stopped: a backup cut by the service's stop is logged, not
// alerted, and leaves nothing.
func TestRunOnce_Stopped(t *testing.T) {
	dir := t.TempDir()
	var al alerts
	var logs logBuf
	ctx, cancel := context.WithCancel(context.Background())
	s, err := backup.New(backup.Config{
		Snapshot: func(w io.Writer) (int64, error) {
			cancel()
			return io.Copy(w, bytes.NewReader(data(t, 4<<20)))
		},
		Dir: dir, Interval: time.Hour, Keep: 1, Alert: al.alert, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunOnce(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("RunOnce = %v", err)
	}
	if msgs := al.list(); len(msgs) != 0 {
		t.Errorf("alerts %q", msgs)
	}
	if !strings.Contains(logs.String(), "interrupted by the stop") || s.Status().Error != "" {
		t.Errorf("log:\n%s", logs.String())
	}
	if got := backups(t, dir); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}

// TestWriteFile_Stops: a backup cut by the service's stop leaves nothing.
func TestWriteFile_Stops(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := backup.WriteFile(ctx, filepath.Join(dir, "x"+backup.Ext), func(w io.Writer) (int64, error) {
		cancel()
		return io.Copy(w, bytes.NewReader(data(t, 10<<20)))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
	if got := backups(t, dir); len(got) != 0 {
		t.Errorf("left %q", got)
	}
}
