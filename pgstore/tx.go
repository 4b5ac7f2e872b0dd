package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// tx implements shop.Tx on one PostgreSQL transaction. Every record is
// decoded from the database into a fresh value.
type tx struct {
	ctx      context.Context
	ptx      *txConn
	writable bool
	// conflict is the first serialization failure or deadlock a statement
	// hit: Update re-runs fn whatever fn did with the error.
	conflict error
	appended bool // outbox events were appended: Update notifies after the commit (notify.go)
	// wrote: a write method was called (group commit, batch.go).
	wrote bool
	// The outbox horizon (outbox.go): needAdvance is set by a read that
	// wants it moved (View and Update then run fn again after
	// advanceHorizon), advanced when it was moved just before this run;
	// horizonSeq caches it once read.
	needAdvance, advanced bool
	horizonRead           bool
	horizonSeq            int64
	// known holds the stored JSON of users this transaction already has,
	// for its FindUserByID: in a View, the owner it read with an API key
	// (FindAPIKeyByHash); in a group commit's batch, the payers read ahead
	// and every user a fn of the batch put since, nil for one that does
	// not exist (batch.go). Shared by the batch's fns.
	known map[int64][]byte
	// users holds, for users this transaction read or put, the name and
	// memo (normalized) their stored record has, and orders, for orders it
	// read or put, the memo: a Put that keeps them needs no claim check
	// and leaves the indexes as they are (see PutUser, PutOrder). newOrders
	// are the ids NextOrderID drew here, not yet stored.
	users     map[int64]userKeys
	orders    map[int64]string
	newOrders map[int64]bool
	// ids are the order ids a group commit's batch drew ahead for its fns
	// (batch.go), or nil: shared by them, taken in turn by NextOrderID.
	ids *[]int64
}

// userKeys are the index keys of a stored user record.
type userKeys struct{ name, memo string }

var _ shop.Tx = (*tx)(nil)

// ErrReadOnly is wrapped by the error of a write method called in View.
var ErrReadOnly = errors.New("read-only transaction")

// canWrite returns an error wrapping ErrReadOnly in a View, so that write
// methods fail before touching the database.
func (t *tx) canWrite(op string) error {
	if !t.writable {
		return fmt.Errorf("pgstore: %s: %w", op, ErrReadOnly)
	}
	t.wrote = true
	return nil
}

// fail wraps a database error and remembers a serialization failure.
func (t *tx) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if retryable(err) && t.conflict == nil {
		t.conflict = err
	}
	if err == t.ptx.err {
		return err // a queued write's, already named (conn.go)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// noteQueuedConflict takes a queued write's serialization failure as the
// transaction's conflict, whatever fn made of the error: the transaction
// is void and fn runs again.
func (t *tx) noteQueuedConflict() {
	if err := t.ptx.err; err != nil && retryable(err) && t.conflict == nil {
		t.conflict = err
	}
}

// exec queues a blind write: it is sent with the next statement or with
// COMMIT, and its failure surfaces there (conn.go).
func (t *tx) exec(op, sql string, args ...any) error {
	return t.fail(op, t.ptx.queue(op, sql, args...))
}

// notFound returns the ENOTFOUND error of a Find method.
func notFound(what string) error {
	return shop.Errorf(shop.ENOTFOUND, "%s not found.", what)
}

// one reads the JSON record the query returns into a new R; nil, nil when
// there is no row.
func one[R any](t *tx, op, sql string, args ...any) (*R, error) {
	var data []byte
	err := t.ptx.QueryRow(t.ctx, sql, args...).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, t.fail(op, err)
	}
	r := new(R)
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("pgstore: %s: decode %T: %w", op, r, err)
	}
	return r, nil
}

// found is one, with ENOTFOUND (naming what) when there is no row.
func found[R any](t *tx, what, sql string, args ...any) (*R, error) {
	r, err := one[R](t, "find "+what, sql, args...)
	if err == nil && r == nil {
		return nil, notFound(what)
	}
	return r, err
}

