package bot_test

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// whsecRE matches a full webhook secret: "whsec_" and the standard base64
// of 32 bytes (shop.newWebhookSecret).
var whsecRE = regexp.MustCompile(`whsec_[A-Za-z0-9+/]{43}=`)

// whLang is what the webhook screens say in one language.
type whLang struct {
	u                                                  bottest.User
	webhooks, screen, none, add, ask, again            string
	private, https, credentials, form, limit, resolve  string
	added, hide, view, test, queued, log, logHead      string
	pending, rotate, rotateAsk, yesRotate, rotated     string
	del, deleteAsk, yesDelete, deleted, cancel         string
	gone, stale, enable, disabled, enabledNow, failing string
}

var whLangs = []whLang{
	{
		u: alice, webhooks: "Webhooks", screen: "all event types", none: "No endpoints yet", add: "Add an endpoint",
		ask: "Send the URL of your endpoint", again: "Send another URL",
		private: "only to public addresses", https: "must start with https://", credentials: "user name or password",
		form: "That is not a URL", limit: "the most allowed", resolve: "does not resolve",
		added: "Endpoint added", hide: "I saved it", view: "Signing secret:", test: "Send a test", queued: "is queued for",
		log: "Deliveries", logHead: "Last deliveries", pending: "pending",
		rotate: "Rotate secret", rotateAsk: "Rotate the signing secret", yesRotate: "Yes, rotate", rotated: "New signing secret",
		del: "Delete", deleteAsk: "Delete the endpoint", yesDelete: "Yes, delete", deleted: "deleted.", cancel: "Cancel",
		gone: "no longer exists", stale: "no longer valid", enable: "Re-enable", disabled: "disabled since", enabledNow: "Endpoint re-enabled",
		failing: "failing since",
	},
	{
		u: ivan, webhooks: "Вебхуки", screen: "все типы событий", none: "Вебхуков пока нет", add: "Добавить вебхук",
		ask: "Отправьте URL вашего вебхука", again: "Отправьте другой URL",
		private: "только на публичные адреса", https: "должен начинаться с https://", credentials: "имени пользователя и пароля",
		form: "Это не URL", limit: "это максимум", resolve: "не разрешается",
		added: "Вебхук добавлен", hide: "Сохранил", view: "Секрет подписи:", test: "Тестовое событие", queued: "поставлено в очередь",
		log: "Доставки", logHead: "Последние доставки", pending: "ожидает",
		rotate: "Новый секрет", rotateAsk: "Выпустить новый секрет подписи", yesRotate: "Да, выпустить", rotated: "Новый секрет подписи",
		del: "Удалить", deleteAsk: "Удалить вебхук", yesDelete: "Да, удалить", deleted: "удалён.", cancel: "Отмена",
		gone: "больше нет", stale: "больше не действует", enable: "Включить снова", disabled: "отключён с", enabledNow: "снова включён",
		failing: "ошибки с",
	},
}

// webhookEnv is an env whose shop refuses private webhook addresses, as
// on mainnet (WEBHOOK_ALLOW_PRIVATE off), with a resolver that knows a
// public host and one that resolves to a private address.
func webhookEnv(t *testing.T) *env {
	e := newEnv(t)
	e.svc.WebhookAllowPrivate = false
	e.svc.WebhookResolver = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "hooks.example.com", "other.example.com":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		case "intranet.example.com":
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, errors.New("no such host")
	}
	t.Cleanup(func() { e.checkWebhookSecrets() })
	return e
}

// checkWebhookSecrets asserts that every webhook secret the bot sent
// appears in exactly one call (the one-time message), in no callback data
// and in no log line.
func (e *env) checkWebhookSecrets() {
	logs := e.logText()
	if m := whsecRE.FindString(logs); m != "" {
		e.t.Errorf("a webhook secret %s… appears in the logs", m[:10])
	}
	seen := map[string]int{}
	for _, c := range e.fake.Calls() {
		in := map[string]bool{}
		for k, v := range c.Params {
			for _, s := range whsecRE.FindAllString(v, -1) {
				in[s] = true
				if k != "text" {
					e.t.Errorf("%s: webhook secret in parameter %s", c.Method, k)
				}
			}
		}
		for s := range in {
			seen[s]++
		}
	}
	for s, n := range seen {
		if n != 1 {
			e.t.Errorf("webhook secret %s… appears in %d calls, want only the one-time message", s[:10], n)
		}
	}
}

