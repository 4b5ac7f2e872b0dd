package api

import (
	"testing"
	"time"
)

// SetReplicas gives each replica its share of the per-key limit (the burst
// rounded up, at least 1), and back.
func TestServer_SetReplicas(t *testing.T) {
	s := &Server{ServerConfig: ServerConfig{RateLimit: 20, RateBurst: 40, Now: time.Now}}
	s.limiters = newLimiters(s.RateLimit, s.RateBurst)
	for _, tt := range []struct {
		n         int
		perSecond float64
		burst     int
	}{
		{1, 20, 40},
		{2, 10, 20},
		{3, 20.0 / 3, 14},
		{80, 0.25, 1},
		{0, 20, 40},
	} {
		s.SetReplicas(tt.n)
		if r, b := s.KeyLimit(); r != tt.perSecond || b != tt.burst {
			t.Errorf("SetReplicas(%d): %v rps, burst %d; want %v, %d", tt.n, r, b, tt.perSecond, tt.burst)
		}
	}
}

// A key's bucket in use takes the new rate and burst at once.
func TestLimiters_SetChangesBucketsInUse(t *testing.T) {
	l := newLimiters(10, 4)
	now := time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)
	allowed := func(at time.Time) int {
		n := 0
		for {
			if _, ok := l.allow("k", at); !ok {
				return n
			}
			n++
		}
	}
	if n := allowed(now); n != 4 {
		t.Fatalf("%d allowed at first, want the burst 4", n)
	}
	l.set(5, 2, now)
	now = now.Add(time.Second) // 5 tokens at the new rate, capped at the new burst
	if n := allowed(now); n != 2 {
		t.Fatalf("%d allowed after halving, want 2", n)
	}
	l.set(10, 4, now)
	now = now.Add(300 * time.Millisecond) // 3 tokens at the old rate
	if n := allowed(now); n != 3 {
		t.Fatalf("%d allowed after restoring, want 3", n)
	}
}
