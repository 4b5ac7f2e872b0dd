package bot_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/shop"
)

// apiOrder creates a balance order as the orders API does.
func (e *env) apiOrder(u bottest.User, recipient string) *shop.Order {
	e.t.Helper()
	o, err := e.svc.CreateOrder(context.Background(), shop.CreateOrderRequest{
		UserID: u.ID, Type: shop.OrderStars, Stars: 100, Recipient: recipient,
		PaymentMethod: shop.PayBalance, Source: shop.SourceAPI,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// Partner alerts (issue 16 item 6), opt-in from the API screen: a
// low-balance threshold (one alert per crossing, not one per debit), API
// orders that go manual or are refunded, a failing webhook endpoint (shown
// without credentials or query). Both languages.
func TestPartnerAlerts(t *testing.T) {
	for _, tc := range []struct {
		u                                                       bottest.User
		api, alerts, screen, low, ask, threshold, below, orders string
		lowAlert, manual, refunded, webhooks, webhook           string
	}{
		{alice, "API", "Alerts", "Partner alerts", "Low-balance threshold", "Send the threshold in TON", "1", "below 1 TON", "Turn on order alerts",
			"Low balance", "went to manual delivery", "was refunded", "Turn on webhook alerts", "Check it, then replay"},
		{ivan, "API", "Уведомления", "Уведомления для партнёров", "Порог баланса", "Отправьте порог в TON", "1", "ниже 1 TON", "Включить уведомления о заказах",
			"Баланс заканчивается", "передан на ручную доставку", "возвращён", "Включить уведомления о вебхуках", "Проверьте его"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.startChat(tc.u)
			e.deposit(tc.u, "", 2*shop.TON)
			e.fake.Press(tc.u, tc.api)
			e.fake.Press(tc.u, tc.alerts)
			e.fake.Wait(tc.u.ID, tc.screen)
			e.fake.Press(tc.u, tc.low)
			e.fake.Wait(tc.u.ID, tc.ask)
			e.fake.Send(tc.u, "abc")
			e.fake.Wait(tc.u.ID, map[string]string{"en": "not an amount of TON", "ru": "не сумма в TON"}[tc.u.LanguageCode])
			e.fake.Send(tc.u, tc.threshold)
			e.fake.Wait(tc.u.ID, tc.below)
			e.fake.Press(tc.u, tc.orders)
			if u := e.user(tc.u); u.AlertLowBalance != shop.TON || !u.AlertOrders || u.AlertWebhooks {
				t.Fatalf("prefs: %+v", u)
			}

			// A failing webhook with the alert off: nothing.
			b := e.cur.Load()
			b.NotifyWebhookFailing(tc.u.ID, "https://hooks.example.com/x", "HTTP 500")
			for _, c := range e.quiet(tc.u.ID) {
				if strings.Contains(c.Text, tc.webhook) {
					t.Errorf("webhook alert while off: %s", c.Text)
				}
			}

			// 2 TON: manual (-0.418), refunded (-0.418 +0.418), then two
			// more: 1.582 → 1.164 → 0.746, below 1 TON once.
			e.apiOrder(tc.u, fulfillment.SandboxManual)
			e.deliver()
			e.fake.Wait(tc.u.ID, tc.manual)
			e.apiOrder(tc.u, fulfillment.SandboxFail)
			e.deliver()
			e.fake.Wait(tc.u.ID, tc.refunded)
			e.apiOrder(tc.u, "someone_x")
			e.apiOrder(tc.u, "someone_y")
			e.fake.Wait(tc.u.ID, tc.lowAlert)
			e.deliver()
			if _, err := e.svc.AdminCredit(context.Background(), adminID, tc.u.ID, shop.TON/10, "test"); err != nil {
				t.Fatal(err)
			}
			e.quiet(tc.u.ID)
			n := 0
			for _, c := range e.fake.Calls() {
				if c.Method == "sendMessage" && c.ChatID == tc.u.ID && strings.Contains(c.Text, tc.lowAlert) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d low-balance alerts, want 1", n)
			}

			// Back above the threshold (re-armed, no message), then an
			// admin's debit (no shop event: the bot checks it itself)
			// takes it below again: a second alert.
			if _, err := e.svc.AdminCredit(context.Background(), adminID, tc.u.ID, shop.TON, "test"); err != nil {
				t.Fatal(err)
			}
			e.quiet(tc.u.ID)
			if _, err := e.svc.AdminDebit(context.Background(), adminID, tc.u.ID, shop.TON, "test"); err != nil {
				t.Fatal(err)
			}
			b.BalanceChanged(tc.u.ID)
			e.fake.Wait(tc.u.ID, tc.lowAlert)

			// Webhook alerts on: the endpoint without credentials or query.
			e.fake.Press(tc.u, tc.alerts)
			e.fake.Press(tc.u, tc.webhooks)
			b.NotifyWebhookFailing(tc.u.ID, "https://user:pw@hooks.example.com/x?token=s3cr3t", "HTTP 500 for 3 days")
			w := e.fake.Wait(tc.u.ID, tc.webhook)
			if !strings.Contains(w.Text, "https://hooks.example.com/x") || strings.Contains(w.Text, "s3cr3t") || strings.Contains(w.Text, "pw") {
				t.Errorf("webhook alert: %s", w.Text)
			}

			// The dispatcher's EventWebhookFailing reaches the same alert,
			// with the endpoint's URL from the store.
			e.svc.WebhookAllowPrivate = true
			wh, err := e.svc.CreateWebhook(context.Background(), tc.u.ID, "http://127.0.0.1:9/failing-"+strconv.FormatInt(tc.u.ID, 10), nil)
			if err != nil {
				t.Fatal(err)
			}
			b.HandleEvent(shop.Event{Type: shop.EventWebhookFailing, UserID: tc.u.ID, WebhookID: wh.ID})
			if w := e.fake.Wait(tc.u.ID, "failing-"+strconv.FormatInt(tc.u.ID, 10)); !strings.Contains(w.Text, tc.webhook) {
				t.Errorf("webhook alert from the event: %s", w.Text)
			}
		})
	}
}
