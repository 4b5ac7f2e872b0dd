package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrInUse is returned by OpenReadOnly when another process (the running
// service) holds the database's exclusive lock.
var ErrInUse = errors.New("the database is in use by a running starsbot (its file lock is held)")

// OpenReadOnly opens an existing database for reading only, for the offline
// commands (check, restore's verification, a backup of a stopped service).
// It takes bbolt's shared file lock, which conflicts with the exclusive lock
// a running service holds: after waiting at most timeout it returns an error
// wrapping ErrInUse. It never creates or changes the file, and it refuses a
// file that lacks a bucket or whose schema version this program cannot read.
func OpenReadOnly(path string, timeout time.Duration) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := bdb.View(verifySchema); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &DB{bdb: bdb, path: path}, nil
}

// verifySchema is initSchema's read-only twin: every bucket exists and the
// schema version is one this program reads.
func verifySchema(btx *bolt.Tx) error {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		return fmt.Errorf("not a starsbot database: bucket %s missing", bucketMeta)
	}
	var version int
	if err := json.Unmarshal(meta.Get(keySchemaVersion), &version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version < 1 || version > SchemaVersion {
		return fmt.Errorf("database schema version %d is not one this program reads (1 to %d)", version, SchemaVersion)
	}
	if version < SchemaVersion || meta.Get(keyMigration) != nil {
		// Offline commands never write, and the check would report the
		// indexes and counters the migration adds as missing.
		return fmt.Errorf("database schema version %d is not migrated to %d yet: start the service on it once (it migrates the file at start), then retry", version, SchemaVersion)
	}
	for _, name := range allBuckets {
		if btx.Bucket(name) == nil && !added(name) {
			return fmt.Errorf("not a starsbot database: bucket %s missing", name)
		}
	}
	return nil
}

// Snapshot writes a consistent snapshot of the whole database file to w,
// as WriteTo does, but first calls header with the snapshot's exact size, so
// that a reader at the other end of a stream can tell a complete copy from
// a cut one.
func (db *DB) Snapshot(w io.Writer, header func(size int64) error) (n int64, err error) {
	err = db.bdb.View(func(btx *bolt.Tx) error {
		if err := header(btx.Size()); err != nil {
			return err
		}
		n, err = btx.WriteTo(w)
		return err
	})
	return n, err
}
