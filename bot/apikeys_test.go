package bot_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"starsbot/api"
	"starsbot/bot/bottest"
)

// issuedKey extracts the one full key of a one-time key message.
func issuedKey(t *testing.T, c bottest.Call) string {
	t.Helper()
	keys := fullKeyRE.FindAllString(c.Text, -1)
	if len(keys) == 0 {
		t.Fatalf("no key in message:\n%s", c.Text)
	}
	return keys[0]
}

// authenticates reports whether the partner REST API, served over the
// same shop, accepts key: GET /api/v1/balance answers 200 or 401.
func (e *env) authenticates(key string) bool {
	e.t.Helper()
	if e.rest == nil {
		srv := must(api.NewServer(api.ServerConfig{Shop: e.svc, Logger: slog.New(slog.DiscardHandler)}))
		e.rest = httptest.NewServer(srv.Handler())
		e.t.Cleanup(e.rest.Close)
	}
	req, _ := http.NewRequest("GET", e.rest.URL+"/api/v1/balance", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.rest.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	e.t.Fatalf("GET /api/v1/balance: HTTP %d", resp.StatusCode)
	return false
}

func TestAPI_IssueShowOnceRotateRevoke(t *testing.T) {
	e := newEnv(t)
	e.fake.Send(alice, "/api")
	e.fake.Wait(alice.ID, "orders API (osk_ keys)")
	e.fake.Press(alice, "Create an orders API key")
	msg := e.fake.Wait(alice.ID, "Your new osk_ API key")
	key := issuedKey(t, msg)
	memo := e.user(alice).Memo
	for _, want := range []string{"only time the key is shown", publicURL, memo, "curl -H", "Authorization: Bearer " + key, publicURL + "/api/v1/balance"} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("key message lacks %q:\n%s", want, msg.Text)
		}
	}
	if !strings.HasPrefix(key, "osk_") || !e.authenticates(key) {
		t.Fatalf("issued key %s… does not authenticate", key[:8])
	}

	// Afterwards only the hint and the creation date.
	e.fake.Press(alice, "I saved it")
	status := e.fake.Wait(alice.ID, "Partner API")
	if !strings.Contains(status.Text, key[:8]+"…") || !strings.Contains(status.Text, "2026-04-16") || strings.Contains(status.Text, key) {
		t.Errorf("status screen:\n%s", status.Text)
	}
	for _, m := range e.fake.Messages(alice.ID) {
		if strings.Contains(m.Text, key) && !m.Deleted {
			t.Errorf("the one-time key message was not deleted")
		}
	}
	e.fake.Send(alice, "/api")
	again := e.fake.Wait(alice.ID, "Partner API")
	if strings.Contains(again.Text, key) {
		t.Errorf("/api shows the full key again")
	}

	// Rotate, with confirmation.
	e.fake.Press(alice, "Rotate")
	e.fake.Wait(alice.ID, "Rotate your osk_ key?")
	e.fake.Press(alice, "Yes, rotate")
	rotated := issuedKey(t, e.fake.Wait(alice.ID, "Your new osk_ API key"))
	if rotated == key || e.authenticates(key) || !e.authenticates(rotated) {
		t.Errorf("after rotate: old works=%v, new works=%v", e.authenticates(key), e.authenticates(rotated))
	}

	// The simple API key.
	e.fake.Send(alice, "/api sk")
	e.fake.Wait(alice.ID, "simple API (sk_ keys)")
	e.fake.Press(alice, "Create a simple API key")
	sk := issuedKey(t, e.fake.Wait(alice.ID, "Your new sk_ API key"))
	if !strings.HasPrefix(sk, "sk_") || !e.authenticates(sk) || !e.authenticates(rotated) {
		t.Errorf("sk_ key: works=%v; osk_ still works=%v", e.authenticates(sk), e.authenticates(rotated))
	}

	// Revoke, with confirmation; cancelling keeps the key.
	e.fake.Send(alice, "/api")
	e.fake.Wait(alice.ID, "Partner API")
	e.fake.Press(alice, "Revoke")
	e.fake.Wait(alice.ID, "Revoke your osk_ key?")
	e.fake.Press(alice, "Cancel")
	e.fake.Wait(alice.ID, "Partner API")
	if !e.authenticates(rotated) {
		t.Errorf("cancelled revoke revoked the key")
	}
	e.fake.Press(alice, "Revoke")
	e.fake.Press(alice, "Yes, revoke")
	e.fake.Wait(alice.ID, "Your osk_ key is revoked")
	if e.authenticates(rotated) {
		t.Errorf("revoked key still works")
	}
	if !e.authenticates(sk) {
		t.Errorf("revoking osk_ revoked the sk_ key")
	}
	e.assertKeyboardData()
}

func TestAPI_MenuButtonRussian(t *testing.T) {
	e := newEnv(t)
	e.startChat(ivan)
	e.fake.Press(ivan, "API")
	e.fake.Wait(ivan.ID, "API для партнёров")
	e.fake.Press(ivan, "Создать ключ API заказов")
	key := issuedKey(t, e.fake.Wait(ivan.ID, "Ваш новый API-ключ osk_"))
	if !e.authenticates(key) {
		t.Errorf("key does not authenticate")
	}
}
