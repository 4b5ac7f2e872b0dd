package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// maxProblems caps how many problems Check reports.
const maxProblems = 50

// Check verifies the whole database in one read-only transaction and returns
// every problem it finds (up to 50), joined, or nil. It checks that
//   - each user's balance is the sum of its ledger entries and not negative,
//     and each entry's BalanceAfter is the running sum in id order, never
//     negative; each entry belongs to an existing user;
//   - each entry of each index (usernames, memos, user_apikeys, user_order_status,
//     order_status, order_refs, user_ledger, deposit_hashes) names a live
//     record whose indexed field matches, and each record that should be
//     indexed is;
//   - each record is stored under its own id or key, ids are within their
//     bucket's sequence, and queued orders exist;
//   - an ignored deposit (dust) or a rejected one (a fake jetton) moved no
//     money: no user, no order, and no ledger entry carries its tx hash;
//   - every counter (counters bucket) equals a recount of the records, and
//     the expiry and time indexes name exactly the records they should;
//   - each locked quote is indexed by its expiry, belongs to an existing
//     user, prices a positive amount, and if used names an order of its
//     owner for the same item at the quoted price;
//   - each outbox event belongs to an existing user, an order event's
//     order exists and is that user's, and the user_outbox index holds
//     exactly the events that are not test events; each webhook endpoint
//     belongs to an existing user with at most shop.MaxWebhooks enabled,
//     and each delivery is in its endpoint's log and, exactly while
//     pending, in webhook_due under its next attempt.
//
// Tests run it after each scenario (see package storetest).
func (db *DB) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bdb.View(func(btx *bolt.Tx) error {
		c := &checker{t: &tx{btx: btx}}
		c.run()
		return errors.Join(c.problems...)
	})
}

type checker struct {
	t        *tx
	problems []error
	dropped  int

	ledgerHashes map[string]uint64 // tx hash (hashKey) of ledger entries → an entry id, filled by ledger
}

func (c *checker) addf(format string, args ...any) {
	if len(c.problems) == maxProblems {
		c.dropped++
		return
	}
	c.problems = append(c.problems, fmt.Errorf("store check: "+format, args...))
}

func (c *checker) run() {
	c.users()
	c.usernames()
	c.memos()
	c.apiKeys()
	c.orders()
	c.orderIndexes()
	c.ledger()
	c.deposits()
	c.quotes()
	c.outbox()
	c.webhooks()
	c.misc()
	c.derived()
	if c.dropped > 0 {
		c.problems = append(c.problems, fmt.Errorf("store check: %d more problems not shown", c.dropped))
	}
}

// each decodes every record of a bucket into R and calls fn with it.
func each[R any](c *checker, name []byte, fn func(k []byte, r *R)) {
	_ = c.t.bucket(name).ForEach(func(k, v []byte) error {
		r, err := decode[R](k, v)
		if err != nil {
			c.addf("%s: %v", name, err)
			return nil
		}
		fn(k, r)
		return nil
	})
}

// keys calls fn with every key and value of a bucket.
func (c *checker) keys(name []byte, fn func(k, v []byte)) {
	_ = c.t.bucket(name).ForEach(func(k, v []byte) error {
		fn(k, v)
		return nil
	})
}

// lookup returns the record at key in bucket name, or nil if it is missing
// or undecodable (reported).
func lookup[R any](c *checker, name, key []byte) *R {
	r, err := get[R](c.t.bucket(name), key)
	if err != nil {
		c.addf("%s: %v", name, err)
	}
	return r
}

func (c *checker) has(name, key []byte) bool { return c.t.bucket(name).Get(key) != nil }

// memoIndexed reports a record whose memo the memos index does not map to
// it (kind, id); what names the record in the message.
func (c *checker) memoIndexed(what string, kind byte, id int64, memo string) {
	memo = shop.NormalizeMemo(memo)
	if memo == "" {
		return
	}
	if v := c.t.bucket(bucketMemos).Get([]byte(memo)); !bytes.Equal(v, memoValue(kind, id)) {
		c.addf("%s %d: memo %q is not indexed to it", what, id, memo)
	}
}

func (c *checker) users() {
	each(c, bucketUsers, func(k []byte, u *userRecord) {
		if !bytes.Equal(k, i64(u.ID)) {
			c.addf("user %d stored under key %x", u.ID, k)
		}
		if u.Balance < 0 {
			c.addf("user %d: negative balance %d", u.ID, u.Balance)
		}
		c.memoIndexed("user", memoUser, u.ID, u.Memo)
	})
}

