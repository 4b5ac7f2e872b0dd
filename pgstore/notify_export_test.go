package pgstore

// OutboxChannelSQL exposes the outbox channel's SQL to the tests.
const OutboxChannelSQL = outboxChannelSQL
