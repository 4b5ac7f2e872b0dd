package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// Outbox.
//
// Sequence numbers come from the SEQUENCE outbox_seqs, handed out when an
// event is appended, so that independent writers share no row: the number
// is known inside the writer's transaction (a webhook.test delivery names
// its event by it) but it follows the order of the nextval calls, not of
// the commits. A reader must therefore never be shown number n while a
// smaller one may still commit, or a cursor past n would skip it.
//
// The horizon (table counters, row 'outbox_horizon') is a number H below
// which no event can still commit: every transaction that drew a number
// up to H has ended. Readers that list events (OutboxAfter, and through
// the indexed mark FindOutboxByUser, OutboxSeqBefore, DeleteOutboxBefore)
// see only events with seq <= H, so they see them all, in seq order, and
// no later commit lands below what they saw. FindOutboxEvent (one event
// by number) is not limited.
//
// The horizon moves in advanceHorizon, outside any transaction of the
// shop, when a reader needs it (below); writers never touch it. Why it is
// safe, with t1 < t2 < t3 in time:
//
//   - nextval takes a RowExclusiveLock on the sequence before it hands out
//     a number, held to the end of the transaction (PostgreSQL's
//     sequence.c, lock_and_open_sequence): every transaction holding a
//     number holds that lock, and it is released after the commit is
//     visible to new snapshots.
//   - At t1 the advancer reads h, the last number drawn (the sequence has
//     CACHE 1, so no session holds unused numbers <= h).
//   - At t2 it lists, from pg_locks, the transactions (virtual ids) that
//     hold a lock on the sequence. A writer of a number <= h took the lock
//     before t1, so if it was still running when its backend was looked at
//     it is listed. (The listing need not be atomic: each writer is looked
//     at after t1.)
//   - It then waits until none of them holds the lock any more, at t3.
//     Every writer of a number <= h has now committed, and is visible to
//     every snapshot taken later, or rolled back, and will never commit.
//   - It sets the horizon to max(horizon, h) and commits. A reader whose
//     snapshot sees that horizon was taken after t3: it sees every event
//     <= h that will ever exist.
//
// Only writers of events are waited for (not every transaction of the
// server), the advancer holds no lock while it waits, and each of its
// statements is a transaction of its own, so two advancers never wait for
// each other for longer than a statement. Nothing depends on the order of
// transaction ids, which need not match that of the numbers.
//
// Who advances: a listing read (OutboxAfter) that would return fewer
// events than asked while events committed beyond the horizon exist in its
// snapshot asks for it; its transaction (View or Update) is then rolled
// back, the horizon advanced, and fn run again, at most once per call, in
// a new snapshot that sees the new horizon. So a reader sees every event
// committed before it started, and a writer's hot path only draws from a
// sequence.

// errBehind is returned by a listing read that needs the horizon moved:
// the transaction is void and fn runs again after advanceHorizon.
var errBehind = errors.New("pgstore: outbox events beyond the horizon: the transaction runs again")

func (t *tx) AppendOutbox(e *shop.OutboxEvent) error {
	if err := t.canWrite("append outbox"); err != nil {
		return err
	}
	if e.ID == "" || e.Type == "" || e.UserID == 0 {
		return fmt.Errorf("pgstore: append outbox: an event needs an id, a type and a user")
	}
	t.appended = true // Update notifies listeners after the commit (notify.go)
	data, err := encode(e)
	if err != nil {
		return err
	}
	var orderID any
	if e.Order != nil {
		orderID = e.Order.ID
	}
	// One statement: the number (materialized: drawn once), which the
	// record gets too.
	const sql = `WITH n AS MATERIALIZED (SELECT nextval('outbox_seqs') AS seq)
		INSERT INTO outbox (seq, user_id, order_id, test, created_ns, data)
		SELECT seq, $1, $2, $3, $4, jsonb_set($5::jsonb, '{Seq}', to_jsonb(seq)) FROM n
		RETURNING seq`
	args := []any{e.UserID, orderID, e.WebhookID != "", nanos(e.CreatedAt), data}
	setSeq := func(r pgx.Row) error {
		var seq int64
		if err := r.Scan(&seq); err != nil {
			return err
		}
		e.Seq = uint64(seq)
		return nil
	}
	if e.WebhookID != "" {
		// A webhook test event's delivery names it by its number in the
		// same transaction (shop.Tx: set when AppendOutbox returns).
		return t.fail("append outbox", setSeq(t.ptx.QueryRow(t.ctx, sql, args...)))
	}
	// Queued like a blind write (conn.go): e.Seq is set when the pipeline
	// that carries it is read, which shop.Tx allows.
	return t.fail("append outbox", t.ptx.queueRow("append outbox", setSeq, sql, args...))
}

