package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"starsbot/backup"
	"starsbot/config"
	"starsbot/store"
)

// commands are the subcommands of the binary; with no arguments it runs the
// service. Each reads the service's configuration (DATA_DIR) for its
// defaults.
var commands = map[string]func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error{
	"backup":  backupCommand,
	"restore": restoreCommand,
	"check":   checkCommand,
	"migrate": migrateCommand, // migrate.go
}

// runCommand runs the subcommand args[0].
func runCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unexpected arguments %q: starsbot is configured by environment variables (see README.md); its commands are backup <file>, restore [-force] <file>, check [<db>] and migrate --to <postgres URL>", args)
	}
	return cmd(ctx, args[1:], getenv, stdout, stderr)
}

// parseArgs parses a command's flags and wants between min and max
// positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, minArgs, maxArgs int, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if n := fs.NArg(); n < minArgs || n > maxArgs {
		fs.Usage()
		return nil, fmt.Errorf("%s: wrong number of arguments %q", fs.Name(), fs.Args())
	}
	return fs.Args(), nil
}

// dataDir is DATA_DIR as the service reads it, for command cmd, which
// works on the bbolt file there: with DATABASE_URL set the service keeps
// nothing there, and the command says so rather than reading a stale or
// missing file.
func dataDir(cmd string, getenv func(string) string) (string, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return "", err
	}
	if cfg.Postgres() {
		return "", fmt.Errorf("%s: not available with DATABASE_URL: this command works on the bbolt file in DATA_DIR, and the service runs on PostgreSQL; "+
			"back PostgreSQL up and check it with its own tools (pg_dump, your provider's snapshots)", cmd)
	}
	return cfg.DataDir, nil
}

// backupCommand: starsbot backup <file>. It writes a consistent snapshot of
// DATA_DIR's database to file (compressed, as the scheduled backups are,
// when its name ends in .zst), which must not exist: from the running
// service through its backup socket (adminsock.go), or, when no service
// runs, from the file itself under bbolt's shared lock. The copy is staged
// next to file, synced, opened to verify it, and only then linked to its
// name.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: starsbot backup <file>  (DATA_DIR names the database)") }
	pos, err := parseArgs(fs, args, 1, 1, stderr)
	if err != nil {
		return err
	}
	out := pos[0]
	dir, err := dataDir("backup", getenv)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new name", out)
	}
	var source string
	snapshot := func(w io.Writer) (int64, error) {
		n, err := fetchSnapshot(ctx, dir, w)
		source = "the running service"
		if errors.Is(err, errNoService) {
			source = "the stopped service's file"
			n, err = snapshotFile(filepath.Join(dir, "starsbot.db"), w, err)
		}
		return n, err
	}
	compressed := strings.HasSuffix(out, ".zst")
	var res backup.Result
	n, err := writeStaged(out, func(f *os.File) (int64, error) {
		if !compressed {
			return snapshot(f)
		}
		var err error
		res, err = backup.Compress(f, snapshot)
		return res.Compressed, err
	}, func(staged string) error {
		if compressed {
			_, err := backup.Verify(staged)
			return err
		}
		db, err := store.OpenReadOnly(staged, 0)
		if err != nil {
			return fmt.Errorf("the copy does not open: %w", err)
		}
		return db.Close()
	}, os.Link)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if compressed {
		fmt.Fprintf(stdout, "backup: %d bytes from %s compressed to %d bytes (sha256 %s) in %s (verify it with: starsbot check %s)\n", res.Size, source, n, res.SHA256, out, out)
		return nil
	}
	fmt.Fprintf(stdout, "backup: %d bytes from %s written to %s (verify it with: starsbot check %s)\n", n, source, out, out)
	return nil
}

