package store

import (
	"bytes"
	"fmt"
	"time"

	"starsbot/shop"
)

// Webhook endpoints and their deliveries.
//
//	webhooks              id → webhookRecord
//	user_webhooks         i64(user id) + id → nil
//	webhook_deliveries    u64(delivery id) → webhookDeliveryRecord; ids from the
//	                      bucket's sequence
//	webhook_delivery_log  webhook id + 0x00 + u64(delivery id) → nil
//	webhook_due           i64(next attempt, Unix ns) + u64(delivery id) → webhook
//	                      id, for pending deliveries only
var (
	bucketWebhooks          = []byte("webhooks")
	bucketUserWebhooks      = []byte("user_webhooks")
	bucketWebhookDeliveries = []byte("webhook_deliveries")
	bucketHookDeliveries    = []byte("webhook_delivery_log")
	bucketWebhookDue        = []byte("webhook_due")
)

type webhookRecord struct {
	ID              string    `json:"id"`
	UserID          int64     `json:"user_id"`
	URL             string    `json:"url"`
	EventTypes      []string  `json:"event_types,omitempty"`
	Secret          string    `json:"secret"`
	PreviousSecret  string    `json:"previous_secret,omitempty"`
	PreviousExpires time.Time `json:"previous_expires,omitzero"`
	SecretRotatedAt time.Time `json:"secret_rotated_at,omitzero"`
	DisabledReason  string    `json:"disabled_reason,omitempty"`
	DisabledAt      time.Time `json:"disabled_at,omitzero"`
	FailingSince    time.Time `json:"failing_since,omitzero"`
	FailingWarned   bool      `json:"failing_warned,omitempty"`
	CreatedAt       time.Time `json:"created_at,omitzero"`
}

func newWebhookRecord(w *shop.Webhook) *webhookRecord {
	r := &webhookRecord{
		ID: w.ID, UserID: w.UserID, URL: w.URL,
		Secret: w.Secret.Reveal(), PreviousSecret: w.PreviousSecret.Reveal(), PreviousExpires: w.PreviousExpires,
		SecretRotatedAt: w.SecretRotatedAt, DisabledReason: w.DisabledReason, DisabledAt: w.DisabledAt,
		FailingSince: w.FailingSince, FailingWarned: w.FailingWarned, CreatedAt: w.CreatedAt,
	}
	for _, t := range w.EventTypes {
		r.EventTypes = append(r.EventTypes, string(t))
	}
	return r
}

func (r *webhookRecord) webhook() *shop.Webhook {
	w := &shop.Webhook{
		ID: r.ID, UserID: r.UserID, URL: r.URL,
		Secret: shop.WebhookSecret(r.Secret), PreviousSecret: shop.WebhookSecret(r.PreviousSecret), PreviousExpires: r.PreviousExpires,
		SecretRotatedAt: r.SecretRotatedAt, DisabledReason: r.DisabledReason, DisabledAt: r.DisabledAt,
		FailingSince: r.FailingSince, FailingWarned: r.FailingWarned, CreatedAt: r.CreatedAt,
	}
	for _, t := range r.EventTypes {
		w.EventTypes = append(w.EventTypes, shop.PartnerEventType(t))
	}
	return w
}

