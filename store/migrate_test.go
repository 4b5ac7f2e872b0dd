package store

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// writeSchema1 writes a database as schema 1 (today's main) lays it out:
// JSON records, the order_status index with text keys, none of the
// counters and indexes schema 2 added. It builds it with this program's
// Put methods and then rewrites what differs.
func writeSchema1(t *testing.T, path string, n int) {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	buildScale(t, db, n)
	// Deliveries written after their order finished stay whole, as
	// schema 1 kept them.
	mustUpdate(t, db, func(t *tx) error {
		return t.PutDelivery(&shop.Delivery{OrderID: 1, Provider: "fragment", Payload: []byte{1, 2, 3}, ConfirmMethod: "confirmReq",
			Payout: &shop.SignedPayout{Hash: "aa", BOC: []byte{4, 5, 6}, To: "x"}})
	})
	dec := map[string]func(k, v []byte) (any, error){
		string(bucketUsers):    func(k, v []byte) (any, error) { return decode[userRecord](k, v) },
		string(bucketAPIKeys):  func(k, v []byte) (any, error) { return decode[apiKeyRecord](k, v) },
		string(bucketOrders):   func(k, v []byte) (any, error) { return decode[orderRecord](k, v) },
		string(bucketDeposits): func(k, v []byte) (any, error) { return decode[depositRecord](k, v) },
		string(bucketIdempotency): func(k, v []byte) (any, error) {
			r, err := decode[idempotencyRecord](k, v)
			if r != nil {
				idempotencyFromKey(k, r) // schema 1 stored them in full
			}
			return r, err
		},
		string(bucketDeliveries): func(k, v []byte) (any, error) { return decode[deliveryRecord](k, v) },
		string(bucketLedger):     func(k, v []byte) (any, error) { return decode[ledgerRecord](k, v) },
		string(bucketQueue):      func(k, v []byte) (any, error) { return decode[queueRecord](k, v) },
	}
	raw(t, db, func(btx *bolt.Tx) error {
		for name, fn := range dec {
			b := btx.Bucket([]byte(name))
			var keys, vals [][]byte
			err := b.ForEach(func(k, v []byte) error {
				r, err := fn(k, v)
				if err != nil {
					return err
				}
				j, err := json.Marshal(r)
				keys, vals = append(keys, append([]byte(nil), k...)), append(vals, j)
				return err
			})
			if err != nil {
				return err
			}
			for i := range keys {
				if err := b.Put(keys[i], vals[i]); err != nil {
					return err
				}
			}
		}
		old, err := btx.CreateBucket(bucketOrderStatus)
		if err != nil {
			return err
		}
		byUser, err := btx.CreateBucket(bucketUserOrders)
		if err != nil {
			return err
		}
		err = btx.Bucket(bucketOrders).ForEach(func(k, v []byte) error {
			r, err := decode[orderRecord](k, v)
			if err != nil {
				return err
			}
			if err := byUser.Put(cat(i64(r.UserID), k), nil); err != nil {
				return err
			}
			return old.Put(cat([]byte(r.Status), []byte{0}, k), nil)
		})
		if err != nil {
			return err
		}
		for _, name := range [][]byte{bucketOrderByStatus, bucketUserOrderStatus, bucketOrderExpiry, bucketIdempotencyExpiry, bucketDepositTimes, bucketCounters} {
			if err := btx.DeleteBucket(name); err != nil {
				return err
			}
		}
		return btx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("1"))
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// snapshot is what a migration must keep: every order as the shop sees it,
// the statistics and a partner's summary.
func snapshot(t *testing.T, db *DB) string {
	t.Helper()
	ctx := context.Background()
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_590_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return scaleNow }
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	os, err := svc.OrderStats(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var orders []*shop.Order
	var balances []shop.NanoTON
	err = db.View(ctx, func(tx shop.Tx) error {
		orders = orders[:0]
		for id := int64(1); ; id++ {
			o, err := tx.FindOrderByID(id)
			if shop.ErrorCode(err) == shop.ENOTFOUND {
				break
			} else if err != nil {
				return err
			}
			orders = append(orders, o)
		}
		return tx.ForEachUser(func(u *shop.User) error { balances = append(balances, u.Balance); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{st, os, orders, balances})
	return string(b)
}

// TestMigrate_FromSchema1 opens a database written by schema 1: Open
// migrates it (schema 2, counters and indexes built, records re-encoded,
// deliveries of finished orders slimmed), Check finds nothing, and the
// shop reads the same orders, balances and statistics as a database built
// by schema 2 from the same data.
func TestMigrate_FromSchema1(t *testing.T) {
	dir := t.TempDir()
	old, fresh := filepath.Join(dir, "old.db"), filepath.Join(dir, "new.db")
	const n = 6000
	writeSchema1(t, old, n)

	start := time.Now()
	db, err := Open(old)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	took := time.Since(start)
	records := 0
	raw(t, db, func(btx *bolt.Tx) error {
		for _, s := range migrateSteps {
			records += btx.Bucket(s.bucket).Stats().KeyN
		}
		if v := string(btx.Bucket(bucketMeta).Get(keySchemaVersion)); v != fmt.Sprint(SchemaVersion) {
			t.Errorf("schema version %s after migration", v)
		}
		if btx.Bucket(bucketOrderStatus) != nil || btx.Bucket(bucketUserOrders) != nil || btx.Bucket(bucketMeta).Get(keyMigration) != nil {
			t.Error("order_status, user_orders or the migration mark left behind")
		}
		return btx.Bucket(bucketOrders).ForEach(func(k, v []byte) error {
			if !isCompact(v) {
				t.Errorf("order %x still JSON", k)
			}
			return nil
		})
	})
	t.Logf("migrated %d records in %s: %.0f records/s", records, took, float64(records)/took.Seconds())
	if err := db.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = db.View(context.Background(), func(tx shop.Tx) error {
		d, err := tx.FindDelivery(1)
		if err != nil {
			return err
		}
		if o, _ := tx.FindOrderByID(1); orderFinished(string(o.Status)) != (d.Payload == nil && d.Payout.BOC == nil) {
			t.Errorf("order 1 (%s): delivery payload %v, payout BOC %v", o.Status, d.Payload, d.Payout.BOC)
		}
		return nil
	})

	ref, err := Open(fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	buildScale(t, ref, n)
	if got, want := snapshot(t, db), snapshot(t, ref); got != want {
		t.Errorf("migrated database differs from one built by schema 2 (%d vs %d bytes of JSON)", len(got), len(want))
	}
}

// TestMigrate_Resume stops a migration in the middle of the orders, as a crash
// would; the next Open finishes it, and the result is the same as one
// migration in one go.
func TestMigrate_Resume(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	const n = 5000
	writeSchema1(t, a, n)
	writeSchema1(t, b, n)

	migrateStopAfter = 3 // users, API keys, then the first chunk of orders
	_, err := Open(a)
	migrateStopAfter = 0
	if !errors.Is(err, errMigrationStopped) {
		t.Fatalf("Open = %v, want the migration stopped", err)
	}
	// The file says schema 2 from the first chunk on: a schema-1 program
	// refuses it rather than misread it.
	bdb, err := bolt.Open(a, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = bdb.View(func(btx *bolt.Tx) error {
		if v := string(btx.Bucket(bucketMeta).Get(keySchemaVersion)); v != fmt.Sprint(SchemaVersion) {
			t.Errorf("schema version %s mid-migration", v)
		}
		if btx.Bucket(bucketMeta).Get(keyMigration) == nil {
			t.Error("no migration mark mid-migration")
		}
		return nil
	})
	_ = bdb.Close()

	resumed, err := Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if err := resumed.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	whole, err := Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if got, want := snapshot(t, resumed), snapshot(t, whole); got != want {
		t.Error("a resumed migration differs from one in one go")
	}
}

// migrateSize is the -store.migrate flag: TestScaleMigrate's order count.
var migrateSize = flag.Int("store.migrate", 0, "TestScaleMigrate: migrate a schema-1 database of this many orders and print the rate")

// TestScaleMigrate writes a schema-1 database of -store.migrate orders
// (as TestScale builds them) and times its migration at Open.
//
//	go test ./store/ -run TestScaleMigrate -store.migrate=100000 -v
func TestScaleMigrate(t *testing.T) {
	if *migrateSize == 0 {
		t.Skip("set -store.migrate=100000 to run")
	}
	path := filepath.Join(t.TempDir(), "schema1.db")
	writeSchema1(t, path, *migrateSize)
	start := time.Now()
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	took := time.Since(start)
	records := 0
	raw(t, db, func(btx *bolt.Tx) error {
		for _, s := range migrateSteps {
			records += btx.Bucket(s.bucket).Stats().KeyN
		}
		return nil
	})
	t.Logf("migrated %d orders, %d records in %s: %.0f records/s, longest transaction %s", *migrateSize, records, took.Round(time.Millisecond),
		float64(records)/took.Seconds(), time.Duration(db.holdMax.Load()))
	if err := db.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestMigrate_MainFixture migrates testdata/schema1.db, written by main's
// code (commit cbca55e, schema 1): 300 orders as TestScale builds them, by
// testdata/schema1_generator.go.txt run as a test in main's store package.
// It compares what the shop reads after the migration with what main's shop
// read from the same file, saved by the generator in testdata/schema1.json.
func TestMigrate_MainFixture(t *testing.T) {
	src, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/schema1.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "schema1.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Check(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_590_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return scaleNow }
	st, err := svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var summaries []*shop.OrderStats
	var orders [][]*shop.Order
	for u := int64(1); u <= 5; u++ {
		sum, err := svc.OrderStats(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		summaries = append(summaries, sum)
		p, _, err := svc.FindOrders(ctx, shop.OrderFilter{UserID: u, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		orders = append(orders, p)
	}
	got, _ := json.Marshal(map[string]any{"stats": st, "order_stats_users_1_to_5": summaries, "orders_users_1_to_5": orders})
	// Fields the shop's types gained since the fixture was written (USDT,
	// referrals…) are not in it: every value main read must read the same,
	// and new fields are not compared.
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if diff := jsonSubsetDiff("", w, g); diff != "" {
		t.Fatalf("after migration: %s", diff)
	}
}

// jsonSubsetDiff describes the first place where got does not hold what
// want holds (objects may have more keys in got), or returns "".
func jsonSubsetDiff(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, main read an object", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing, main read %v", path, k, wv)
			}
			if d := jsonSubsetDiff(path+"."+k, wv, gv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, main read %d items", path, got, len(w))
		}
		for i := range w {
			if d := jsonSubsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %v, main read %v", path, got, want)
		}
		return ""
	}
}

// TestOpenReadOnly_Schema1 checks that the offline commands' read-only
// open refuses a schema-1 file with a clear way out, rather than call it
// "not a starsbot database" or report its missing counters as damage.
func TestOpenReadOnly_Schema1(t *testing.T) {
	src, err := os.ReadFile("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "schema1.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := OpenReadOnly(path, time.Second); err == nil || !strings.Contains(err.Error(), "not migrated to 2 yet: start the service on it once") {
		if db != nil {
			db.Close()
		}
		t.Fatalf("OpenReadOnly of a schema-1 file = %v", err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	ro, err := OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatalf("OpenReadOnly after the migration: %v", err)
	}
	defer ro.Close()
	if err := ro.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}
