package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// Migration from schema 1 (JSON records, text status keys, no counters) to
// schema 2, in place, at Open. It walks the record buckets in chunks of
// migrateChunk records, one transaction each: every chunk re-encodes its
// records (codec.go), slims the deliveries of finished orders, adds the
// records' entries to the new indexes and counters, and saves how far it got
// (meta key "migration"), so a crash resumes after the last chunk that
// committed. The schema version becomes 2 before the first chunk, so a
// schema-1 program refuses the half-migrated file.

const migrateChunk = 2000

var keyMigration = []byte("migration")

// migrateStopAfter, when positive, makes migrate stop with
// errMigrationStopped after that many chunks (tests of a crash).
var migrateStopAfter int

var errMigrationStopped = errors.New("store: migration stopped (test)")

// migrateStep is one record bucket to walk: each of its records, decoded,
// is handed to fn, which returns the record to store in its place (or nil
// to leave the value as it is).
type migrateStep struct {
	bucket []byte
	fn     func(t *tx, k, v []byte) (any, error)
}

// reencode returns a step function that re-encodes the records of type R,
// after calling derive (if not nil) to add them to indexes and counters.
func reencode[R any](derive func(t *tx, r *R) error) func(t *tx, k, v []byte) (any, error) {
	return func(t *tx, k, v []byte) (any, error) {
		r, err := decode[R](k, v)
		if err != nil {
			return nil, err
		}
		if derive != nil {
			if err := derive(t, r); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
}

var migrateSteps = []migrateStep{
	{bucketUsers, reencode(func(t *tx, r *userRecord) error { return t.applyDeltas(nil, userDeltas(r)) })},
	{bucketAPIKeys, reencode(func(t *tx, r *apiKeyRecord) error { return t.apiKeyDerived(nil, r) })},
	{bucketOrders, reencode(func(t *tx, r *orderRecord) error { return t.orderDerived(nil, r) })},
	{bucketDeposits, reencode(func(t *tx, r *depositRecord) error { return t.depositDerived(nil, r) })},
	{bucketIdempotency, func(t *tx, k, v []byte) (any, error) {
		r, err := getIdempotency(t.bucket(bucketIdempotency), k)
		if err != nil {
			return nil, err
		}
		if err := t.bucket(bucketIdempotencyExpiry).Put(idempotencyExpiryKey(r), nil); err != nil {
			return nil, err
		}
		return idempotencyStored(r), nil
	}},
	{bucketDeliveries, reencode(func(t *tx, r *deliveryRecord) error {
		o, err := get[orderRecord](t.bucket(bucketOrders), i64(r.OrderID))
		if err == nil && o != nil && orderFinished(o.Status) {
			slimDelivery(r)
		}
		return err
	})},
	{bucketLedger, reencode[ledgerRecord](nil)},
	{bucketQueue, reencode[queueRecord](nil)},
	{bucketQuotes, reencode[quoteRecord](nil)},
	{bucketAudit, reencode[auditRecord](nil)},
	{bucketCursors, reencode[cursorRecord](nil)},
}

// migrationState is the progress of a migration: the step and the last key
// done in it.
type migrationState struct {
	Step    int    `json:"step"`
	LastKey []byte `json:"last_key,omitempty"`
	Done    int    `json:"done"`
}

// startMigration marks a schema-1 database as migrating to SchemaVersion;
// it runs in initSchema's transaction.
func startMigration(btx *bolt.Tx) error {
	b, _ := json.Marshal(migrationState{})
	if err := btx.Bucket(bucketMeta).Put(keyMigration, b); err != nil {
		return err
	}
	v, _ := json.Marshal(SchemaVersion)
	return btx.Bucket(bucketMeta).Put(keySchemaVersion, v)
}

// migrate runs or resumes a pending migration, chunk by chunk, logging its
// progress.
func (db *DB) migrate() error {
	var st migrationState
	err := db.bdb.View(func(btx *bolt.Tx) error {
		v := btx.Bucket(bucketMeta).Get(keyMigration)
		if v == nil {
			st.Step = -1
			return nil
		}
		return json.Unmarshal(v, &st)
	})
	if err != nil || st.Step < 0 {
		return err
	}
	log := slog.Default().With("path", db.path, "schema", SchemaVersion)
	log.Info("store: migrating the database", "resume_at_step", st.Step, "records_done", st.Done)
	start, lastLog, chunks, startDone := time.Now(), time.Now(), 0, st.Done
	for st.Step < len(migrateSteps) {
		if migrateStopAfter > 0 && chunks == migrateStopAfter {
			return errMigrationStopped
		}
		err := db.bUpdate(func(btx *bolt.Tx) error { return migrateChunkTx(&tx{btx: btx}, &st) })
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", migrateSteps[min(st.Step, len(migrateSteps)-1)].bucket, err)
		}
		chunks++
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			log.Info("store: migrating", "step", st.Step, "records_done", st.Done,
				"records_per_s", int(float64(st.Done-startDone)/time.Since(start).Seconds()))
		}
	}
	elapsed := time.Since(start)
	log.Info("store: migration done", "records", st.Done, "took", elapsed.Round(time.Millisecond),
		"records_per_s", int(float64(st.Done-startDone)/max(elapsed.Seconds(), 1e-3)))
	return nil
}

