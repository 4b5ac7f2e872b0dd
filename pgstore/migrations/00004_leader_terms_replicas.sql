-- Several replicas on one database (package pgstore's leader.go, fence.go
-- and replicas.go). Numbered 00004, leaving 00003 to the outbox sequence
-- work done beside it; goose allows the gap.

-- +goose Up

-- The fencing term of each leader election key: incremented by the
-- elector, on the connection that holds the advisory lock, each time it
-- takes the lock. An Update made on a leader's behalf locks its row FOR
-- SHARE and commits only while the term is still the leader's own.
CREATE TABLE leader_terms (
    key  BIGINT PRIMARY KEY,
    term BIGINT NOT NULL CHECK (term > 0)
);

-- Live replicas: each heartbeats its row (expires_at in the server's
-- clock) and counts the rows not yet expired to share the API's per-key
-- rate limit.
CREATE TABLE replicas (
    id         TEXT        PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE replicas, leader_terms;
