package pgstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// Outbox.

func (t *tx) AppendOutbox(e *shop.OutboxEvent) error {
	if err := t.canWrite("append outbox"); err != nil {
		return err
	}
	if e.ID == "" || e.Type == "" || e.UserID == 0 {
		return fmt.Errorf("pgstore: append outbox: an event needs an id, a type and a user")
	}
	t.appended = true // Update notifies listeners after the commit (notify.go)
	// The counter row stays locked until commit: the next writer waits (or,
	// serializable, retries), so sequence numbers follow commit order.
	var seq int64
	if err := t.ptx.QueryRow(t.ctx, `UPDATE counters SET value = value + 1 WHERE name = 'outbox_seq' RETURNING value`).Scan(&seq); err != nil {
		return t.fail("append outbox", err)
	}
	c := *e
	c.Seq = uint64(seq)
	data, err := encode(&c)
	if err != nil {
		return err
	}
	var orderID any
	if e.Order != nil {
		orderID = e.Order.ID
	}
	if err := t.exec("append outbox", `INSERT INTO outbox (seq, user_id, order_id, test, created_ns, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		seq, e.UserID, orderID, e.WebhookID != "", nanos(e.CreatedAt), data); err != nil {
		return err
	}
	e.Seq = uint64(seq)
	return nil
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
	return found[shop.OutboxEvent](t, "Event", `SELECT data FROM outbox WHERE seq = $1`, int64(seq))
}

func (t *tx) FindOutboxByUser(userID int64, after uint64, limit int) ([]*shop.OutboxEvent, bool, error) {
	es, err := all[shop.OutboxEvent](t, "outbox of user", `SELECT o.data FROM user_outbox u JOIN outbox o ON o.seq = u.seq
		WHERE u.user_id = $1 AND u.seq > $2 ORDER BY u.seq LIMIT $3`, userID, int64(after), nonNeg(limit)+1)
	if err != nil {
		return nil, false, err
	}
	es, more := page(es, nonNeg(limit))
	return es, more, nil
}

func (t *tx) OutboxAfter(after uint64, limit int) ([]*shop.OutboxEvent, error) {
	return all[shop.OutboxEvent](t, "outbox", `SELECT data FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2`, int64(after), nonNeg(limit))
}

func (t *tx) OutboxSeqBefore(tm time.Time) (uint64, error) {
	var seq int64
	err := t.ptx.QueryRow(t.ctx, `SELECT coalesce(max(seq), 0) FROM outbox WHERE created_ns < $1`, nanos(tm)).Scan(&seq)
	return uint64(seq), t.fail("outbox seq before", err)
}

func (t *tx) DeleteOutboxBefore(tm time.Time, limit int) (int, error) {
	if err := t.canWrite("prune outbox"); err != nil {
		return 0, err
	}
	// The oldest events, up to the first one not created before tm (as
	// package store walks them).
	rows, err := t.ptx.Query(t.ctx, `SELECT seq, created_ns FROM outbox ORDER BY seq LIMIT $1`, nonNeg(limit))
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
