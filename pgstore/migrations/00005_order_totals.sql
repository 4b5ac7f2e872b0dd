-- Per-owner order totals (Tx.OrderTotals), kept by triggers on orders in
-- the writing transaction, as package store keeps its counters: a user's
-- order statistics read one row per status instead of every order of the
-- user (and, with a generic plan of the old "$1 = 0 OR user_id = $1"
-- query, every order of the shop). Everyone's totals sum these rows: one
-- per owner and status, not one per order. Rows whose count fell to 0 stay
-- (readers skip them).
--
-- A row is locked by the orders of one owner only, which a balance-paid
-- order's balance row already serializes; concurrent memo-paid orders of
-- one partner now take turns on it too (a serialization failure re-runs
-- one, as for any conflict).

-- +goose Up
CREATE TABLE order_totals (
    user_id   BIGINT NOT NULL,
    status    TEXT   NOT NULL,
    count     BIGINT NOT NULL,
    price_ton BIGINT NOT NULL,
    fee_ton   BIGINT NOT NULL,
    stars     BIGINT NOT NULL,
    months    BIGINT NOT NULL,
    PRIMARY KEY (user_id, status)
);

-- +goose StatementBegin
CREATE FUNCTION order_totals_change() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE order_totals SET count = count - 1, price_ton = price_ton - OLD.price_ton, fee_ton = fee_ton - OLD.fee_ton,
            stars = stars - OLD.stars, months = months - OLD.months
        WHERE user_id = OLD.user_id AND status = OLD.status;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO order_totals AS t (user_id, status, count, price_ton, fee_ton, stars, months)
        VALUES (NEW.user_id, NEW.status, 1, NEW.price_ton, NEW.fee_ton, NEW.stars, NEW.months)
        ON CONFLICT (user_id, status) DO UPDATE SET count = t.count + 1, price_ton = t.price_ton + EXCLUDED.price_ton,
            fee_ton = t.fee_ton + EXCLUDED.fee_ton, stars = t.stars + EXCLUDED.stars, months = t.months + EXCLUDED.months;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER orders_totals_insert_delete AFTER INSERT OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION order_totals_change();
-- Only when a counted column changes: most order writes change the record
-- (data) and not these.
CREATE TRIGGER orders_totals_update AFTER UPDATE ON orders
    FOR EACH ROW WHEN ((OLD.user_id, OLD.status, OLD.price_ton, OLD.fee_ton, OLD.stars, OLD.months)
        IS DISTINCT FROM (NEW.user_id, NEW.status, NEW.price_ton, NEW.fee_ton, NEW.stars, NEW.months))
    EXECUTE FUNCTION order_totals_change();

INSERT INTO order_totals (user_id, status, count, price_ton, fee_ton, stars, months)
SELECT user_id, status, count(*), sum(price_ton), sum(fee_ton), sum(stars), sum(months) FROM orders GROUP BY user_id, status;

-- +goose Down
DROP TRIGGER orders_totals_update ON orders;
DROP TRIGGER orders_totals_insert_delete ON orders;
DROP FUNCTION order_totals_change();
DROP TABLE order_totals;
