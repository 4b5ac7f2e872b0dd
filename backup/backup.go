// Package backup takes scheduled hot backups of the database: every
// Interval a consistent snapshot (one read transaction, injected as a
// SnapshotFunc so that this package knows no store) is compressed with
// zstd, checksummed (format.go), written atomically into Dir, optionally
// uploaded to S3-compatible storage (s3.go), and the oldest beyond Keep
// are removed. A failure is logged, alerted and retried at the next tick.
// Decompress is the other half, for `starsbot restore` and `check`.
package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Prefix starts the name of every scheduled backup:
// starsbot-YYYYMMDD-HHMMSS.db.zst, the snapshot's start time in UTC, so
// that names sort by age.
const Prefix = "starsbot-"

const nameTime = "20060102-150405"

// FileName is the name of a backup taken at t.
func FileName(t time.Time) string { return Prefix + t.UTC().Format(nameTime) + Ext }

// parseName returns the time a backup's file name carries.
func parseName(name string) (time.Time, bool) {
	s, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return time.Time{}, false
	}
	if s, ok = strings.CutSuffix(s, Ext); !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(nameTime, s)
	return t, err == nil
}

// Uploader copies a finished backup elsewhere (S3).
type Uploader interface {
	// Upload sends the file at path under name and returns where it went
	// (e.g. s3://bucket/prefix/name), without credentials.
	Upload(ctx context.Context, name, path string, r Result) (location string, err error)
	// String names the destination, without credentials.
	String() string
}

// Config configures a Scheduler.
type Config struct {
	Snapshot SnapshotFunc  // required: a consistent snapshot of the database
	Dir      string        // required: where backups are written (created 0700)
	Interval time.Duration // required, > 0
	Keep     int           // how many backups are kept in Dir, ≥ 1
	Upload   Uploader      // optional
	// Alert tells the admins of a failure; optional. message is plain
	// text without secrets.
	Alert  func(ctx context.Context, message string)
	Logger *slog.Logger // default slog.Default()
	// Now and After are the clock; defaults time.Now and time.After.
	// Tests replace them to run the schedule without waiting.
	Now   func() time.Time
	After func(d time.Duration) <-chan time.Time
}

// Backup is one backup written by the scheduler.
type Backup struct {
	Result
	Time     time.Time     // when its snapshot started
	Path     string        // the file in Dir
	Duration time.Duration // how long snapshot, compression and write took; 0 for one found at start
	// Remote is where it was uploaded ("" without an uploader, or when the
	// upload failed: then UploadError says why).
	Remote      string
	UploadError string
}

// Status is what the scheduler knows, for /backup and /health.
type Status struct {
	Interval time.Duration
	Dir      string
	Remote   string    // the upload destination, without credentials; "" without one
	Last     *Backup   // the newest backup in Dir, nil before the first
	Failed   time.Time // the latest failed attempt since Last; zero if none
	Error    string    // why it failed
	Next     time.Time // when the next attempt is due
}

// Scheduler runs the backups. Make it with New and run it with Run.
type Scheduler struct {
	cfg Config

	mu     sync.Mutex
	status Status
}

// New checks cfg, creates Dir, removes temporary files a crash left there
// and finds the newest backup in it: the schedule continues from that
// one, so that restarts neither skip nor multiply backups.
func New(cfg Config) (*Scheduler, error) {
	switch {
	case cfg.Snapshot == nil:
		return nil, errors.New("backup: no snapshot function")
	case cfg.Dir == "":
		return nil, errors.New("backup: no directory")
	case cfg.Interval <= 0:
		return nil, errors.New("backup: the interval must be positive")
	case cfg.Keep < 1:
		return nil, errors.New("backup: at least one backup must be kept")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = time.After
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	s := &Scheduler{cfg: cfg, status: Status{Interval: cfg.Interval, Dir: cfg.Dir}}
	if cfg.Upload != nil {
		s.status.Remote = cfg.Upload.String()
	}
	names, err := s.scan(true)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	s.status.Next = cfg.Now()
	if len(names) > 0 {
		b := s.describe(names[len(names)-1])
		s.status.Last = &b
		s.status.Next = b.Time.Add(cfg.Interval)
	}
	return s, nil
}

// scan returns the names of the backups in Dir, oldest first; at start
// (cleanup) it also removes the temporary files a crash left (later, one
// may be a running `starsbot backup`'s).
func (s *Scheduler) scan(cleanup bool) ([]string, error) {
	entries, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if cleanup && strings.HasPrefix(name, "."+Prefix) && strings.Contains(name, ".tmp-") {
			if err := os.Remove(filepath.Join(s.cfg.Dir, name)); err == nil {
				s.cfg.Logger.Info("removed an unfinished backup", "path", filepath.Join(s.cfg.Dir, name))
			}
			continue
		}
		if _, ok := parseName(name); ok && e.Type().IsRegular() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// describe reads what a backup found in Dir says about itself.
func (s *Scheduler) describe(name string) Backup {
	t, _ := parseName(name)
	b := Backup{Time: t, Path: filepath.Join(s.cfg.Dir, name)}
	f, err := os.Open(b.Path)
	if err != nil {
		return b
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		b.Compressed = st.Size()
		if r, err := parseTrailer(f, st.Size()); err == nil {
			b.Result = r
		}
	}
	return b
}

// Status returns a copy of what the scheduler knows.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	if st.Last != nil {
		last := *st.Last
		st.Last = &last
	}
	return st
}

