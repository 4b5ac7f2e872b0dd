package shop

import (
	"crypto/sha256"
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
