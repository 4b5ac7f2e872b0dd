-- The outbox's sequence numbers come from a SEQUENCE instead of the
-- counters row 'outbox_seq', which every event-writing transaction used to
-- update and so serialized on. Numbers are now handed out in call order,
-- not commit order; readers see only events up to the horizon (counters row
-- 'outbox_horizon'), a number below which no event can still commit: see
-- outbox.go. The old counter's value becomes the horizon (every number up
-- to it was handed out under the row lock, so its writer has ended) and
-- the sequence goes on after it.
--
-- A replica of the previous version fails to append events once this has
-- run (its counter row is gone): upgrade every replica together.

-- +goose Up
CREATE SEQUENCE outbox_seqs CACHE 1; -- CACHE 1: the horizon relies on numbers being handed out in call order
SELECT setval('outbox_seqs', greatest(value, 1), value > 0) FROM counters WHERE name = 'outbox_seq';
UPDATE counters SET name = 'outbox_horizon' WHERE name = 'outbox_seq';

-- Update's re-runs after a serialization failure queue on this table (LOCK
-- TABLE, see db.go) instead of on counters, whose rows the horizon's
-- advancer and the fan-out update.
CREATE TABLE update_queue ();

-- PutUser and PutOrder drop a user's or order's previous memo by owner
-- (DELETE FROM memos WHERE user_id = $1 …, … WHERE order_id = $1 …): without
-- these indexes each was a sequential scan of every memo, which in a
-- SERIALIZABLE transaction also takes a predicate lock on the whole table:
-- every new memo (a TON-paid order, a new user) was a read/write conflict
-- with every balance-paid order in flight (two such conflicts in a row
-- abort one of the transactions).
CREATE INDEX memos_user ON memos (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX memos_order ON memos (order_id) WHERE order_id IS NOT NULL;

-- +goose Down
DROP INDEX memos_order, memos_user;
DROP TABLE update_queue;
UPDATE counters SET name = 'outbox_seq', value = greatest(value, (SELECT coalesce(max(seq), 0) FROM outbox))
    WHERE name = 'outbox_horizon';
DROP SEQUENCE outbox_seqs;