// Run takes a backup whenever one is due until ctx is done: at start if
// the newest in Dir is older than Interval (or there is none), then every
// Interval. A failed attempt is retried at the next tick.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		wait := max(s.Status().Next.Sub(s.cfg.Now()), 0)
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.After(wait):
		}
		_, _ = s.RunOnce(ctx)
	}
}

// RunOnce takes one backup now, uploads it, prunes the old ones and
// records the outcome. The next attempt is due Interval after this one.
func (s *Scheduler) RunOnce(ctx context.Context) (Backup, error) {
	start := s.cfg.Now()
	s.mu.Lock()
	s.status.Next = start.Add(s.cfg.Interval)
	s.mu.Unlock()
	log := s.cfg.Logger

	b := Backup{Time: start, Path: filepath.Join(s.cfg.Dir, FileName(start))}
	res, err := WriteFile(ctx, b.Path, s.cfg.Snapshot)
	if err != nil && ctx.Err() != nil {
		// The service is stopping: not a failure to alert about.
		log.Info("scheduled backup interrupted by the stop; nothing written", "path", b.Path)
		return Backup{}, err
	}
	if err != nil {
		err = fmt.Errorf("backup to %s failed: %w", b.Path, err)
		s.mu.Lock()
		s.status.Failed, s.status.Error = start, err.Error()
		s.mu.Unlock()
		log.Error("scheduled backup failed; retried at the next tick", "error", err, "next", start.Add(s.cfg.Interval))
		s.alert(ctx, fmt.Sprintf("Scheduled backup failed: %v. The previous backup is kept; the next attempt is in %s.", err, s.cfg.Interval))
		return Backup{}, err
	}
	b.Result, b.Duration = res, s.cfg.Now().Sub(start)
	// The local backup counts from now, before the log line says so and
	// before an upload that may take long: /health and /backup see it.
	written := b
	s.mu.Lock()
	s.status.Last = &written
	s.status.Failed, s.status.Error = time.Time{}, ""
	s.mu.Unlock()
	log.Info("scheduled backup written", "path", b.Path, "db_bytes", res.Size, "bytes", res.Compressed,
		"ratio", fmt.Sprintf("%.1f", res.Ratio()), "sha256", res.SHA256, "duration", b.Duration)

	if up := s.cfg.Upload; up != nil {
		loc, err := up.Upload(ctx, filepath.Base(b.Path), b.Path, res)
		switch {
		case err != nil && ctx.Err() != nil:
			b.UploadError = "interrupted by the stop"
			log.Info("backup upload interrupted by the stop; the local backup is kept", "to", up.String(), "path", b.Path)
		case err != nil:
			b.UploadError = err.Error()
			log.Error("backup upload failed; the local backup is kept", "to", up.String(), "path", b.Path, "error", err)
			s.alert(ctx, fmt.Sprintf("Scheduled backup written to %s, but its upload to %s failed: %v.", b.Path, up.String(), err))
		default:
			b.Remote = loc
			log.Info("backup uploaded", "to", loc, "bytes", res.Compressed)
		}
	}

	s.mu.Lock()
	s.status.Last = &b
	s.status.Failed, s.status.Error = time.Time{}, ""
	if b.UploadError != "" {
		s.status.Failed, s.status.Error = start, "upload failed: "+b.UploadError
	}
	s.mu.Unlock()
	s.prune()
	return b, nil
}

func (s *Scheduler) alert(ctx context.Context, msg string) {
	if s.cfg.Alert != nil {
		s.cfg.Alert(ctx, msg)
	}
}

// prune removes the oldest backups beyond Keep. Only files named like a
// backup are touched.
func (s *Scheduler) prune() {
	names, err := s.scan(false)
	if err != nil {
		s.cfg.Logger.Error("backups not pruned", "dir", s.cfg.Dir, "error", err)
		return
	}
	for len(names) > s.cfg.Keep {
		path := filepath.Join(s.cfg.Dir, names[0])
		names = names[1:]
		if err := os.Remove(path); err != nil {
			s.cfg.Logger.Error("old backup not removed", "path", path, "error", err)
			continue
		}
		s.cfg.Logger.Info("old backup removed", "path", path, "keep", s.cfg.Keep)
	}
}

// WriteFile writes a compressed backup to path atomically: into a
// temporary file in the same directory, synced, renamed to path (which
// must not exist), and the directory synced. On any failure, or when ctx
// ends first, nothing is left behind.
func WriteFile(ctx context.Context, path string, snapshot SnapshotFunc) (Result, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return Result{}, err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, nothing
	res, err := Compress(ctxWriter{ctx, f}, snapshot)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Result{}, err
	}
	if _, err := os.Lstat(path); err == nil {
		return Result{}, fmt.Errorf("%s exists", path)
	}
	if err := os.Rename(tmp, path); err != nil {
		return Result{}, err
	}
	return res, syncDir(dir)
}

// ctxWriter stops a long snapshot when the service stops.
type ctxWriter struct {
	ctx context.Context
	f   *os.File
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	return w.f.Write(p)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
