// Package store implements shop.Store on bbolt, a single-file embedded
// key/value database. It is the only package that imports go.etcd.io/bbolt
// and it holds no business rules: it stores records, keeps their indexes in
// step and checks its own consistency (DB.Check).
//
// Every value is a private *Record struct in the compact form codec.go
// derives from its JSON tags (schema 1 stored JSON, which still decodes;
// migrate.go converts a schema-1 file at Open); ids are big-endian uint64
// keys, so byte order is id order. The buckets are:
//
//	meta            "schema_version" → JSON integer; "migration" → progress of a running migration
//	users           userID → userRecord
//	usernames       lower(username) → userID (the user most recently Put with it)
//	memos           NormalizeMemo(memo) → 'u'|'o' ‖ userID|orderID
//	apikeys         lower(hash) → apiKeyRecord
//	user_apikeys    userID ‖ lower(hash) → empty
//	orders          orderID → orderRecord (ids from the bucket sequence)
//	order_by_status statusCode ‖ orderID → empty (codes in counters.go)
//	user_order_status userID ‖ statusCode ‖ orderID → empty
//	order_expiry    expiresAt (Unix ns) ‖ orderID → empty (pending_payment orders with a TTL)
//	order_refs      userID ‖ clientReference ‖ 0x00 ‖ orderID → empty
//	ledger          entryID → ledgerRecord (ids from the bucket sequence)
//	user_ledger     userID ‖ entryID → empty
//	deposits        depositID → depositRecord (ids from the bucket sequence)
//	deposit_hashes  lower(txHash) → depositID
//	idempotency     userID ‖ key → idempotencyRecord (without the user and key)
//	idempotency_expiry expiresAt (Unix ns) ‖ userID ‖ key → empty
//	deposit_times   createdAt (Unix ns) ‖ depositID → empty
//	counters        aggregates kept by the Put methods (counters.go)
//	queue           orderID → queueRecord
//	cursors         account → cursorRecord
//	sim_chain       account ‖ 0 ‖ lt → simRecord (sandbox: the simulated chain)
//	sim_hashes      lower(txHash) → account ‖ 0 ‖ lt
//	deliveries      orderID → deliveryRecord (the fulfillment worker's progress; slimmed when the order finishes)
//	chat_state      chatID → the bot's flow state of a chat (opaque bytes)
//	audit           entryID → auditRecord (ids from the bucket sequence)
//	quotes          quoteID → quoteRecord (locked quotes; deleted QuoteRetention after they expire)
//	quote_expiry    expiresAt (Unix ns, big-endian) ‖ quoteID → empty
//	settings        name → value ("pricing": an admin's price list, pricingRecord; "fragment_session", "fragment_session_N": opaque sealed blobs)
//
// Update commits concurrent updates together, one fsync for all of them
// (group commit): a group is committed as soon as the previous commit ends,
// without bbolt Batch's timer. A function that fails inside a group is
// re-run alone, as shop.Store documents.
package store