// horizon returns the outbox horizon in t's snapshot (read once: the
// snapshot does not change).
func (t *tx) horizon() (int64, error) {
	if t.horizonRead {
		return t.horizonSeq, nil
	}
	err := t.ptx.QueryRow(t.ctx, `SELECT value FROM counters WHERE name = 'outbox_horizon'`).Scan(&t.horizonSeq)
	if err != nil {
		return 0, t.fail("outbox horizon", err)
	}
	t.horizonRead = true
	return t.horizonSeq, nil
}

// behind asks for the horizon to be advanced and fn run again, unless it
// was advanced for this run already; it reports whether it asked.
func (t *tx) behind() bool {
	if t.advanced {
		return false
	}
	t.needAdvance = true
	return true
}

func (t *tx) IndexOutbox(e *shop.OutboxEvent) error {
	if err := t.canWrite("index outbox"); err != nil {
		return err
	}
	last, err := t.OutboxIndexed()
	if err != nil {
		return err
	}
	if e.Seq <= last {
		return fmt.Errorf("pgstore: index outbox: event %d is not after the last indexed, %d", e.Seq, last)
	}
	h, err := t.horizon()
	if err != nil {
		return err
	}
	if int64(e.Seq) > h {
		// The mark must not pass a number that may still commit.
		if t.behind() {
			return errBehind
		}
		return fmt.Errorf("pgstore: index outbox: event %d is beyond the horizon %d (not committed?)", e.Seq, h)
	}
	if e.WebhookID == "" {
		if err := t.exec("index outbox", `INSERT INTO user_outbox (user_id, seq) VALUES ($1, $2) ON CONFLICT DO NOTHING`, e.UserID, int64(e.Seq)); err != nil {
			return err
		}
	}
	return t.exec("index outbox", `UPDATE counters SET value = $1 WHERE name = 'outbox_indexed'`, int64(e.Seq))
}

func (t *tx) OutboxIndexed() (uint64, error) {
	var v int64
	err := t.ptx.QueryRow(t.ctx, `SELECT value FROM counters WHERE name = 'outbox_indexed'`).Scan(&v)
	return uint64(v), t.fail("outbox indexed", err)
}

func (t *tx) FindOutboxEvent(seq uint64) (*shop.OutboxEvent, error) {
	if seq > 1<<63-1 {
		return nil, notFound("Event")
	}
	return found[shop.OutboxEvent](t, "Event", `SELECT data FROM outbox WHERE seq = $1`, int64(seq))
}

func (t *tx) FindOutboxByUser(userID int64, after uint64, limit int) ([]*shop.OutboxEvent, bool, error) {
	// user_outbox holds indexed events only, all at or below the horizon.
	es, err := all[shop.OutboxEvent](t, "outbox of user", `SELECT o.data FROM user_outbox u JOIN outbox o ON o.seq = u.seq
		WHERE u.user_id = $1 AND u.seq > $2 ORDER BY u.seq LIMIT $3`, userID, clampSeq(after), nonNeg(limit)+1)
	if err != nil {
		return nil, false, err
	}
	es, more := page(es, nonNeg(limit))
	return es, more, nil
}

func (t *tx) OutboxAfter(after uint64, limit int) ([]*shop.OutboxEvent, error) {
	h, err := t.horizon()
	if err != nil {
		return nil, err
	}
	es, err := all[shop.OutboxEvent](t, "outbox", `SELECT data FROM outbox WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
		clampSeq(after), h, nonNeg(limit))
	if err != nil || len(es) >= limit {
		return es, err
	}
	// A short page: if events committed beyond the horizon, move it and
	// read again.
	var beyond bool
	if err := t.ptx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE seq > greatest($1::bigint, $2::bigint))`,
		clampSeq(after), h).Scan(&beyond); err != nil {
		return nil, t.fail("outbox", err)
	}
	if beyond && t.behind() {
		return nil, errBehind
	}
	return es, nil
}

func (t *tx) OutboxSeqBefore(tm time.Time) (uint64, error) {
	h, err := t.horizon()
	if err != nil {
		return 0, err
	}
	var seq int64
	err = t.ptx.QueryRow(t.ctx, `SELECT coalesce(max(seq), 0) FROM outbox WHERE created_ns < $1 AND seq <= $2`, nanos(tm), h).Scan(&seq)
	return uint64(seq), t.fail("outbox seq before", err)
}