// all reads the JSON records the query returns, in order.
func all[R any](t *tx, op, sql string, args ...any) ([]*R, error) {
	rows, err := t.ptx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, t.fail(op, err)
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, t.fail(op, err)
	}
	var out []*R // nil when there are none, as package store returns
	for _, d := range datas {
		r := new(R)
		if err := json.Unmarshal(d, r); err != nil {
			return nil, fmt.Errorf("pgstore: %s: decode %T: %w", op, r, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// page cuts a result fetched with LIMIT limit+1 to limit and reports
// whether there was more.
func page[R any](rs []*R, limit int) ([]*R, bool) {
	if len(rs) > limit {
		return rs[:limit], true
	}
	return rs, false
}

func encode(v any) ([]byte, error) {
	if p := negativeMoney(reflect.ValueOf(v), ""); p != "" {
		return nil, fmt.Errorf("pgstore: encode %T: negative amount at %s cannot be stored", v, p)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("pgstore: encode %T: %w", v, err)
	}
	return b, nil
}

// usernameKey normalizes a username for its index as package store does:
// lower case, without a leading "@".
func usernameKey(name string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "@"))
}

// hashKey normalizes a hex hash (API key or transaction) for its index.
func hashKey(h string) string { return strings.ToLower(strings.TrimSpace(h)) }

// nanos returns t in Unix nanoseconds for an index column; the zero time
// and times before 1970 are 0 (as package store's keys).
func nanos(t time.Time) int64 {
	n := t.UnixNano()
	if t.IsZero() || n < 0 {
		return 0
	}
	return n
}

// orNull returns nil (SQL NULL) for the empty string.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nonNeg returns n, or 0 if it is negative (a LIMIT).
func nonNeg(n int) int { return max(n, 0) }

var orderStatuses = map[shop.OrderStatus]bool{
	shop.StatusPendingPayment: true, shop.StatusPaid: true, shop.StatusProcessing: true, shop.StatusCompleted: true,
	shop.StatusCancelled: true, shop.StatusExpired: true, shop.StatusManual: true, shop.StatusFailed: true, shop.StatusRefunded: true,
}

// Users.

func (t *tx) FindUserByID(id int64) (*shop.User, error) {
	var u *shop.User
	if data, ok := t.known[id]; ok {
		if data == nil {
			return nil, notFound("User")
		}
		u = new(shop.User)
		if err := jsonUnmarshal(data, u); err != nil {
			return nil, err
		}
	} else {
		var err error
		if u, err = found[shop.User](t, "User", `SELECT data FROM users WHERE id = $1`, id); err != nil {
			return nil, err
		}
	}
	t.knowUser(u)
	return u, nil
}

// knowUser records the index keys of a user's stored record.
func (t *tx) knowUser(u *shop.User) {
	if t.users == nil {
		t.users = map[int64]userKeys{}
	}
	t.users[u.ID] = userKeys{name: usernameKey(u.Username), memo: shop.NormalizeMemo(u.Memo)}
}

// knowOrder records the memo of an order's stored record.
func (t *tx) knowOrder(o *shop.Order) {
	if t.orders == nil {
		t.orders = map[int64]string{}
	}
	t.orders[o.ID] = shop.NormalizeMemo(o.PaymentMemo)
	delete(t.newOrders, o.ID)
}

func (t *tx) FindUserByUsername(name string) (*shop.User, error) {
	key := usernameKey(name)
	if key == "" {
		return nil, notFound("User")
	}
	return found[shop.User](t, "User", `SELECT u.data FROM usernames n JOIN users u ON u.id = n.user_id WHERE n.name = $1`, key)
}

func (t *tx) FindUserByMemo(memo string) (*shop.User, error) {
	key := shop.NormalizeMemo(memo)
	if key == "" {
		return nil, notFound("User")
	}
	return found[shop.User](t, "User", `SELECT u.data FROM memos m JOIN users u ON u.id = m.user_id WHERE m.memo = $1`, key)
}

func (t *tx) MemoTaken(memo string) (bool, error) {
	key := shop.NormalizeMemo(memo)
	if key == "" {
		return false, nil
	}
	var taken bool
	err := t.ptx.QueryRow(t.ctx, `SELECT EXISTS (SELECT 1 FROM memos WHERE memo = $1)`, key).Scan(&taken)
	return taken, t.fail("memo taken", err)
}

// claimMemo checks that memo (normalized) is free or already owned by the
// user (userID) or order (orderID) claiming it.
func (t *tx) claimMemo(memo string, userID, orderID int64) error {
	if memo == "" {
		return nil
	}
	var u, o *int64
	err := t.ptx.QueryRow(t.ctx, `SELECT user_id, order_id FROM memos WHERE memo = $1`, memo).Scan(&u, &o)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return t.fail("claim memo", err)
	}
	switch {
	case u != nil && *u != userID:
		return fmt.Errorf("pgstore: memo %q is already owned by user %d", memo, *u)
	case o != nil && *o != orderID:
		return fmt.Errorf("pgstore: memo %q is already owned by order %d", memo, *o)
	}
	return nil
}