func (c *checker) usernames() {
	c.keys(bucketUsernames, func(k, v []byte) {
		if len(v) != 8 {
			c.addf("usernames %q: malformed value %x", k, v)
			return
		}
		id := int64(tailID(v))
		if u := lookup[userRecord](c, bucketUsers, v); u == nil {
			c.addf("usernames %q: user %d missing", k, id)
		} else if usernameKey(u.Username) != string(k) {
			c.addf("usernames %q: user %d has username %q", k, id, u.Username)
		}
	})
}

func (c *checker) memos() {
	c.keys(bucketMemos, func(k, v []byte) {
		if len(v) != 9 {
			c.addf("memos %q: malformed value %x", k, v)
			return
		}
		id := int64(tailID(v))
		switch v[0] {
		case memoUser:
			if u := lookup[userRecord](c, bucketUsers, v[1:]); u == nil {
				c.addf("memos %q: user %d missing", k, id)
			} else if shop.NormalizeMemo(u.Memo) != string(k) {
				c.addf("memos %q: user %d has memo %q", k, id, u.Memo)
			}
		case memoOrder:
			if o := lookup[orderRecord](c, bucketOrders, v[1:]); o == nil {
				c.addf("memos %q: order %d missing", k, id)
			} else if shop.NormalizeMemo(o.PaymentMemo) != string(k) {
				c.addf("memos %q: order %d has memo %q", k, id, o.PaymentMemo)
			}
		default:
			c.addf("memos %q: unknown owner kind %q", k, v[0])
		}
	})
}

func (c *checker) apiKeys() {
	each(c, bucketAPIKeys, func(k []byte, r *apiKeyRecord) {
		if hashKey(r.Hash) != string(k) {
			c.addf("api key %q stored under key %q", r.Hash, k)
		}
		if !c.has(bucketUserAPIKeys, cat(i64(r.UserID), k)) {
			c.addf("api key %q: missing from user_apikeys of user %d", k, r.UserID)
		}
	})
	c.keys(bucketUserAPIKeys, func(k, _ []byte) {
		if len(k) <= 8 {
			c.addf("user_apikeys: malformed key %x", k)
			return
		}
		userID, hash := int64(tailID(k[:8])), k[8:]
		if r := lookup[apiKeyRecord](c, bucketAPIKeys, hash); r == nil {
			c.addf("user_apikeys %d/%q: api key missing", userID, hash)
		} else if r.UserID != userID {
			c.addf("user_apikeys %d/%q: api key belongs to user %d", userID, hash, r.UserID)
		}
	})
}

func (c *checker) orders() {
	seq := c.t.bucket(bucketOrders).Sequence()
	each(c, bucketOrders, func(k []byte, o *orderRecord) {
		key := i64(o.ID)
		if !bytes.Equal(k, key) {
			c.addf("order %d stored under key %x", o.ID, k)
		}
		if o.ID <= 0 || uint64(o.ID) > seq {
			c.addf("order %d: id outside the sequence (%d)", o.ID, seq)
		}
		if !c.has(bucketOrderByStatus, statusKey(o.Status, o.ID)) {
			c.addf("order %d: missing from order_by_status %q", o.ID, o.Status)
		}
		if !c.has(bucketUserOrderStatus, userStatusKey(o.UserID, o.Status, o.ID)) {
			c.addf("order %d: missing from user_order_status %d/%q", o.ID, o.UserID, o.Status)
		}
		if k := orderExpiryKey(o); k != nil && !c.has(bucketOrderExpiry, k) {
			c.addf("order %d: missing from order_expiry", o.ID)
		}
		if o.ClientReference != "" && !c.has(bucketOrderRefs, cat(refPrefix(o.UserID, o.ClientReference), key)) {
			c.addf("order %d: missing from order_refs %q", o.ID, o.ClientReference)
		}
		c.memoIndexed("order", memoOrder, o.ID, o.PaymentMemo)
	})
}