func (t *tx) DeleteOutboxBefore(tm time.Time, limit int) (int, error) {
	if err := t.canWrite("prune outbox"); err != nil {
		return 0, err
	}
	h, err := t.horizon()
	if err != nil {
		return 0, err
	}
	// The oldest events, up to the first one not created before tm (as
	// package store walks them), among those readers can see.
	rows, err := t.ptx.Query(t.ctx, `SELECT seq, created_ns FROM outbox WHERE seq <= $1 ORDER BY seq LIMIT $2`, h, nonNeg(limit))
	if err != nil {
		return 0, t.fail("prune outbox", err)
	}
	var due []int64
	var seq, created int64
	end := nanos(tm)
	stop := false
	if _, err := pgx.ForEachRow(rows, []any{&seq, &created}, func() error {
		if stop = stop || created >= end; !stop {
			due = append(due, seq)
		}
		return nil
	}); err != nil {
		return 0, t.fail("prune outbox", err)
	}
	if len(due) == 0 {
		return 0, nil
	}
	if err := t.exec("prune outbox", `DELETE FROM user_outbox WHERE seq = ANY($1)`, due); err != nil {
		return 0, err
	}
	return len(due), t.exec("prune outbox", `DELETE FROM outbox WHERE seq = ANY($1)`, due)
}

// clampSeq returns a sequence number as a BIGINT, the largest one for
// numbers beyond it.
func clampSeq(n uint64) int64 {
	return int64(min(n, 1<<63-1))
}

// Webhooks.

func (t *tx) PutWebhook(w *shop.Webhook) error {
	if err := t.canWrite("put webhook"); err != nil {
		return err
	}
	if w.ID == "" || w.UserID == 0 || w.Secret == "" {
		return shop.Errorf(shop.EVALIDATION, "a webhook needs an id, a user and a secret")
	}
	data, err := encode(w)
	if err != nil {
		return err
	}
	return t.exec("put webhook", `INSERT INTO webhooks (id, user_id, enabled, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, enabled = EXCLUDED.enabled, data = EXCLUDED.data`,
		w.ID, w.UserID, w.Enabled(), data)
}

func (t *tx) FindWebhook(id string) (*shop.Webhook, error) {
	if id == "" {
		return nil, notFound("Webhook")
	}
	return found[shop.Webhook](t, "Webhook", `SELECT data FROM webhooks WHERE id = $1`, id)
}

func (t *tx) FindWebhooksByUser(userID int64) ([]*shop.Webhook, error) {
	out, err := all[shop.Webhook](t, "webhooks of user", `SELECT data FROM webhooks WHERE user_id = $1 ORDER BY id`, userID)
	if err != nil {
		return nil, err
	}
	// Oldest first; ties in id order (a stable sort, as package store).
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].CreatedAt.Before(out[j-1].CreatedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

func (t *tx) DeleteWebhook(id string) error {
	if err := t.canWrite("delete webhook"); err != nil {
		return err
	}
	return t.exec("delete webhook", `DELETE FROM webhooks WHERE id = $1`, id)
}

func (t *tx) PutWebhookDelivery(d *shop.WebhookDelivery) error {
	if err := t.canWrite("put webhook delivery"); err != nil {
		return err
	}
	if d.ID == 0 {
		var id int64
		if err := t.ptx.QueryRow(t.ctx, `SELECT nextval('webhook_delivery_ids')`).Scan(&id); err != nil {
			return t.fail("put webhook delivery", err)
		}
		d.ID = uint64(id)
	} else {
		var webhookID string
		err := t.ptx.QueryRow(t.ctx, `SELECT webhook_id FROM webhook_deliveries WHERE id = $1`, int64(d.ID)).Scan(&webhookID)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("Webhook delivery")
		} else if err != nil {
			return t.fail("put webhook delivery", err)
		}
		if webhookID != d.WebhookID {
			return fmt.Errorf("pgstore: webhook delivery %d cannot move to another webhook", d.ID)
		}
	}
	data, err := encode(d)
	if err != nil {
		return err
	}
	return t.exec("put webhook delivery", `INSERT INTO webhook_deliveries (id, webhook_id, user_id, status, next_ns, data)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, user_id = EXCLUDED.user_id, next_ns = EXCLUDED.next_ns, data = EXCLUDED.data`,
		int64(d.ID), d.WebhookID, d.UserID, string(d.Status), nanos(d.NextAttemptAt), data)
}

func (t *tx) FindWebhookDelivery(id uint64) (*shop.WebhookDelivery, error) {
	return found[shop.WebhookDelivery](t, "Webhook delivery", `SELECT data FROM webhook_deliveries WHERE id = $1`, int64(id))
}