func (t *tx) PutUser(u *shop.User) (err error) {
	if err := t.canWrite("put user"); err != nil {
		return err
	} else if u.ID <= 0 {
		return fmt.Errorf("pgstore: put user: id %d is not positive", u.ID)
	}
	name, memo := usernameKey(u.Username), shop.NormalizeMemo(u.Memo)
	// A user's stored memo is in the memos index under their id (Check
	// verifies it) and only a PutUser of theirs takes it out: when the
	// memo is the one this transaction read (or put) for them, the claim
	// holds without reading the index again.
	known, ok := t.users[u.ID]
	if !ok || known.memo != memo {
		if err := t.claimMemo(memo, u.ID, 0); err != nil {
			return err
		}
	}
	data, err := encode(u)
	if err != nil {
		return err
	}
	defer t.knowUser(u)
	if t.known != nil {
		// The batch's view of the row (batch.go; a View never gets here):
		// the record as this write leaves it. A write that fails on the
		// server voids the whole batch.
		defer func() {
			if err == nil {
				t.known[u.ID] = data
			}
		}()
	}
	if ok && known == (userKeys{name, memo}) {
		// The stored record has this name and memo, so its index entries
		// are there and no other: the record is updated in place, and the
		// name taken back if another user took it since (the user most
		// recently Put with a name owns it, as below).
		return t.exec("put user", `WITH rec AS (UPDATE users SET balance = $2, data = $3 WHERE id = $1)
			INSERT INTO usernames (name, user_id) SELECT $4, $1 WHERE $4 <> ''
				ON CONFLICT (name) DO UPDATE SET user_id = EXCLUDED.user_id WHERE usernames.user_id <> EXCLUDED.user_id`,
			u.ID, int64(u.Balance), data, name)
	}
	// One statement (a round trip per order counts): the user's previous
	// name and memo leave the indexes if they changed (only entries that
	// still name this user: a name another user took since stays theirs),
	// the record is written, then its name and memo. The parts run on one
	// snapshot and no two touch the same row.
	return t.exec("put user", `WITH old_name AS (DELETE FROM usernames WHERE user_id = $1 AND name <> $4),
			old_memo AS (DELETE FROM memos WHERE user_id = $1 AND memo <> $5),
			rec AS (INSERT INTO users (id, balance, data) VALUES ($1, $2, $3)
				ON CONFLICT (id) DO UPDATE SET balance = EXCLUDED.balance, data = EXCLUDED.data),
			new_name AS (INSERT INTO usernames (name, user_id) SELECT $4, $1 WHERE $4 <> ''
				ON CONFLICT (name) DO UPDATE SET user_id = EXCLUDED.user_id WHERE usernames.user_id <> EXCLUDED.user_id)
		INSERT INTO memos (memo, user_id) SELECT $5, $1 WHERE $5 <> '' ON CONFLICT (memo) DO NOTHING`,
		u.ID, int64(u.Balance), data, name, memo)
}

// batch is how many rows a walk reads at a time.
const batch = 256

func (t *tx) ForEachUser(fn func(*shop.User) error) error {
	var last int64
	for {
		us, err := all[shop.User](t, "users", `SELECT data FROM users WHERE id > $1 ORDER BY id LIMIT $2`, last, batch)
		if err != nil {
			return err
		}
		for _, u := range us {
			if err := fn(u); err != nil {
				return err
			}
			last = u.ID
		}
		if len(us) < batch {
			return nil
		}
	}
}

// API keys.

func (t *tx) PutAPIKey(k *shop.APIKey) error {
	if err := t.canWrite("put api key"); err != nil {
		return err
	}
	hash := hashKey(k.Hash)
	if hash == "" {
		return fmt.Errorf("pgstore: put api key: empty hash")
	}
	data, err := encode(k)
	if err != nil {
		return err
	}
	return t.exec("put api key", `INSERT INTO api_keys (hash, user_id, active, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO UPDATE SET user_id = EXCLUDED.user_id, active = EXCLUDED.active, data = EXCLUDED.data`,
		hash, k.UserID, k.Active(), data)
}

func (t *tx) FindAPIKeyByHash(hash string) (*shop.APIKey, error) {
	key := hashKey(hash)
	if key == "" {
		return nil, notFound("API key")
	}
	if t.writable {
		return found[shop.APIKey](t, "API key", `SELECT data FROM api_keys WHERE hash = $1`, key)
	}
	// A key is looked up to find its owner next (shop.Authenticate): in a
	// read-only transaction the owner comes in the same statement, and
	// FindUserByID takes it from there. (Not in Update: its reads are
	// predicate-locked, and the owner may not be wanted.)
	var data, owner []byte
	err := t.ptx.QueryRow(t.ctx, `SELECT k.data, u.data FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.hash = $1`,
		key).Scan(&data, &owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("API key")
	} else if err != nil {
		return nil, t.fail("find API key", err)
	}
	k := new(shop.APIKey)
	if err := jsonUnmarshal(data, k); err != nil {
		return nil, err
	}
	if owner != nil {
		if t.known == nil {
			t.known = map[int64][]byte{}
		}
		t.known[k.UserID] = owner
	}
	return k, nil
}

