package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// SchemaVersion is the layout version this program reads and writes. Open
// refuses a database written by a newer program.
const SchemaVersion = 2

// maxBatch caps how many updates share one commit.
const maxBatch = 1000

var _ shop.Store = (*DB)(nil)

// DB is a shop.Store backed by one bbolt file. It is safe for concurrent use.
type DB struct {
	bdb  *bolt.DB
	path string

	mu         sync.Mutex
	pending    []*call // updates waiting for the next commit
	committing bool    // a commit loop is running

	holdMax atomic.Int64       // the longest write transaction so far, in ns (see bUpdate)
	holdLog chan time.Duration // tests: when set, receives every write transaction's hold (dropped when full)
}

// call is one Update waiting to be committed.
type call struct {
	fn   func(*bolt.Tx) error
	done chan error // receives the commit's result, or errTrySolo
}

// Open opens or creates the database at path, creating its parent
// directory (0700) and the file (0600) as needed, creates missing buckets and
// checks the schema version. It waits at most one second for the file lock
// that another process may hold.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// The free-page list is not written at each commit (bbolt rebuilds it
	// at Open by walking the file, as etcd does): a file with many free
	// pages, such as one just migrated, would otherwise write the whole list,
	// megabytes, with every commit. The map form finds free runs in
	// constant time.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := bdb.Update(initSchema); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db := &DB{bdb: bdb, path: path}
	if err := db.migrate(); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// initSchema creates every bucket and writes or verifies the schema version;
// it marks a schema-1 database for migration (migrate.go), which Open then
// runs.
func initSchema(btx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := btx.Bucket(bucketMeta)
	v := meta.Get(keySchemaVersion)
	if v == nil {
		b, _ := json.Marshal(SchemaVersion)
		return meta.Put(keySchemaVersion, b)
	}
	var version int
	if err := json.Unmarshal(v, &version); err != nil {
		return fmt.Errorf("read schema version %q: %w", v, err)
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("database schema version %d is newer than this program (%d)", version, SchemaVersion)
	case version < 1:
		return fmt.Errorf("invalid database schema version %d", version)
	case version < SchemaVersion:
		return startMigration(btx)
	}
	return nil
}

// Close closes the database. It waits for running transactions to finish.
func (db *DB) Close() error {
	return db.bdb.Close()
}

// Path returns the path of the database file.
func (db *DB) Path() string { return db.path }

// View runs fn in a read-only transaction. It returns ctx.Err() without
// running fn if ctx is already done.
func (db *DB) View(ctx context.Context, fn func(shop.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.View(func(btx *bolt.Tx) error {
		return fn(&tx{btx: btx})
	})
}

// Update runs fn in a read-write transaction that it commits together with
// concurrent Updates (group commit: one fsync for all of them). fn may
// therefore run more than once; when it fails inside a group, it is re-run
// alone and its error is returned unchanged, with nothing it wrote
// committed. Update returns ctx.Err() without running fn if ctx is already
// done.
func (db *DB) Update(ctx context.Context, fn func(shop.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.update(func(btx *bolt.Tx) error { return fn(&tx{btx: btx}) })
}

// update is Update on the raw bbolt transaction.
//
// Unlike bolt.DB.Batch, which holds a group open for MaxBatchDelay before
// committing it, a group here is committed as soon as the previous commit
// ends: every update that arrived meanwhile joins it. Under load the groups
// are as large as with Batch, and nobody waits on a timer; alone, an update
// commits at once.
func (db *DB) update(fn func(*bolt.Tx) error) error {
	c := &call{fn: fn, done: make(chan error, 1)}
	db.mu.Lock()
	db.pending = append(db.pending, c)
	if !db.committing {
		db.committing = true
		go db.commitLoop()
	}
	db.mu.Unlock()
	err := <-c.done
	if err == errTrySolo {
		return db.bUpdate(fn)
	}
	return err
}

// bUpdate runs fn in a bbolt write transaction and notes how long the
// transaction held the writer lock, from fn's start to the end of the
// commit, in holdMax (measured by the scale test: no maintenance
// transaction may hold it long).
func (db *DB) bUpdate(fn func(*bolt.Tx) error) error {
	var start time.Time
	err := db.bdb.Update(func(btx *bolt.Tx) error {
		start = time.Now()
		return fn(btx)
	})
	if !start.IsZero() {
		d := int64(time.Since(start))
		if db.holdLog != nil {
			select {
			case db.holdLog <- time.Duration(d):
			default:
			}
		}
		for {
			cur := db.holdMax.Load()
			if d <= cur || db.holdMax.CompareAndSwap(cur, d) {
				break
			}
		}
	}
	return err
}

// commitLoop commits the pending updates, group after group, until none is
// left.
func (db *DB) commitLoop() {
	for {
		db.mu.Lock()
		n := min(len(db.pending), maxBatch)
		if n == 0 {
			db.committing = false
			db.mu.Unlock()
			return
		}
		group := db.pending[:n:n]
		db.pending = db.pending[n:]
		db.mu.Unlock()
		db.commit(group)
	}
}

// errTrySolo tells a caller that its fn failed inside a group and must be
// re-run in a transaction of its own.
var errTrySolo = errors.New("store: run this update alone")

// commit runs group in one transaction. A fn that fails (or panics) is
// taken out and sent back to run alone, and the rest is retried, as
// bolt.DB.Batch does, so that one bad update never fails the others.
func (db *DB) commit(group []*call) {
	for len(group) > 0 {
		failed := -1
		err := db.bUpdate(func(btx *bolt.Tx) error {
			for i, c := range group {
				if err := safeCall(c.fn, btx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range group {
				c.done <- err
			}
			return
		}
		group[failed].done <- errTrySolo
		group = append(group[:failed], group[failed+1:]...)
	}
}

// safeCall runs fn, turning a panic into an error; the caller's solo re-run
// panics again in the caller's own goroutine.
func safeCall(fn func(*bolt.Tx) error, btx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: update panicked: %v", p)
		}
	}()
	return fn(btx)
}

// WriteTo writes a consistent snapshot of the whole database file to w, for
// backups, and returns the number of bytes written. Updates may run while it
// writes.
func (db *DB) WriteTo(w io.Writer) (n int64, err error) {
	err = db.bdb.View(func(btx *bolt.Tx) error {
		n, err = btx.WriteTo(w)
		return err
	})
	return n, err
}