// migrateChunkTx migrates up to migrateChunk records from where st says,
// and saves the new state, or finishes the migration after the last step.
func migrateChunkTx(t *tx, st *migrationState) error {
	meta := t.bucket(bucketMeta)
	if st.Step >= len(migrateSteps) {
		return nil
	}
	step := migrateSteps[st.Step]
	b := t.bucket(step.bucket)
	type change struct {
		k   []byte
		rec any
	}
	var changes []change
	c := b.Cursor()
	var k, v []byte
	if st.LastKey == nil {
		k, v = c.First()
	} else if k, v = c.Seek(st.LastKey); k != nil && bytes.Equal(k, st.LastKey) {
		k, v = c.Next()
	}
	for ; k != nil && len(changes) < migrateChunk; k, v = c.Next() {
		rec, err := step.fn(t, k, v)
		if err != nil {
			return err
		}
		changes = append(changes, change{bytes.Clone(k), rec})
	}
	for _, ch := range changes {
		if ch.rec != nil {
			if err := put(b, ch.k, ch.rec); err != nil {
				return err
			}
		}
	}
	next := *st
	next.Done += len(changes)
	if len(changes) < migrateChunk {
		next.Step, next.LastKey = st.Step+1, nil
	} else {
		next.LastKey = changes[len(changes)-1].k
	}
	if next.Step == len(migrateSteps) {
		// Last: the schema-1 status and owner indexes go (order_by_status
		// and user_order_status replace them), and with them the migration.
		for _, name := range [][]byte{bucketOrderStatus, bucketUserOrders} {
			if t.btx.Bucket(name) != nil {
				if err := t.btx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		if err := meta.Delete(keyMigration); err != nil {
			return err
		}
	} else {
		v, _ := json.Marshal(next)
		if err := meta.Put(keyMigration, v); err != nil {
			return err
		}
	}
	*st = next
	return nil
}

// orderFinished reports whether an order's status is final: its delivery
// record is history, read by nothing that decides (see slimDelivery).
func orderFinished(status string) bool {
	s := shop.OrderStatus(status)
	return s == shop.StatusCompleted || s == shop.StatusRefunded || s == shop.StatusCancelled
}

// slimDelivery drops from the delivery record of a finished order what only
// an unfinished delivery needs: the provider's message body, the confirm
// call, the signed message and the details that let the wallet rebroadcast
// or match it. What it paid, to whom, its hash and its outcome stay
// (Payout.To only if it differs from PayTo, which it repeats).
//
// Only ClaimOrder, SaveDeliveries, FailOrder, Refund and Queue read a
// delivery, all for orders that are paid, processing or manual; a
// completed, refunded or cancelled order is final (shop.orderTransitions),
// so no money rule or crash recovery reads what is dropped.
func slimDelivery(r *deliveryRecord) {
	r.Payload, r.ConfirmParams, r.ConfirmMethod = nil, nil, ""
	if p := r.Payout; p != nil {
		r.Payout = &signedPayoutRecord{Hash: p.Hash, Amount: p.Amount, To: p.To}
		if r.Payout.To == r.PayTo {
			r.Payout.To = ""
		}
	}
}
