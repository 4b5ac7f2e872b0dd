package store

import (
	"bytes"
	"slices"
	"strings"

	"starsbot/shop"
)

// outbox checks the outbox and its user_outbox index.
func (c *checker) outbox() {
	if c.t.btx.Bucket(bucketOutbox) == nil { // a file from before the outbox, opened read-only
		return
	}
	seq := c.t.bucket(bucketOutbox).Sequence()
	indexed, err := c.t.OutboxIndexed()
	if err != nil || indexed > seq {
		c.addf("outbox: indexed mark %d beyond the sequence %d (%v)", indexed, seq, err)
	}
	each(c, bucketOutbox, func(k []byte, r *outboxRecord) {
		if !bytes.Equal(k, u64(r.Seq)) || r.Seq > seq {
			c.addf("outbox event %d stored under key %x (sequence %d)", r.Seq, k, seq)
		}
		if !c.has(bucketUsers, i64(r.UserID)) {
			c.addf("outbox event %d: user %d does not exist", r.Seq, r.UserID)
		}
		typ := shop.PartnerEventType(r.Type)
		switch {
		case strings.HasPrefix(r.Type, "order."):
			if r.Order == nil {
				c.addf("outbox event %d (%s) has no order", r.Seq, r.Type)
			} else if o := lookup[orderRecord](c, bucketOrders, i64(r.Order.ID)); o == nil || o.UserID != r.UserID || r.Order.UserID != r.UserID {
				c.addf("outbox event %d: order %d is missing or not user %d's", r.Seq, r.Order.ID, r.UserID)
			}
		case strings.HasPrefix(r.Type, "balance."):
			if r.Balance == nil || r.Balance.Amount <= 0 || r.Balance.Balance < 0 {
				c.addf("outbox event %d (%s): missing or non-positive amount", r.Seq, r.Type)
			}
		case typ == shop.PartnerWebhookTest:
			if r.WebhookID == "" {
				c.addf("outbox event %d: a test event names no webhook", r.Seq)
			}
		}
		if typ != shop.PartnerWebhookTest && !slices.Contains(shop.PartnerEventTypes, typ) {
			c.addf("outbox event %d: unknown type %q", r.Seq, r.Type)
		}
		want := r.WebhookID == "" && r.Seq <= indexed
		if has := c.has(bucketUserOutbox, cat(i64(r.UserID), k)); has != want {
			c.addf("outbox event %d: user_outbox entry present=%v, want %v", r.Seq, has, want)
		}
	})
	c.keys(bucketUserOutbox, func(k, _ []byte) {
		if len(k) != 16 {
			c.addf("user_outbox: malformed key %x", k)
			return
		}
		if r := lookup[outboxRecord](c, bucketOutbox, k[8:]); r == nil || !bytes.Equal(i64(r.UserID), k[:8]) {
			c.addf("user_outbox %x names a missing event or another user's", k)
		}
	})
}

// webhooks checks endpoints, deliveries and their indexes.
func (c *checker) webhooks() {
	if c.t.btx.Bucket(bucketWebhooks) == nil { // a file from before webhooks, opened read-only
		return
	}
	enabled := map[int64]int{}
	each(c, bucketWebhooks, func(k []byte, r *webhookRecord) {
		if string(k) != r.ID {
			c.addf("webhook %s stored under key %q", r.ID, k)
		}
		if !c.has(bucketUsers, i64(r.UserID)) {
			c.addf("webhook %s: user %d does not exist", r.ID, r.UserID)
		}
		if !c.has(bucketUserWebhooks, cat(i64(r.UserID), k)) {
			c.addf("webhook %s is not indexed under user %d", r.ID, r.UserID)
		}
		if key, err := shop.WebhookSecret(r.Secret).Key(); err != nil || len(key) != 32 || !strings.HasPrefix(r.Secret, shop.WebhookSecretPrefix) {
			c.addf("webhook %s: malformed secret", r.ID)
		}
		if r.DisabledReason == "" {
			enabled[r.UserID]++
		}
	})
	for user, n := range enabled {
		if n > shop.MaxWebhooks {
			c.addf("user %d has %d enabled webhooks, more than %d", user, n, shop.MaxWebhooks)
		}
	}
	c.keys(bucketUserWebhooks, func(k, _ []byte) {
		if len(k) <= 8 {
			c.addf("user_webhooks: malformed key %x", k)
			return
		}
		if r := lookup[webhookRecord](c, bucketWebhooks, k[8:]); r == nil || !bytes.Equal(i64(r.UserID), k[:8]) {
			c.addf("user_webhooks %x names a missing webhook or another user's", k)
		}
	})
	seq := c.t.bucket(bucketWebhookDeliveries).Sequence()
	each(c, bucketWebhookDeliveries, func(k []byte, r *webhookDeliveryRecord) {
		if !bytes.Equal(k, u64(r.ID)) || r.ID > seq {
			c.addf("webhook delivery %d stored under key %x (sequence %d)", r.ID, k, seq)
		}
		if !c.has(bucketUsers, i64(r.UserID)) {
			c.addf("webhook delivery %d: user %d does not exist", r.ID, r.UserID)
		}
		if !c.has(bucketHookDeliveries, webhookLogKey(r.WebhookID, r.ID)) {
			c.addf("webhook delivery %d is not in webhook %s's log", r.ID, r.WebhookID)
		}
		switch shop.WebhookDeliveryStatus(r.Status) {
		case shop.WebhookPending:
			if !c.has(bucketWebhookDue, webhookDueKey(r.NextAttemptAt, r.ID)) {
				c.addf("pending webhook delivery %d is not in webhook_due", r.ID)
			}
		case shop.WebhookDelivered, shop.WebhookFailed:
		default:
			c.addf("webhook delivery %d: unknown status %q", r.ID, r.Status)
		}
		if r.Attempts < 0 {
			c.addf("webhook delivery %d: negative attempts", r.ID)
		}
	})
	c.keys(bucketHookDeliveries, func(k, _ []byte) {
		if len(k) < 9 || k[len(k)-9] != 0 {
			c.addf("webhook_delivery_log: malformed key %x", k)
			return
		}
		if r := lookup[webhookDeliveryRecord](c, bucketWebhookDeliveries, k[len(k)-8:]); r == nil || r.WebhookID != string(k[:len(k)-9]) {
			c.addf("webhook_delivery_log %x names a missing delivery or another webhook's", k)
		}
	})
	c.keys(bucketWebhookDue, func(k, v []byte) {
		if len(k) != 16 {
			c.addf("webhook_due: malformed key %x", k)
			return
		}
		r := lookup[webhookDeliveryRecord](c, bucketWebhookDeliveries, k[8:])
		if r == nil || r.Status != string(shop.WebhookPending) || !bytes.Equal(webhookDueKey(r.NextAttemptAt, r.ID), k) || r.WebhookID != string(v) {
			c.addf("webhook_due %x names a missing, settled or rescheduled delivery", k)
		}
	})
}
