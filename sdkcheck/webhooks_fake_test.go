package sdkcheck_test

// FAKE SERVER: the webhook-management and event-feed calls of the SDK are
// tested here against fakeWebhooksAPI, an httptest handler that serves
// exactly the shapes of the agreed surface (/work/briefs/webhooks-api.md,
// issue 16 items 1 and 2), because the server side is being built on
// branch i16-webhooks and is not in this tree. The same calls against the
// real server and dispatcher are in webhooks_real_test.go, built only with
// -tags webhooks_merged until the merge (they passed on a scratch merge).
// Once merged: drop that file's build line and delete this file; every
// test here is named TestFakeServer_….
//
// The brief shows the answers as plain objects and errors as
// {"status":"error","error_code","message"}; the server may instead write
// answers to osk_ keys in the orders contract's envelope
// ({"ok":true,"data":…} / {"ok":false,"error_code","error_message"}), as
// every other route of that contract does. The fake speaks both, by the
// key's prefix, and each test runs with both kinds of key.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/sdk"
)

type fakeWebhooksAPI struct {
	mu         sync.Mutex
	webhooks   map[string]map[string]any // id → Webhook object
	order      []string                  // ids in creation order
	deliveries map[string][]map[string]any
	events     []map[string]any
	seq        int
	posts      []string // Idempotency-Key of each POST
}

const fakeNow = "2026-04-16T12:00:00Z"

func newFakeWebhooksAPI() *fakeWebhooksAPI {
	f := &fakeWebhooksAPI{webhooks: map[string]map[string]any{}, deliveries: map[string][]map[string]any{}}
	for i := 1; i <= 5; i++ {
		f.events = append(f.events, map[string]any{
			"id": fmt.Sprintf("evt_%d", i), "type": "order.paid", "timestamp": fakeNow,
			"data": json.RawMessage(fmt.Sprintf(`{"id":%d,"status":"paid","order_type":"stars","stars_amount":100,"recipient_username":"pandus","price_ton":0.418,"price_nanoton":"418000000","payment_method":"balance","payment_address":null,"payment_memo":null,"client_reference":null,"expires_at":null,"created_at":"2026-04-16T12:00:00Z","paid_at":"2026-04-16T12:00:00Z","completed_at":null,"failure_reason":null,"fulfillment_ref":null}`, 10420+i)),
		})
	}
	return f
}

func (f *fakeWebhooksAPI) nextID(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s%026d", prefix, f.seq)
}

