package store

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// SchemaVersion is the layout version this program reads and writes. Open
// refuses a database written by a newer program.
const SchemaVersion = 1

// batchDelay is how long Update waits for other updates to join its commit.
const batchDelay = 2 * time.Millisecond

var _ shop.Store = (*DB)(nil)

// DB is a shop.Store backed by one bbolt file. It is safe for concurrent use.
type DB struct {
	bdb  *bolt.DB
	path string
}

// Open opens or creates the database at path, creating its parent
// directory (0700) and the file (0600) as needed, creates missing buckets and
// checks the schema version. It waits at most one second for the file lock
// that another process may hold.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	bdb.MaxBatchDelay = batchDelay
	if err := bdb.Update(initSchema); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &DB{bdb: bdb, path: path}, nil
}

// initSchema creates every bucket and writes or verifies the schema version.
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
// concurrent Updates (bbolt Batch: one fsync for all of them). fn may
// therefore run more than once; when it fails inside a batch, it is re-run
// alone and its error is returned unchanged, with nothing it wrote
// committed. Update returns ctx.Err() without running fn if ctx is already
// done.
func (db *DB) Update(ctx context.Context, fn func(shop.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.Batch(func(btx *bolt.Tx) error {
		return fn(&tx{btx: btx})
	})
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
