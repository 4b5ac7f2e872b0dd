-- Several replicas share the fulfillment queue (claims.go): each claims a
-- queued order for a lease before working on it. The lease is kept on the
-- queue entry, which leaves the queue with the order: who holds it (a
-- replica and a nonce of its claim; '' for nobody) and until when (Unix
-- nanoseconds, the claimant's clock; 0 for never).

-- +goose Up
ALTER TABLE queue
    ADD COLUMN claimant TEXT   NOT NULL DEFAULT '',
    ADD COLUMN lease_ns BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE queue DROP COLUMN lease_ns, DROP COLUMN claimant;