// secretIn returns the one webhook secret of a message.
func secretIn(t *testing.T, c bottest.Call) string {
	t.Helper()
	s := whsecRE.FindAllString(c.Text, -1)
	if len(s) != 1 {
		t.Fatalf("want one webhook secret in:\n%s", c.Text)
	}
	return s[0]
}

// openWebhooks goes 🔑 API → 🪝 Webhooks.
func (e *env) openWebhooks(l whLang) bottest.Call {
	e.t.Helper()
	e.fake.Press(l.u, "API")
	e.fake.Press(l.u, l.webhooks)
	return e.fake.Wait(l.u.ID, l.screen)
}

// The whole life of an endpoint from the bot, in both languages: added by
// a typed URL (a private one refused first), its secret shown once and
// hidden, a test event queued, the log, a rotation (confirmed; a new
// secret shown once; the old one keeps signing) and a deletion (cancelled
// once, then confirmed).
func TestWebhooks_AddTestRotateDelete(t *testing.T) {
	for _, l := range whLangs {
		t.Run(l.u.LanguageCode, func(t *testing.T) {
			e := webhookEnv(t)
			ctx := context.Background()
			e.startChat(l.u)
			if c := e.openWebhooks(l); !strings.Contains(c.Text, l.none) || !strings.Contains(c.Text, "event_types") {
				t.Errorf("empty list:\n%s", c.Text)
			}
			e.fake.Press(l.u, l.add)
			e.fake.Wait(l.u.ID, l.ask)

			// A loopback IP literal is refused, and the bot asks again.
			e.fake.Send(l.u, "http://127.0.0.1/x")
			if c := e.fake.Wait(l.u.ID, l.private); !strings.Contains(c.Text, l.again) {
				t.Errorf("refusal does not ask again:\n%s", c.Text)
			}
			e.fake.Send(l.u, "https://intranet.example.com/hook")
			e.fake.Wait(l.u.ID, l.private)
			if ws, _ := e.svc.Webhooks(ctx, l.u.ID); len(ws) != 0 {
				t.Fatalf("a refused URL was registered: %d endpoints", len(ws))
			}

			// A public one: the secret, once.
			e.fake.Send(l.u, "https://hooks.example.com/hook?token=q1")
			added := e.fake.Wait(l.u.ID, l.added)
			secret := secretIn(t, added)
			ws, err := e.svc.Webhooks(ctx, l.u.ID)
			if err != nil || len(ws) != 1 {
				t.Fatalf("endpoints: %v, %v", ws, err)
			}
			w := ws[0]
			if w.Secret.Reveal() != secret || len(w.EventTypes) != 0 || w.URL != "https://hooks.example.com/hook?token=q1" {
				t.Fatalf("registered %+v; the message showed %s…", w, secret[:10])
			}
			if strings.Contains(added.Text, "token=q1") {
				t.Errorf("the query is shown:\n%s", added.Text)
			}
			e.fake.Press(l.u, l.hide)
			view := e.fake.Wait(l.u.ID, l.view)
			if !strings.Contains(view.Text, "https://hooks.example.com/hook?…") || strings.Contains(view.Text, "token") || !strings.Contains(view.Text, w.ID) {
				t.Errorf("endpoint screen:\n%s", view.Text)
			}
			for _, m := range e.fake.Messages(l.u.ID) {
				if strings.Contains(m.Text, secret) && !m.Deleted {
					t.Errorf("the one-time secret message was not deleted")
				}
			}

			// The list shows it: URL without the query, all types.
			e.fake.Send(l.u, "/api")
			e.fake.Wait(l.u.ID, "🔑")
			e.fake.Press(l.u, l.webhooks)
			list := e.fake.Wait(l.u.ID, l.screen)
			if !strings.Contains(list.Text, "hooks.example.com/hook?…") || strings.Contains(list.Text, "q1") {
				t.Errorf("list:\n%s", list.Text)
			}
			e.fake.Press(l.u, "hooks.example.com/hook")
			e.fake.Wait(l.u.ID, l.view)

			// A test event: a delivery exists, and the log shows it.
			e.fake.Press(l.u, l.test)
			e.fake.Wait(l.u.ID, l.queued)
			ds, _, err := e.svc.WebhookDeliveries(ctx, l.u.ID, w.ID, 0, 10)
			if err != nil || len(ds) != 1 || ds[0].EventType != shop.PartnerWebhookTest || ds[0].Status != shop.WebhookPending {
				t.Fatalf("deliveries after the test: %v, %v", ds, err)
			}
			e.fake.Press(l.u, l.log)
			lg := e.fake.Wait(l.u.ID, l.logHead)
			if !strings.Contains(lg.Text, "webhook.test") || !strings.Contains(lg.Text, l.pending) {
				t.Errorf("log:\n%s", lg.Text)
			}
			// An attempt answered 500: the log says so.
			if _, err := e.svc.RecordWebhookAttempt(ctx, ds[0].ID, shop.WebhookAttempt{StatusCode: 500, Error: "HTTP 500"}); err != nil {
				t.Fatal(err)
			}
			e.fake.Press(l.u, "🔄")
			if lg := e.fake.Wait(l.u.ID, "HTTP 500"); !strings.Contains(lg.Text, ": 1 ·") {
				t.Errorf("log after an attempt:\n%s", lg.Text)
			}

			// Rotate: confirmed, a new secret once, the old one signing on.
			e.fake.Press(l.u, "‹")
			e.fake.Press(l.u, l.rotate)
			if c := e.fake.Wait(l.u.ID, l.rotateAsk); !strings.Contains(c.Text, "24") {
				t.Errorf("rotation question does not mention the 24 h overlap:\n%s", c.Text)
			}
			e.fake.Press(l.u, l.yesRotate)
			rot := e.fake.Wait(l.u.ID, l.rotated)
			fresh := secretIn(t, rot)
			if fresh == secret {
				t.Fatalf("the rotated secret is the old one")
			}
			w2, err := e.svc.FindWebhook(ctx, l.u.ID, w.ID)
			if err != nil || w2.Secret.Reveal() != fresh || w2.PreviousSecret.Reveal() != secret || !w2.PreviousExpires.Equal(e.clock.Now().Add(shop.SecretOverlap)) {
				t.Fatalf("after rotation: %+v, %v", w2, err)
			}
			e.fake.Press(l.u, l.hide)
			e.fake.Wait(l.u.ID, l.view)
			for _, m := range e.fake.Messages(l.u.ID) {
				if strings.Contains(m.Text, fresh) && !m.Deleted {
					t.Errorf("the rotated secret's message was not deleted")
				}
			}

			// Delete: cancelled once, then confirmed.
			e.fake.Press(l.u, l.del)
			e.fake.Wait(l.u.ID, l.deleteAsk)
			e.fake.Press(l.u, l.cancel)
			e.fake.Wait(l.u.ID, l.view)
			if _, err := e.svc.FindWebhook(ctx, l.u.ID, w.ID); err != nil {
				t.Fatalf("a cancelled deletion deleted: %v", err)
			}
			e.fake.Press(l.u, l.del)
			e.fake.Press(l.u, l.yesDelete)
			if c := e.fake.Wait(l.u.ID, l.deleted); !strings.Contains(c.Text, l.none) {
				t.Errorf("after deletion:\n%s", c.Text)
			}
			if ws, _ := e.svc.Webhooks(ctx, l.u.ID); len(ws) != 0 {
				t.Errorf("%d endpoints after deletion", len(ws))
			}
			e.assertKeyboardData()
		})
	}
}

