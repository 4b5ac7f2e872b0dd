package store

import (
	"fmt"

	"starsbot/shop"
)

// FindCursor returns the chain watcher's cursor for account (exact), or
// ENOTFOUND.
func (t *tx) FindCursor(account string) (*shop.Cursor, error) {
	r, err := get[cursorRecord](t.bucket(bucketCursors), []byte(account))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Cursor")
	}
	return r.cursor(), nil
}

// PutCursor creates or replaces the cursor of c.Account.
func (t *tx) PutCursor(c *shop.Cursor) error {
	if err := t.writable("put cursor"); err != nil {
		return err
	} else if c.Account == "" {
		return fmt.Errorf("store: put cursor: empty account")
	}
	return put(t.bucket(bucketCursors), []byte(c.Account), newCursorRecord(c))
}
