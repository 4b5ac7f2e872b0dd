package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"starsbot/config"
	"starsbot/pgstore"
	"starsbot/shop"
	"starsbot/store"
)

// migrateBatch is how many records one PostgreSQL transaction of migrate
// writes.
const migrateBatch = 500

// orderStatuses are every status an order may be stored in.
var orderStatuses = []shop.OrderStatus{shop.StatusPendingPayment, shop.StatusPaid, shop.StatusProcessing, shop.StatusCompleted,
	shop.StatusCancelled, shop.StatusExpired, shop.StatusManual, shop.StatusFailed, shop.StatusRefunded}

// migrateCommand: starsbot migrate --to postgres://…. It copies DATA_DIR's
// bbolt database, with the service stopped (bbolt's file lock tells), into
// an empty PostgreSQL database, in transactions of migrateBatch records;
// then it runs the invariant check on both sides and compares the counts
// and every user's balance and ledger. Any difference is an error (a
// non-zero exit). Ids keep their values, and every sequence continues
// where the bbolt one stopped.
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	to := fs.String("to", "", "the PostgreSQL database to copy into: postgres://user:password@host:5432/db")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: starsbot migrate --to postgres://user:password@host:5432/db  (DATA_DIR names the bbolt database; stop the service first)")
	}
	if _, err := parseArgs(fs, args, 0, 0, stderr); err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return errors.New("migrate: --to is required")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	src, err := store.OpenReadOnly(cfg.DBPath(), time.Second)
	if errors.Is(err, store.ErrInUse) {
		return fmt.Errorf("migrate: %s is in use: stop the service first (the copy must not miss a write)", cfg.DBPath())
	} else if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = src.Close() }()
	if err := src.Check(ctx); err != nil {
		return fmt.Errorf("migrate: the bbolt database fails its check; repair or restore it first:\n%w", err)
	}
	dst, err := pgstore.Open(ctx, *to)
	if err != nil {
		return config.RedactError(fmt.Errorf("migrate: %w", err))
	}
	defer func() { _ = dst.Close() }()
	empty, table, err := dst.Empty(ctx)
	if err != nil {
		return config.RedactError(fmt.Errorf("migrate: %w", err))
	} else if !empty {
		return fmt.Errorf("migrate: the PostgreSQL database is not empty (table %s has rows): migrate only into a new database", table)
	}
	start := time.Now()
	n, err := copyStore(ctx, src, dst)
	if err != nil {
		return config.RedactError(fmt.Errorf("migrate: copy (the PostgreSQL database is now partly filled: drop and recreate it before trying again): %w", err))
	}
	fmt.Fprintf(stdout, "copied %d records in %s\n", n, time.Since(start).Round(time.Millisecond))
	if err := compareStores(ctx, src, dst, stdout); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintln(stdout, "both invariant checks are clean; counts, balances and ledgers match")
	return nil
}

// copier writes records to dst in batches.
type copier struct {
	ctx     context.Context
	dst     *pgstore.DB
	pending []func(*pgstore.Import) error
	n       int
}

func (c *copier) add(w func(*pgstore.Import) error) error {
	c.pending = append(c.pending, w)
	if len(c.pending) >= migrateBatch {
		return c.flush()
	}
	return nil
}

func (c *copier) flush() error {
	if len(c.pending) == 0 {
		return nil
	}
	err := c.dst.Import(c.ctx, func(im *pgstore.Import) error {
		for _, w := range c.pending {
			if err := w(im); err != nil {
				return err
			}
		}
		return nil
	})
	c.n += len(c.pending)
	c.pending = c.pending[:0]
	return err
}

