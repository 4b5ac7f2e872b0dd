package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// maxProblems caps how many problems Check reports.
const maxProblems = 50

// checks are Check's queries: each returns one row per violation, its
// columns formatted into the message.
var checks = []struct{ query, format string }{
	// Money: balance = sum of the ledger, never negative, every running
	// sum BalanceAfter and never negative.
	{`SELECT id, balance FROM users WHERE balance < 0`, "user %d: negative balance %d"},
	{`SELECT u.id, u.balance, coalesce(l.sum, 0)::bigint FROM users u
		LEFT JOIN (SELECT user_id, sum(amount) AS sum FROM ledger GROUP BY user_id) l ON l.user_id = u.id
		WHERE u.balance <> coalesce(l.sum, 0)`, "user %d: balance %d, sum of ledger entries %d"},
	{`SELECT id, user_id, balance_after, running FROM (
		SELECT id, user_id, balance_after, sum(amount) OVER (PARTITION BY user_id ORDER BY id)::bigint AS running FROM ledger) r
		WHERE balance_after <> running`, "ledger entry %d of user %d: balance_after %d, running sum %d"},
	{`SELECT id, user_id, running FROM (
		SELECT id, user_id, sum(amount) OVER (PARTITION BY user_id ORDER BY id)::bigint AS running FROM ledger) r
		WHERE running < 0`, "ledger entry %d of user %d: running balance %d is negative"},
	{`SELECT u.id, (u.data->>'Balance')::numeric * 1000000000, u.balance FROM users u
		WHERE (u.data->>'Balance')::numeric * 1000000000 <> u.balance`, "user %d: record balance %v nanoTON, column %d"},

	// References.
	{`SELECT l.id, l.user_id FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = l.user_id)`, "ledger entry %d: user %d missing"},
	{`SELECT o.id, o.user_id FROM orders o WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id)`, "order %d: user %d missing"},
	{`SELECT d.id, d.user_id FROM deposits d WHERE d.user_id <> 0 AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id)`, "deposit %d: user %d missing"},
	{`SELECT d.id, d.order_id FROM deposits d WHERE d.order_id <> 0 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = d.order_id)`, "deposit %d: order %d missing"},
	{`SELECT n.name, n.user_id FROM usernames n WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = n.user_id)`, "usernames %q: user %d missing"},
	{`SELECT m.memo, m.user_id FROM memos m WHERE m.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)`, "memos %q: user %d missing"},
	{`SELECT m.memo, m.order_id FROM memos m WHERE m.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = m.order_id)`, "memos %q: order %d missing"},
	{`SELECT q.order_id FROM queue q WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = q.order_id)`, "queue: order %d missing"},
	{`SELECT d.order_id FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = d.order_id)`, "delivery: order %d missing"},
	{`SELECT q.id, q.user_id FROM quotes q WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = q.user_id)`, "quote %q: user %d missing"},
	{`SELECT q.id, q.order_id FROM quotes q WHERE q.order_id <> 0 AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = q.order_id AND o.user_id = q.user_id)`, "quote %q: order %d missing or not its owner's"},
	{`SELECT q.id FROM quotes q WHERE (q.data->>'PriceTON')::numeric <= 0`, "quote %q: price is not positive"},
	{`SELECT e.seq, e.user_id FROM outbox e WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = e.user_id)`, "outbox event %d: user %d does not exist"},
	{`SELECT e.seq, e.order_id, e.user_id FROM outbox e WHERE e.order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = e.order_id AND o.user_id = e.user_id)`, "outbox event %d: order %d is missing or not user %d's"},
	{`SELECT e.seq FROM outbox e WHERE e.test AND coalesce(e.data->>'WebhookID', '') = ''`, "outbox event %d: a test event names no webhook"},
	{`SELECT e.seq FROM outbox e, counters c WHERE c.name = 'outbox_indexed' AND e.seq <= c.value AND NOT e.test
		AND NOT EXISTS (SELECT 1 FROM user_outbox x WHERE x.seq = e.seq AND x.user_id = e.user_id)`, "outbox event %d: indexed but missing from user_outbox"},
	{`SELECT x.user_id, x.seq FROM user_outbox x WHERE NOT EXISTS (SELECT 1 FROM outbox e WHERE e.seq = x.seq AND e.user_id = x.user_id AND NOT e.test)`, "user_outbox %d/%d names a missing event, a test event or another user's"},
	{`SELECT i.value, h.value FROM counters i, counters h WHERE i.name = 'outbox_indexed' AND h.name = 'outbox_horizon' AND i.value > h.value`, "outbox: indexed mark %d beyond the horizon %d"},
	{`SELECT h.value, s.last_value FROM counters h, outbox_seqs s WHERE h.name = 'outbox_horizon' AND h.value > CASE WHEN s.is_called THEN s.last_value ELSE 0 END`,
		"outbox: horizon %d beyond the sequence %d"},
	{`SELECT max(e.seq), s.last_value FROM outbox e, outbox_seqs s GROUP BY s.last_value, s.is_called
		HAVING max(e.seq) > CASE WHEN s.is_called THEN s.last_value ELSE 0 END`, "outbox: event %d beyond the sequence %d"},
	{`SELECT w.id, w.user_id FROM webhooks w WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = w.user_id)`, "webhook %s: user %d does not exist"},
	{`SELECT user_id, count(*) FROM webhooks WHERE enabled GROUP BY user_id HAVING count(*) > $1`, "user %d has %d enabled webhooks, more than the maximum"},
	{`SELECT d.id, d.user_id FROM webhook_deliveries d WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id)`, "webhook delivery %d: user %d does not exist"},
	{`SELECT id, status FROM webhook_deliveries WHERE status NOT IN ('pending', 'delivered', 'failed')`, "webhook delivery %d: unknown status %q"},
	{`SELECT id FROM webhook_deliveries WHERE (data->>'Attempts')::bigint < 0`, "webhook delivery %d: negative attempts"},

	// Dust and rejected deposits moved no money.
	{`SELECT id, status, user_id, order_id FROM deposits WHERE status IN ('ignored', 'rejected') AND (user_id <> 0 OR order_id <> 0)`,
		"deposit %d: %s, but names user %d, order %d"},
	{`SELECT d.id, d.status, l.id FROM deposits d JOIN ledger l ON l.tx_hash = d.tx_hash
		WHERE d.status IN ('ignored', 'rejected')`, "deposit %d: %s, but ledger entry %d carries its tx hash"},

	// Indexed columns agree with their records.
	{`SELECT id, status, data->>'Status' FROM orders WHERE status <> data->>'Status' OR user_id <> (data->>'UserID')::bigint
		OR price_ton <> (data->>'PriceTON')::numeric * 1000000000`, "order %d: columns (status %s) disagree with its record (%s)"},
	{`SELECT id, status, data->>'Status' FROM deposits WHERE status <> data->>'Status' OR amount <> (data->>'Amount')::numeric * 1000000000`,
		"deposit %d: columns (status %s) disagree with its record (%s)"},
	{`SELECT id, amount, data->>'Amount' FROM ledger WHERE amount <> (data->>'Amount')::bigint OR user_id <> (data->>'UserID')::bigint`,
		"ledger entry %d: amount %d disagrees with its record (%s)"},
	{`SELECT id, data->>'Status' FROM orders WHERE (expiry_ns IS NOT NULL) <> (status = 'pending_payment' AND (data->>'ExpiresAt')::timestamptz > '0001-01-01T00:00:00Z')`,
		"order %d (%s): expiry index disagrees with its status and deadline"},

	// The order totals (triggers on orders) are the sums of the orders.
	{`SELECT coalesce(o.user_id, t.user_id), coalesce(o.status, t.status), coalesce(o.count, 0), coalesce(t.count, 0) FROM
		(SELECT user_id, status, count(*) AS count, sum(price_ton) AS price_ton, sum(fee_ton) AS fee_ton, sum(stars) AS stars,
			sum(months) AS months FROM orders GROUP BY user_id, status) o
		FULL JOIN (SELECT * FROM order_totals WHERE count <> 0 OR price_ton <> 0 OR fee_ton <> 0 OR stars <> 0 OR months <> 0) t
			ON t.user_id = o.user_id AND t.status = o.status
		WHERE (o.count, o.price_ton, o.fee_ton, o.stars, o.months) IS DISTINCT FROM (t.count, t.price_ton, t.fee_ton, t.stars, t.months)`,
		"order totals of user %d, %s: %d orders counted, %d stored (or their sums differ)"},
}

