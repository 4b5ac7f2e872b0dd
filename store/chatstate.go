package store

import (
	"bytes"
	"context"
	"fmt"

	"starsbot/shop"
)

// maxChatState bounds what the bot may keep per chat.
const maxChatState = 16 << 10

// LoadChatState returns the bot's saved flow state of a chat, or nil.
func (db *DB) LoadChatState(ctx context.Context, chatID int64) ([]byte, error) {
	var out []byte
	err := db.View(ctx, func(st shop.Tx) error {
		if v := st.(*tx).bucket(bucketChatState).Get(i64(chatID)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}

// SaveChatState replaces the bot's flow state of a chat; nil or empty data
// deletes it.
func (db *DB) SaveChatState(ctx context.Context, chatID int64, data []byte) error {
	if len(data) > maxChatState {
		return fmt.Errorf("store: chat state of %d bytes exceeds %d", len(data), maxChatState)
	}
	return db.Update(ctx, func(st shop.Tx) error {
		b := st.(*tx).bucket(bucketChatState)
		if len(data) == 0 {
			return b.Delete(i64(chatID))
		}
		return b.Put(i64(chatID), data)
	})
}

// TakeChatState deletes the bot's flow state of a chat only if it still
// equals want, in one write transaction, and reports whether it did.
func (db *DB) TakeChatState(ctx context.Context, chatID int64, want []byte) (bool, error) {
	var taken bool
	err := db.Update(ctx, func(st shop.Tx) error {
		taken = false
		b := st.(*tx).bucket(bucketChatState)
		if v := b.Get(i64(chatID)); v == nil || !bytes.Equal(v, want) {
			return nil
		}
		taken = true
		return b.Delete(i64(chatID))
	})
	return taken, err
}
