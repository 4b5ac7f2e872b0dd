package pgstore

import (
	"context"
	"fmt"

	"starsbot/shop"
)

// Importing a database from another store (starsbot migrate): records
// whose ids the store assigns (ledger entries, audit entries, outbox
// events, webhook deliveries) are written with the ids they have, and the
// sequences are then set to the source's, so that no id is ever reused.

// shopTables are the tables that hold the shop; Empty looks at them.
var shopTables = []string{"users", "api_keys", "orders", "ledger", "deposits", "idempotency", "queue", "deliveries",
	"audit", "quotes", "settings", "cursors", "outbox", "webhooks", "webhook_deliveries", "chat_states", "sim_transfers"}

// Empty reports whether the database holds no record at all, and if not,
// the first table that has one.
func (db *DB) Empty(ctx context.Context) (bool, string, error) {
	for _, table := range shopTables {
		var any bool
		if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+table+`)`).Scan(&any); err != nil {
			return false, "", fmt.Errorf("pgstore: %w", err)
		}
		if any {
			return false, table, nil
		}
	}
	return true, "", nil
}

// Import is one import transaction: shop.Tx, and writes that keep ids.
type Import struct {
	shop.Tx
	t *tx
}

// Import runs fn in one transaction (see Update).
func (db *DB) Import(ctx context.Context, fn func(*Import) error) error {
	return db.Update(ctx, func(stx shop.Tx) error {
		return fn(&Import{Tx: stx, t: stx.(*tx)})
	})
}

// Ledger writes a ledger entry with its id.
func (im *Import) Ledger(e *shop.LedgerEntry) error {
	data, err := encode(newLedgerRow(e))
	if err != nil {
		return err
	}
	return im.t.exec("import ledger", `INSERT INTO ledger (id, user_id, amount, balance_after, tx_hash, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		int64(e.ID), e.UserID, int64(e.Amount), int64(e.BalanceAfter), hashKey(e.TxHash), data)
}

// Audit writes an audit entry with its id.
func (im *Import) Audit(e *shop.AuditEntry) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	return im.t.exec("import audit", `INSERT INTO audit (id, data) VALUES ($1, $2)`, int64(e.ID), data)
}

// Outbox writes an outbox event with its sequence number, indexed under
// its user if indexed (and it is not a test event).
func (im *Import) Outbox(e *shop.OutboxEvent, indexed bool) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	var orderID any
	if e.Order != nil {
		orderID = e.Order.ID
	}
	if err := im.t.exec("import outbox", `INSERT INTO outbox (seq, user_id, order_id, test, created_ns, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		int64(e.Seq), e.UserID, orderID, e.WebhookID != "", nanos(e.CreatedAt), data); err != nil {
		return err
	}
	if indexed && e.WebhookID == "" {
		return im.t.exec("import outbox", `INSERT INTO user_outbox (user_id, seq) VALUES ($1, $2)`, e.UserID, int64(e.Seq))
	}
	return nil
}

// WebhookDelivery writes a delivery with its id.
func (im *Import) WebhookDelivery(d *shop.WebhookDelivery) error {
	data, err := encode(d)
	if err != nil {
		return err
	}
	return im.t.exec("import webhook delivery", `INSERT INTO webhook_deliveries (id, webhook_id, user_id, status, next_ns, data)
		VALUES ($1, $2, $3, $4, $5, $6)`, int64(d.ID), d.WebhookID, d.UserID, string(d.Status), nanos(d.NextAttemptAt), data)
}

// SimTransfer writes a transfer of the simulated chain with its logical
// time.
func (im *Import) SimTransfer(account string, t shop.Transfer) error {
	data, err := encode(t)
	if err != nil {
		return err
	}
	return im.t.exec("import sim transfer", `INSERT INTO sim_transfers (account, lt, hash, data) VALUES ($1, $2, $3, $4)`,
		account, int64(t.LT), hashKey(t.Hash), data)
}

// ChatState writes a chat's bot state.
func (im *Import) ChatState(chatID int64, data []byte) error {
	return im.t.exec("import chat state", `INSERT INTO chat_states (chat_id, data) VALUES ($1, $2)`, chatID, data)
}

// sequences maps the names of store.Export's sequences to this schema's.
var sequences = map[string]string{"orders": "order_ids", "ledger": "ledger_ids", "deposits": "deposit_ids",
	"audit": "audit_ids", "webhook_deliveries": "webhook_delivery_ids"}

// SetSequences sets each sequence to the source's last id (or the largest
// id imported, if larger), and the outbox's indexed mark.
func (im *Import) SetSequences(last map[string]uint64, outboxIndexed uint64) error {
	for name, v := range last {
		if name == "outbox" {
			// Every imported event is committed with the import: the
			// horizon is the last of them.
			if err := im.t.exec("import sequences", `UPDATE counters SET value = greatest($1, (SELECT coalesce(max(seq), 0) FROM outbox))
				WHERE name = 'outbox_horizon'`, int64(v)); err != nil {
				return err
			}
			if err := im.t.exec("import sequences", `SELECT setval('outbox_seqs', greatest(value, 1), value > 0)
				FROM counters WHERE name = 'outbox_horizon'`); err != nil {
				return err
			}
			continue
		}
		seq, ok := sequences[name]
		if !ok {
			return fmt.Errorf("pgstore: import: unknown sequence %q", name)
		}
		if v == 0 {
			continue
		}
		if err := im.t.exec("import sequences", `SELECT setval($1, $2)`, seq, int64(v)); err != nil {
			return err
		}
	}
	return im.t.exec("import sequences", `UPDATE counters SET value = $1 WHERE name = 'outbox_indexed'`, int64(outboxIndexed))
}