// copyStore copies everything src holds to dst and returns how many
// records it wrote.
func copyStore(ctx context.Context, src *store.DB, dst *pgstore.DB) (int, error) {
	x, err := src.Export(ctx)
	if err != nil {
		return 0, err
	}
	c := &copier{ctx: ctx, dst: dst}
	var outboxIndexed uint64
	err = src.View(ctx, func(tx shop.Tx) error {
		var users []int64
		if err := tx.ForEachUser(func(u *shop.User) error {
			users = append(users, u.ID)
			return c.add(func(im *pgstore.Import) error { return im.PutUser(u) })
		}); err != nil {
			return err
		}
		for _, id := range users {
			keys, err := tx.FindAPIKeysByUser(id)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := c.add(func(im *pgstore.Import) error { return im.PutAPIKey(k) }); err != nil {
					return err
				}
			}
			hooks, err := tx.FindWebhooksByUser(id)
			if err != nil {
				return err
			}
			for _, h := range hooks {
				if err := c.add(func(im *pgstore.Import) error { return im.PutWebhook(h) }); err != nil {
					return err
				}
			}
			f := shop.LedgerFilter{UserID: id, Limit: shop.MaxPageSize}
			for {
				es, more, err := tx.FindLedger(f)
				if err != nil {
					return err
				}
				for _, e := range es {
					if err := c.add(func(im *pgstore.Import) error { return im.Ledger(e) }); err != nil {
						return err
					}
				}
				if !more {
					break
				}
				f.Before = es[len(es)-1].ID
			}
		}
		for _, status := range orderStatuses {
			if err := tx.ForEachOrderByStatus(status, func(o *shop.Order) error {
				return c.add(func(im *pgstore.Import) error { return im.PutOrder(o) })
			}); err != nil {
				return err
			}
		}
		for before := uint64(0); ; {
			ds, err := tx.FindDeposits("", before, shop.MaxPageSize)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if err := c.add(func(im *pgstore.Import) error { return im.PutDeposit(d) }); err != nil {
					return err
				}
			}
			if len(ds) < shop.MaxPageSize {
				break
			}
			before = ds[len(ds)-1].ID
		}
		if outboxIndexed, err = tx.OutboxIndexed(); err != nil {
			return err
		}
		for after := uint64(0); ; {
			es, err := tx.OutboxAfter(after, migrateBatch)
			if err != nil {
				return err
			}
			for _, e := range es {
				indexed := e.Seq <= outboxIndexed
				if err := c.add(func(im *pgstore.Import) error { return im.Outbox(e, indexed) }); err != nil {
					return err
				}
			}
			if len(es) < migrateBatch {
				break
			}
			after = es[len(es)-1].Seq
		}
		queued, err := tx.Queued(0)
		if err != nil {
			return err
		}
		for _, id := range queued {
			if err := c.add(func(im *pgstore.Import) error { return im.Enqueue(id) }); err != nil {
				return err
			}
		}
		pricing, err := tx.FindPricing()
		if err != nil {
			return err
		}
		if pricing != nil {
			return c.add(func(im *pgstore.Import) error { return im.PutPricing(pricing) })
		}
		return nil
	})
	if err != nil {
		return c.n, err
	}
	var writes []func(*pgstore.Import) error
	for _, r := range x.Idempotency {
		writes = append(writes, func(im *pgstore.Import) error { return im.PutIdempotency(r) })
	}
	for _, q := range x.Quotes {
		writes = append(writes, func(im *pgstore.Import) error { return im.PutQuote(q) })
	}
	for k, v := range x.Settings {
		writes = append(writes, func(im *pgstore.Import) error { return im.PutSetting(k, v) })
	}
	for _, cur := range x.Cursors {
		writes = append(writes, func(im *pgstore.Import) error { return im.PutCursor(cur) })
	}
	for _, d := range x.Deliveries {
		writes = append(writes, func(im *pgstore.Import) error { return im.PutDelivery(d) })
	}
	for _, d := range x.WebhookDeliveries {
		writes = append(writes, func(im *pgstore.Import) error { return im.WebhookDelivery(d) })
	}
	for _, e := range x.Audit {
		writes = append(writes, func(im *pgstore.Import) error { return im.Audit(e) })
	}
	for id, data := range x.ChatStates {
		writes = append(writes, func(im *pgstore.Import) error { return im.ChatState(id, data) })
	}
	for account, ts := range x.SimTransfers {
		for _, t := range ts {
			writes = append(writes, func(im *pgstore.Import) error { return im.SimTransfer(account, t) })
		}
	}
	writes = append(writes, func(im *pgstore.Import) error { return im.SetSequences(x.Sequences, outboxIndexed) })
	for _, w := range writes {
		if err := c.add(w); err != nil {
			return c.n, err
		}
	}
	return c.n, c.flush()
}