type webhookDeliveryRecord struct {
	ID             uint64    `json:"id"`
	WebhookID      string    `json:"webhook_id"`
	UserID         int64     `json:"user_id"`
	EventSeq       uint64    `json:"event_seq"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	Status         string    `json:"status"`
	Attempts       int       `json:"attempts,omitempty"`
	LastAttemptAt  time.Time `json:"last_attempt_at,omitzero"`
	LastStatusCode int       `json:"last_status_code,omitempty"`
	LastError      string    `json:"last_error,omitempty"`
	NextAttemptAt  time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt      time.Time `json:"created_at"`
}

func newWebhookDeliveryRecord(d *shop.WebhookDelivery) *webhookDeliveryRecord {
	return &webhookDeliveryRecord{
		ID: d.ID, WebhookID: d.WebhookID, UserID: d.UserID, EventSeq: d.EventSeq, EventID: d.EventID,
		EventType: string(d.EventType), Status: string(d.Status), Attempts: d.Attempts,
		LastAttemptAt: d.LastAttemptAt, LastStatusCode: d.LastStatusCode, LastError: d.LastError,
		NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt,
	}
}

func (r *webhookDeliveryRecord) delivery() *shop.WebhookDelivery {
	return &shop.WebhookDelivery{
		ID: r.ID, WebhookID: r.WebhookID, UserID: r.UserID, EventSeq: r.EventSeq, EventID: r.EventID,
		EventType: shop.PartnerEventType(r.EventType), Status: shop.WebhookDeliveryStatus(r.Status), Attempts: r.Attempts,
		LastAttemptAt: r.LastAttemptAt, LastStatusCode: r.LastStatusCode, LastError: r.LastError,
		NextAttemptAt: r.NextAttemptAt, CreatedAt: r.CreatedAt,
	}
}

// webhookLogKey is a delivery's webhook_delivery_log key.
func webhookLogKey(webhookID string, id uint64) []byte {
	return cat([]byte(webhookID), []byte{0}, u64(id))
}

// webhookDueKey is a pending delivery's webhook_due key.
func webhookDueKey(next time.Time, id uint64) []byte {
	return cat(i64(next.UnixNano()), u64(id))
}

// PutWebhook creates or replaces w and indexes it under its user.
func (t *tx) PutWebhook(w *shop.Webhook) error {
	if err := t.writable("put webhook"); err != nil {
		return err
	}
	if w.ID == "" || w.UserID == 0 || w.Secret == "" {
		return shop.Errorf(shop.EVALIDATION, "a webhook needs an id, a user and a secret")
	}
	if err := putIfChanged(t.bucket(bucketUserWebhooks), cat(i64(w.UserID), []byte(w.ID)), nil); err != nil {
		return err
	}
	return put(t.bucket(bucketWebhooks), []byte(w.ID), newWebhookRecord(w))
}

// FindWebhook returns the endpoint with id.
func (t *tx) FindWebhook(id string) (*shop.Webhook, error) {
	if id == "" {
		return nil, notFound("Webhook")
	}
	r, err := get[webhookRecord](t.bucket(bucketWebhooks), []byte(id))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Webhook")
	}
	return r.webhook(), nil
}

// FindWebhooksByUser returns a user's endpoints, oldest first.
func (t *tx) FindWebhooksByUser(userID int64) ([]*shop.Webhook, error) {
	var out []*shop.Webhook
	b := t.bucket(bucketWebhooks)
	prefix := i64(userID)
	c := t.bucket(bucketUserWebhooks).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		r, err := get[webhookRecord](b, k[8:])
		if err != nil {
			return nil, err
		} else if r == nil {
			return nil, fmt.Errorf("store: user_webhooks entry %x names a missing webhook", k)
		}
		out = append(out, r.webhook())
	}
	// Ids are random: order by creation.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].CreatedAt.Before(out[j-1].CreatedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// DeleteWebhook removes an endpoint and its index entry. Its deliveries
// stay until pruned.
func (t *tx) DeleteWebhook(id string) error {
	if err := t.writable("delete webhook"); err != nil {
		return err
	}
	b := t.bucket(bucketWebhooks)
	r, err := get[webhookRecord](b, []byte(id))
	if err != nil || r == nil {
		return err
	}
	if err := t.bucket(bucketUserWebhooks).Delete(cat(i64(r.UserID), []byte(id))); err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// PutWebhookDelivery creates (d.ID == 0) or replaces a delivery and keeps
// webhook_delivery_log and webhook_due in step.
func (t *tx) PutWebhookDelivery(d *shop.WebhookDelivery) error {
	if err := t.writable("put webhook delivery"); err != nil {
		return err
	}
	b, due := t.appendBucket(bucketWebhookDeliveries), t.bucket(bucketWebhookDue)
	if d.ID == 0 {
		id, err := b.NextSequence()
		if err != nil {
			return fmt.Errorf("store: put webhook delivery: %w", err)
		}
		d.ID = id
		if err := t.appendBucket(bucketHookDeliveries).Put(webhookLogKey(d.WebhookID, id), nil); err != nil {
			return err
		}
	} else {
		old, err := get[webhookDeliveryRecord](b, u64(d.ID))
		if err != nil {
			return err
		} else if old == nil {
			return notFound("Webhook delivery")
		}
		if old.WebhookID != d.WebhookID {
			return fmt.Errorf("store: webhook delivery %d cannot move to another webhook", d.ID)
		}
		if old.Status == string(shop.WebhookPending) {
			if err := due.Delete(webhookDueKey(old.NextAttemptAt, old.ID)); err != nil {
				return err
			}
		}
	}
	if d.Status == shop.WebhookPending {
		if err := due.Put(webhookDueKey(d.NextAttemptAt, d.ID), []byte(d.WebhookID)); err != nil {
			return err
		}
	}
	return put(b, u64(d.ID), newWebhookDeliveryRecord(d))
}

// FindWebhookDelivery returns the delivery with id.
func (t *tx) FindWebhookDelivery(id uint64) (*shop.WebhookDelivery, error) {
	r, err := get[webhookDeliveryRecord](t.bucket(bucketWebhookDeliveries), u64(id))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Webhook delivery")
	}
	return r.delivery(), nil
}

// FindWebhookDeliveries returns up to limit deliveries of an endpoint with
// ID < before (0: from the newest), newest first.
func (t *tx) FindWebhookDeliveries(webhookID string, before uint64, limit int) ([]*shop.WebhookDelivery, bool, error) {
	prefix := cat([]byte(webhookID), []byte{0})
	c := t.bucket(bucketHookDeliveries).Cursor()
	var k []byte
	if before == 0 {
		k, _ = seekLast(c, prefix)
	} else {
		k, _ = seekBefore(c, cat(prefix, u64(before)))
	}
	b := t.bucket(bucketWebhookDeliveries)
	var out []*shop.WebhookDelivery
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(out) == limit {
			return out, true, nil
		}
		r, err := get[webhookDeliveryRecord](b, k[len(k)-8:])
		if err != nil {
			return nil, false, err
		} else if r == nil { // pruned: the log entry goes with it, so this is damage
			return nil, false, fmt.Errorf("store: webhook_delivery_log entry %x names a missing delivery", k)
		}
		out = append(out, r.delivery())
	}
	return out, false, nil
}

// DueWebhookDeliveries returns up to limit pending deliveries due at now,
// soonest first, walking webhook_due from its start; skip sees the webhook
// id each entry holds.
func (t *tx) DueWebhookDeliveries(now time.Time, limit int, skip func(string) bool) ([]*shop.WebhookDelivery, error) {
	end := i64(now.UnixNano())
	b := t.bucket(bucketWebhookDeliveries)
	var out []*shop.WebhookDelivery
	c := t.bucket(bucketWebhookDue).Cursor()
	for k, v := c.First(); k != nil && len(out) < limit && bytes.Compare(k[:8], end) <= 0; k, v = c.Next() {
		if skip != nil && skip(string(v)) {
			continue
		}
		r, err := get[webhookDeliveryRecord](b, k[8:])
		if err != nil {
			return nil, err
		} else if r == nil {
			return nil, fmt.Errorf("store: webhook_due entry %x names a missing delivery", k)
		}
		out = append(out, r.delivery())
	}
	return out, nil
}

// DeleteWebhookDeliveriesBefore removes up to limit of the oldest
// deliveries created before tm, with their index entries.
func (t *tx) DeleteWebhookDeliveriesBefore(tm time.Time, limit int) (int, error) {
	if err := t.writable("prune webhook deliveries"); err != nil {
		return 0, err
	}
	b := t.bucket(bucketWebhookDeliveries)
	var due []*webhookDeliveryRecord
	c := b.Cursor()
	for k, v := c.First(); k != nil && len(due) < limit; k, v = c.Next() {
		r, err := decode[webhookDeliveryRecord](k, v)
		if err != nil {
			return 0, err
		}
		if !r.CreatedAt.Before(tm) {
			break
		}
		due = append(due, r)
	}
	log, pending := t.bucket(bucketHookDeliveries), t.bucket(bucketWebhookDue)
	for _, r := range due { // after the walk: deleting behind a live cursor skips keys
		if err := b.Delete(u64(r.ID)); err != nil {
			return 0, err
		}
		if err := log.Delete(webhookLogKey(r.WebhookID, r.ID)); err != nil {
			return 0, err
		}
		if r.Status == string(shop.WebhookPending) {
			if err := pending.Delete(webhookDueKey(r.NextAttemptAt, r.ID)); err != nil {
				return 0, err
			}
		}
	}
	return len(due), nil
}
