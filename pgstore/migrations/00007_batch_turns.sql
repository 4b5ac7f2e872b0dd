-- The turns of the group commit's batches (pgstore/batch.go): the batches
-- of one partition of the users take table batch_turn_N (N = the payer's
-- id modulo the partitions, at most 8), which conflicts with itself, so
-- that two processes' batches of the same users run one after the other
-- instead of aborting each other. LOCK TABLE takes no snapshot, unlike a
-- SELECT of an advisory lock function. Empty: only the lock is used.

-- +goose Up
CREATE TABLE batch_turn_0 ();
CREATE TABLE batch_turn_1 ();
CREATE TABLE batch_turn_2 ();
CREATE TABLE batch_turn_3 ();
CREATE TABLE batch_turn_4 ();
CREATE TABLE batch_turn_5 ();
CREATE TABLE batch_turn_6 ();
CREATE TABLE batch_turn_7 ();

-- +goose Down
DROP TABLE batch_turn_0, batch_turn_1, batch_turn_2, batch_turn_3, batch_turn_4, batch_turn_5, batch_turn_6, batch_turn_7;
