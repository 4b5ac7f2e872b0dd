package pgstore

// OutboxChannelSQL exposes the outbox channel's SQL to the tests.
const OutboxChannelSQL = outboxChannelSQL

// Notifying reports whether an outbox notification is pending or being
// sent.
func (db *DB) Notifying() bool { return db.notifier.pending.Load() || db.notifier.sending.Load() }
