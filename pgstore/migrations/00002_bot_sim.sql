-- What the program keeps beside the shop: the bot's per-chat flow state
-- and the sandbox's simulated chain (package store keeps both in bbolt).

-- +goose Up
CREATE TABLE chat_states (
    chat_id BIGINT PRIMARY KEY,
    data    BYTEA  NOT NULL
);

CREATE TABLE sim_transfers (
    account TEXT   NOT NULL,
    lt      BIGINT NOT NULL,
    hash    TEXT   NOT NULL UNIQUE,
    data    JSONB  NOT NULL,
    PRIMARY KEY (account, lt)
);

-- +goose Down
DROP TABLE sim_transfers, chat_states;