func (t *tx) FindAPIKeysByUser(userID int64) ([]*shop.APIKey, error) {
	keys, err := all[shop.APIKey](t, "api keys of user", `SELECT data FROM api_keys WHERE user_id = $1 ORDER BY hash`, userID)
	slices.SortStableFunc(keys, func(a, b *shop.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Hash, b.Hash))
	})
	return keys, err
}

// Orders.

func (t *tx) NextOrderID() (int64, error) {
	if err := t.canWrite("next order id"); err != nil {
		return 0, err
	}
	var id int64
	if t.ids != nil && len(*t.ids) > 0 {
		id, *t.ids = (*t.ids)[0], (*t.ids)[1:]
	} else if err := t.ptx.QueryRow(t.ctx, `SELECT nextval('order_ids')`).Scan(&id); err != nil {
		return 0, t.fail("next order id", err)
	}
	if t.newOrders == nil {
		t.newOrders = map[int64]bool{}
	}
	t.newOrders[id] = true
	return id, nil
}

func (t *tx) PutOrder(o *shop.Order) error {
	if err := t.canWrite("put order"); err != nil {
		return err
	} else if o.ID <= 0 {
		return fmt.Errorf("pgstore: put order: id %d is not positive", o.ID)
	} else if !orderStatuses[o.Status] {
		return fmt.Errorf("pgstore: put order %d: unknown status %q", o.ID, o.Status)
	}
	memo := shop.NormalizeMemo(o.PaymentMemo)
	known, stored := t.orders[o.ID]
	unchanged := stored && known == memo
	// As in PutUser: a memo the stored record already has is the order's
	// in the index (Check verifies it), so the claim holds unread.
	if !unchanged {
		if err := t.claimMemo(memo, 0, o.ID); err != nil {
			return err
		}
	}
	data, err := encode(o)
	if err != nil {
		return err
	}
	var expiry any
	if o.Status == shop.StatusPendingPayment && !o.ExpiresAt.IsZero() {
		expiry = nanos(o.ExpiresAt)
	}
	// The record's columns, $1 to $11 in every statement below.
	args := []any{o.ID, o.UserID, string(o.Status), string(o.Type), int64(o.PriceTON), int64(o.FeeTON), o.Stars, int64(o.Months),
		o.ClientReference, expiry, data}
	isNew := t.newOrders[o.ID]
	defer t.knowOrder(o)
	switch {
	case isNew && memo == "":
		// A number NextOrderID drew in this transaction: no record and no
		// memo entry yet, and none needed.
		return t.exec("put order", `INSERT INTO orders (id, user_id, status, type, price_ton, fee_ton, stars, months, client_reference, expiry_ns, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, args...)
	case unchanged:
		// The stored record has this memo, so its entry is there: the
		// record is updated in place.
		return t.exec("put order", `UPDATE orders SET user_id = $2, status = $3, type = $4, price_ton = $5, fee_ton = $6, stars = $7,
			months = $8, client_reference = $9, expiry_ns = $10, data = $11 WHERE id = $1`, args...)
	}
	// One statement, as in PutUser: the previous memo out, the record, the
	// memo in.
	return t.exec("put order", `WITH old_memo AS (DELETE FROM memos WHERE order_id = $1 AND memo <> $12),
			rec AS (INSERT INTO orders (id, user_id, status, type, price_ton, fee_ton, stars, months, client_reference, expiry_ns, data)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, status = EXCLUDED.status, type = EXCLUDED.type,
					price_ton = EXCLUDED.price_ton, fee_ton = EXCLUDED.fee_ton, stars = EXCLUDED.stars, months = EXCLUDED.months,
					client_reference = EXCLUDED.client_reference, expiry_ns = EXCLUDED.expiry_ns, data = EXCLUDED.data)
		INSERT INTO memos (memo, order_id) SELECT $12, $1 WHERE $12 <> '' ON CONFLICT (memo) DO NOTHING`,
		append(args, memo)...)
}

func (t *tx) FindOrderByID(id int64) (*shop.Order, error) {
	o, err := found[shop.Order](t, "Order", `SELECT data FROM orders WHERE id = $1`, id)
	if err == nil {
		t.knowOrder(o)
	}
	return o, err
}

func (t *tx) FindOrderByMemo(memo string) (*shop.Order, error) {
	key := shop.NormalizeMemo(memo)
	if key == "" {
		return nil, notFound("Order")
	}
	return found[shop.Order](t, "Order", `SELECT o.data FROM memos m JOIN orders o ON o.id = m.order_id WHERE m.memo = $1`, key)
}

func (t *tx) FindOrdersByReference(userID int64, ref string) ([]*shop.Order, error) {
	if ref == "" {
		return nil, nil
	}
	return all[shop.Order](t, "orders by reference", `SELECT data FROM orders
		WHERE user_id = $1 AND client_reference = $2 AND client_reference <> '' ORDER BY id DESC`, userID, ref)
}

func (t *tx) FindOrders(f shop.OrderFilter) ([]*shop.Order, bool, error) {
	limit := shop.ClampLimit(f.Limit)
	if f.Before < 0 || (f.Status != "" && !orderStatuses[f.Status]) {
		return nil, false, nil
	}
	where, args := []string{"TRUE"}, []any{}
	arg := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.UserID != shop.AnyOwner {
		arg("user_id = $%d", f.UserID)
	}
	if f.Status != "" {
		arg("status = $%d", string(f.Status))
	}
	if f.Type != "" {
		arg("type = $%d", string(f.Type))
	}
	if f.Before > 0 {
		arg("id < $%d", f.Before)
	}
	args = append(args, limit+1)
	os, err := all[shop.Order](t, "orders", fmt.Sprintf(`SELECT data FROM orders WHERE %s ORDER BY id DESC LIMIT $%d`,
		strings.Join(where, " AND "), len(args)), args...)
	if err != nil {
		return nil, false, err
	}
	os, more := page(os, limit)
	return os, more, nil
}

// walkOrders calls fn for every order the condition cond (on $1) selects,
// in id order, reading them a batch at a time so that fn may use t.
func (t *tx) walkOrders(cond string, arg any, fn func(*shop.Order) error) error {
	var last int64
	for {
		os, err := all[shop.Order](t, "orders", `SELECT data FROM orders WHERE `+cond+` AND id > $2 ORDER BY id LIMIT $3`, arg, last, batch)
		if err != nil {
			return err
		}
		for _, o := range os {
			if err := fn(o); err != nil {
				return err
			}
			last = o.ID
		}
		if len(os) < batch {
			return nil
		}
	}
}

func (t *tx) ForEachOrderByStatus(status shop.OrderStatus, fn func(*shop.Order) error) error {
	return t.walkOrders("status = $1", string(status), fn)
}

func (t *tx) ForEachOrderOfUser(userID int64, fn func(*shop.Order) error) error {
	return t.walkOrders("user_id = $1", userID, fn)
}

func (t *tx) OrdersDue(now time.Time, limit int) ([]int64, error) {
	rows, err := t.ptx.Query(t.ctx, `SELECT id FROM orders WHERE expiry_ns IS NOT NULL AND expiry_ns <= $1
		ORDER BY expiry_ns, id LIMIT $2`, nanos(now), nonNeg(limit))
	if err != nil {
		return nil, t.fail("orders due", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return nilIfEmpty(ids), t.fail("orders due", err)
}

// Aggregates.

// OrderTotals reads the per-owner totals that triggers on orders keep
// (migration 00005): a row per status for one user, the sum of every
// owner's rows for shop.AnyOwner.
func (t *tx) OrderTotals(userID int64) (map[shop.OrderStatus]shop.OrderTotals, error) {
	var rows pgx.Rows
	var err error
	if userID == shop.AnyOwner {
		rows, err = t.ptx.Query(t.ctx, `SELECT status, sum(count)::bigint, sum(price_ton)::bigint, sum(fee_ton)::bigint, sum(stars)::bigint,
			sum(months)::bigint FROM order_totals GROUP BY status HAVING sum(count) > 0`)
	} else {
		rows, err = t.ptx.Query(t.ctx, `SELECT status, count, price_ton, fee_ton, stars, months FROM order_totals WHERE user_id = $1 AND count > 0`, userID)
	}
	if err != nil {
		return nil, t.fail("order totals", err)
	}
	out := map[shop.OrderStatus]shop.OrderTotals{}
	var status string
	var n, price, fee, stars, months int64
	_, err = pgx.ForEachRow(rows, []any{&status, &n, &price, &fee, &stars, &months}, func() error {
		out[shop.OrderStatus(status)] = shop.OrderTotals{Count: int(n), PriceTON: shop.NanoTON(price), FeeTON: shop.NanoTON(fee), Stars: stars, Months: months}
		return nil
	})
	return out, t.fail("order totals", err)
}

func (t *tx) UserTotals() (shop.UserTotals, error) {
	var users, partners, liability int64
	err := t.ptx.QueryRow(t.ctx, `SELECT (SELECT count(*) FROM users), (SELECT coalesce(sum(balance), 0)::bigint FROM users),
		(SELECT count(DISTINCT user_id) FROM api_keys WHERE active)`).Scan(&users, &liability, &partners)
	return shop.UserTotals{Users: int(users), Partners: int(partners), Liability: shop.NanoTON(liability)}, t.fail("user totals", err)
}

func (t *tx) depositTotals(op, cond string, args ...any) (shop.DepositTotals, int64, error) {
	var n, amount, jetton int64
	err := t.ptx.QueryRow(t.ctx, `SELECT count(*), coalesce(sum(amount), 0)::bigint, coalesce(sum(jetton_amount), 0)::bigint
		FROM deposits WHERE `+cond, args...).Scan(&n, &amount, &jetton)
	return shop.DepositTotals{Count: int(n), Amount: shop.NanoTON(amount)}, jetton, t.fail(op, err)
}

func (t *tx) DepositTotals(status shop.DepositStatus) (shop.DepositTotals, error) {
	d, _, err := t.depositTotals("deposit totals", "status = $1", string(status))
	return d, err
}

func (t *tx) AssetDepositTotals(asset shop.Asset) (shop.DepositTotals, int64, error) {
	if asset != shop.AssetUSDT {
		return shop.DepositTotals{}, 0, nil // only USDT is counted, as in package store
	}
	return t.depositTotals("asset deposit totals", "asset = $1 AND asset <> '' AND status <> $2 AND status <> $3",
		string(asset), string(shop.DepositIgnored), string(shop.DepositRejected))
}

func (t *tx) DepositTotalsSince(since time.Time) (shop.DepositTotals, error) {
	d, _, err := t.depositTotals("deposit totals since", "created_ns >= $1 AND status <> $2 AND status <> $3",
		nanos(since), string(shop.DepositIgnored), string(shop.DepositRejected))
	return d, err
}

// Ledger.

func (t *tx) AppendLedger(e *shop.LedgerEntry) error {
	if err := t.canWrite("append ledger"); err != nil {
		return err
	}
	data, err := encode(newLedgerRow(e))
	if err != nil {
		return err
	}
	// One statement: the id (drawn once), which the record gets too.
	// Queued like a blind write (conn.go): e.ID is set when the pipeline
	// that carries it is read, which shop.Tx allows.
	return t.fail("append ledger", t.ptx.queueRow("append ledger", func(r pgx.Row) error {
		var id int64
		if err := r.Scan(&id); err != nil {
			return err
		}
		e.ID = uint64(id)
		return nil
	}, `WITH n AS MATERIALIZED (SELECT nextval('ledger_ids') AS id)
		INSERT INTO ledger (id, user_id, amount, balance_after, tx_hash, data)
		SELECT id, $1, $2, $3, $4, jsonb_set($5::jsonb, '{ID}', to_jsonb(id)) FROM n
		RETURNING id`,
		e.UserID, int64(e.Amount), int64(e.BalanceAfter), hashKey(e.TxHash), data))
}

func (t *tx) FindLedger(f shop.LedgerFilter) ([]*shop.LedgerEntry, bool, error) {
	limit := shop.ClampLimit(f.Limit)
	before := int64(f.Before)
	if f.Before == 0 || f.Before > 1<<63-1 {
		before = 1<<63 - 1
	}
	rows, err := all[ledgerRow](t, "ledger", `SELECT data FROM ledger WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
		f.UserID, before, limit+1)
	if err != nil {
		return nil, false, err
	}
	rows, more := page(rows, limit)
	es := make([]*shop.LedgerEntry, len(rows))
	for i, r := range rows {
		es[i] = r.entry()
	}
	return es, more, nil
}

// Deposits.

func (t *tx) PutDeposit(d *shop.Deposit) error {
	if err := t.canWrite("put deposit"); err != nil {
		return err
	}
	hash := hashKey(d.TxHash)
	if hash != "" {
		var owner int64
		err := t.ptx.QueryRow(t.ctx, `SELECT id FROM deposits WHERE tx_hash = $1`, hash).Scan(&owner)
		if err == nil && (d.ID == 0 || uint64(owner) != d.ID) {
			return fmt.Errorf("pgstore: put deposit: tx hash %s already belongs to deposit %d", hash, owner)
		} else if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return t.fail("put deposit", err)
		}
	}
	id := int64(d.ID)
	if id == 0 {
		if err := t.ptx.QueryRow(t.ctx, `SELECT nextval('deposit_ids')`).Scan(&id); err != nil {
			return t.fail("put deposit", err)
		}
	}
	c := *d
	c.ID = uint64(id)
	data, err := encode(&c)
	if err != nil {
		return err
	}
	if err := t.exec("put deposit", `INSERT INTO deposits (id, tx_hash, status, asset, amount, jetton_amount, user_id, order_id, created_ns, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (id) DO UPDATE SET tx_hash = EXCLUDED.tx_hash, status = EXCLUDED.status, asset = EXCLUDED.asset,
			amount = EXCLUDED.amount, jetton_amount = EXCLUDED.jetton_amount, user_id = EXCLUDED.user_id,
			order_id = EXCLUDED.order_id, created_ns = EXCLUDED.created_ns, data = EXCLUDED.data`,
		id, orNull(hash), string(d.Status), string(d.Asset), int64(d.Amount), d.JettonAmount, d.UserID, d.OrderID,
		nanos(d.CreatedAt), data); err != nil {
		return err
	}
	d.ID = uint64(id)
	return nil
}

