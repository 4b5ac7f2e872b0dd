package store

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"starsbot/shop"
)

// FindUserByID returns the user with Telegram id id, or ENOTFOUND.
func (t *tx) FindUserByID(id int64) (*shop.User, error) {
	r, err := get[userRecord](t.bucket(bucketUsers), i64(id))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("User")
	}
	return r.user(), nil
}

// FindUserByUsername returns the user the usernames index names for name
// (case-insensitive, leading "@" ignored), or ENOTFOUND.
func (t *tx) FindUserByUsername(name string) (*shop.User, error) {
	key := usernameKey(name)
	if key == "" {
		return nil, notFound("User")
	}
	id := t.bucket(bucketUsernames).Get([]byte(key))
	if len(id) != 8 {
		return nil, notFound("User")
	}
	return t.FindUserByID(int64(tailID(id)))
}

// FindUserByMemo returns the user whose personal memo is memo, or
// ENOTFOUND (also when memo belongs to an order).
func (t *tx) FindUserByMemo(memo string) (*shop.User, error) {
	kind, id := t.memoOwner(memo)
	if kind != memoUser {
		return nil, notFound("User")
	}
	return t.FindUserByID(id)
}

// memoOwner returns the kind and id of memo's owner, or 0, 0.
func (t *tx) memoOwner(memo string) (kind byte, id int64) {
	key := shop.NormalizeMemo(memo)
	if key == "" {
		return 0, 0
	}
	v := t.bucket(bucketMemos).Get([]byte(key))
	if len(v) != 9 {
		return 0, 0
	}
	return v[0], int64(tailID(v))
}

// MemoTaken reports whether memo names any user or order.
func (t *tx) MemoTaken(memo string) (bool, error) {
	kind, _ := t.memoOwner(memo)
	return kind != 0, nil
}

// claimMemo checks that memo is free or already owned by (kind, id).
func (t *tx) claimMemo(memo string, kind byte, id int64) error {
	if memo == "" {
		return nil
	}
	v := t.bucket(bucketMemos).Get([]byte(memo))
	if v != nil && !bytes.Equal(v, memoValue(kind, id)) {
		return fmt.Errorf("store: memo %q is already owned by %s", memo, memoOwnerString(v))
	}
	return nil
}

func memoOwnerString(v []byte) string {
	if len(v) != 9 {
		return fmt.Sprintf("malformed owner %x", v)
	}
	switch v[0] {
	case memoUser:
		return fmt.Sprintf("user %d", int64(tailID(v)))
	case memoOrder:
		return fmt.Sprintf("order %d", int64(tailID(v)))
	}
	return fmt.Sprintf("unknown owner %x", v)
}

// releaseMemo removes memo from the index if (kind, id) owns it.
func (t *tx) releaseMemo(memo string, kind byte, id int64) error {
	if memo == "" {
		return nil
	}
	b := t.bucket(bucketMemos)
	if bytes.Equal(b.Get([]byte(memo)), memoValue(kind, id)) {
		return b.Delete([]byte(memo))
	}
	return nil
}

// PutUser creates or replaces u. u.ID must be positive. It points the
// usernames index at u for u.Username, drops u's old username and memo from
// the indexes when they changed, and fails if u.Memo belongs to another user
// or an order.
func (t *tx) PutUser(u *shop.User) error {
	if err := t.writable("put user"); err != nil {
		return err
	} else if u.ID <= 0 {
		return fmt.Errorf("store: put user: id %d is not positive", u.ID)
	}
	key := i64(u.ID)
	users := t.bucket(bucketUsers)
	prev, err := get[userRecord](users, key)
	if err != nil {
		return err
	}
	name, memo := usernameKey(u.Username), shop.NormalizeMemo(u.Memo)
	if err := t.claimMemo(memo, memoUser, u.ID); err != nil {
		return err
	}

	if prev != nil {
		if old := usernameKey(prev.Username); old != "" && old != name {
			usernames := t.bucket(bucketUsernames)
			if bytes.Equal(usernames.Get([]byte(old)), key) {
				if err := usernames.Delete([]byte(old)); err != nil {
					return err
				}
			}
		}
		if old := shop.NormalizeMemo(prev.Memo); old != memo {
			if err := t.releaseMemo(old, memoUser, u.ID); err != nil {
				return err
			}
		}
	}

	rec := newUserRecord(u)
	if err := t.applyDeltas(userDeltas(prev), userDeltas(rec)); err != nil {
		return err
	}
	if err := put(users, key, rec); err != nil {
		return err
	}
	if name != "" {
		if err := putIfChanged(t.bucket(bucketUsernames), []byte(name), key); err != nil {
			return err
		}
	}
	if memo != "" {
		if err := putIfChanged(t.bucket(bucketMemos), []byte(memo), memoValue(memoUser, u.ID)); err != nil {
			return err
		}
	}
	return nil
}

// ForEachUser calls fn for every user in id order. fn may Put users.
func (t *tx) ForEachUser(fn func(*shop.User) error) error {
	return scan(t.bucket(bucketUsers), nil, func(k, v []byte) error {
		r, err := decode[userRecord](k, v)
		if err != nil {
			return err
		}
		return fn(r.user())
	})
}

// PutAPIKey creates or replaces k, keyed by lower(k.Hash), and keeps the
// per-user index in step.
func (t *tx) PutAPIKey(k *shop.APIKey) error {
	if err := t.writable("put api key"); err != nil {
		return err
	}
	hash := hashKey(k.Hash)
	if hash == "" {
		return fmt.Errorf("store: put api key: empty hash")
	}
	keys := t.bucket(bucketAPIKeys)
	prev, err := get[apiKeyRecord](keys, []byte(hash))
	if err != nil {
		return err
	}
	byUser := t.bucket(bucketUserAPIKeys)
	if prev != nil && prev.UserID != k.UserID {
		if err := byUser.Delete(cat(i64(prev.UserID), []byte(hash))); err != nil {
			return err
		}
	}
	rec := newAPIKeyRecord(k)
	if err := t.apiKeyDerived(prev, rec); err != nil {
		return err
	}
	if err := put(keys, []byte(hash), rec); err != nil {
		return err
	}
	return byUser.Put(cat(i64(k.UserID), []byte(hash)), nil)
}

// FindAPIKeyByHash returns the key with hex SHA-256 hash (any case), or
// ENOTFOUND.
func (t *tx) FindAPIKeyByHash(hash string) (*shop.APIKey, error) {
	key := hashKey(hash)
	if key == "" {
		return nil, notFound("API key")
	}
	r, err := get[apiKeyRecord](t.bucket(bucketAPIKeys), []byte(key))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("API key")
	}
	return r.apiKey(), nil
}

// FindAPIKeysByUser returns all keys of a user, oldest (CreatedAt) first; a
// user without keys gets an empty slice and no error.
func (t *tx) FindAPIKeysByUser(userID int64) ([]*shop.APIKey, error) {
	var out []*shop.APIKey
	c := t.bucket(bucketUserAPIKeys).Cursor()
	prefix := i64(userID)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		key, err := t.FindAPIKeyByHash(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("store: api key index of user %d: %w", userID, err)
		}
		out = append(out, key)
	}
	slices.SortStableFunc(out, func(a, b *shop.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Hash, b.Hash))
	})
	return out, nil
}
