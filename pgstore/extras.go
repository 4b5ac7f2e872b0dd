package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"starsbot/shop"
)

// maxChatState bounds what the bot may keep per chat, as in package store.
const maxChatState = 16 << 10

// LoadChatState returns the bot's saved flow state of a chat, or nil.
func (db *DB) LoadChatState(ctx context.Context, chatID int64) ([]byte, error) {
	var out []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM chat_states WHERE chat_id = $1`, chatID).Scan(&out)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("pgstore: load chat state: %w", err)
	}
	return out, nil
}

// SaveChatState replaces the bot's flow state of a chat; nil or empty data
// deletes it.
func (db *DB) SaveChatState(ctx context.Context, chatID int64, data []byte) error {
	if len(data) > maxChatState {
		return fmt.Errorf("pgstore: chat state of %d bytes exceeds %d", len(data), maxChatState)
	}
	var err error
	if len(data) == 0 {
		_, err = db.pool.Exec(ctx, `DELETE FROM chat_states WHERE chat_id = $1`, chatID)
	} else {
		_, err = db.pool.Exec(ctx, `INSERT INTO chat_states (chat_id, data) VALUES ($1, $2)
			ON CONFLICT (chat_id) DO UPDATE SET data = EXCLUDED.data`, chatID, data)
	}
	if err != nil {
		return fmt.Errorf("pgstore: save chat state: %w", err)
	}
	return nil
}

// TakeChatState deletes the bot's flow state of a chat only if it still
// equals want, in one statement, and reports whether it did: of two
// replicas handling one repeated update, exactly one takes it.
func (db *DB) TakeChatState(ctx context.Context, chatID int64, want []byte) (bool, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM chat_states WHERE chat_id = $1 AND data = $2`, chatID, want)
	if err != nil {
		return false, fmt.Errorf("pgstore: take chat state: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// AppendSimTransfer appends t to account's simulated chain with the next
// logical time (1000 apart, from 1000), unless a transfer with t.Hash is
// already on it; it returns the stored transfer (the earlier one for a
// repeated hash) and whether it was appended, as package store does.
func (db *DB) AppendSimTransfer(ctx context.Context, account string, t shop.Transfer) (shop.Transfer, bool, error) {
	var out shop.Transfer
	var appended bool
	err := db.Update(ctx, func(stx shop.Tx) error {
		out, appended = shop.Transfer{}, false
		p := stx.(*tx)
		hash := hashKey(t.Hash)
		var data []byte
		err := p.ptx.QueryRow(p.ctx, `SELECT data FROM sim_transfers WHERE hash = $1`, hash).Scan(&data)
		if err == nil {
			return jsonUnmarshal(data, &out)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return p.fail("append sim transfer", err)
		}
		var last int64
		if err := p.ptx.QueryRow(p.ctx, `SELECT coalesce(max(lt), 0) FROM sim_transfers WHERE account = $1`, account).Scan(&last); err != nil {
			return p.fail("append sim transfer", err)
		}
		rec := t
		rec.Hash, rec.LT, rec.Time, rec.NoMemoReason = hash, uint64(last)+1000, t.Time.UTC(), ""
		if data, err = json.Marshal(rec); err != nil {
			return err
		}
		if err := p.exec("append sim transfer", `INSERT INTO sim_transfers (account, lt, hash, data) VALUES ($1, $2, $3, $4)`,
			account, int64(rec.LT), hash, data); err != nil {
			return err
		}
		out, appended = rec, true
		return nil
	})
	return out, appended, err
}

// SimTransfers returns up to limit transfers of account's simulated chain
// with a logical time of at most maxLT (0: from the newest), newest first.
func (db *DB) SimTransfers(ctx context.Context, account string, maxLT uint64, limit int) ([]shop.Transfer, error) {
	upTo := int64(1<<63 - 1)
	if maxLT > 0 && maxLT < 1<<63-1 {
		upTo = int64(maxLT)
	}
	rows, err := db.pool.Query(ctx, `SELECT data FROM sim_transfers WHERE account = $1 AND lt <= $2 ORDER BY lt DESC LIMIT $3`,
		account, upTo, nonNeg(limit))
	if err != nil {
		return nil, fmt.Errorf("pgstore: sim transfers: %w", err)
	}
	datas, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("pgstore: sim transfers: %w", err)
	}
	out := make([]shop.Transfer, len(datas))
	for i, d := range datas {
		if err := jsonUnmarshal(d, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}