func (t *tx) FindDepositByID(id uint64) (*shop.Deposit, error) {
	if id > 1<<63-1 {
		return nil, notFound("Deposit")
	}
	return found[shop.Deposit](t, "Deposit", `SELECT data FROM deposits WHERE id = $1`, int64(id))
}

func (t *tx) FindDepositByHash(txHash string) (*shop.Deposit, error) {
	hash := hashKey(txHash)
	if hash == "" {
		return nil, notFound("Deposit")
	}
	return found[shop.Deposit](t, "Deposit", `SELECT data FROM deposits WHERE tx_hash = $1`, hash)
}

func (t *tx) FindDeposits(status shop.DepositStatus, before uint64, limit int) ([]*shop.Deposit, error) {
	b := int64(before)
	if before == 0 || before > 1<<63-1 {
		b = 1<<63 - 1
	}
	return all[shop.Deposit](t, "deposits", `SELECT data FROM deposits WHERE ($1 = '' OR status = $1) AND id < $2
		ORDER BY id DESC LIMIT $3`, string(status), b, shop.ClampLimit(limit))
}

// Idempotency.

func (t *tx) FindIdempotency(userID int64, key string) (*shop.Idempotency, error) {
	return found[shop.Idempotency](t, "Idempotency key", `SELECT data FROM idempotency WHERE user_id = $1 AND key = $2`, userID, key)
}

