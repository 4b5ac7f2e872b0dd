package shop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"
)

// Key prefixes select the partner API dialect.
const (
	KeyPrefixOrders = "osk_" // orders contract (orders-api-v1)
	KeyPrefixSimple = "sk_"  // simple contract (simple-api-v1)
)

// KeyPrefixes lists the valid key prefixes.
var KeyPrefixes = []string{KeyPrefixOrders, KeyPrefixSimple}

// APIKey is a partner's API key. Only the SHA-256 hash of the key is stored;
// the plaintext is shown once, when the key is issued.
type APIKey struct {
	Hash      string    // hex SHA-256 of the full plaintext key; primary key
	Prefix    string    // KeyPrefixOrders or KeyPrefixSimple
	Hint      string    // the first characters of the key, e.g. "osk_Ab12…", safe to display
	UserID    int64     // owner
	CreatedAt time.Time // set at issue
	RevokedAt time.Time // zero while the key is active
}

// Active reports whether the key has not been revoked.
func (k *APIKey) Active() bool { return k.RevokedAt.IsZero() }

// HashKey returns the hex SHA-256 of a plaintext key.
func HashKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// KeyPrefix returns the dialect prefix of a plaintext key, or "" if it has
// none of KeyPrefixes. "osk_" is tested first: "sk_" is not its prefix, but
// the order makes the intent plain.
func KeyPrefix(plaintext string) string {
	for _, p := range KeyPrefixes {
		if strings.HasPrefix(plaintext, p) {
			return p
		}
	}
	return ""
}

// IssueKey creates a new API key for a user with prefix "osk_" or "sk_" and
// returns its plaintext, which is never stored and cannot be shown again.
// The user's previous active key with the same prefix is revoked.
//
// Errors: VALIDATION_ERROR (prefix), NOT_FOUND (user), UNAUTHORIZED (banned).
func (s *Service) IssueKey(ctx context.Context, userID int64, prefix string) (string, *APIKey, error) {
	if prefix != KeyPrefixOrders && prefix != KeyPrefixSimple {
		return "", nil, Errorf(EVALIDATION, "key prefix must be %s or %s", KeyPrefixOrders, KeyPrefixSimple)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, err
	}
	plaintext := prefix + base64.RawURLEncoding.EncodeToString(secret)
	var key *APIKey
	err := s.Store.Update(ctx, func(tx Tx) error {
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		if user.Banned {
			return Errorf(EUNAUTHORIZED, "this account is banned")
		}
		now := s.now()
		if _, err := revokeKeys(tx, userID, prefix, now); err != nil {
			return err
		}
		key = &APIKey{Hash: HashKey(plaintext), Prefix: prefix, Hint: plaintext[:len(prefix)+4] + "…", UserID: userID, CreatedAt: now}
		return tx.PutAPIKey(key)
	})
	if err != nil {
		return "", nil, err
	}
	return plaintext, key, nil
}

// RevokeKey revokes a user's active keys with prefix ("" = all prefixes)
// and returns how many it revoked.
//
// Errors: VALIDATION_ERROR (prefix), NOT_FOUND (no active key).
func (s *Service) RevokeKey(ctx context.Context, userID int64, prefix string) (int, error) {
	if prefix != "" && prefix != KeyPrefixOrders && prefix != KeyPrefixSimple {
		return 0, Errorf(EVALIDATION, "key prefix must be %s or %s", KeyPrefixOrders, KeyPrefixSimple)
	}
	var n int
	err := s.Store.Update(ctx, func(tx Tx) (err error) {
		if n, err = revokeKeys(tx, userID, prefix, s.now()); err == nil && n == 0 {
			err = Errorf(ENOTFOUND, "no active API key")
		}
		return err
	})
	return n, err
}

func revokeKeys(tx Tx, userID int64, prefix string, now time.Time) (int, error) {
	keys, err := tx.FindAPIKeysByUser(userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if k.Active() && (prefix == "" || k.Prefix == prefix) {
			k.RevokedAt = now
			if err := tx.PutAPIKey(k); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// Keys returns a user's API keys (hashes and hints only), oldest first.
func (s *Service) Keys(ctx context.Context, userID int64) ([]*APIKey, error) {
	var keys []*APIKey
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		keys, err = tx.FindAPIKeysByUser(userID)
		return err
	})
	return keys, err
}

// Authenticate resolves a plaintext API key to its active key and owner.
// Every failure gives the same UNAUTHORIZED message so that callers learn
// nothing about which keys exist.
//
// Errors: UNAUTHORIZED (unknown, malformed or revoked key, banned owner).
func (s *Service) Authenticate(ctx context.Context, plaintext string) (*User, *APIKey, error) {
	invalid := Errorf(EUNAUTHORIZED, "invalid API key")
	if KeyPrefix(plaintext) == "" || len(plaintext) > 128 {
		return nil, nil, invalid
	}
	hash := HashKey(plaintext)
	var user *User
	var key *APIKey
	err := s.Store.View(ctx, func(tx Tx) error {
		var err error
		key, err = tx.FindAPIKeyByHash(hash)
		if ErrorCode(err) == ENOTFOUND {
			return invalid
		} else if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) != 1 || !key.Active() {
			return invalid
		}
		if user, err = findUser(tx, key.UserID); ErrorCode(err) == ENOTFOUND {
			return invalid
		} else if err != nil {
			return err
		}
		if user.Banned {
			return Errorf(EUNAUTHORIZED, "this account is banned")
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return user, key, nil
}
