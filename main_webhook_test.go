package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"starsbot/bot"
	"starsbot/bot/bottest"
)

// TestRun_SandboxWebhook runs the program in sandbox mode and follows one
// order to a partner's webhook: the endpoint registered through the API
// receives order.completed, signed (checked here from the Standard
// Webhooks spec), with the order exactly as GET /api/v1/orders/{id} shows
// it, and the feed lists the same events.
func TestRun_SandboxWebhook(t *testing.T) {
	type delivery struct {
		id   string
		body []byte
		sig  string
		ts   string
	}
	got := make(chan delivery, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get("webhook-id"), b, r.Header.Get("webhook-signature"), r.Header.Get("webhook-timestamp")}
	}))
	defer rcv.Close()

	env := envOf(map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0"})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stdout, &stderr) }()
	base := waitListening(t, &stderr, done)
	osk := regexp.MustCompile(`osk_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	memo := regexp.MustCompile(`AP[0-9]{9}`).FindString(stdout.String())
	call := func(method, path, key, body string) (int, string) {
		t.Helper()
		return apiCall(t, base, method, path, key, body)
	}

	code, body := call("POST", "/api/v1/webhooks", osk, `{"url":"`+rcv.URL+`/hook","event_types":["order.completed"]}`)
	if code != 201 {
		t.Fatalf("register: %d %s", code, body)
	}
	var hook struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(body), &hook); err != nil {
		t.Fatal(err)
	}
	if code, body := call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+memo+`","amount_ton":"10"}`); code != 200 {
		t.Fatalf("deposit: %d %s", code, body)
	}
	stderr.wait(t, regexp.MustCompile(`msg="deposit booked"`), 10*time.Second, done)
	code, body = call("POST", "/api/v1/orders/stars", osk, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`)
	if code != 200 {
		t.Fatalf("order: %d %s", code, body)
	}
	orderID := regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(body)[1]

	var d delivery
	select {
	case d = <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("no webhook within 10 s; log:\n%s", stderr.String())
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(hook.Secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(d.id + "." + d.ts + "."))
	mac.Write(d.body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); d.sig != want {
		t.Errorf("signature %q, want %q", d.sig, want)
	}
	var payload struct {
		Type string
		Data json.RawMessage
	}
	if err := json.Unmarshal(d.body, &payload); err != nil || payload.Type != "order.completed" {
		t.Fatalf("body %s: %v", d.body, err)
	}
	_, orderJSON := call("GET", "/api/v1/orders/"+orderID, osk, "")
	var env2 struct{ Data json.RawMessage }
	json.Unmarshal([]byte(orderJSON), &env2)
	var a, b any
	json.Unmarshal(payload.Data, &a)
	json.Unmarshal(env2.Data, &b)
	if ja, jb := mustJSON(a), mustJSON(b); ja != jb {
		t.Errorf("webhook data\n%s\nwant GET /orders/%s\n%s", ja, orderID, jb)
	}
	_, feed := call("GET", "/api/v1/events", osk, "")
	for _, typ := range []string{"balance.credited", "order.created", "order.paid", "order.completed", `"id":"` + d.id + `"`} {
		if !strings.Contains(feed, typ) {
			t.Errorf("feed lacks %s: %s", typ, feed)
		}
	}
	if log := stderr.String(); strings.Contains(log, hook.Secret[6:]) {
		t.Error("the webhook secret appears in the log")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRun_TelegramWebhook runs the program in webhook mode: the bot calls
// setWebhook with TELEGRAM_WEBHOOK_URL and the secret derived from the
// token, never getUpdates, and an update POSTed to the URL's path on
// HTTP_ADDR with that secret is handled; without it, refused. /health
// shows webhook mode and the last update, not the URL's path.
func TestRun_TelegramWebhook(t *testing.T) {
	const token = "123456789:AAsecretsecretsecretsecretsecret"
	tg := bottest.New(t, token)
	env := envOf(map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0", "TELEGRAM_TOKEN": token, "TELEGRAM_API_URL": tg.URL,
		"TELEGRAM_WEBHOOK_URL": "https://bot.example.test/tg/hook-path"})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stdout, &stderr) }()
	base := waitListening(t, &stderr, done)
	stderr.wait(t, regexp.MustCompile(`telegram webhook set`), 10*time.Second, done)
	set := tg.CallsTo("setWebhook")
	if len(set) != 1 || set[0].Params["url"] != "https://bot.example.test/tg/hook-path" || set[0].Params["secret_token"] != bot.DeriveWebhookSecret(token) {
		t.Fatalf("setWebhook calls: %+v", set)
	}
	post := func(secret string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/tg/hook-path", bytes.NewReader(bottest.UpdateJSON(501, bottest.User{ID: 4242, Username: "carol_c", LanguageCode: "en"}, "/start")))
		if secret != "" {
			req.Header.Set(bot.WebhookSecretHeader, secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("wrong"); got != http.StatusForbidden {
		t.Errorf("wrong secret: %d", got)
	}
	if got := post(bot.DeriveWebhookSecret(token)); got != http.StatusOK {
		t.Errorf("right secret: %d", got)
	}
	tg.Wait(4242, "Stars")
	if tg.Polls() != 0 {
		t.Errorf("getUpdates called %d times in webhook mode", tg.Polls())
	}
	resp, err := http.Get(base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "webhook mode") || !strings.Contains(string(body), "last update received") || strings.Contains(string(body), "hook-path") {
		t.Errorf("health: %s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	if log := stderr.String(); strings.Contains(log, bot.DeriveWebhookSecret(token)) || strings.Contains(log, "AAsecret") {
		t.Errorf("log leaks a secret:\n%s", log)
	}
}