// Check verifies the database in one snapshot and returns every problem
// it finds (up to 50), joined, or nil: the checks of store.Check that
// apply to this schema (see checks), in SQL, and those that compare
// normalized keys, in Go:
//   - each user's balance is the sum of its ledger entries and not
//     negative, each entry's BalanceAfter is the running sum, never
//     negative;
//   - every reference is valid: ledger, order, deposit, quote, outbox
//     event, webhook and delivery → user; deposit, quote, queue, delivery,
//     memo, outbox event → order (of the same user);
//   - an ignored (dust) or rejected deposit moved no money;
//   - the usernames and memos indexes name users and orders whose record
//     carries that name or memo, and every memo is indexed;
//   - the outbox index holds exactly the indexed non-test events;
//   - the order totals are the sums of the orders per owner and status.
func (db *DB) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("pgstore: check: %w", err)
	}
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()
	c := &checker{ctx: ctx, ptx: ptx}
	for _, ch := range checks {
		var args []any
		if strings.Contains(ch.query, "$1") {
			args = append(args, shop.MaxWebhooks)
		}
		c.query(ch.query, ch.format, args...)
	}
	c.keys()
	if c.dropped > 0 {
		c.problems = append(c.problems, fmt.Errorf("pgstore check: %d more problems not shown", c.dropped))
	}
	return errors.Join(c.problems...)
}