func (t *tx) FindWebhookDeliveries(webhookID string, before uint64, limit int) ([]*shop.WebhookDelivery, bool, error) {
	b := int64(before)
	if before == 0 || before > 1<<63-1 {
		b = 1<<63 - 1
	}
	ds, err := all[shop.WebhookDelivery](t, "webhook deliveries", `SELECT data FROM webhook_deliveries
		WHERE webhook_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, webhookID, b, nonNeg(limit)+1)
	if err != nil {
		return nil, false, err
	}
	ds, more := page(ds, nonNeg(limit))
	return ds, more, nil
}

func (t *tx) DueWebhookDeliveries(now time.Time, limit int, skip func(string) bool) ([]*shop.WebhookDelivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.ptx.Query(t.ctx, `SELECT webhook_id, data FROM webhook_deliveries
		WHERE status = 'pending' AND next_ns <= $1 ORDER BY next_ns, id`, nanos(now))
	if err != nil {
		return nil, t.fail("due webhook deliveries", err)
	}
	defer rows.Close()
	var out []*shop.WebhookDelivery
	for rows.Next() && len(out) < limit {
		var webhookID string
		var data []byte
		if err := rows.Scan(&webhookID, &data); err != nil {
			return nil, t.fail("due webhook deliveries", err)
		}
		if skip != nil && skip(webhookID) {
			continue
		}
		d := new(shop.WebhookDelivery)
		if err := jsonUnmarshal(data, d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	rows.Close()
	return out, t.fail("due webhook deliveries", rows.Err())
}

func (t *tx) DeleteWebhookDeliveriesBefore(tm time.Time, limit int) (int, error) {
	if err := t.canWrite("prune webhook deliveries"); err != nil {
		return 0, err
	}
	ds, err := all[shop.WebhookDelivery](t, "prune webhook deliveries", `SELECT data FROM webhook_deliveries ORDER BY id LIMIT $1`, nonNeg(limit))
	if err != nil {
		return 0, err
	}
	var due []int64
	for _, d := range ds {
		if !d.CreatedAt.Before(tm) {
			break
		}
		due = append(due, int64(d.ID))
	}
	if len(due) == 0 {
		return 0, nil
	}
	return len(due), t.exec("prune webhook deliveries", `DELETE FROM webhook_deliveries WHERE id = ANY($1)`, due)
}

// maxHorizonWait bounds how long advanceHorizon waits for the transactions
// that may hold a number; past it the horizon stays where it was (readers
// see fewer events, never a wrong order) and the next reader tries again.
const maxHorizonWait = 10 * time.Second

// advanceHorizon moves the outbox horizon up to the last number drawn when
// it starts, once every transaction that may hold a number up to it has
// ended (see the comment at the top of the outbox methods). It runs on a
// connection of its own, outside any transaction of the shop, and holds no
// lock while it waits.
func (db *DB) advanceHorizon(ctx context.Context) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: advance outbox horizon: %w", err)
	}
	defer conn.Release()
	// t1: the last number drawn (NULL: none yet).
	var last *int64
	if err := conn.QueryRow(ctx, `SELECT pg_sequence_last_value('outbox_seqs')`).Scan(&last); err != nil {
		return fmt.Errorf("pgstore: advance outbox horizon: %w", err)
	}
	if last == nil {
		return nil
	}
	// t2: the transactions holding a lock on the sequence, but this one.
	const holders = `FROM pg_locks WHERE locktype = 'relation' AND relation = 'outbox_seqs'::regclass
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND pid IS DISTINCT FROM pg_backend_pid()`
	var waiting []string
	if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT virtualtransaction), '{}') `+holders).Scan(&waiting); err != nil {
		return fmt.Errorf("pgstore: advance outbox horizon: %w", err)
	}
	// Until t3: none of them holds it any more.
	deadline := time.Now().Add(maxHorizonWait)
	pause := 100 * time.Microsecond
	for len(waiting) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Millisecond)
		if err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT virtualtransaction), '{}') `+holders+`
			AND virtualtransaction = ANY($1)`, waiting).Scan(&waiting); err != nil {
			return fmt.Errorf("pgstore: advance outbox horizon: %w", err)
		}
		if len(waiting) > 0 && time.Now().After(deadline) {
			return nil
		}
	}
	if _, err := conn.Exec(ctx, `UPDATE counters SET value = $1 WHERE name = 'outbox_horizon' AND value < $1`, *last); err != nil {
		return fmt.Errorf("pgstore: advance outbox horizon: %w", err)
	}
	return nil
}
