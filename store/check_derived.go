package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
)

// derived recounts every counter from the records and compares the result
// with the counters bucket, both ways, and checks the idempotency and
// deposit time indexes against their records.
func (c *checker) derived() {
	want := map[string][]int64{}
	add := func(ds []counterDelta) {
		for _, d := range ds {
			cur := want[string(d.key)]
			if cur == nil {
				cur = make([]int64, len(d.values))
			}
			for i, v := range d.values {
				cur[i] += v
			}
			want[string(d.key)] = cur
		}
	}
	each(c, bucketUsers, func(_ []byte, r *userRecord) { add(userDeltas(r)) })
	each(c, bucketOrders, func(_ []byte, r *orderRecord) { add(orderDeltas(r)) })
	each(c, bucketDeposits, func(_ []byte, r *depositRecord) {
		add(depositDeltas(r))
		if !c.has(bucketDepositTimes, depositTimeKey(r)) {
			c.addf("deposit %d: missing from deposit_times", r.ID)
		}
	})
	active := map[int64]int64{}
	each(c, bucketAPIKeys, func(_ []byte, r *apiKeyRecord) {
		if r.RevokedAt.IsZero() {
			active[r.UserID]++
		}
	})
	for user, n := range active {
		add([]counterDelta{{activeKeysKey(user), []int64{n}}, {keyPartnerCounter, []int64{1}}})
	}
	for k, v := range want {
		if !slices.ContainsFunc(v, func(x int64) bool { return x != 0 }) {
			delete(want, k)
		}
	}
	have := map[string][]int64{}
	c.keys(bucketCounters, func(k, v []byte) {
		if len(v) == 0 || len(v)%8 != 0 {
			c.addf("counters %x: malformed value %x", k, v)
			return
		}
		have[string(k)] = readCounter(v, 0)
	})
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if h, ok := have[k]; !ok {
			c.addf("counter %s: missing, recount %v", counterName(k), want[k])
		} else if !slices.Equal(h, want[k]) {
			c.addf("counter %s: %v, recount %v", counterName(k), h, want[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			c.addf("counter %s: %v, but the recount finds nothing", counterName(k), have[k])
		}
	}

	each(c, bucketIdempotency, func(k []byte, r *idempotencyRecord) {
		idempotencyFromKey(k, r)
		if !c.has(bucketIdempotencyExpiry, idempotencyExpiryKey(r)) {
			c.addf("idempotency record %d/%q: missing from idempotency_expiry", r.UserID, r.Key)
		}
	})
	c.keys(bucketIdempotencyExpiry, func(k, _ []byte) {
		if len(k) < 16 {
			c.addf("idempotency_expiry: malformed key %x", k)
			return
		}
		r := lookup[idempotencyRecord](c, bucketIdempotency, k[8:])
		if r != nil {
			idempotencyFromKey(k[8:], r)
		}
		if r == nil {
			c.addf("idempotency_expiry %x: record %x missing", k[:8], k[8:])
		} else if !bytes.Equal(idempotencyExpiryKey(r), k) {
			c.addf("idempotency_expiry %x: record %d/%q expires at %s", k[:8], r.UserID, r.Key, r.ExpiresAt)
		}
	})
	c.keys(bucketDepositTimes, func(k, _ []byte) {
		if len(k) != 16 {
			c.addf("deposit_times: malformed key %x", k)
			return
		}
		if d := lookup[depositRecord](c, bucketDeposits, k[8:]); d == nil {
			c.addf("deposit_times %x: deposit %d missing", k[:8], tailID(k))
		} else if !bytes.Equal(depositTimeKey(d), k) {
			c.addf("deposit_times %x: deposit %d created at %s", k[:8], d.ID, d.CreatedAt)
		}
	})
}

// counterName describes a counters key for a report.
func counterName(k string) string {
	b := []byte(k)
	switch {
	case len(b) == 10 && b[0] == 'o':
		return fmt.Sprintf("orders of user %d in %s", int64(tailID(b[1:9])), orderStatusByCode[b[9]])
	case len(b) == 9 && b[0] == 'k':
		return fmt.Sprintf("active API keys of user %d", int64(tailID(b)))
	case len(b) == 9 && b[0] == 'h':
		return fmt.Sprintf("deposits of hour %d", int64(tailID(b)))
	case len(b) > 1 && b[0] == 'd':
		return fmt.Sprintf("deposits %s", b[1:])
	case k == "u":
		return "users"
	case k == "p":
		return "partners"
	}
	return fmt.Sprintf("%x", b)
}