func (t *tx) PutIdempotency(r *shop.Idempotency) error {
	if err := t.canWrite("put idempotency"); err != nil {
		return err
	}
	data, err := encode(r)
	if err != nil {
		return err
	}
	return t.exec("put idempotency", `INSERT INTO idempotency (user_id, key, expires_ns, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, key) DO UPDATE SET expires_ns = EXCLUDED.expires_ns, data = EXCLUDED.data`,
		r.UserID, r.Key, nanos(r.ExpiresAt), data)
}

func (t *tx) DeleteIdempotencyExpired(now time.Time, limit int) (int, error) {
	if err := t.canWrite("delete expired idempotency"); err != nil {
		return 0, err
	}
	tag, err := t.ptx.Exec(t.ctx, `DELETE FROM idempotency WHERE (user_id, key) IN (
		SELECT user_id, key FROM idempotency WHERE expires_ns < $1 ORDER BY expires_ns, user_id, key LIMIT $2)`, nanos(now), nonNeg(limit))
	return int(tag.RowsAffected()), t.fail("delete expired idempotency", err)
}

func (t *tx) CountIdempotencyExpired(now time.Time, limit int) (int, error) {
	var n int
	err := t.ptx.QueryRow(t.ctx, `SELECT count(*) FROM (SELECT 1 FROM idempotency WHERE expires_ns < $1
		ORDER BY expires_ns LIMIT $2) AS due`, nanos(now), nonNeg(limit)).Scan(&n)
	return n, t.fail("count expired idempotency", err)
}