func (c *checker) orderIndexes() {
	c.keys(bucketOrderByStatus, func(k, _ []byte) {
		if len(k) != 9 || orderStatusByCode[k[0]] == "" {
			c.addf("order_by_status: malformed key %x", k)
			return
		}
		status, id := orderStatusByCode[k[0]], int64(tailID(k))
		if o := lookup[orderRecord](c, bucketOrders, k[1:]); o == nil {
			c.addf("order_by_status %q/%d: order missing", status, id)
		} else if o.Status != string(status) {
			c.addf("order_by_status %q/%d: order has status %q", status, id, o.Status)
		}
	})
	c.keys(bucketUserOrderStatus, func(k, _ []byte) {
		if len(k) != 17 || orderStatusByCode[k[8]] == "" {
			c.addf("user_order_status: malformed key %x", k)
			return
		}
		userID, status, id := int64(tailID(k[:8])), orderStatusByCode[k[8]], int64(tailID(k))
		if o := lookup[orderRecord](c, bucketOrders, k[9:]); o == nil {
			c.addf("user_order_status %d/%q/%d: order missing", userID, status, id)
		} else if o.UserID != userID || o.Status != string(status) {
			c.addf("user_order_status %d/%q/%d: order of user %d has status %q", userID, status, id, o.UserID, o.Status)
		}
	})
	c.keys(bucketOrderExpiry, func(k, _ []byte) {
		if len(k) != 16 {
			c.addf("order_expiry: malformed key %x", k)
			return
		}
		if o := lookup[orderRecord](c, bucketOrders, k[8:]); o == nil {
			c.addf("order_expiry %x: order %d missing", k[:8], tailID(k))
		} else if !bytes.Equal(orderExpiryKey(o), k) {
			c.addf("order_expiry %x: order %d is %s, expires at %s", k[:8], o.ID, o.Status, o.ExpiresAt)
		}
	})
	c.keys(bucketOrderRefs, func(k, _ []byte) {
		if len(k) < 17 || k[len(k)-9] != 0 {
			c.addf("order_refs: malformed key %x", k)
			return
		}
		userID, ref, id := int64(tailID(k[:8])), string(k[8:len(k)-9]), int64(tailID(k))
		if o := lookup[orderRecord](c, bucketOrders, k[len(k)-8:]); o == nil {
			c.addf("order_refs %d/%q/%d: order missing", userID, ref, id)
		} else if o.UserID != userID || o.ClientReference != ref {
			c.addf("order_refs %d/%q/%d: order has user %d, reference %q", userID, ref, id, o.UserID, o.ClientReference)
		}
	})
}

func (c *checker) ledger() {
	seq := c.t.bucket(bucketLedger).Sequence()
	c.ledgerHashes = map[string]uint64{}
	each(c, bucketLedger, func(k []byte, e *ledgerRecord) {
		if h := hashKey(e.TxHash); h != "" {
			c.ledgerHashes[h] = e.ID
		}
		if !bytes.Equal(k, u64(e.ID)) {
			c.addf("ledger entry %d stored under key %x", e.ID, k)
		}
		if e.ID == 0 || e.ID > seq {
			c.addf("ledger entry %d: id outside the sequence (%d)", e.ID, seq)
		}
		if !c.has(bucketUsers, i64(e.UserID)) {
			c.addf("ledger entry %d: user %d missing", e.ID, e.UserID)
		}
		if !c.has(bucketUserLedger, cat(i64(e.UserID), u64(e.ID))) {
			c.addf("ledger entry %d: missing from user_ledger of user %d", e.ID, e.UserID)
		}
	})

	// user_ledger is sorted by user, then entry id: one pass gives every
	// user's running balance.
	sums := make(map[int64]int64)
	c.keys(bucketUserLedger, func(k, _ []byte) {
		if len(k) != 16 {
			c.addf("user_ledger: malformed key %x", k)
			return
		}
		userID, id := int64(tailID(k[:8])), tailID(k)
		e := lookup[ledgerRecord](c, bucketLedger, k[8:])
		if e == nil {
			c.addf("user_ledger %d/%d: entry missing", userID, id)
			return
		} else if e.UserID != userID {
			c.addf("user_ledger %d/%d: entry belongs to user %d", userID, id, e.UserID)
			return
		}
		sum := sums[userID] + e.Amount
		sums[userID] = sum
		if e.BalanceAfter != sum {
			c.addf("ledger entry %d of user %d: balance_after %d, running sum %d", id, userID, e.BalanceAfter, sum)
		}
		if sum < 0 {
			c.addf("ledger entry %d of user %d: running balance %d is negative", id, userID, sum)
		}
	})
	each(c, bucketUsers, func(_ []byte, u *userRecord) {
		if sum := sums[u.ID]; u.Balance != sum {
			c.addf("user %d: balance %d, sum of ledger entries %d", u.ID, u.Balance, sum)
		}
	})
}

