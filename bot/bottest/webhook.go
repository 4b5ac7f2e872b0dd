package bottest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Webhook mode of the fake, as the Bot API documents it
// (https://core.telegram.org/bots/api#setwebhook, #getwebhookinfo,
// #deletewebhook, #update):
//
//   - setWebhook(url, secret_token, allowed_updates, drop_pending_updates)
//     returns True. url must be HTTPS ("HTTPS URL to send updates to");
//     "Use an empty string to remove webhook integration". secret_token
//     is "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are
//     allowed", and is then sent "in a header X-Telegram-Bot-Api-Secret-Token
//     in every webhook request". The ports rule (443, 80, 88, 8443) is not
//     checked: the test server's port is random.
//   - "Whenever there is an update for the bot, we will send an HTTPS POST
//     request to the specified URL, containing a JSON-serialized Update. In
//     case of an unsuccessful request (a request with response HTTP status
//     code different from 2XY), we will repeat the request": the fake
//     POSTs pending updates one at a time, oldest first, with
//     WebhookClient, and repeats a failed one (after WebhookRetry).
//   - getUpdates does not work while a webhook is set (409, in getUpdates).
//   - deleteWebhook(drop_pending_updates) removes it and returns True.
//   - getWebhookInfo returns a WebhookInfo: url ("may be empty if webhook
//     is not set up"), has_custom_certificate, pending_update_count, and
//     after a failed delivery last_error_date and last_error_message;
//     the message's wording is Telegram's, as a getWebhookInfo answer in
//     https://github.com/telegraf/micro-bot/issues/2 shows it ("Wrong
//     response from the webhook: 503 Service Unavailable", with
//     max_connections 40, the documented default).

// webhook is the webhook setWebhook set.
type webhook struct {
	url, secret, allowed string
	lastErrDate          int64
	lastErrMsg           string
}

// secretTokenRE is setWebhook's rule for secret_token.
var secretTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// WebhookInfo is the fake's webhook as a test sees it.
type WebhookInfo struct {
	URL, SecretToken string
	AllowedUpdates   string // as sent (JSON), "" if not sent
}

// Webhook returns the webhook set now (URL "" when none).
func (s *Server) Webhook() WebhookInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return WebhookInfo{URL: s.hook.url, SecretToken: s.hook.secret, AllowedUpdates: s.hook.allowed}
}

// webhookLocked answers setWebhook, deleteWebhook and getWebhookInfo; s.mu is held.
func (s *Server) webhookLocked(call *Call, p map[string]string, bad func(string) (int, any)) (int, any) {
	ok := map[string]any{"ok": true, "result": true}
	switch call.Method {
	case "setWebhook":
		u, present := p["url"]
		if !present {
			return bad("url is required")
		}
		if u == "" {
			s.hook = webhook{}
			return http.StatusOK, ok
		}
		if !strings.HasPrefix(u, "https://") {
			return bad("bad webhook: an HTTPS URL must be provided for webhook")
		}
		if sec, set := p["secret_token"]; set && !secretTokenRE.MatchString(sec) {
			return bad("secret_token must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
		}
		if p["drop_pending_updates"] == "true" {
			s.updates, s.updateIDs = nil, nil
		}
		s.hook = webhook{url: u, secret: p["secret_token"], allowed: p["allowed_updates"]}
		if !s.delivering {
			s.delivering = true
			go s.deliver()
		}
		return http.StatusOK, ok
	case "deleteWebhook":
		if p["drop_pending_updates"] == "true" {
			s.updates, s.updateIDs = nil, nil
		}
		s.hook = webhook{}
		return http.StatusOK, ok
	default: // getWebhookInfo
		info := map[string]any{"url": s.hook.url, "has_custom_certificate": false, "pending_update_count": len(s.updates)}
		if s.hook.url != "" {
			info["max_connections"] = 40
		}
		if s.hook.lastErrDate != 0 {
			info["last_error_date"] = s.hook.lastErrDate
			info["last_error_message"] = s.hook.lastErrMsg
		}
		return http.StatusOK, map[string]any{"ok": true, "result": info}
	}
}

// WebhookRetry is how long the fake waits before repeating a delivery the
// bot did not answer with 2XY (Telegram's own interval is undocumented).
const WebhookRetry = 20 * time.Millisecond

// deliver POSTs pending updates to the webhook, one at a time, until the
// server closes. A 2XY answer confirms the update; any other answer, or
// none, is recorded for getWebhookInfo and the update sent again.
func (s *Server) deliver() {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		hook := s.hook
		if hook.url == "" || len(s.updates) == 0 {
			ch := s.changed
			s.mu.Unlock()
			<-ch
			continue
		}
		raw, id := s.updates[0], s.updateIDs[0]
		client := s.WebhookClient
		s.mu.Unlock()
		if client == nil {
			client = http.DefaultClient
		}
		status, err := post(client, hook, raw)
		s.mu.Lock()
		if err == nil && status/100 == 2 {
			if len(s.updateIDs) > 0 && s.updateIDs[0] == id {
				s.updateIDs, s.updates = s.updateIDs[1:], s.updates[1:]
			}
			s.taken = max(s.taken, id)
			s.webhookPosts++
			s.notifyLocked()
			s.mu.Unlock()
			continue
		}
		s.webhookPosts++
		s.hook.lastErrDate = s.now().Unix()
		if err != nil {
			s.hook.lastErrMsg = "Connection refused"
		} else {
			s.hook.lastErrMsg = fmt.Sprintf("Wrong response from the webhook: %d %s", status, http.StatusText(status))
		}
		s.notifyLocked()
		s.mu.Unlock()
		time.Sleep(WebhookRetry)
	}
}

// post sends one update to the webhook as Telegram does: a POST of the
// JSON-serialized Update, with the secret header when a secret is set.
func post(client *http.Client, hook webhook, raw json.RawMessage) (int, error) {
	req, err := http.NewRequest(http.MethodPost, hook.url, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if hook.secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", hook.secret)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// WebhookPosts reports how many webhook requests the fake has made,
// failed ones included.
func (s *Server) WebhookPosts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhookPosts
}

// UpdateJSON returns the JSON of a text message from u in its private
// chat with update id id, as Telegram would POST it: for tests that
// send an update to a webhook handler themselves.
func UpdateJSON(id int, u User, text string) []byte {
	msg := map[string]any{
		"message_id": id,
		"date":       time.Now().Unix(),
		"chat":       chatJSON(Private(u)),
		"from":       userJSON(u),
		"text":       text,
	}
	if cmd, _, _ := strings.Cut(text, " "); strings.HasPrefix(cmd, "/") {
		msg["entities"] = []any{map[string]any{"type": "bot_command", "offset": 0, "length": len(cmd)}}
	}
	raw, err := json.Marshal(map[string]any{"update_id": id, "message": msg})
	if err != nil {
		panic(err)
	}
	return raw
}