// Queue.

func (t *tx) Enqueue(orderID int64) error {
	if err := t.canWrite("enqueue"); err != nil {
		return err
	}
	return t.exec("enqueue", `INSERT INTO queue (order_id, enqueued_ns) VALUES ($1, $2) ON CONFLICT (order_id) DO NOTHING`,
		orderID, time.Now().UnixNano())
}

func (t *tx) Dequeue(orderID int64) error {
	if err := t.canWrite("dequeue"); err != nil {
		return err
	}
	return t.exec("dequeue", `DELETE FROM queue WHERE order_id = $1`, orderID)
}

func (t *tx) Queued(limit int) ([]int64, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	rows, err := t.ptx.Query(t.ctx, `SELECT order_id FROM queue ORDER BY order_id LIMIT $1`, lim)
	if err != nil {
		return nil, t.fail("queued", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return nilIfEmpty(ids), t.fail("queued", err)
}

// Deliveries.

func (t *tx) FindDelivery(orderID int64) (*shop.Delivery, error) {
	return found[shop.Delivery](t, "Delivery", `SELECT data FROM deliveries WHERE order_id = $1`, orderID)
}

func (t *tx) PutDelivery(d *shop.Delivery) error {
	if err := t.canWrite("put delivery"); err != nil {
		return err
	} else if d.OrderID <= 0 {
		return fmt.Errorf("pgstore: put delivery: order id %d", d.OrderID)
	}
	data, err := encode(d)
	if err != nil {
		return err
	}
	return t.exec("put delivery", `INSERT INTO deliveries (order_id, data) VALUES ($1, $2)
		ON CONFLICT (order_id) DO UPDATE SET data = EXCLUDED.data`, d.OrderID, data)
}

// Audit.

func (t *tx) AppendAudit(e *shop.AuditEntry) error {
	if err := t.canWrite("append audit"); err != nil {
		return err
	}
	var id int64
	if err := t.ptx.QueryRow(t.ctx, `SELECT nextval('audit_ids')`).Scan(&id); err != nil {
		return t.fail("append audit", err)
	}
	c := *e
	c.ID = uint64(id)
	data, err := encode(&c)
	if err != nil {
		return err
	}
	if err := t.exec("append audit", `INSERT INTO audit (id, data) VALUES ($1, $2)`, id, data); err != nil {
		return err
	}
	e.ID = uint64(id)
	return nil
}

func (t *tx) FindAudit(limit int) ([]*shop.AuditEntry, error) {
	return all[shop.AuditEntry](t, "audit", `SELECT data FROM audit ORDER BY id DESC LIMIT $1`, nonNeg(limit))
}

// Quotes.

func (t *tx) PutQuote(q *shop.LockedQuote) error {
	if err := t.canWrite("put quote"); err != nil {
		return err
	}
	if q.ID == "" {
		return shop.Errorf(shop.EVALIDATION, "a quote needs an id")
	}
	data, err := encode(q)
	if err != nil {
		return err
	}
	return t.exec("put quote", `INSERT INTO quotes (id, user_id, order_id, expires_ns, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, order_id = EXCLUDED.order_id,
			expires_ns = EXCLUDED.expires_ns, data = EXCLUDED.data`, q.ID, q.UserID, q.OrderID, q.ExpiresAt.UnixNano(), data)
}

func (t *tx) FindQuote(id string) (*shop.LockedQuote, error) {
	if id == "" {
		return nil, notFound("Quote")
	}
	return found[shop.LockedQuote](t, "Quote", `SELECT data FROM quotes WHERE id = $1`, id)
}

func (t *tx) DeleteQuotesExpired(before time.Time, limit int) (int, error) {
	if err := t.canWrite("delete expired quotes"); err != nil {
		return 0, err
	}
	tag, err := t.ptx.Exec(t.ctx, `DELETE FROM quotes WHERE id IN (
		SELECT id FROM quotes WHERE expires_ns < $1 ORDER BY expires_ns, id LIMIT $2)`, before.UnixNano(), nonNeg(limit))
	return int(tag.RowsAffected()), t.fail("delete expired quotes", err)
}

// Settings, pricing, cursors.

// maxSetting caps a setting's value, as in package store.
const maxSetting = 64 << 10

func (t *tx) FindSetting(key string) ([]byte, error) {
	var v []byte
	err := t.ptx.QueryRow(t.ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return v, t.fail("find setting", err)
}

func (t *tx) PutSetting(key string, value []byte) error {
	if err := t.canWrite("put setting"); err != nil {
		return err
	}
	if key == "" || len(value) > maxSetting {
		return fmt.Errorf("pgstore: put setting %q: empty name or value over %d bytes", key, maxSetting)
	}
	if len(value) == 0 {
		return t.exec("put setting", `DELETE FROM settings WHERE key = $1`, key)
	}
	return t.exec("put setting", `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
}

// settingPricing is the setting that holds the admin's price list (JSON).
const settingPricing = "pricing"

func (t *tx) FindPricing() (*shop.Pricing, error) {
	b, err := t.FindSetting(settingPricing)
	if err != nil || b == nil {
		return nil, err
	}
	var p shop.Pricing
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("pgstore: decode pricing: %w", err)
	}
	return &p, nil
}

func (t *tx) PutPricing(p *shop.Pricing) error {
	if p == nil {
		return t.PutSetting(settingPricing, nil)
	}
	b, err := encode(p)
	if err != nil {
		return err
	}
	return t.PutSetting(settingPricing, b)
}

func (t *tx) FindCursor(account string) (*shop.Cursor, error) {
	return found[shop.Cursor](t, "Cursor", `SELECT data FROM cursors WHERE account = $1`, account)
}

func (t *tx) PutCursor(c *shop.Cursor) error {
	if err := t.canWrite("put cursor"); err != nil {
		return err
	} else if c.Account == "" {
		return fmt.Errorf("pgstore: put cursor: empty account")
	}
	data, err := encode(c)
	if err != nil {
		return err
	}
	return t.exec("put cursor", `INSERT INTO cursors (account, data) VALUES ($1, $2)
		ON CONFLICT (account) DO UPDATE SET data = EXCLUDED.data`, c.Account, data)
}

func jsonUnmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("pgstore: decode %T: %w", v, err)
	}
	return nil
}

// nilIfEmpty returns nil for an empty slice, as package store does.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