func (f *fakeWebhooksAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	orders := strings.HasPrefix(key, "osk_")
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		if orders {
			v = map[string]any{"ok": true, "data": v}
		}
		json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		if orders {
			json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": code, "error_message": msg, "data": nil})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"status": "error", "error_code": code, "message": msg})
	}
	if !strings.HasPrefix(key, "osk_") && !strings.HasPrefix(key, "sk_") {
		fail(401, "UNAUTHORIZED", "missing API key")
		return
	}
	if r.Method == "POST" {
		f.posts = append(f.posts, r.Header.Get("Idempotency-Key"))
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v1/")
	parts := strings.Split(path, "/")
	hook := func() map[string]any {
		if len(parts) < 2 || f.webhooks[parts[1]] == nil {
			fail(404, "NOT_FOUND", "no such webhook")
			return nil
		}
		return f.webhooks[parts[1]]
	}
	switch {
	case r.Method == "POST" && path == "webhooks":
		var body struct {
			URL        string   `json:"url"`
			EventTypes []string `json:"event_types"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !strings.HasPrefix(body.URL, "https://") {
			fail(400, "VALIDATION_ERROR", "url must be an https URL")
			return
		}
		if body.EventTypes == nil {
			body.EventTypes = []string{}
		}
		id := f.nextID("wh_")
		h := map[string]any{"id": id, "url": body.URL, "event_types": body.EventTypes, "enabled": true, "disabled_reason": nil, "created_at": fakeNow, "secret_rotated_at": nil}
		f.webhooks[id], f.order = h, append(f.order, id)
		out := clone(h)
		out["secret"] = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo="
		reply(201, out)
	case r.Method == "GET" && path == "webhooks":
		list := []any{}
		for _, id := range f.order {
			if h := f.webhooks[id]; h != nil {
				list = append(list, h)
			}
		}
		reply(200, map[string]any{"webhooks": list})
	case len(parts) == 2 && parts[0] == "webhooks":
		h := hook()
		if h == nil {
			return
		}
		switch r.Method {
		case "GET":
			reply(200, h)
		case "DELETE":
			delete(f.webhooks, parts[1])
			reply(200, map[string]any{"id": parts[1], "deleted": true})
		default:
			fail(405, "METHOD_NOT_ALLOWED", "no")
		}
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "rotate-secret":
		h := hook()
		if h == nil {
			return
		}
		h["secret_rotated_at"] = fakeNow
		reply(200, map[string]any{"secret": "whsec_Q2hhbmdlZCBzZWNyZXQgZm9yIHJvdGF0aW9uIHRlc3Q=", "previous_secret_expires_at": "2026-04-17T12:00:00Z"})
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "enable":
		h := hook()
		if h == nil {
			return
		}
		h["enabled"], h["disabled_reason"] = true, nil
		reply(200, h)
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "test":
		if hook() == nil {
			return
		}
		reply(202, f.addDelivery(parts[1], f.nextID("evt_"), "webhook.test"))
	case r.Method == "GET" && len(parts) == 3 && parts[2] == "deliveries":
		if hook() == nil {
			return
		}
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if r.URL.Query().Get("limit") == "" {
			limit, err = 50, nil
		}
		if err != nil || limit < 1 || limit > 100 {
			fail(400, "VALIDATION_ERROR", "limit must be a whole number from 1 to 100")
			return
		}
		all := f.deliveries[parts[1]] // newest first
		start := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			start = slices.IndexFunc(all, func(d map[string]any) bool { return d["id"] == c }) + 1
		}
		end := min(start+limit, len(all))
		var next any
		if end < len(all) {
			next = all[end-1]["id"]
		}
		reply(200, map[string]any{"deliveries": all[start:end], "next_cursor": next})
	case r.Method == "POST" && len(parts) == 5 && parts[2] == "deliveries" && parts[4] == "replay":
		if hook() == nil {
			return
		}
		i := slices.IndexFunc(f.deliveries[parts[1]], func(d map[string]any) bool { return d["id"] == parts[3] })
		if i < 0 {
			fail(404, "NOT_FOUND", "no such delivery")
			return
		}
		d := f.deliveries[parts[1]][i]
		reply(202, f.addDelivery(parts[1], d["event_id"].(string), d["event_type"].(string)))
	case r.Method == "POST" && len(parts) == 3 && parts[2] == "replay":
		if hook() == nil {
			return
		}
		var body struct {
			Since string `json:"since"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(400, "VALIDATION_ERROR", "since is required")
			return
		}
		if _, err := time.Parse(time.RFC3339, body.Since); err != nil {
			fail(400, "VALIDATION_ERROR", "since must be an RFC 3339 time")
			return
		}
		reply(202, map[string]any{"replayed": len(f.events)})
	case r.Method == "GET" && path == "events":
		q := r.URL.Query()
		limit := 100
		if q.Get("limit") != "" {
			limit, _ = strconv.Atoi(q.Get("limit"))
		}
		after := 0
		if q.Get("after") != "" {
			after, _ = strconv.Atoi(q.Get("after"))
		}
		end := min(after+limit, len(f.events))
		page := f.events[min(after, len(f.events)):end]
		next := q.Get("after")
		if len(page) > 0 {
			next = strconv.Itoa(end)
		}
		reply(200, map[string]any{"events": page, "next_cursor": next, "has_more": end < len(f.events)})
	default:
		fail(404, "NOT_FOUND", "no such endpoint")
	}
}

func (f *fakeWebhooksAPI) addDelivery(hookID, eventID, eventType string) map[string]any {
	d := map[string]any{"id": f.nextID("whd_"), "webhook_id": hookID, "event_id": eventID, "event_type": eventType,
		"status": "pending", "attempts": 0, "last_attempt_at": nil, "last_status_code": nil, "last_error": nil,
		"next_attempt_at": fakeNow, "created_at": fakeNow}
	f.deliveries[hookID] = append([]map[string]any{d}, f.deliveries[hookID]...)
	return d
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// fakeClients runs fn with a client of each kind of key.
func fakeClients(t *testing.T, fn func(t *testing.T, c *sdk.Client, f *fakeWebhooksAPI, calls *faults)) {
	for _, key := range []string{"osk_fake", "sk_fake"} {
		t.Run(key[:strings.Index(key, "_")], func(t *testing.T) {
			f := newFakeWebhooksAPI()
			ts := httptest.NewServer(f)
			t.Cleanup(ts.Close)
			calls := &faults{}
			fn(t, newClient(t, ts, key, calls, &sleeper{}, nil), f, calls)
		})
	}
}

func TestFakeServer_WebhookEndpoints(t *testing.T) {
	fakeClients(t, func(t *testing.T, c *sdk.Client, f *fakeWebhooksAPI, calls *faults) {
		h, err := c.CreateWebhook(ctx, sdk.WebhookRequest{URL: "https://partner.example/hooks", EventTypes: []string{sdk.EventOrderCompleted}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h.ID, "wh_") || !strings.HasPrefix(h.Secret, "whsec_") || !h.Enabled || h.CreatedAt.IsZero() || !h.SecretRotatedAt.IsZero() || len(h.EventTypes) != 1 {
			t.Errorf("webhook %+v", h)
		}
		_, err = c.CreateWebhook(ctx, sdk.WebhookRequest{URL: "http://10.0.0.1/hooks"})
		if !sdk.IsValidation(err) || apiError(t, err).Message == "" {
			t.Errorf("private http URL: %v", err)
		}
		list, err := c.ListWebhooks(ctx)
		if err != nil || len(list) != 1 || list[0].ID != h.ID || list[0].Secret != "" {
			t.Errorf("list %+v, %v", list, err)
		}
		got, err := c.GetWebhook(ctx, h.ID)
		if err != nil || got.URL != h.URL || got.Secret != "" {
			t.Errorf("get %+v, %v", got, err)
		}
		if _, err := c.GetWebhook(ctx, "wh_nope"); !sdk.IsNotFound(err) {
			t.Errorf("unknown webhook: %v", err)
		}
		rot, err := c.RotateWebhookSecret(ctx, h.ID)
		if err != nil || !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == h.Secret || !rot.PreviousSecretExpiresAt.Equal(time.Date(2026, 4, 17, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("rotation %+v, %v", rot, err)
		}
		en, err := c.EnableWebhook(ctx, h.ID)
		if err != nil || !en.Enabled || en.SecretRotatedAt.IsZero() {
			t.Errorf("enable %+v, %v", en, err)
		}
		// The first DELETE's answer is lost: the retry's 404 means deleted.
		calls.plan = make([]fault, len(calls.requests())+1)
		calls.plan[len(calls.plan)-1] = dropAnswer
		if err := c.DeleteWebhook(ctx, h.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteWebhook(ctx, h.ID); !sdk.IsNotFound(err) {
			t.Errorf("deleting it again: %v", err)
		}
		if _, err := c.GetWebhook(ctx, h.ID); !sdk.IsNotFound(err) {
			t.Errorf("deleted webhook: %v", err)
		}
		// Every POST carried an Idempotency-Key.
		for i, k := range f.posts {
			if len(k) != 36 {
				t.Errorf("POST %d: Idempotency-Key %q", i, k)
			}
		}
		if len(f.posts) != 4 {
			t.Errorf("%d POSTs", len(f.posts))
		}
	})
}

func TestFakeServer_Deliveries(t *testing.T) {
	fakeClients(t, func(t *testing.T, c *sdk.Client, f *fakeWebhooksAPI, calls *faults) {
		h, err := c.CreateWebhook(ctx, sdk.WebhookRequest{URL: "https://partner.example/hooks"})
		if err != nil {
			t.Fatal(err)
		}
		var made []string
		for range 3 {
			d, err := c.TestWebhook(ctx, h.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.EventType != sdk.EventWebhookTest || d.Status != sdk.DeliveryPending || d.WebhookID != h.ID || !strings.HasPrefix(d.ID, "whd_") || d.NextAttemptAt.IsZero() || !d.LastAttemptAt.IsZero() {
				t.Errorf("delivery %+v", d)
			}
			made = append(made, d.ID)
		}
		re, err := c.ReplayDelivery(ctx, h.ID, made[0])
		if err != nil || re.ID == made[0] {
			t.Fatalf("replay %+v, %v", re, err)
		}
		before := len(calls.requests())
		var ids []string
		for d, err := range c.WebhookDeliveries(ctx, h.ID, 3) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, d.ID)
		}
		want := []string{re.ID, made[2], made[1], made[0]} // newest first
		if !slices.Equal(ids, want) {
			t.Errorf("deliveries %v, want %v", ids, want)
		}
		if n := len(calls.requests()) - before; n != 2 {
			t.Errorf("%d page requests for 4 deliveries by 3", n)
		}
		n, err := c.ReplayEvents(ctx, h.ID, time.Date(2026, 4, 16, 0, 0, 0, 0, time.UTC))
		if err != nil || n != 5 {
			t.Errorf("replayed %d, %v", n, err)
		}
		for d, err := range c.WebhookDeliveries(ctx, "wh_nope", 0) {
			if d != nil || !sdk.IsNotFound(err) {
				t.Errorf("unknown webhook: %v, %v", d, err)
			}
		}
	})
}

func TestFakeServer_EventFeed(t *testing.T) {
	fakeClients(t, func(t *testing.T, c *sdk.Client, f *fakeWebhooksAPI, calls *faults) {
		var ids []string
		for e, err := range c.Events(ctx, "", 2) {
			if err != nil {
				t.Fatal(err)
			}
			o, err := e.Order()
			if err != nil || e.Type != sdk.EventOrderPaid || o.Price != price100 || o.Status != sdk.StatusPaid || e.Timestamp.IsZero() {
				t.Errorf("event %+v: order %+v, %v", e, o, err)
			}
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5"}) || len(calls.requests()) != 3 {
			t.Errorf("events %v in %d requests", ids, len(calls.requests()))
		}
		// Resume from a stored cursor; at the end the cursor stays.
		p, err := c.ListEvents(ctx, "3", 10)
		if err != nil || len(p.Events) != 2 || p.Events[0].ID != "evt_4" || p.HasMore || p.NextCursor != "5" {
			t.Fatalf("page %+v, %v", p, err)
		}
		p, err = c.ListEvents(ctx, p.NextCursor, 10)
		if err != nil || len(p.Events) != 0 || p.HasMore || p.NextCursor != "5" {
			t.Errorf("empty page %+v, %v", p, err)
		}
	})
}
