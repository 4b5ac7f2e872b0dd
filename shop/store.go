package shop

import (
	"context"
	"errors"
	"time"
)

// Store persists the shop. It is implemented by package store (bbolt) and
// holds no business rules: every rule is in Service, which runs each
// operation, money movement and ledger entry included, in one Update.
type Store interface {
	// View runs fn in a read-only transaction: every read sees one
	// snapshot. fn may be called more than once (PostgreSQL runs a View's
	// first read outside a transaction and starts over in one when that
	// read's rows changed before the second): it must reset any result it
	// captures at its start, as Update's.
	View(ctx context.Context, fn func(Tx) error) error

	// Update runs fn in a read-write transaction. Concurrent Updates are
	// committed together (group commit), so fn may be called more than once
	// and must have no effect outside tx: it must reset any result it
	// captures at its start. If fn returns an error, nothing fn wrote is
	// committed and Update returns that error unchanged. fn may run on
	// another caller's goroutine, in one transaction with other callers'
	// fns, after what they wrote: it must not wait for anything a caller
	// of Update may hold (a lock, a channel), and it sees only tx.
	//
	// A store that several processes share fences their leader: when ctx
	// carries the term of a leadership it granted (the leader's context),
	// Update checks in the same transaction that no newer leader exists
	// and otherwise commits nothing and returns an error wrapping
	// ErrDeposed. A store of one process (bbolt) has no terms: its
	// process always leads.
	Update(ctx context.Context, fn func(Tx) error) error
}

// WithUpdateKey returns ctx carrying, for the Update made with it, the
// user whose records its fn changes (besides records it creates): the
// payer of an order. A store may run Updates of different users side by
// side and group those of one user (pgstore's group commit). The key is a
// hint, never a rule: an fn that touches another user's records is still
// isolated from every other transaction (a conflict costs a re-run), and
// a store may ignore the key (bbolt has one writer).
func WithUpdateKey(ctx context.Context, userID int64) context.Context {
	return context.WithValue(ctx, updateKey{}, userID)
}

// UpdateKeyOf returns the key WithUpdateKey set on ctx.
func UpdateKeyOf(ctx context.Context) (userID int64, ok bool) {
	userID, ok = ctx.Value(updateKey{}).(int64)
	return userID, ok
}

type updateKey struct{}

// ErrDeposed is wrapped by the error of an Update made on behalf of a
// leader that a newer leader has replaced (see Store.Update): nothing was
// committed, so a payout it meant to record is never broadcast. Test with
// errors.Is.
var ErrDeposed = errors.New("this process is no longer the leader: a newer leader has been elected")

