package store

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// Export is what a database holds beyond what shop.Tx can enumerate, for
// copying it to another store (starsbot migrate): the records kept by key
// only, and the sequences that ids must never fall back behind.
type Export struct {
	// Sequences are the last ids handed out: "orders", "ledger",
	// "deposits", "audit", "outbox", "webhook_deliveries".
	Sequences   map[string]uint64
	Idempotency []*shop.Idempotency
	Quotes      []*shop.LockedQuote
	Settings    map[string][]byte // raw, without "pricing" (FindPricing) and the outbox mark (OutboxIndexed)
	Cursors     []*shop.Cursor
	Deliveries  []*shop.Delivery
	// WebhookDeliveries are all deliveries, oldest first, those of deleted
	// endpoints included.
	WebhookDeliveries []*shop.WebhookDelivery
	Audit             []*shop.AuditEntry // oldest first
	ChatStates        map[int64][]byte
	SimTransfers      map[string][]shop.Transfer // by account, oldest first
}

// Export reads an Export in one read transaction.
func (db *DB) Export(ctx context.Context) (*Export, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := &Export{Sequences: map[string]uint64{}, Settings: map[string][]byte{}, ChatStates: map[int64][]byte{}, SimTransfers: map[string][]shop.Transfer{}}
	err := db.bdb.View(func(btx *bolt.Tx) error {
		t := &tx{btx: btx}
		for name, b := range map[string][]byte{"orders": bucketOrders, "ledger": bucketLedger, "deposits": bucketDeposits,
			"audit": bucketAudit, "outbox": bucketOutbox, "webhook_deliveries": bucketWebhookDeliveries} {
			x.Sequences[name] = t.bucket(b).Sequence()
		}
		err := scan(t.bucket(bucketIdempotency), nil, func(k, v []byte) error {
			r, err := decode[idempotencyRecord](k, v)
			if err != nil {
				return err
			}
			idempotencyFromKey(k, r)
			x.Idempotency = append(x.Idempotency, r.idempotency())
			return nil
		})
		if err != nil {
			return err
		}
		if err := scan(t.bucket(bucketQuotes), nil, func(k, v []byte) error {
			r, err := decode[quoteRecord](k, v)
			if err == nil {
				x.Quotes = append(x.Quotes, r.quote())
			}
			return err
		}); err != nil {
			return err
		}
		if err := scan(t.bucket(bucketSettings), nil, func(k, v []byte) error {
			if s := string(k); s != settingPricing && s != keyOutboxIndexed {
				x.Settings[s] = v
			}
			return nil
		}); err != nil {
			return err
		}
		if err := scan(t.bucket(bucketCursors), nil, func(k, v []byte) error {
			r, err := decode[cursorRecord](k, v)
			if err == nil {
				x.Cursors = append(x.Cursors, r.cursor())
			}
			return err
		}); err != nil {
			return err
		}
		if err := scan(t.bucket(bucketDeliveries), nil, func(k, v []byte) error {
			r, err := decode[deliveryRecord](k, v)
			if err == nil {
				x.Deliveries = append(x.Deliveries, r.delivery())
			}
			return err
		}); err != nil {
			return err
		}
		if err := scan(t.bucket(bucketWebhookDeliveries), nil, func(k, v []byte) error {
			r, err := decode[webhookDeliveryRecord](k, v)
			if err == nil {
				x.WebhookDeliveries = append(x.WebhookDeliveries, r.delivery())
			}
			return err
		}); err != nil {
			return err
		}
		if err := scan(t.bucket(bucketAudit), nil, func(k, v []byte) error {
			r, err := decode[auditRecord](k, v)
			if err == nil {
				x.Audit = append(x.Audit, &shop.AuditEntry{ID: r.ID, AdminID: r.AdminID, Action: r.Action, Args: r.Args, Result: r.Result, Time: r.Time})
			}
			return err
		}); err != nil {
			return err
		}
		if err := scan(t.bucket(bucketChatState), nil, func(k, v []byte) error {
			if len(k) == 8 {
				x.ChatStates[int64(binary.BigEndian.Uint64(k))] = v
			}
			return nil
		}); err != nil {
			return err
		}
		return scan(t.bucket(bucketSimChain), nil, func(k, v []byte) error {
			r, err := decode[simRecord](k, v)
			if err != nil {
				return err
			}
			account := string(k[:len(k)-9]) // account, NUL, logical time
			x.SimTransfers[account] = append(x.SimTransfers[account], r.transfer())
			return nil
		})
	})
	return x, err
}
