package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/shop"
)

// publicResolver answers every host with a public documentation-free
// address, except hosts named "internal…", which resolve to 10.0.0.7.
func publicResolver(_ context.Context, host string) ([]netip.Addr, error) {
	if strings.HasPrefix(host, "internal") {
		return []netip.Addr{netip.MustParseAddr("10.0.0.7")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
}

func list(t *testing.T, m map[string]any, key string) []any {
	t.Helper()
	l, ok := m[key].([]any)
	if !ok {
		t.Fatalf("%s is not a list: %v", key, m)
	}
	return l
}

func TestEvents_Feed(t *testing.T) {
	h := newHarness(t)
	h.fund(alice, shop.TON)
	order := h.post("/api/v1/orders/stars", h.osk(alice), `{"recipient_username":"pandus","quantity":100,"payment_method":"balance","payment_currency":"TON"}`).data(t)

	for _, key := range []string{h.osk(alice), h.sk(alice)} {
		r := h.get("/api/v1/events", key)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		m := r.object(t)
		wantKeys(t, m, "events", "next_cursor", "has_more")
		evs := list(t, m, "events")
		var got []string
		for _, e := range evs {
			em := e.(map[string]any)
			wantKeys(t, em, "id", "type", "timestamp", "data")
			got = append(got, em["type"].(string))
		}
		if want := []string{"balance.credited", "order.created", "order.paid"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("types %v, want %v", got, want)
		}
		credit := evs[0].(map[string]any)["data"].(map[string]any)
		wantKeys(t, credit, "amount_ton", "amount_nanoton", "balance_ton", "balance_nanoton", "tx_hash", "memo", "order_id", "reason", "asset")
		if credit["amount_nanoton"] != "1000000000" || credit["reason"] != "admin_credit" || credit["tx_hash"] != nil {
			t.Errorf("balance.credited data = %v", credit)
		}
		// order.paid's data is the order as GET /orders/{id} shows it.
		paid := evs[2].(map[string]any)["data"].(map[string]any)
		if !reflect.DeepEqual(paid, order) {
			t.Errorf("order.paid data\n%v\nwant the order\n%v", paid, order)
		}
		if m["has_more"] != false || m["next_cursor"] == "0" {
			t.Errorf("next_cursor %v has_more %v", m["next_cursor"], m["has_more"])
		}
	}

	// Pages of one, following next_cursor.
	cursor, n := "", 0
	for {
		path := "/api/v1/events?limit=1"
		if cursor != "" {
			path += "&after=" + cursor
		}
		m := h.get(path, h.osk(alice)).object(t)
		n += len(list(t, m, "events"))
		if m["has_more"] != true {
			if len(list(t, m, "events")) == 0 && m["next_cursor"] != cursor {
				t.Errorf("empty page: next_cursor %v, want the after sent (%s)", m["next_cursor"], cursor)
			}
			break
		}
		cursor = m["next_cursor"].(string)
	}
	if n != 3 {
		t.Errorf("paged %d events, want 3", n)
	}
	// Another partner sees none of them; bad input is a simple-shape 400.
	if evs := list(t, h.get("/api/v1/events", h.osk(bob)).object(t), "events"); len(evs) != 0 {
		t.Errorf("bob sees %d events", len(evs))
	}
	h.get("/api/v1/events?after=x", h.osk(alice)).wantSimpleError(t, 400, shop.EVALIDATION)
	h.get("/api/v1/events?limit=501", h.osk(alice)).wantSimpleError(t, 400, shop.EVALIDATION)
	h.get("/api/v1/events", "").wantSimpleError(t, 401, shop.EUNAUTHORIZED)
}

func TestWebhooks_API(t *testing.T) {
	h := newHarness(t)
	h.svc.WebhookResolver = publicResolver
	h.svc.WebhookHTTPSOnly = true
	do := func(method, path, key, body string) *response {
		return h.do(req{method: method, path: path, key: key, body: body})
	}

	// Refused: bad URLs, private addresses, unknown types.
	for _, body := range []string{
		`{"url":"http://hooks.example.com/x"}`,
		`{"url":"https://internal.example.com/x"}`,
		`{"url":"https://127.0.0.1/x"}`,
		`{"url":"https://[::ffff:10.1.2.3]/x"}`,
		`{"url":"https://[fe80::1]/x"}`,
		`{"url":"https://user:pw@hooks.example.com/x"}`,
		`{"url":"ftp://hooks.example.com/x"}`,
		`{"url":"https://hooks.example.com/x","event_types":["order.shipped"]}`,
		`{"url":"https://hooks.example.com/x","event_types":["webhook.test"]}`,
		`{}`,
	} {
		do("POST", "/api/v1/webhooks", h.osk(alice), body).wantSimpleError(t, 400, shop.EVALIDATION)
	}
	if ws, _ := h.svc.Webhooks(context.Background(), alice); len(ws) != 0 {
		t.Fatalf("refused registrations stored %d endpoints", len(ws))
	}

	r := do("POST", "/api/v1/webhooks", h.sk(alice), `{"url":"https://hooks.example.com/starsbot","event_types":["order.paid","order.paid","balance.credited"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	created := r.object(t)
	wantKeys(t, created, "id", "url", "event_types", "enabled", "disabled_reason", "created_at", "secret_rotated_at", "secret")
	id, secret := created["id"].(string), created["secret"].(string)
	if !strings.HasPrefix(id, "wh_") || len(id) != 29 || !strings.HasPrefix(secret, "whsec_") || len(secret) != 6+44 {
		t.Fatalf("id %q secret %q", id, secret)
	}
	if !reflect.DeepEqual(created["event_types"], []any{"order.paid", "balance.credited"}) {
		t.Errorf("event_types %v", created["event_types"])
	}

	got := do("GET", "/api/v1/webhooks/"+id, h.osk(alice), "").object(t)
	delete(created, "secret")
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GET = %v, want %v", got, created)
	}
	listed := list(t, do("GET", "/api/v1/webhooks", h.osk(alice), "").object(t), "webhooks")
	if len(listed) != 1 || !reflect.DeepEqual(listed[0], created) {
		t.Errorf("list = %v", listed)
	}
	do("GET", "/api/v1/webhooks/"+id, h.osk(bob), "").wantSimpleError(t, 404, shop.ENOTFOUND)
	do("DELETE", "/api/v1/webhooks/"+id, h.osk(bob), "").wantSimpleError(t, 404, shop.ENOTFOUND)

	// Rotation: a new secret; the old one signs for 24 h more.
	rot := do("POST", "/api/v1/webhooks/"+id+"/rotate-secret", h.osk(alice), "").object(t)
	wantKeys(t, rot, "secret", "previous_secret_expires_at")
	if rot["secret"] == secret || rot["previous_secret_expires_at"] != h.clock.Now().Add(24*time.Hour).UTC().Format(time.RFC3339) {
		t.Errorf("rotate = %v", rot)
	}

	// A test event, its log, a replay of it.
	r = do("POST", "/api/v1/webhooks/"+id+"/test", h.osk(alice), "")
	if r.status != http.StatusAccepted {
		t.Fatalf("test: %d %s", r.status, r.body)
	}
	d := r.object(t)
	wantKeys(t, d, "id", "webhook_id", "event_id", "event_type", "status", "attempts", "last_attempt_at", "last_status_code", "last_error", "next_attempt_at", "created_at")
	if d["status"] != "pending" || d["event_type"] != "webhook.test" || d["webhook_id"] != id {
		t.Errorf("test delivery %v", d)
	}
	r = do("POST", "/api/v1/webhooks/"+id+"/deliveries/"+d["id"].(string)+"/replay", h.osk(alice), "")
	if r.status != http.StatusAccepted {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	d2 := r.object(t)
	if d2["id"] == d["id"] || d2["event_id"] != d["event_id"] {
		t.Errorf("replay %v of %v: want a new delivery of the same event", d2, d)
	}
	do("POST", "/api/v1/webhooks/"+id+"/deliveries/whd_999/replay", h.osk(alice), "").wantSimpleError(t, 404, shop.ENOTFOUND)
	do("POST", "/api/v1/webhooks/"+id+"/deliveries/nope/replay", h.osk(alice), "").wantSimpleError(t, 404, shop.ENOTFOUND)

	// Replay since: the events it subscribes to (webhook.test is not one).
	h.fund(alice, shop.TON)
	h.post("/api/v1/orders/stars", h.osk(alice), `{"recipient_username":"pandus","quantity":100,"payment_method":"balance","payment_currency":"TON"}`).data(t)
	since := h.clock.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	rep := do("POST", "/api/v1/webhooks/"+id+"/replay", h.osk(alice), `{"since":"`+since+`"}`)
	if rep.status != http.StatusAccepted || string(rep.body) != "{\"replayed\":2}\n" { // balance.credited, order.paid
		t.Errorf("replay since: %d %s", rep.status, rep.body)
	}
	do("POST", "/api/v1/webhooks/"+id+"/replay", h.osk(alice), `{"since":"yesterday"}`).wantSimpleError(t, 400, shop.EVALIDATION)

	log := do("GET", "/api/v1/webhooks/"+id+"/deliveries?limit=3", h.osk(alice), "").object(t)
	ds := list(t, log, "deliveries")
	if len(ds) != 3 || log["next_cursor"] == nil {
		t.Fatalf("log page: %v", log)
	}
	// 6 in all: the test and its replay, the two new events fanned out to
	// the endpoint (replay-since first catches the outbox up), and their
	// two replays.
	rest := list(t, do("GET", "/api/v1/webhooks/"+id+"/deliveries?cursor="+log["next_cursor"].(string), h.osk(alice), "").object(t), "deliveries")
	if len(rest) != 3 || rest[2].(map[string]any)["id"] != d["id"] {
		t.Errorf("second page %v, want 3 ending with the first delivery", rest)
	}

	// Enable on an enabled endpoint changes nothing; delete; gone.
	if got := do("POST", "/api/v1/webhooks/"+id+"/enable", h.osk(alice), "").object(t); got["enabled"] != true {
		t.Errorf("enable = %v", got)
	}
	del := do("DELETE", "/api/v1/webhooks/"+id, h.osk(alice), "")
	if del.status != 200 || string(del.body) != `{"id":"`+id+`","deleted":true}`+"\n" {
		t.Errorf("delete: %d %s", del.status, del.body)
	}
	do("GET", "/api/v1/webhooks/"+id, h.osk(alice), "").wantSimpleError(t, 404, shop.ENOTFOUND)

	// At most 10 enabled endpoints.
	for i := range shop.MaxWebhooks {
		if r := do("POST", "/api/v1/webhooks", h.osk(alice), `{"url":"https://hooks.example.com/`+string(rune('a'+i))+`"}`); r.status != 201 {
			t.Fatalf("endpoint %d: %d %s", i, r.status, r.body)
		}
	}
	do("POST", "/api/v1/webhooks", h.osk(alice), `{"url":"https://hooks.example.com/z"}`).wantSimpleError(t, 400, shop.EVALIDATION)

	// No secret in the logs.
	if strings.Contains(h.logText(), "whsec_") {
		t.Error("a webhook secret appears in the logs")
	}
}

// TestWebhookBody renders the three kinds of data.
func TestWebhookBody(t *testing.T) {
	at := time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ev   *shop.OutboxEvent
		want string
	}{
		{&shop.OutboxEvent{Type: shop.PartnerBalanceDebited, CreatedAt: at, Balance: &shop.BalanceChange{Amount: shop.TON / 2, Balance: shop.TON, Reason: shop.DebitAdmin, Note: "fix"}},
			`{"type":"balance.debited","timestamp":"2026-04-16T12:00:00Z","data":{"amount_ton":0.5,"amount_nanoton":"500000000","balance_ton":1,"balance_nanoton":"1000000000","reason":"admin_debit","note":"fix"}}`},
		{&shop.OutboxEvent{Type: shop.PartnerBalanceCredited, CreatedAt: at, Balance: &shop.BalanceChange{Amount: 1, Balance: 1, TxHash: "ab", Memo: "STARS-1", OrderID: 7, Reason: shop.CreditUnderpayment}},
			`{"type":"balance.credited","timestamp":"2026-04-16T12:00:00Z","data":{"amount_ton":0.000000001,"amount_nanoton":"1","balance_ton":0.000000001,"balance_nanoton":"1","tx_hash":"ab","memo":"STARS-1","order_id":7,"reason":"underpayment","asset":"TON"}}`},
		{&shop.OutboxEvent{Type: shop.PartnerWebhookTest, CreatedAt: at, WebhookID: "wh_x"},
			`{"type":"webhook.test","timestamp":"2026-04-16T12:00:00Z","data":{"webhook_id":"wh_x","message":"This is a test event from starsbot."}}`},
	} {
		b, err := api.WebhookBody(tc.ev)
		if err != nil || string(b) != tc.want {
			t.Errorf("WebhookBody = %s, %v\nwant %s", b, err, tc.want)
		}
		if !json.Valid(b) {
			t.Errorf("invalid JSON %s", b)
		}
	}
}
