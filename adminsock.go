package main

// Online backups through the running service.
//
// A backup from another process cannot read the database while the service
// runs: bbolt (v1.5, bolt_unix.go) takes flock(LOCK_EX) on the file for a
// read-write open, and a ReadOnly open asks flock(LOCK_SH), which that lock
// refuses; Options.Timeout only bounds the wait. Copying the file around the
// lock is not safe either: a commit rewrites freed pages in place, so a copy
// taken during commits may mix two versions. The one process that can take
// a consistent snapshot is the service itself (one read transaction,
// store.DB.Snapshot, the same as the bot's /backup), so it serves one on a
// unix socket in DATA_DIR:
//
//   - never on the network: a unix socket, $DATA_DIR/starsbot.sock, mode
//     0600, in the data directory that only the service's user may use;
//   - authenticated: each start writes a fresh random token to
//     $DATA_DIR/starsbot.sock.token (0600); a client must send it, so
//     reaching the socket is not enough if DATA_DIR's permissions are loose;
//   - one command: "BACKUP <token>\n", answered "OK <size>\n" and exactly
//     size bytes of the database file, or "ERR <reason>\n";
//   - bounded: one backup at a time, 5 s to send the request, and each write
//     to a client that stopped reading times out after 30 s, so that no
//     client holds the read transaction (which blocks the file's growth)
//     for long; stopping the service closes running backups first.
//
// A stale socket left by a crash is replaced at start: the service holds the
// database's exclusive lock by then, so no other service uses this DATA_DIR.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"starsbot/store"
)

const (
	adminSocketName = "starsbot.sock"
	adminTokenName  = "starsbot.sock.token"

	adminRequestTimeout = 5 * time.Second  // to send the request line
	adminWriteTimeout   = 30 * time.Second // for each write of a snapshot
)

// adminServer serves online backups on the unix socket in DATA_DIR.
type adminServer struct {
	db     *store.DB
	ln     net.Listener
	token  string
	logger *slog.Logger
	busy   chan struct{} // one slot: one backup at a time

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startAdmin starts the backup socket and returns the function that stops
// it, closing running backups, before the store is closed. Without the
// socket the service still runs (the reason is logged): online backups are
// then unavailable, and `starsbot backup` says so.
func startAdmin(dataDir string, db *store.DB, logger *slog.Logger) (stop func()) {
	s, err := listenAdmin(dataDir, db, logger)
	if err != nil {
		logger.Error("backup socket unavailable: starsbot backup cannot reach this service", "error", err)
		return func() {}
	}
	s.wg.Add(1)
	go s.serve()
	logger.Info("backup socket ready", "path", s.ln.Addr().String())
	return s.close
}

func listenAdmin(dataDir string, db *store.DB, logger *slog.Logger) (*adminServer, error) {
	path := filepath.Join(dataDir, adminSocketName)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		ln.Close()
		return nil, err
	}
	token := hex.EncodeToString(b)
	if err := writeFileAtomic(filepath.Join(dataDir, adminTokenName), []byte(token+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return &adminServer{db: db, ln: ln, token: token, logger: logger, busy: make(chan struct{}, 1), conns: map[net.Conn]struct{}{}}, nil
}

func (s *adminServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // closed
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// close stops accepting, cuts running backups (their read transactions end)
// and waits for them, then removes the socket and the token.
func (s *adminServer) close() {
	s.mu.Lock()
	s.closed = true
	s.ln.Close() // also removes the socket file
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	_ = os.Remove(filepath.Join(filepath.Dir(s.ln.Addr().String()), adminTokenName))
}

func (s *adminServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(adminRequestTimeout))
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil {
		s.logger.Warn("backup request unreadable", "error", err)
		return
	}
	cmd, token, _ := strings.Cut(strings.TrimSpace(line), " ")
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		s.logger.Warn("backup request with a wrong token refused")
		fmt.Fprintln(c, "ERR wrong token")
		return
	}
	if cmd != "BACKUP" {
		fmt.Fprintf(c, "ERR unknown command %q\n", cmd)
		return
	}
	select {
	case s.busy <- struct{}{}:
		defer func() { <-s.busy }()
	default:
		fmt.Fprintln(c, "ERR another backup is running")
		return
	}
	start := time.Now()
	w := bufio.NewWriterSize(deadlineWriter{c}, 1<<20)
	n, err := s.db.Snapshot(w, func(size int64) error {
		_, err := fmt.Fprintf(w, "OK %d\n", size)
		return err
	})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		s.logger.Error("online backup failed", "error", err, "bytes", n)
		return
	}
	s.logger.Info("online backup sent", "bytes", n, "duration", time.Since(start))
}

// deadlineWriter gives each write adminWriteTimeout.
type deadlineWriter struct{ c net.Conn }

func (w deadlineWriter) Write(p []byte) (int, error) {
	_ = w.c.SetWriteDeadline(time.Now().Add(adminWriteTimeout))
	return w.c.Write(p)
}

// errNoService means no service answers on DATA_DIR's backup socket.
var errNoService = errors.New("no running service answers on the backup socket")

// fetchSnapshot asks the service running on dataDir for a snapshot and
// writes it to w. It returns an error wrapping errNoService when no service
// listens there (no socket, or a stale one).
func fetchSnapshot(ctx context.Context, dataDir string, w io.Writer) (int64, error) {
	path := filepath.Join(dataDir, adminSocketName)
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return 0, fmt.Errorf("%w (%s): %v", errNoService, path, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	token, err := os.ReadFile(filepath.Join(dataDir, adminTokenName))
	if err != nil {
		return 0, fmt.Errorf("backup token: %w", err)
	}
	if _, err := fmt.Fprintf(c, "BACKUP %s\n", strings.TrimSpace(string(token))); err != nil {
		return 0, fmt.Errorf("backup socket %s: %w", path, err)
	}
	r := bufio.NewReaderSize(c, 1<<20)
	header, err := r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("backup socket %s: no answer: %w", path, err)
	}
	var size int64
	if msg, ok := strings.CutPrefix(strings.TrimSpace(header), "ERR "); ok {
		return 0, fmt.Errorf("the service refused the backup: %s", msg)
	}
	if _, err := fmt.Sscanf(header, "OK %d\n", &size); err != nil || size <= 0 {
		return 0, fmt.Errorf("backup socket %s: unexpected answer %q", path, strings.TrimSpace(header))
	}
	n, err := io.CopyN(w, r, size)
	if err != nil {
		return n, fmt.Errorf("the snapshot was cut at %d of %d bytes: %w", n, size, err)
	}
	return n, nil
}