// Every refusal of CreateWebhook is said plainly and registers nothing:
// no URL, credentials, a host that does not resolve, http:// on mainnet,
// and the limit of enabled endpoints (checked before asking, too).
func TestWebhooks_RefusedURLs(t *testing.T) {
	for _, l := range whLangs {
		t.Run(l.u.LanguageCode, func(t *testing.T) {
			e := webhookEnv(t)
			e.svc.WebhookHTTPSOnly = true
			ctx := context.Background()
			e.startChat(l.u)
			e.openWebhooks(l)
			e.fake.Press(l.u, l.add)
			e.fake.Wait(l.u.ID, l.ask)
			for _, tc := range []struct{ url, want string }{
				{"hello", l.form},
				{"https://user:pw@hooks.example.com/x", l.credentials},
				{"https://nowhere.example.com/x", l.resolve},
				{"http://hooks.example.com/x", l.https},
				{"https://[::1]/x", l.private},
			} {
				e.fake.Send(l.u, tc.url)
				e.fake.Wait(l.u.ID, tc.want)
			}
			if ws, _ := e.svc.Webhooks(ctx, l.u.ID); len(ws) != 0 {
				t.Fatalf("%d endpoints registered from refused URLs", len(ws))
			}

			// Ten enabled endpoints: the eleventh is refused, when typed
			// (another session added the tenth meanwhile) and when asked.
			for i := range shop.MaxWebhooks - 1 {
				if _, err := e.svc.CreateWebhook(ctx, l.u.ID, "https://other.example.com/"+string(rune('a'+i)), nil); err != nil {
					t.Fatal(err)
				}
			}
			e.fake.Send(l.u, "https://hooks.example.com/ten")
			secretIn(t, e.fake.Wait(l.u.ID, l.added))
			e.fake.Press(l.u, l.hide)
			e.fake.Wait(l.u.ID, l.view)
			e.fake.Press(l.u, "‹")
			e.fake.Press(l.u, l.add)
			e.fake.Wait(l.u.ID, l.limit)
			e.fake.Send(l.u, "https://hooks.example.com/eleven")
			for _, c := range e.quiet(l.u.ID) {
				if strings.Contains(c.Text, l.added) {
					t.Errorf("an endpoint was added past the limit")
				}
			}
			if ws, _ := e.svc.Webhooks(ctx, l.u.ID); len(ws) != shop.MaxWebhooks {
				t.Errorf("%d endpoints, want %d", len(ws), shop.MaxWebhooks)
			}
		})
	}
}

