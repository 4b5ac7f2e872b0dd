package bot_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"starsbot/bot"
	"starsbot/bot/bottest"
)

const webhookSecret = "wh_Secret-0123456789abcdefXYZ"

// hook is the HTTPS server Telegram's webhook requests reach in a test:
// the running bot's WebhookHandler at its WebhookPath, as main mounts it.
type hook struct {
	srv  *httptest.Server
	bot  atomic.Pointer[bot.Bot]
	fail atomic.Int32 // answer this many requests 500 before passing them on
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := h.bot.Load()
	if b == nil || r.URL.Path != b.WebhookPath() {
		http.NotFound(w, r)
		return
	}
	if h.fail.Add(-1) >= 0 {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	b.WebhookHandler().ServeHTTP(w, r)
}

// post sends body to the webhook as Telegram would, with secret as the
// header (none when empty), and returns the status.
func (h *hook) post(t *testing.T, secret string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/tg/hook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(bot.WebhookSecretHeader, secret)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startWebhook restarts e's bot in webhook mode behind an HTTPS server
// the fake delivers to, adjusted by configure, and waits until it has
// called setWebhook.
func (e *env) startWebhook(configure ...func(*bot.Config)) (*bot.Bot, *hook) {
	e.t.Helper()
	h := &hook{}
	h.srv = httptest.NewTLSServer(h)
	e.t.Cleanup(h.srv.Close)
	e.fake.WebhookClient = h.srv.Client()
	before := len(e.fake.CallsTo("setWebhook"))
	b := e.restart(append([]func(*bot.Config){func(c *bot.Config) {
		c.WebhookURL = h.srv.URL + "/tg/hook"
		c.WebhookSecret = webhookSecret
	}}, configure...)...)
	h.bot.Store(b)
	e.fake.WaitCalls(before+1, func(c bottest.Call) bool { return c.Method == "setWebhook" })
	e.waitLog("telegram webhook set", 1) // ready: no delivery is refused 503 from here on
	e.t.Cleanup(func() {
		if strings.Contains(e.logText(), b.WebhookSecret) {
			e.t.Errorf("the webhook secret appears in the logs")
		}
	})
	return b, h
}

// In webhook mode the bot calls setWebhook with its URL, secret and the
// update types polling asks for, never getUpdates, and handles the
// updates Telegram POSTs: commands and button presses alike.
func TestWebhook_SetAndHandle(t *testing.T) {
	e := newEnv(t)
	b, h := e.startWebhook()
	set := e.fake.CallsTo("setWebhook")[0]
	want := map[string]string{
		"url":                  h.srv.URL + "/tg/hook",
		"secret_token":         webhookSecret,
		"allowed_updates":      `["message","callback_query"]`,
		"drop_pending_updates": "false",
	}
	for k, v := range want {
		if set.Params[k] != v {
			t.Errorf("setWebhook %s = %q, want %q", k, set.Params[k], v)
		}
	}
	polls := e.fake.Polls()
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Wait(alice.ID, "Who are the Stars for")
	if got := e.fake.Polls(); got != polls {
		t.Errorf("getUpdates called %d times in webhook mode", got-polls)
	}
	if st, ok := b.Webhook(); !ok || !st.Ready || st.LastUpdate.IsZero() {
		t.Errorf("Webhook() = %+v, %v; want ready with a last update", st, ok)
	}
	if got := e.fake.Webhook().SecretToken; got != webhookSecret {
		t.Errorf("fake's secret = %q", got)
	}
}

// Without WebhookSecret the secret_token is derived from the token: the
// same on every replica, allowed by the Bot API's rule, and not the token.
func TestWebhook_DerivedSecret(t *testing.T) {
	e := newEnv(t)
	b, _ := e.startWebhook(func(c *bot.Config) { c.WebhookSecret = "" })
	got := e.fake.CallsTo("setWebhook")[0].Params["secret_token"]
	if got != bot.DeriveWebhookSecret(token) || got != b.WebhookSecret {
		t.Errorf("secret_token = %q, want the derived %q", got, bot.DeriveWebhookSecret(token))
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`).MatchString(got) || strings.Contains(got, token) || strings.Contains(token, got) {
		t.Errorf("derived secret %q breaks the rule or reveals the token", got)
	}
	if bot.DeriveWebhookSecret(token+"x") == got {
		t.Error("another token derives the same secret")
	}
	e.startChat(alice) // Telegram sends the derived secret; the bot accepts it
}

// A request without the secret header is refused 401, one with a wrong
// secret 403; neither is handled, and neither secret is logged.
func TestWebhook_WrongSecretRefused(t *testing.T) {
	e := newEnv(t)
	_, h := e.startWebhook()
	const wrong = "not-the-secret-abc"
	if got := h.post(t, "", bottest.UpdateJSON(7001, alice, "/start")); got != http.StatusUnauthorized {
		t.Errorf("no secret: %d, want 401", got)
	}
	if got := h.post(t, wrong, bottest.UpdateJSON(7002, alice, "/start")); got != http.StatusForbidden {
		t.Errorf("wrong secret: %d, want 403", got)
	}
	if got := h.post(t, webhookSecret[:len(webhookSecret)-1], bottest.UpdateJSON(7003, alice, "/start")); got != http.StatusForbidden {
		t.Errorf("a prefix of the secret: %d, want 403", got)
	}
	if calls := e.quiet(alice.ID); len(calls) != 0 {
		t.Errorf("refused updates were handled: %d calls", len(calls))
	}
	e.waitLog("webhook request refused", 3)
	if strings.Contains(e.logText(), wrong) {
		t.Error("the presented secret appears in the logs")
	}
	// Not an Update, and not a POST.
	if got := h.post(t, webhookSecret, []byte(`{"update_id":0}`)); got != http.StatusBadRequest {
		t.Errorf("update_id 0: %d, want 400", got)
	}
	if got := h.post(t, webhookSecret, bytes.Repeat([]byte(" "), 2<<20)); got != http.StatusRequestEntityTooLarge && got != http.StatusBadRequest {
		t.Errorf("2 MiB body: %d, want 413", got)
	}
	resp, err := h.srv.Client().Get(h.srv.URL + "/tg/hook")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

// Updates of one chat are handled in the order Telegram sends them.
func TestWebhook_ChatOrder(t *testing.T) {
	e := newEnv(t)
	e.startWebhook()
	e.fake.Send(alice, "/start")
	e.fake.Send(alice, "/help")
	e.fake.Send(alice, "hello there")
	e.fake.Wait(alice.ID, "Stars &amp; Premium")
	e.fake.Wait(alice.ID, "How it works")
	e.fake.Wait(alice.ID, "I didn't understand that")
}

// An update delivered twice (Telegram repeats one it got no 2XY for) is
// handled once; both deliveries are answered 200.
func TestWebhook_DuplicateHandledOnce(t *testing.T) {
	e := newEnv(t)
	_, h := e.startWebhook()
	e.startChat(alice)
	up := bottest.UpdateJSON(8001, alice, "/help")
	for range 2 {
		if got := h.post(t, webhookSecret, up); got != http.StatusOK {
			t.Fatalf("status %d, want 200", got)
		}
	}
	e.fake.Wait(alice.ID, "How it works")
	if calls := e.quiet(alice.ID); len(calls) != 0 {
		t.Errorf("the repeated update was handled again: %d more calls", len(calls))
	}
	e.waitLog("received again", 1)
}

// A delivery the service fails is repeated by Telegram and handled then;
// getWebhookInfo's last error reaches the bot's status for /health.
func TestWebhook_RetryAndLastError(t *testing.T) {
	e := newEnv(t)
	b, h := e.startWebhook()
	h.fail.Store(1)
	e.startChat(alice)
	b.WebhookInfoNow(context.Background())
	st, _ := b.Webhook()
	if st.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" || st.LastErrorDate.IsZero() || st.Failing || st.NotOurs {
		t.Errorf("Webhook() = %+v", st)
	}
}

// Back to polling: the bot deletes the webhook before getUpdates, which
// Telegram refuses while one is set, and handles updates by polling.
func TestWebhook_BackToPolling(t *testing.T) {
	e := newEnv(t)
	e.startWebhook()
	e.startChat(alice)
	e.restart()
	e.fake.WaitCalls(1, func(c bottest.Call) bool { return c.Method == "deleteWebhook" })
	if c := e.fake.CallsTo("deleteWebhook")[0]; c.Params["drop_pending_updates"] != "false" {
		t.Errorf("deleteWebhook drop_pending_updates = %q, want false", c.Params["drop_pending_updates"])
	}
	if u := e.fake.Webhook().URL; u != "" {
		t.Errorf("webhook still set: %q", u)
	}
	e.startChat(alice)
	if n := len(e.fake.CallsTo("deleteWebhook")); n != 1 {
		t.Errorf("deleteWebhook called %d times, want 1", n)
	}
}
