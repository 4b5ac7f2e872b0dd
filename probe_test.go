package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/bot"
	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/shop"
)

// noticeProvider is a working provider with something admins should know.
type noticeProvider struct{ fulfillment.Sandbox }

func (noticeProvider) Notice() string {
	return "the wallet linked to the Fragment account is 0:ab, not the hot wallet"
}

// TestProviderProbe: /api/v1/health's provider entry carries the
// provider's notice while it works.
func TestProviderProbe(t *testing.T) {
	w := newProbeWorker(t, noticeProvider{}, "fragment")
	c := providerProbe("fragment", w)(context.Background())
	if c.Status != api.ComponentOK || !strings.Contains(c.Detail, "note: the wallet linked to the Fragment account is 0:ab") {
		t.Errorf("probe = %+v", c)
	}
	w = newProbeWorker(t, fulfillment.Sandbox{}, "sandbox")
	if c := providerProbe("sandbox", w)(context.Background()); c.Status != api.ComponentOK || c.Detail != "sandbox" {
		t.Errorf("probe = %+v", c)
	}
}

// newProbeWorker is a worker that is never run: the probe reads only its
// health and its provider's notice.
func newProbeWorker(t *testing.T, p fulfillment.Provider, name string) *fulfillment.Worker {
	t.Helper()
	w, err := fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: struct{ fulfillment.Shop }{}, Provider: p, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// queueShop is a fulfillment queue of two orders paid at paid, neither of
// which can be claimed.
type queueShop struct {
	fulfillment.Shop
	paid time.Time
}

func (s queueShop) Queue(context.Context, int) ([]shop.QueuedOrder, error) {
	return []shop.QueuedOrder{{OrderID: 1, UserID: 7, PaidAt: s.paid}, {OrderID: 2, UserID: 8, PaidAt: s.paid.Add(time.Second)}}, nil
}

func (queueShop) ClaimOrder(context.Context, int64, string) (*shop.Order, *shop.Delivery, error) {
	return nil, nil, shop.Errorf(shop.EINVALIDSTATE, "taken")
}

// TestProviderProbe_Queue: the provider entry shows the queue's depth and
// how long its oldest order has waited.
func TestProviderProbe_Queue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w, err := fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: queueShop{paid: now.Add(-90 * time.Second)}, Provider: fulfillment.Sandbox{}, Name: "sandbox", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := providerProbe("sandbox", w)(context.Background()); c.Detail != "sandbox; queue 2, oldest waiting 1m30s" {
		t.Errorf("probe = %+v", c)
	}
}

// fakePoller is the bot's polling state.
type fakePoller struct {
	last    time.Time
	failing bool
}

func (p fakePoller) LastPoll() (time.Time, bool) { return p.last, p.failing }

// TestBotProbe: /api/v1/health's bot entry is the real state of polling:
// ok after a recent successful poll, degraded before the first one, while
// the Bot API fails and when polls stopped succeeding.
func TestBotProbe(t *testing.T) {
	now := time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)
	cfg := &config.Config{TelegramToken: "1:x", TelegramAPIURL: "https://u:Pa55@tg.example"}
	tests := []struct {
		name   string
		poller fakePoller
		status string
		detail string
	}{
		{"recent poll", fakePoller{last: now.Add(-5 * time.Second)}, api.ComponentOK, "last successful poll 5s ago"},
		{"never reached", fakePoller{}, api.ComponentDegraded, "Telegram not reached yet"},
		{"never reached, failing", fakePoller{failing: true}, api.ComponentDegraded, "Telegram not reached yet"},
		{"failing", fakePoller{last: now.Add(-3 * time.Second), failing: true}, api.ComponentDegraded, "Telegram unreachable; last successful poll 3s ago"},
		{"silent", fakePoller{last: now.Add(-2 * time.Minute)}, api.ComponentDegraded, "no successful poll for 2m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := botProbe(cfg, tt.poller, time.Minute, func() time.Time { return now })(context.Background())
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) || strings.Contains(c.Detail, "Pa55") {
				t.Errorf("probe = %+v; want %s with %q", c, tt.status, tt.detail)
			}
		})
	}
	if c := botProbe(&config.Config{}, nil, time.Minute, time.Now)(context.Background()); c.Status != api.ComponentDisabled {
		t.Errorf("without a token: %+v", c)
	}
}

type fakeWebhook bot.WebhookStatus

func (f fakeWebhook) Webhook() (bot.WebhookStatus, bool) { return bot.WebhookStatus(f), true }

// TestWebhookProbe: in webhook mode /health's bot entry shows the last
// update received and getWebhookInfo's last error, not a poll time.
func TestWebhookProbe(t *testing.T) {
	now := time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)
	cfg := &config.Config{TelegramToken: "1:x", TelegramAPIURL: "https://tg.example", TelegramWebhookURL: "https://bot.example/secret-path"}
	tests := []struct {
		name   string
		st     fakeWebhook
		status string
		detail string
	}{
		{"not set", fakeWebhook{}, api.ComponentDegraded, "webhook not set yet"},
		{"set failing", fakeWebhook{Failing: true}, api.ComponentDegraded, "setWebhook failing"},
		{"no update", fakeWebhook{Ready: true}, api.ComponentOK, "no update received yet"},
		{"update", fakeWebhook{Ready: true, LastUpdate: now.Add(-7 * time.Second)}, api.ComponentOK, "last update received 7s ago"},
		{"info failing", fakeWebhook{Ready: true, Failing: true}, api.ComponentDegraded, "getWebhookInfo failing"},
		{"not ours", fakeWebhook{Ready: true, NotOurs: true}, api.ComponentDegraded, "changed or deleted by another process"},
		{"recent error", fakeWebhook{Ready: true, LastUpdate: now.Add(-time.Hour), LastErrorDate: now.Add(-time.Minute), LastErrorMessage: "Wrong response from the webhook: 503 Service Unavailable"},
			api.ComponentDegraded, "last delivery failed 1m0s ago: Wrong response from the webhook: 503 Service Unavailable"},
		{"error then update", fakeWebhook{Ready: true, LastUpdate: now.Add(-time.Second), LastErrorDate: now.Add(-time.Minute), LastErrorMessage: "x"}, api.ComponentOK, "last update received 1s ago"},
		{"old error", fakeWebhook{Ready: true, LastErrorDate: now.Add(-time.Hour), LastErrorMessage: "x"}, api.ComponentOK, "no update received yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := webhookProbe(cfg, tt.st, func() time.Time { return now })(context.Background())
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) || !strings.Contains(c.Detail, "webhook mode") || strings.Contains(c.Detail, "secret-path") {
				t.Errorf("probe = %+v; want %s with %q", c, tt.status, tt.detail)
			}
		})
	}
}