// An endpoint that failed long enough is disabled: the list and its
// screen say so and why, and Re-enable turns it back on. Before that, a
// failing one shows since when.
func TestWebhooks_FailingDisabledReenable(t *testing.T) {
	for _, l := range whLangs {
		t.Run(l.u.LanguageCode, func(t *testing.T) {
			e := webhookEnv(t)
			ctx := context.Background()
			e.startChat(l.u)
			w, err := e.svc.CreateWebhook(ctx, l.u.ID, "https://hooks.example.com/down", nil)
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.svc.TestWebhook(ctx, l.u.ID, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.RecordWebhookAttempt(ctx, d.ID, shop.WebhookAttempt{Error: "connection refused"}); err != nil {
				t.Fatal(err)
			}
			if c := e.openWebhooks(l); !strings.Contains(c.Text, l.failing) || !strings.Contains(c.Text, "2026-04-16 11:00 UTC") {
				t.Errorf("failing endpoint in the list:\n%s", c.Text)
			}
			e.clock.Advance(shop.WebhookDisableAfter + time.Minute)
			if _, err := e.svc.RecordWebhookAttempt(ctx, d.ID, shop.WebhookAttempt{StatusCode: 503}); err != nil {
				t.Fatal(err)
			}
			if w, _ := e.svc.FindWebhook(ctx, l.u.ID, w.ID); w.Enabled() {
				t.Fatalf("not disabled after %v of failures", shop.WebhookDisableAfter)
			}
			e.fake.Send(l.u, "/api")
			e.fake.Wait(l.u.ID, "🔑")
			e.fake.Press(l.u, l.webhooks)
			list := e.fake.Wait(l.u.ID, l.disabled)
			if !strings.Contains(list.Text, "HTTP 503") {
				t.Errorf("disabled endpoint's reason:\n%s", list.Text)
			}
			e.fake.Press(l.u, "hooks.example.com/down")
			view := e.fake.Wait(l.u.ID, l.view)
			if !strings.Contains(view.Text, l.disabled) {
				t.Errorf("endpoint screen:\n%s", view.Text)
			}
			e.fake.Press(l.u, l.enable)
			e.fake.Wait(l.u.ID, l.enabledNow)
			if w, _ := e.svc.FindWebhook(ctx, l.u.ID, w.ID); !w.Enabled() {
				t.Errorf("still disabled after Re-enable")
			}
		})
	}
}

// Webhook buttons that are stale (the endpoint was deleted) or forged (a
// malformed id, another user's endpoint) are answered, change nothing and
// never show an internal error. Both languages.
func TestWebhooks_StaleAndForgedButtons(t *testing.T) {
	for _, l := range whLangs {
		t.Run(l.u.LanguageCode, func(t *testing.T) {
			e := webhookEnv(t)
			ctx := context.Background()
			menu := e.startChat(l.u)
			mine, err := e.svc.CreateWebhook(ctx, l.u.ID, "https://hooks.example.com/mine", nil)
			if err != nil {
				t.Fatal(err)
			}
			e.startChat(nobody)
			theirs, err := e.svc.CreateWebhook(ctx, nobody.ID, "https://hooks.example.com/theirs", nil)
			if err != nil {
				t.Fatal(err)
			}

			// A stale button: the endpoint screen, then the endpoint is
			// deleted elsewhere (the API), then its buttons are pressed.
			e.openWebhooks(l)
			e.fake.Press(l.u, "hooks.example.com/mine")
			e.fake.Wait(l.u.ID, l.view)
			if err := e.svc.DeleteWebhook(ctx, l.u.ID, mine.ID); err != nil {
				t.Fatal(err)
			}
			if ans := e.fake.Press(l.u, l.test); !strings.Contains(ans, l.gone) {
				t.Errorf("stale test button answered %q", ans)
			}
			e.fake.Wait(l.u.ID, l.none)

			unknown := "wh_" + strings.Repeat("a", 26)
			forged := []string{
				"\fwhv", "\fwhv|", "\fwhv|wh_", "\fwhv|" + unknown, "\fwhv|WH_" + strings.Repeat("A", 26),
				"\fwht|x", "\fwhl|" + unknown, "\fwhe|" + mine.ID, "\fwhd|../", "\fwhh|zzz", "\fwhh|" + unknown,
				"\fwhv|" + theirs.ID, "\fwht|" + theirs.ID, "\fwhl|" + theirs.ID, "\fwhr|" + theirs.ID,
				"\fwhy|" + theirs.ID, "\fwhx|" + theirs.ID, "\fwhe|" + theirs.ID, "\fwhh|" + theirs.ID,
				"\fwha|x|y",
			}
			answered := 0
			for _, data := range forged {
				c := e.fake.WaitAnswer(e.fake.Callback(l.u, l.u.ID, menu.MessageID, data))
				if txt := c.Params["text"]; strings.Contains(txt, l.gone) || strings.Contains(txt, l.stale) {
					answered++
				}
			}
			if answered < len(forged)-2 {
				t.Errorf("only %d of %d forged presses were told the button or endpoint is gone", answered, len(forged))
			}
			e.quiet(l.u.ID)
			for _, c := range e.fake.Calls() {
				if strings.Contains(c.Text, "went wrong") || strings.Contains(c.Text, "пошло не так") || strings.Contains(c.Text, "theirs") {
					t.Errorf("%s shows %q", c.Method, c.Text)
				}
			}
			if logs := e.logText(); strings.Contains(logs, "panicked") || strings.Contains(logs, "handler failed") {
				t.Errorf("the log shows a failure:\n%s", logs)
			}
			got, err := e.svc.FindWebhook(ctx, nobody.ID, theirs.ID)
			if err != nil || got.Secret != theirs.Secret || got.PreviousSecret != "" {
				t.Errorf("another user's endpoint was changed by forged buttons: %v", err)
			}
			if ds, _, _ := e.svc.WebhookDeliveries(ctx, nobody.ID, theirs.ID, 0, 10); len(ds) != 0 {
				t.Errorf("a forged button queued %d deliveries to another user's endpoint", len(ds))
			}
			for _, m := range e.fake.Messages(l.u.ID) {
				if m.ID == menu.MessageID && m.Deleted {
					t.Errorf("a forged hide deleted a message without a secret")
				}
			}
		})
	}
}

// A secret message 48 hours old cannot be deleted (Telegram refuses; the
// fake by its clock): the secret is edited away instead.
func TestWebhooks_HideOldSecret_EditsAway(t *testing.T) {
	l := whLangs[0]
	e := webhookEnv(t)
	e.startChat(l.u)
	e.openWebhooks(l)
	e.fake.Press(l.u, l.add)
	e.fake.Wait(l.u.ID, l.ask)
	e.fake.Send(l.u, "https://hooks.example.com/old")
	secret := secretIn(t, e.fake.Wait(l.u.ID, l.added))
	e.clock.Advance(bottest.DeleteLimit)
	e.fake.Press(l.u, l.hide)
	e.fake.Wait(l.u.ID, "shown here once and is now hidden")
	e.fake.Wait(l.u.ID, l.view)
	for _, m := range e.fake.Messages(l.u.ID) {
		if strings.Contains(m.Text, secret) {
			t.Errorf("message %d still shows the secret (deleted=%v)", m.ID, m.Deleted)
		}
	}
}