func (c *checker) deposits() {
	seq := c.t.bucket(bucketDeposits).Sequence()
	each(c, bucketDeposits, func(k []byte, d *depositRecord) {
		key := u64(d.ID)
		if !bytes.Equal(k, key) {
			c.addf("deposit %d stored under key %x", d.ID, k)
		}
		if d.ID == 0 || d.ID > seq {
			c.addf("deposit %d: id outside the sequence (%d)", d.ID, seq)
		}
		if hash := hashKey(d.TxHash); hash != "" {
			if v := c.t.bucket(bucketDepositHashes).Get([]byte(hash)); !bytes.Equal(v, key) {
				c.addf("deposit %d: tx hash %q is not indexed to it", d.ID, hash)
			}
		}
		if d.Status == string(shop.DepositIgnored) || d.Status == string(shop.DepositRejected) {
			if d.UserID != 0 || d.OrderID != 0 {
				c.addf("deposit %d: %s, but names user %d, order %d", d.ID, d.Status, d.UserID, d.OrderID)
			}
			if id, ok := c.ledgerHashes[hashKey(d.TxHash)]; ok {
				c.addf("deposit %d: %s, but ledger entry %d carries its tx hash", d.ID, d.Status, id)
			}
		}
	})
	c.keys(bucketDepositHashes, func(k, v []byte) {
		if len(v) != 8 {
			c.addf("deposit_hashes %q: malformed value %x", k, v)
			return
		}
		if d := lookup[depositRecord](c, bucketDeposits, v); d == nil {
			c.addf("deposit_hashes %q: deposit %d missing", k, tailID(v))
		} else if hashKey(d.TxHash) != string(k) {
			c.addf("deposit_hashes %q: deposit %d has tx hash %q", k, d.ID, d.TxHash)
		}
	})
}

func (c *checker) quotes() {
	each(c, bucketQuotes, func(k []byte, q *quoteRecord) {
		if q.ID == "" || string(k) != q.ID {
			c.addf("quote %q stored under key %q", q.ID, k)
		}
		if !c.has(bucketQuoteExpiry, quoteExpiryKey(q.ExpiresAt, q.ID)) {
			c.addf("quote %q: missing from quote_expiry", q.ID)
		}
		if !c.has(bucketUsers, i64(q.UserID)) {
			c.addf("quote %q: user %d missing", q.ID, q.UserID)
		}
		if q.PriceTON <= 0 || q.FeeTON < 0 || q.FeeTON > q.PriceTON {
			c.addf("quote %q: price %d, fee %d", q.ID, q.PriceTON, q.FeeTON)
		}
		if q.OrderID == 0 {
			return
		}
		o := lookup[orderRecord](c, bucketOrders, i64(q.OrderID))
		switch {
		case o == nil:
			c.addf("quote %q: order %d missing", q.ID, q.OrderID)
		case o.UserID != q.UserID:
			c.addf("quote %q of user %d: order %d belongs to user %d", q.ID, q.UserID, o.ID, o.UserID)
		case o.Type != q.Type || o.Stars != q.Stars || o.Months != q.Months || o.PriceTON != q.PriceTON:
			c.addf("quote %q (%s %d/%d at %d): order %d is %s %d/%d at %d", q.ID, q.Type, q.Stars, q.Months, q.PriceTON, o.ID, o.Type, o.Stars, o.Months, o.PriceTON)
		}
	})
	c.keys(bucketQuoteExpiry, func(k, _ []byte) {
		if len(k) <= 8 {
			c.addf("quote_expiry: malformed key %x", k)
			return
		}
		if q := lookup[quoteRecord](c, bucketQuotes, k[8:]); q == nil {
			c.addf("quote_expiry %x: quote %q missing", k[:8], k[8:])
		} else if !bytes.Equal(quoteExpiryKey(q.ExpiresAt, q.ID), k) {
			c.addf("quote_expiry %x: quote %q expires at %s", k[:8], k[8:], q.ExpiresAt)
		}
	})
}

func (c *checker) misc() {
	c.keys(bucketQueue, func(k, _ []byte) {
		if len(k) != 8 {
			c.addf("queue: malformed key %x", k)
		} else if !c.has(bucketOrders, k) {
			c.addf("queue: order %d missing", int64(tailID(k)))
		}
	})
	each(c, bucketIdempotency, func(k []byte, r *idempotencyRecord) {
		idempotencyFromKey(k, r)
		if !bytes.Equal(k, idempotencyKey(r.UserID, r.Key)) {
			c.addf("idempotency record %d/%q stored under key %x", r.UserID, r.Key, k)
		}
	})
	each(c, bucketDeliveries, func(k []byte, r *deliveryRecord) {
		if !bytes.Equal(k, i64(r.OrderID)) {
			c.addf("delivery of order %d stored under key %x", r.OrderID, k)
		} else if !c.has(bucketOrders, k) {
			c.addf("delivery: order %d missing", r.OrderID)
		}
	})
	each(c, bucketCursors, func(k []byte, r *cursorRecord) {
		if r.Account != string(k) {
			c.addf("cursor %q stored under key %q", r.Account, k)
		}
	})
}
