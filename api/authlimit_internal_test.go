package api

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// TestAuthFailures_Bounded: however many addresses fail, at most max are
// kept; refilled buckets are forgotten; further addresses share the
// overflow bucket, so they are still throttled.
func TestAuthFailures_Bounded(t *testing.T) {
	f := newAuthFailures(1, 2, 100)
	now := time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)
	for i := range 1000 {
		f.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if n := len(f.addrs); n != 100 {
		t.Fatalf("%d addresses kept, want 100", n)
	}
	// 900 failures went to the overflow bucket: a new address is throttled.
	if _, logAs, blocked := f.blocked("192.0.2.1", now); !blocked || logAs != overflowAddr {
		t.Errorf("new address with a full table: blocked %t, logged as %q", blocked, logAs)
	}
	// Once the buckets have refilled they are forgotten.
	later := now.Add(f.refill() + time.Second)
	if _, _, blocked := f.blocked("192.0.2.1", later); blocked {
		t.Errorf("still blocked after the refill")
	}
	f.fail("192.0.2.1", later)
	if n := len(f.addrs); n != 1 {
		t.Errorf("%d addresses kept after the sweep, want 1", n)
	}
}

func TestClientAddr(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7:4000":          "203.0.113.7",
		"[2001:db8:1:2:3:4:5:6]:80": "2001:db8:1:2::/64",
		"[::ffff:203.0.113.7]:80":   "203.0.113.7",
		"pipe":                      "pipe",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = in
		if got := clientAddr(r); got != want {
			t.Errorf("clientAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
