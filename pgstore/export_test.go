package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// LeaderKeyOf exposes leaderKey to the tests.
var LeaderKeyOf = leaderKey

// OpenConfig exposes open to the tests (a pool configuration with a
// tracer or a counting dialer).
var OpenConfig = open

// MigrateTo applies the embedded migrations up to version only, on a
// fresh pool of url: a database as an older version of the program left
// it.
func MigrateTo(ctx context.Context, url string, version int64) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer func() { _ = sqlDB.Close() }()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, mustSub(migrations, "migrations"))
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// SessionKeyOf exposes sessionKey to the tests.
var SessionKeyOf = sessionKey

// MultiViews counts the View call sites seen to run more than one
// statement.
func (db *DB) MultiViews() int {
	n := 0
	db.multiViews.Range(func(any, any) bool { n++; return true })
	return n
}

// BatchLanes exposes batchLanes to the tests.
const BatchLanes = batchLanes

// BatchWaiting returns how many Updates wait for a batch.
func BatchWaiting(db *DB) int {
	n := 0
	for i := range db.batch {
		g := &db.batch[i]
		g.mu.Lock()
		n += len(g.waiting)
		g.mu.Unlock()
	}
	return n
}

// SetStallAfter sets how long an Update waits for a lane that finishes
// nothing before it opens a lane of its own.
func SetStallAfter(db *DB, d time.Duration) {
	for i := range db.batch {
		g := &db.batch[i]
		g.mu.Lock()
		g.stallAfter = d
		g.mu.Unlock()
	}
}