// Tx is one store transaction. Records passed in and returned are copies:
// changing them changes nothing until they are Put. Find methods return an
// *Error with code ENOTFOUND when nothing matches. Write methods fail on a
// read-only transaction. Keys such as usernames and memos are compared
// case-insensitively (the store normalizes them).
type Tx interface {
	// FindUserByID returns the user with Telegram id id.
	FindUserByID(id int64) (*User, error)
	// FindUserByUsername returns the user whose Username equals name,
	// ignoring case and a leading "@". When several users once had the
	// name, the one most recently Put with it wins.
	FindUserByUsername(name string) (*User, error)
	// FindUserByMemo returns the user whose personal memo is memo.
	FindUserByMemo(memo string) (*User, error)
	// PutUser creates or replaces u and keeps the username and memo indexes
	// in step. A memo already owned by another user or order is an error.
	PutUser(u *User) error
	// ForEachUser calls fn for every user in id order; an error from fn stops
	// the walk and is returned.
	ForEachUser(fn func(*User) error) error

	// MemoTaken reports whether memo names any user or order.
	MemoTaken(memo string) (bool, error)

	// PutAPIKey creates or replaces k (keyed by k.Hash).
	PutAPIKey(k *APIKey) error
	// FindAPIKeyByHash returns the key with hex SHA-256 hash.
	FindAPIKeyByHash(hash string) (*APIKey, error)
	// FindAPIKeysByUser returns all keys of a user, active and revoked,
	// oldest first.
	FindAPIKeysByUser(userID int64) ([]*APIKey, error)

	// NextOrderID returns a new order id: monotonic, never reused.
	NextOrderID() (int64, error)
	// PutOrder creates or replaces o (o.ID must be set) and keeps the owner,
	// status, memo and client-reference indexes in step.
	PutOrder(o *Order) error
	// FindOrderByID returns the order with id.
	FindOrderByID(id int64) (*Order, error)
	// FindOrderByMemo returns the order whose PaymentMemo is memo.
	FindOrderByMemo(memo string) (*Order, error)
	// FindOrdersByReference returns a user's orders with ClientReference
	// ref (exact, case-sensitive), newest first; none is not an error.
	FindOrdersByReference(userID int64, ref string) ([]*Order, error)
	// FindOrders returns up to f.Limit orders matching f, newest first, and
	// whether more match beyond them.
	FindOrders(f OrderFilter) (orders []*Order, more bool, err error)
	// ForEachOrderByStatus calls fn for every order in status, oldest first.
	ForEachOrderByStatus(status OrderStatus, fn func(*Order) error) error
	// ForEachOrderOfUser calls fn for every order of a user, oldest first.
	ForEachOrderOfUser(userID int64, fn func(*Order) error) error
	// OrdersDue returns up to limit ids of pending_payment orders whose
	// ExpiresAt is at or before now, soonest expired first. It reads only
	// what it returns (an expiry index).
	OrdersDue(now time.Time, limit int) ([]int64, error)

	// The aggregates below are counters that every Put keeps in the same
	// transaction: each reads a few keys, whatever the size of the shop.

	// OrderTotals returns the count and sums of the orders of userID
	// (AnyOwner: everyone's) by status; a status without orders is absent.
	OrderTotals(userID int64) (map[OrderStatus]OrderTotals, error)
	// UserTotals returns the number of users, of users with an active API
	// key, and the sum of all balances.
	UserTotals() (UserTotals, error)
	// DepositTotals returns the count and amount of all deposits in status.
	DepositTotals(status DepositStatus) (DepositTotals, error)
	// AssetDepositTotals returns the count, the amount (value in TON) and
	// the jetton units of the deposits of asset (AssetUSDT) that are neither
	// dust nor rejected.
	AssetDepositTotals(asset Asset) (DepositTotals, int64, error)
	// DepositTotalsSince returns the count and amount of the deposits that
	// are neither dust (DepositIgnored) nor rejected (fake jettons) with
	// CreatedAt at or after since.
	DepositTotalsSince(since time.Time) (DepositTotals, error)

	// AppendLedger stores a new entry and sets e.ID. The caller computes
	// BalanceAfter and writes the user's new balance in the same Tx. A
	// store may set e.ID late, by the time Update returns (PostgreSQL
	// sends the append with the transaction's next statement): read it
	// after Update.
	AppendLedger(e *LedgerEntry) error
	// FindLedger returns up to f.Limit entries of f.UserID, newest first, and
	// whether more exist beyond them.
	FindLedger(f LedgerFilter) (entries []*LedgerEntry, more bool, err error)

	// PutDeposit creates (d.ID == 0: assigns d.ID) or replaces a deposit and
	// keeps the tx-hash index in step. Two deposits with one TxHash is an
	// error.
	PutDeposit(d *Deposit) error
	// FindDepositByID returns the deposit with id.
	FindDepositByID(id uint64) (*Deposit, error)
	// FindDepositByHash returns the deposit of a chain transaction.
	FindDepositByHash(txHash string) (*Deposit, error)
	// FindDeposits returns up to limit deposits, newest first, with status
	// (or any status if ""), with ID < before (before 0 = from the newest).
	FindDeposits(status DepositStatus, before uint64, limit int) ([]*Deposit, error)

	// FindIdempotency returns the record of a user's idempotency key,
	// expired or not.
	FindIdempotency(userID int64, key string) (*Idempotency, error)
	// PutIdempotency creates or replaces a record.
	PutIdempotency(r *Idempotency) error
	// DeleteIdempotencyExpired removes up to limit records that expired
	// before now, soonest expired first, and returns how many. It reads only
	// what it deletes (an expiry index).
	DeleteIdempotencyExpired(now time.Time, limit int) (int, error)
	// CountIdempotencyExpired counts up to limit records that expired
	// before now, reading only those (and one more index entry).
	CountIdempotencyExpired(now time.Time, limit int) (int, error)

	// Enqueue puts a paid order on the durable fulfillment queue; enqueuing
	// an order already queued changes nothing.
	Enqueue(orderID int64) error
	// Dequeue removes an order from the queue; absent is not an error.
	Dequeue(orderID int64) error
	// Queued returns up to limit queued order ids, oldest first.
	Queued(limit int) ([]int64, error)
	// ClaimQueued leases a queued order to claimant until until and
	// reports whether it did. It does only if the order is queued, its
	// queue entry is not locked by another transaction in flight (the
	// claimants of several processes skip each other's entries instead of
	// waiting: PostgreSQL's FOR UPDATE SKIP LOCKED), and it is not leased
	// to another claimant at now (never leased, released, or leased until
	// now or before) — unless takeover is not empty and that claimant's
	// name starts with it: the caller may take those leases over. Claiming
	// an order leased to claimant renews it.
	ClaimQueued(orderID int64, claimant, takeover string, now, until time.Time) (bool, error)
	// HoldQueued extends claimant's lease on a queued order to until and
	// reports whether claimant held it: false, changing nothing, when the
	// order is not queued or is leased to another claimant or to nobody.
	// Whether the lease ran out does not matter: a lease that ran out and
	// that nobody else claimed since is still claimant's.
	HoldQueued(orderID int64, claimant string, until time.Time) (bool, error)
	// ReleaseQueued ends claimant's lease on a queued order; an order not
	// queued, or leased to another claimant, is left alone.
	ReleaseQueued(orderID int64, claimant string) error

	// FindDelivery returns the fulfillment record of an order.
	FindDelivery(orderID int64) (*Delivery, error)
	// PutDelivery creates or replaces the fulfillment record of d.OrderID.
	PutDelivery(d *Delivery) error

	// AppendAudit stores a new audit entry and sets e.ID.
	AppendAudit(e *AuditEntry) error
	// FindAudit returns up to limit audit entries, newest first.
	FindAudit(limit int) ([]*AuditEntry, error)

	// PutQuote creates or replaces a locked quote, keyed by q.ID, and keeps
	// the expiry index in step.
	PutQuote(q *LockedQuote) error
	// FindQuote returns the locked quote with id (exact, case-sensitive).
	FindQuote(id string) (*LockedQuote, error)
	// DeleteQuotesExpired removes up to limit quotes whose ExpiresAt is
	// before before, soonest expired first, and returns how many. It reads
	// only what it deletes, and one more index entry.
	DeleteQuotesExpired(before time.Time, limit int) (int, error)

	// FindSetting returns the value of a setting, or nil if it is unset.
	FindSetting(key string) ([]byte, error)
	// PutSetting sets a setting; nil value unsets it.
	PutSetting(key string, value []byte) error

	// FindPricing returns the price list an admin saved, or nil if there is
	// none. It is not validated.
	FindPricing() (*Pricing, error)
	// PutPricing saves an admin's price list; nil forgets it.
	PutPricing(p *Pricing) error

	// FindCursor returns the chain watcher's cursor for an account.
	FindCursor(account string) (*Cursor, error)
	// PutCursor saves a cursor.
	PutCursor(c *Cursor) error

	// AppendOutbox stores a partner event with the next outbox sequence
	// number (commit order), which it sets in e.Seq: for a webhook test
	// event (WebhookID set) when it returns, for the others possibly late,
	// by the time Update returns, as AppendLedger's e.ID. It is indexed
	// under its user later, by IndexOutbox: the change's transaction
	// writes one record only.
	AppendOutbox(e *OutboxEvent) error
	// IndexOutbox indexes an event under its user (unless it is a test
	// event, e.WebhookID set) and records that every event up to e.Seq is
	// indexed. Events are indexed in Seq order.
	IndexOutbox(e *OutboxEvent) error
	// OutboxIndexed returns the Seq of the last event indexed, 0 if none.
	OutboxIndexed() (uint64, error)
	// FindOutboxEvent returns the event with sequence number seq.
	FindOutboxEvent(seq uint64) (*OutboxEvent, error)
	// FindOutboxByUser returns up to limit indexed events of a user with
	// Seq > after, oldest first, and whether more follow.
	FindOutboxByUser(userID int64, after uint64, limit int) ([]*OutboxEvent, bool, error)
	// OutboxAfter returns up to limit events of every user with Seq >
	// after, oldest first.
	OutboxAfter(after uint64, limit int) ([]*OutboxEvent, error)
	// OutboxSeqBefore returns the sequence number of the last event
	// committed before t (0 if none), taking commit times as ordered.
	OutboxSeqBefore(t time.Time) (uint64, error)
	// DeleteOutboxBefore removes up to limit of the oldest events created
	// before t and returns how many.
	DeleteOutboxBefore(t time.Time, limit int) (int, error)

	// PutWebhook creates or replaces an endpoint (keyed by w.ID) and keeps
	// the per-user index in step.
	PutWebhook(w *Webhook) error
	// FindWebhook returns the endpoint with id.
	FindWebhook(id string) (*Webhook, error)
	// FindWebhooksByUser returns a user's endpoints, oldest first.
	FindWebhooksByUser(userID int64) ([]*Webhook, error)
	// DeleteWebhook removes an endpoint; absent is not an error.
	DeleteWebhook(id string) error
	// PutWebhookDelivery creates (d.ID == 0: assigns d.ID) or replaces a
	// delivery and keeps the per-endpoint and due indexes in step.
	PutWebhookDelivery(d *WebhookDelivery) error
	// FindWebhookDelivery returns the delivery with id.
	FindWebhookDelivery(id uint64) (*WebhookDelivery, error)
	// FindWebhookDeliveries returns up to limit deliveries of an endpoint
	// with ID < before (0: from the newest), newest first, and whether
	// more exist beyond them.
	FindWebhookDeliveries(webhookID string, before uint64, limit int) ([]*WebhookDelivery, bool, error)
	// DueWebhookDeliveries returns up to limit pending deliveries whose
	// NextAttemptAt is not after now, soonest first, passing over those of
	// endpoints for which skip (if not nil) reports true without reading
	// them.
	DueWebhookDeliveries(now time.Time, limit int, skip func(webhookID string) bool) ([]*WebhookDelivery, error)
	// DeleteWebhookDeliveriesBefore removes up to limit of the oldest
	// deliveries created before t and returns how many.
	DeleteWebhookDeliveriesBefore(t time.Time, limit int) (int, error)
}

// Idempotency remembers which order a user's Idempotency-Key created, and a
// fingerprint of the request, for IdempotencyTTL.
type Idempotency struct {
	UserID      int64
	Key         string // as the client sent it, ≤ MaxIdempotencyKey bytes
	Fingerprint string // hex SHA-256 of the normalized request
	OrderID     int64
	ExpiresAt   time.Time
}

// OrderTotals counts orders in one status and sums their amounts.
type OrderTotals struct {
	Count    int
	PriceTON NanoTON
	FeeTON   NanoTON
	Stars    int64
	Months   int64
}

// UserTotals counts users.
type UserTotals struct {
	Users     int
	Partners  int     // users with at least one active API key
	Liability NanoTON // the sum of all balances
}
