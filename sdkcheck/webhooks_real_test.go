package sdkcheck_test

// The webhook-management, event-feed and delivery tests of the SDK
// against the real API server, store and dispatcher.

import (
	"context"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/sdk"
	"starsbot/shop"
	"starsbot/webhook"
)

func TestRealServer_WebhookEndpoints(t *testing.T) {
	for _, kind := range []string{"osk", "sk"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t)
			e.svc.WebhookAllowPrivate = true
			key := e.osk(alice)
			if kind == "sk" {
				key = e.sk(alice)
			}
			calls := &faults{}
			c := e.client(key, calls, &sleeper{}, nil)
			h, err := c.CreateWebhook(ctx, sdk.WebhookRequest{URL: "https://127.0.0.1:9/hooks", EventTypes: []string{sdk.EventOrderCompleted, sdk.EventOrderPaid}})
			if err != nil {
				t.Fatal(err)
			}
			if h.ID == "" || len(h.Secret) < 40 || !h.Enabled || h.CreatedAt.IsZero() || !slices.Equal(h.EventTypes, []string{sdk.EventOrderCompleted, sdk.EventOrderPaid}) {
				t.Errorf("webhook %+v", h)
			}
			if _, err := c.CreateWebhook(ctx, sdk.WebhookRequest{URL: "ftp://example.com"}); !sdk.IsValidation(err) {
				t.Errorf("ftp URL: %v", err)
			}
			list, err := c.ListWebhooks(ctx)
			if err != nil || len(list) != 1 || list[0].ID != h.ID || list[0].Secret != "" {
				t.Errorf("list %+v, %v", list, err)
			}
			if g, err := c.GetWebhook(ctx, h.ID); err != nil || g.URL != h.URL {
				t.Errorf("get %+v, %v", g, err)
			}
			if _, err := c.GetWebhook(ctx, "wh_nope"); !sdk.IsNotFound(err) {
				t.Errorf("unknown: %v", err)
			}
			rot, err := c.RotateWebhookSecret(ctx, h.ID)
			if err != nil || rot.Secret == h.Secret || rot.PreviousSecretExpiresAt.IsZero() {
				t.Errorf("rotate %+v, %v", rot, err)
			}
			if en, err := c.EnableWebhook(ctx, h.ID); err != nil || !en.Enabled || en.SecretRotatedAt.IsZero() {
				t.Errorf("enable %+v, %v", en, err)
			}
			var made []string
			for range 3 {
				d, err := c.TestWebhook(ctx, h.ID)
				if err != nil || d.EventType != sdk.EventWebhookTest || d.Status != sdk.DeliveryPending {
					t.Fatalf("test %+v, %v", d, err)
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
			if want := []string{re.ID, made[2], made[1], made[0]}; !slices.Equal(ids, want) {
				t.Errorf("deliveries %v, want %v", ids, want)
			}
			if n := len(calls.requests()) - before; n != 2 {
				t.Errorf("%d page requests", n)
			}

			e.fund(alice, 10*shop.TON)
			o, err := e.client(e.osk(alice), &faults{}, &sleeper{}, nil).CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := c.ReplayEvents(ctx, h.ID, shoptestStart()); err != nil || n != 1 { // order.paid; the endpoint takes no order.created
				t.Errorf("replayed %d, %v", n, err)
			}
			var types []string
			for ev, err := range c.Events(ctx, "", 2) {
				if err != nil {
					t.Fatal(err)
				}
				types = append(types, ev.Type)
				switch ev.Type {
				case sdk.EventOrderCreated, sdk.EventOrderPaid:
					if oo, err := ev.Order(); err != nil || oo.ID != o.ID || oo.Price != price100 {
						t.Errorf("%s: %+v, %v", ev.Type, oo, err)
					}
				case sdk.EventBalanceCredited:
					if b, err := ev.BalanceChange(); err != nil || b.Amount != 10*sdk.TON || b.Balance != 10*sdk.TON || b.Reason != "admin_credit" {
						t.Errorf("credit %+v, %v", b, err)
					}
				}
			}
			if want := []string{sdk.EventBalanceCredited, sdk.EventOrderCreated, sdk.EventOrderPaid}; !slices.Equal(types, want) {
				t.Errorf("events %v, want %v", types, want)
			}
			p, err := c.ListEvents(ctx, "", 500)
			if err != nil || len(p.Events) != 3 || p.HasMore {
				t.Fatalf("page %+v, %v", p, err)
			}
			if p2, err := c.ListEvents(ctx, p.NextCursor, 10); err != nil || len(p2.Events) != 0 || p2.NextCursor != p.NextCursor {
				t.Errorf("resumed page %+v, %v", p2, err)
			}
			if err := c.DeleteWebhook(ctx, h.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetWebhook(ctx, h.ID); !sdk.IsNotFound(err) {
				t.Errorf("deleted: %v", err)
			}
		})
	}
}

func shoptestStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// The real dispatcher delivers to a receiver built with sdk.WebhookHandler:
// every delivery verifies, and during a rotation a receiver that holds only
// the old secret or only the new one accepts.
func TestRealServer_DeliveriesVerify(t *testing.T) {
	e := newEnv(t)
	e.svc.WebhookAllowPrivate = true
	var mu sync.Mutex
	var got []*sdk.Event
	v := &sdk.Verifier{Now: e.shop.Clock.Now}
	recv := httptest.NewServer(sdk.WebhookHandler(v, func(_ context.Context, ev *sdk.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ev)
		return nil
	}))
	defer recv.Close()
	take := func() []*sdk.Event {
		mu.Lock()
		defer mu.Unlock()
		g := got
		got = nil
		return g
	}
	c := e.client(e.osk(alice), &faults{}, &sleeper{}, nil)
	h, err := c.CreateWebhook(ctx, sdk.WebhookRequest{URL: recv.URL + "/hooks"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	v.Secrets = []string{h.Secret}
	mu.Unlock()
	d, err := webhook.New(webhook.Config{Shop: e.svc, Render: api.WebhookBody, Now: e.shop.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.fund(alice, 10*shop.TON)
	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	evs := take()
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
		if ev.Type == sdk.EventOrderPaid {
			if oo, err := ev.Order(); err != nil || oo.ID != o.ID || oo.Price != price100 || oo.Status != sdk.StatusPaid {
				t.Errorf("order.paid %+v, %v", oo, err)
			}
		}
	}
	if want := []string{sdk.EventBalanceCredited, sdk.EventOrderCreated, sdk.EventOrderPaid}; !slices.Equal(types, want) {
		t.Errorf("received %v, want %v", types, want)
	}
	rot, err := c.RotateWebhookSecret(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, secrets := range [][]string{{h.Secret}, {rot.Secret}} {
		mu.Lock()
		v.Secrets = secrets
		mu.Unlock()
		if _, err := c.TestWebhook(ctx, h.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if evs := take(); len(evs) != 1 || evs[0].Type != sdk.EventWebhookTest {
			t.Errorf("with only the %s secret: %v", map[bool]string{true: "old", false: "new"}[secrets[0] == h.Secret], evs)
		}
	}
	for dl, err := range c.WebhookDeliveries(ctx, h.ID, 2) {
		if err != nil || dl.Status != sdk.DeliveryDelivered || dl.LastStatusCode != 204 || dl.Attempts != 1 {
			t.Errorf("delivery %+v, %v", dl, err)
		}
	}
}
