package main

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReplicas_Postgres: two sandbox services on one DATABASE_URL. One
// leads and delivers the orders taken through either API, and their APIs
// share the per-key rate limit; when the leader's process stops, the
// other takes over and delivers, and takes the whole limit back.
func TestReplicas_Postgres(t *testing.T) {
	db := pgURL(t)
	extra := map[string]string{"DATABASE_URL": db, "LEADER_TTL": "2s"}
	gained := regexp.MustCompile(`msg="leader: gained; starting" component="fulfillment worker"`)
	a := startService(t, t.TempDir(), extra)
	if a.stderr.wait(t, gained, 10*time.Second, a.done) == nil {
		t.Fatalf("A never leads:\n%s", a.stderr.String())
	}
	// B: same database, its own address. A pure sandbox issues the
	// partner fresh keys at every start (revoking the previous ones), so
	// from now on both APIs take B's keys.
	b := &service{t: t, stderr: &syncBuffer{}, done: make(chan error, 1), memo: a.memo}
	vars := map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0"}
	for k, v := range extra {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	var out syncBuffer
	go func() { b.done <- run(ctx, nil, envOf(vars), &out, b.stderr) }()
	t.Cleanup(func() { b.stop() })
	b.base = waitListening(t, b.stderr, b.done)
	b.osk = regexp.MustCompile(`osk_[A-Za-z0-9_-]{43}`).FindString(out.String())
	if b.osk == "" {
		t.Fatalf("B printed no keys:\n%s", out.String())
	}

	// The two API servers share the per-key limit (20 rps, bursts of 40
	// by default): half each while both heartbeat.
	share := func(n, perSecond, burst int) *regexp.Regexp {
		return regexp.MustCompile(`msg="per-key rate limit: this replica's share" .*replicas=` + strconv.Itoa(n) +
			` rate_per_second=` + strconv.Itoa(perSecond) + ` burst=` + strconv.Itoa(burst))
	}
	for _, s := range []*service{a, b} {
		if s.stderr.wait(t, share(2, 10, 20), 10*time.Second, s.done) == nil {
			t.Fatalf("a replica's API did not take half the rate limit:\n%s", s.stderr.String())
		}
	}

	if code, body := b.call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+a.memo+`","amount_ton":"10"}`); code != 200 {
		t.Fatalf("deposit through B: %d %s", code, body)
	}
	if a.stderr.wait(t, regexp.MustCompile(`msg="deposit booked" .*amount=10 status=credited`), 15*time.Second, a.done) == nil {
		t.Fatalf("the leader (A) did not book the deposit made through B:\n%s", a.stderr.String())
	}
	order := func(s *service, q int) string {
		code, body := s.call("POST", "/api/v1/orders/stars", b.osk, `{"recipient_username":"pandus","quantity":`+strconv.Itoa(q)+`,"payment_method":"balance"}`)
		if code != 200 || !strings.Contains(body, `"status":"paid"`) {
			t.Fatalf("order: %d %s", code, body)
		}
		return regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(body)[1]
	}
	delivered := func(id string) *regexp.Regexp {
		return regexp.MustCompile(`msg="order delivered" component=fulfillment order_id=` + id + ` `)
	}
	for _, s := range []*service{a, b} {
		id := order(s, 100)
		if a.stderr.wait(t, delivered(id), 15*time.Second, a.done) == nil {
			t.Fatalf("the leader (A) did not deliver order %s:\n%s", id, a.stderr.String())
		}
	}
	if strings.Contains(b.stderr.String(), `msg="leader: gained`) || strings.Contains(b.stderr.String(), `msg="order delivered"`) {
		t.Fatalf("the follower (B) leads or delivers while A leads:\n%s", b.stderr.String())
	}

	if code, body := b.call("GET", "/api/v1/health", "", ""); code != 200 || !strings.Contains(body, "follower: the deposit watcher runs on the leader replica") {
		t.Errorf("the follower's health: %d %s", code, body)
	}

	stopped := time.Now()
	a.stop()
	if b.stderr.wait(t, gained, 10*time.Second, b.done) == nil {
		t.Fatalf("B did not take over:\n%s", b.stderr.String())
	}
	t.Logf("LEADER_TTL 2s: B led %s after A stopped", time.Since(stopped).Round(time.Millisecond))
	if b.stderr.wait(t, share(1, 20, 40), 10*time.Second, b.done) == nil {
		t.Fatalf("B's API did not take the whole rate limit back after A stopped:\n%s", b.stderr.String())
	}
	id := order(b, 250)
	if b.stderr.wait(t, delivered(id), 15*time.Second, b.done) == nil {
		t.Fatalf("the new leader (B) did not deliver order %s:\n%s", id, b.stderr.String())
	}
}