// snapshotFile copies the database at path when no service runs on it.
// noService is why the service could not be asked.
func snapshotFile(path string, w io.Writer, noService error) (int64, error) {
	db, err := store.OpenReadOnly(path, time.Second)
	if errors.Is(err, store.ErrInUse) {
		return 0, fmt.Errorf("%s is locked by a running service, but %v", path, noService)
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return db.WriteTo(w)
}

// restoreCommand: starsbot restore [-force] <file>. It replaces DATA_DIR's
// database with file: never while a service uses it, and an existing one
// only with -force. A compressed backup (a scheduled one, /backup's, or
// backup's to a .zst name) is decompressed and its SHA-256 verified on the
// way. The copy is staged in DATA_DIR, synced, verified (it opens, and
// store.Check finds no problem) and renamed over the database.
func restoreCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	force := fs.Bool("force", false, "replace an existing database (the service must be stopped)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: starsbot restore [-force] <file>  (DATA_DIR names the database)")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args, 1, 1, stderr)
	if err != nil {
		return err
	}
	src := pos[0]
	dir, err := dataDir("restore", getenv)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, "starsbot.db")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := os.Stat(target); err == nil {
		// Holding the shared lock until the rename makes a service that
		// starts meanwhile fail (its exclusive lock waits 1 s) rather
		// than run on the replaced file.
		live, err := store.OpenReadOnly(target, 200*time.Millisecond)
		switch {
		case errors.Is(err, store.ErrInUse):
			return fmt.Errorf("restore: refused: %s is in use by a running service; stop it first", target)
		case !*force:
			if err == nil {
				live.Close()
			}
			return fmt.Errorf("restore: refused: %s exists; restore -force replaces it", target)
		case err == nil:
			defer live.Close()
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	compressed, err := backup.IsCompressed(src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var res backup.Result
	n, err := writeStaged(target, func(f *os.File) (int64, error) {
		if !compressed {
			return io.Copy(f, in)
		}
		var err error
		if res, err = backup.Decompress(in, f); err != nil {
			return 0, fmt.Errorf("%s: %w", src, err)
		}
		return res.Size, nil
	}, func(staged string) error { return verifyDB(ctx, staged) }, os.Rename)
	if err != nil {
		return fmt.Errorf("restore: %s not replaced: %w", target, err)
	}
	if compressed {
		fmt.Fprintf(stdout, "restore: %s (decompressed to %d bytes, sha256 %s as its trailer says, every invariant holds) is now %s\n", src, n, res.SHA256, target)
		return nil
	}
	fmt.Fprintf(stdout, "restore: %s (%d bytes, every invariant holds) is now %s\n", src, n, target)
	return nil
}

// verifyDB opens the database at path read-only and runs the full check.
func verifyDB(ctx context.Context, path string) error {
	db, err := store.OpenReadOnly(path, 0)
	if err != nil {
		return fmt.Errorf("the copy does not open: %w", err)
	}
	defer db.Close()
	if problems := checkDB(ctx, db); len(problems) > 0 {
		return fmt.Errorf("the copy fails the invariant check (%d problems; run starsbot check on it): %w", len(problems), problems[0])
	}
	return nil
}

// checkCommand: starsbot check [<db>]. It runs store.Check on the database
// (by default DATA_DIR's), offline, and prints every problem, one a line;
// any problem makes it fail (exit status 1).
func checkCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: starsbot check [<db>]  (default: the database in DATA_DIR)") }
	pos, err := parseArgs(fs, args, 0, 1, stderr)
	if err != nil {
		return err
	}
	var path string
	if len(pos) == 1 {
		path = pos[0]
	} else {
		dir, err := dataDir("check", getenv)
		if err != nil {
			return err
		}
		path = filepath.Join(dir, "starsbot.db")
	}
	name := path
	if compressed, err := backup.IsCompressed(path); err == nil && compressed {
		tmp, res, err := decompressTemp(path)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		defer os.Remove(tmp)
		fmt.Fprintf(stdout, "check: %s: intact (%d bytes compressed to %d, sha256 %s)\n", path, res.Size, res.Compressed, res.SHA256)
		path = tmp
	}
	db, err := store.OpenReadOnly(path, time.Second)
	if errors.Is(err, store.ErrInUse) {
		return fmt.Errorf("check: %s is in use by a running service; check a backup of it (starsbot backup <file>, then starsbot check <file>)", path)
	}
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer db.Close()
	problems := checkDB(ctx, db)
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "check: %s: ok, every invariant holds\n", name)
		return nil
	}
	fmt.Fprintf(stdout, "check: %s: %d problems:\n", name, len(problems))
	for _, p := range problems {
		fmt.Fprintf(stdout, "  - %v\n", p)
	}
	return fmt.Errorf("check: %s violates the store's invariants (%d problems, listed above)", name, len(problems))
}

// decompressTemp decompresses a compressed backup into a private
// temporary file, verifying its checksum, for check to open.
func decompressTemp(path string) (string, backup.Result, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", backup.Result{}, err
	}
	defer in.Close()
	f, err := os.CreateTemp("", "starsbot-check-*.db") // mode 0600
	if err != nil {
		return "", backup.Result{}, err
	}
	res, err := backup.Decompress(in, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", backup.Result{}, fmt.Errorf("%s: %w", path, err)
	}
	return f.Name(), res, nil
}

// checkDB runs store.Check and returns its problems one by one. A damaged
// file can make the check panic: that is a problem too.
func checkDB(ctx context.Context, db *store.DB) (problems []error) {
	defer func() {
		if p := recover(); p != nil {
			problems = append(problems, fmt.Errorf("the check stopped on a damaged record: %v", p))
		}
	}()
	err := db.Check(ctx)
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// writeStaged writes a file next to final with write, syncs it, runs verify
// on it, and gives it its final name with place (os.Rename replaces,
// os.Link refuses an existing name), then syncs the directory. The staged
// file is removed on any failure.
func writeStaged(final string, write func(*os.File) (int64, error), verify func(staged string) error, place func(staged, final string) error) (int64, error) {
	dir := filepath.Dir(final)
	f, err := os.CreateTemp(dir, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return 0, err
	}
	staged := f.Name()
	defer os.Remove(staged) // after os.Link, the staged name; after os.Rename, nothing
	n, err := write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	if err := verify(staged); err != nil {
		return n, err
	}
	if err := place(staged, final); err != nil {
		return n, err
	}
	return n, syncDir(dir)
}

// writeFileAtomic writes data to path through a synced temporary file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	_, err := writeStaged(path, func(f *os.File) (int64, error) {
		if err := f.Chmod(perm); err != nil {
			return 0, err
		}
		n, err := f.Write(data)
		return int64(n), err
	}, func(string) error { return nil }, os.Rename)
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