type checker struct {
	ctx      context.Context
	ptx      pgx.Tx
	problems []error
	dropped  int
}

func (c *checker) addf(format string, args ...any) {
	if len(c.problems) == maxProblems {
		c.dropped++
		return
	}
	c.problems = append(c.problems, fmt.Errorf("pgstore check: "+format, args...))
}

// query reports each row of sql with format.
func (c *checker) query(sql, format string, args ...any) {
	rows, err := c.ptx.Query(c.ctx, sql, args...)
	if err != nil {
		c.addf("%s: %v", format, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			c.addf("%s: %v", format, err)
			return
		}
		c.addf(format, vals...)
	}
	if err := rows.Err(); err != nil {
		c.addf("%s: %v", format, err)
	}
}

// keys checks the normalized keys of the usernames and memos indexes
// against their records, with the normalizers the store writes them with.
func (c *checker) keys() {
	type row struct {
		key      string
		id       int64
		field    string
		isOrder  bool
		indexed  bool
		memoSide bool
	}
	var rs []row
	collect := func(sql string, isOrder, memoSide bool) {
		rows, err := c.ptx.Query(c.ctx, sql)
		if err != nil {
			c.addf("%s: %v", sql, err)
			return
		}
		var r row
		_, err = pgx.ForEachRow(rows, []any{&r.key, &r.id, &r.field, &r.indexed}, func() error {
			r.isOrder, r.memoSide = isOrder, memoSide
			rs = append(rs, r)
			return nil
		})
		if err != nil {
			c.addf("%s: %v", sql, err)
		}
	}
	// Index entries and the field of the record they name.
	collect(`SELECT n.name, n.user_id, coalesce(u.data->>'Username', ''), TRUE FROM usernames n JOIN users u ON u.id = n.user_id`, false, false)
	collect(`SELECT m.memo, m.user_id, coalesce(u.data->>'Memo', ''), TRUE FROM memos m JOIN users u ON u.id = m.user_id`, false, true)
	collect(`SELECT m.memo, m.order_id, coalesce(o.data->>'PaymentMemo', ''), TRUE FROM memos m JOIN orders o ON o.id = m.order_id`, true, true)
	// Records with a memo, and whether their own memo entry exists.
	collect(`SELECT coalesce(m.memo, ''), u.id, u.data->>'Memo', m.memo IS NOT NULL FROM users u
		LEFT JOIN memos m ON m.user_id = u.id WHERE coalesce(u.data->>'Memo', '') <> ''`, false, true)
	collect(`SELECT coalesce(m.memo, ''), o.id, o.data->>'PaymentMemo', m.memo IS NOT NULL FROM orders o
		LEFT JOIN memos m ON m.order_id = o.id WHERE coalesce(o.data->>'PaymentMemo', '') <> ''`, true, true)
	for _, r := range rs {
		what := "user"
		if r.isOrder {
			what = "order"
		}
		switch {
		case !r.indexed:
			c.addf("%s %d: memo %q is not indexed to it", what, r.id, r.field)
		case !r.memoSide && usernameKey(r.field) != r.key:
			c.addf("usernames %q: user %d has username %q", r.key, r.id, r.field)
		case r.memoSide && shop.NormalizeMemo(r.field) != r.key:
			c.addf("memos %q: %s %d has memo %q", r.key, what, r.id, r.field)
		}
	}
}
