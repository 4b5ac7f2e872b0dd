package store

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Bucket names; doc.go describes keys and values.
var (
	bucketMeta          = []byte("meta")
	bucketUsers         = []byte("users")
	bucketUsernames     = []byte("usernames")
	bucketMemos         = []byte("memos")
	bucketAPIKeys       = []byte("apikeys")
	bucketUserAPIKeys   = []byte("user_apikeys")
	bucketOrders        = []byte("orders")
	bucketUserOrders    = []byte("user_orders")  // schema 1: userID ‖ orderID; migrate drops it (user_order_status serves)
	bucketOrderStatus   = []byte("order_status") // schema 1: text status keys; migrate replaces it with order_by_status
	bucketOrderRefs     = []byte("order_refs")
	bucketLedger        = []byte("ledger")
	bucketUserLedger    = []byte("user_ledger")
	bucketDeposits      = []byte("deposits")
	bucketDepositHashes = []byte("deposit_hashes")
	bucketIdempotency   = []byte("idempotency")
	bucketQueue         = []byte("queue")
	bucketCursors       = []byte("cursors")
	bucketSimChain      = []byte("sim_chain")
	bucketSimHashes     = []byte("sim_hashes")
	bucketDeliveries    = []byte("deliveries")
	bucketChatState     = []byte("chat_state")
	bucketAudit         = []byte("audit")
	bucketSettings      = []byte("settings")
	bucketQuotes        = []byte("quotes")
	bucketQuoteExpiry   = []byte("quote_expiry")

	bucketOrderByStatus     = []byte("order_by_status")
	bucketUserOrderStatus   = []byte("user_order_status")
	bucketOrderExpiry       = []byte("order_expiry")
	bucketIdempotencyExpiry = []byte("idempotency_expiry")
	bucketDepositTimes      = []byte("deposit_times")
	bucketCounters          = []byte("counters")

	allBuckets = [][]byte{
		bucketMeta, bucketUsers, bucketUsernames, bucketMemos, bucketAPIKeys,
		bucketUserAPIKeys, bucketOrders, bucketOrderByStatus,
		bucketOrderRefs, bucketLedger, bucketUserLedger, bucketDeposits,
		bucketDepositHashes, bucketIdempotency, bucketQueue, bucketCursors,
		bucketSimChain, bucketSimHashes, bucketDeliveries, bucketChatState,
		bucketAudit, bucketSettings, bucketQuotes, bucketQuoteExpiry,
		bucketUserOrderStatus, bucketOrderExpiry, bucketIdempotencyExpiry,
		bucketDepositTimes, bucketCounters,
	}

	keySchemaVersion = []byte("schema_version")
)

// Memo owner kinds, the first byte of a memos value.
const (
	memoUser  byte = 'u'
	memoOrder byte = 'o'
)

// u64 returns the 8-byte big-endian key of v.
func u64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

// i64 returns the 8-byte big-endian key of v; positive ids sort in order.
func i64(v int64) []byte { return u64(uint64(v)) }

// cat concatenates key parts into a new slice.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// tailID returns the id in the last 8 bytes of k; k must be at least 8 long.
func tailID(k []byte) uint64 { return binary.BigEndian.Uint64(k[len(k)-8:]) }

// usernameKey normalizes a username for the usernames index.
func usernameKey(name string) string {
	return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "@"))
}

// hashKey normalizes a hex hash (API key or transaction) for its index.
func hashKey(h string) string { return strings.ToLower(strings.TrimSpace(h)) }

// memoValue returns the memos index value naming an owner.
func memoValue(kind byte, id int64) []byte { return cat([]byte{kind}, i64(id)) }

// refPrefix returns the order_refs key prefix of a user's reference.
func refPrefix(userID int64, ref string) []byte {
	return cat(i64(userID), []byte(ref), []byte{0})
}

// prefixEnd returns the smallest key greater than every key with prefix, or
// nil if there is none (prefix is empty or all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
