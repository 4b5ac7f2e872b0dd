package store

import (
	"context"
	"fmt"

	"starsbot/shop"
)

// FindDelivery returns the delivery record of an order, or ENOTFOUND.
func (t *tx) FindDelivery(orderID int64) (*shop.Delivery, error) {
	r, err := get[deliveryRecord](t.bucket(bucketDeliveries), i64(orderID))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Delivery")
	}
	return r.delivery(), nil
}

// PutDelivery creates or replaces the delivery record of d.OrderID.
func (t *tx) PutDelivery(d *shop.Delivery) error {
	if err := t.writable("put delivery"); err != nil {
		return err
	} else if d.OrderID <= 0 {
		return fmt.Errorf("store: put delivery: order id %d", d.OrderID)
	}
	return put(t.bucket(bucketDeliveries), i64(d.OrderID), newDeliveryRecord(d))
}

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