// compareStores runs both invariant checks and compares what the shop
// reports from each: user, order and deposit totals, every user (balance
// included) and its ledger, the outbox and the queue. It returns every
// difference it finds.
func compareStores(ctx context.Context, src *store.DB, dst *pgstore.DB, stdout io.Writer) error {
	var problems []error
	if err := src.Check(ctx); err != nil {
		problems = append(problems, fmt.Errorf("bbolt check: %w", err))
	}
	if err := dst.Check(ctx); err != nil {
		problems = append(problems, fmt.Errorf("PostgreSQL check: %w", err))
	}
	// summary reads, from one store, what must be equal on both.
	summary := func(st shop.Store) (map[string]string, error) {
		out := map[string]string{}
		put := func(key string, v any) error {
			b, err := json.Marshal(v)
			out[key] = string(b)
			return err
		}
		err := st.View(ctx, func(tx shop.Tx) error {
			ut, err := tx.UserTotals()
			if err != nil {
				return err
			}
			if err := put("user totals", ut); err != nil {
				return err
			}
			ot, err := tx.OrderTotals(shop.AnyOwner)
			if err != nil {
				return err
			}
			if err := put("order totals", ot); err != nil {
				return err
			}
			for _, s := range []shop.DepositStatus{shop.DepositCredited, shop.DepositOrderPaid, shop.DepositUnmatched,
				shop.DepositAssigned, shop.DepositIgnored, shop.DepositRejected} {
				dt, err := tx.DepositTotals(s)
				if err != nil {
					return err
				}
				if err := put("deposits "+string(s), dt); err != nil {
					return err
				}
			}
			usdt, units, err := tx.AssetDepositTotals(shop.AssetUSDT)
			if err != nil {
				return err
			}
			if err := put("USDT deposits", []any{usdt, units}); err != nil {
				return err
			}
			if err := tx.ForEachUser(func(u *shop.User) error {
				if err := put(fmt.Sprintf("user %d", u.ID), u); err != nil {
					return err
				}
				var entries []*shop.LedgerEntry
				f := shop.LedgerFilter{UserID: u.ID, Limit: shop.MaxPageSize}
				for {
					es, more, err := tx.FindLedger(f)
					if err != nil {
						return err
					}
					entries = append(entries, es...)
					if !more {
						break
					}
					f.Before = es[len(es)-1].ID
				}
				return put(fmt.Sprintf("ledger of user %d", u.ID), entries)
			}); err != nil {
				return err
			}
			indexed, err := tx.OutboxIndexed()
			if err != nil {
				return err
			}
			last, err := tx.OutboxAfter(0, 1<<30)
			if err != nil {
				return err
			}
			if err := put("outbox", []any{indexed, len(last)}); err != nil {
				return err
			}
			q, err := tx.Queued(0)
			if err != nil {
				return err
			}
			return put("queue", q)
		})
		return out, err
	}
	a, err := summary(src)
	if err != nil {
		return fmt.Errorf("read bbolt: %w", err)
	}
	b, err := summary(dst)
	if err != nil {
		return config.RedactError(fmt.Errorf("read PostgreSQL: %w", err))
	}
	for k, v := range a {
		if b[k] != v {
			problems = append(problems, fmt.Errorf("%s differs:\n  bbolt      %s\n  PostgreSQL %s", k, v, b[k]))
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			problems = append(problems, fmt.Errorf("%s only on PostgreSQL: %s", k, v))
		}
	}
	fmt.Fprintf(stdout, "compared %d figures (totals, every user with its balance and ledger, the outbox, the queue)\n", len(a))
	return errors.Join(problems...)
}
