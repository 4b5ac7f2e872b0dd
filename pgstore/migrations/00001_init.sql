-- The first schema of the PostgreSQL store (package pgstore). Records are
-- kept whole as JSONB (the shop's structs, money as exact decimals) beside
-- the columns that are indexed, constrained or summed; money columns are
-- BIGINT nanoTON, times that are indexed are BIGINT Unix nanoseconds (as
-- the bbolt store's keys: exact, and 0 for the zero time).

-- +goose Up
CREATE TABLE users (
    id      BIGINT PRIMARY KEY CHECK (id > 0),
    balance BIGINT NOT NULL,
    data    JSONB  NOT NULL
);

-- The username index: the user most recently Put with a name owns it.
CREATE TABLE usernames (
    name    TEXT   PRIMARY KEY,
    user_id BIGINT NOT NULL
);
CREATE INDEX usernames_user ON usernames (user_id);

-- One memo namespace for users and orders.
CREATE TABLE memos (
    memo     TEXT   PRIMARY KEY,
    user_id  BIGINT,
    order_id BIGINT,
    CHECK ((user_id IS NULL) <> (order_id IS NULL))
);

CREATE TABLE api_keys (
    hash    TEXT    PRIMARY KEY,
    user_id BIGINT  NOT NULL,
    active  BOOLEAN NOT NULL,
    data    JSONB   NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id) INCLUDE (active);

CREATE SEQUENCE order_ids;
CREATE TABLE orders (
    id               BIGINT PRIMARY KEY CHECK (id > 0),
    user_id          BIGINT NOT NULL,
    status           TEXT   NOT NULL,
    type             TEXT   NOT NULL,
    price_ton        BIGINT NOT NULL,
    fee_ton          BIGINT NOT NULL,
    stars            BIGINT NOT NULL,
    months           BIGINT NOT NULL,
    client_reference TEXT   NOT NULL,
    expiry_ns        BIGINT, -- pending_payment orders with a deadline only
    data             JSONB  NOT NULL
);
CREATE INDEX orders_status ON orders (status, id);
CREATE INDEX orders_user_status ON orders (user_id, status, id) INCLUDE (price_ton, fee_ton, stars, months);
CREATE INDEX orders_user ON orders (user_id, id);
CREATE INDEX orders_reference ON orders (user_id, client_reference, id) WHERE client_reference <> '';
CREATE INDEX orders_expiry ON orders (expiry_ns, id) WHERE expiry_ns IS NOT NULL;

CREATE SEQUENCE ledger_ids;
CREATE TABLE ledger (
    id            BIGINT PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    amount        BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    tx_hash       TEXT   NOT NULL,
    data          JSONB  NOT NULL
);
CREATE INDEX ledger_user ON ledger (user_id, id) INCLUDE (amount, balance_after);
CREATE INDEX ledger_tx_hash ON ledger (tx_hash) WHERE tx_hash <> '';

CREATE SEQUENCE deposit_ids;
CREATE TABLE deposits (
    id            BIGINT PRIMARY KEY,
    tx_hash       TEXT UNIQUE, -- normalized; NULL when the deposit has none
    status        TEXT   NOT NULL,
    asset         TEXT   NOT NULL,
    amount        BIGINT NOT NULL,
    jetton_amount BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    order_id      BIGINT NOT NULL,
    created_ns    BIGINT NOT NULL,
    data          JSONB  NOT NULL
);
CREATE INDEX deposits_status ON deposits (status, id) INCLUDE (amount);
CREATE INDEX deposits_created ON deposits (created_ns) INCLUDE (status, amount);
CREATE INDEX deposits_asset ON deposits (asset) INCLUDE (status, amount, jetton_amount) WHERE asset <> '';

CREATE TABLE idempotency (
    user_id    BIGINT NOT NULL,
    key        TEXT   NOT NULL,
    expires_ns BIGINT NOT NULL,
    data       JSONB  NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_expiry ON idempotency (expires_ns, user_id, key);

CREATE TABLE queue (
    order_id    BIGINT PRIMARY KEY,
    enqueued_ns BIGINT NOT NULL
);

CREATE TABLE deliveries (
    order_id BIGINT PRIMARY KEY,
    data     JSONB NOT NULL
);

CREATE SEQUENCE audit_ids;
CREATE TABLE audit (
    id   BIGINT PRIMARY KEY,
    data JSONB NOT NULL
);

CREATE TABLE quotes (
    id         TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    order_id   BIGINT NOT NULL,
    expires_ns BIGINT NOT NULL,
    data       JSONB  NOT NULL
);
CREATE INDEX quotes_expiry ON quotes (expires_ns, id);

CREATE TABLE settings (
    key   TEXT  PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE cursors (
    account TEXT  PRIMARY KEY,
    data    JSONB NOT NULL
);

-- Counters that order commits: outbox_seq hands out the outbox's sequence
-- numbers under a row lock held to commit, so that they follow commit
-- order; outbox_indexed is IndexOutbox's mark.
CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('outbox_seq', 0), ('outbox_indexed', 0);

CREATE TABLE outbox (
    seq        BIGINT PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    order_id   BIGINT, -- order events
    test       BOOLEAN NOT NULL, -- webhook.test events are not indexed under their user
    created_ns BIGINT NOT NULL,
    data       JSONB  NOT NULL
);
CREATE INDEX outbox_created ON outbox (created_ns);

CREATE TABLE user_outbox (
    user_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, seq)
);

CREATE TABLE webhooks (
    id         TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    data       JSONB  NOT NULL
);
CREATE INDEX webhooks_user ON webhooks (user_id);

CREATE SEQUENCE webhook_delivery_ids;
CREATE TABLE webhook_deliveries (
    id         BIGINT PRIMARY KEY,
    webhook_id TEXT   NOT NULL,
    user_id    BIGINT NOT NULL,
    status     TEXT   NOT NULL,
    next_ns    BIGINT NOT NULL,
    data       JSONB  NOT NULL
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_ns, id) INCLUDE (webhook_id) WHERE status = 'pending';

-- +goose Down
DROP TABLE webhook_deliveries, webhooks, user_outbox, outbox, counters, cursors, settings, quotes, audit,
    deliveries, queue, idempotency, deposits, ledger, orders, api_keys, memos, usernames, users;
DROP SEQUENCE webhook_delivery_ids, audit_ids, deposit_ids, ledger_ids, order_ids;
