package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	tele "gopkg.in/telebot.v3"
)

// Webhook mode (WebhookURL set): Telegram POSTs each update to the URL
// and any replica behind the load balancer may serve it, so several
// replicas can run the bot at once. Long polling (the default) allows one
// poller per token: a second getUpdates gets 409 Conflict.
//
// What the Bot API documents (https://core.telegram.org/bots/api#setwebhook,
// #getwebhookinfo, #deletewebhook, #update) and this file relies on:
//   - setWebhook(url, secret_token, allowed_updates, drop_pending_updates)
//     returns True; with a secret_token every request carries it in the
//     header "X-Telegram-Bot-Api-Secret-Token".
//   - A request answered with a status other than 2XY is repeated; so is,
//     in practice, one that times out: the same update may come twice,
//     and update_id "allows you to ignore repeated updates".
//   - getUpdates does not work while a webhook is set: switching back to
//     polling needs deleteWebhook first.
//   - getWebhookInfo reports last_error_date and last_error_message of
//     the latest failed delivery: the health probe shows them.

// WebhookSecretHeader is the header in which Telegram sends the
// secret_token given to setWebhook.
const WebhookSecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// Defaults of webhook mode.
const (
	DefaultWebhookInfoInterval = time.Minute     // how often getWebhookInfo is asked, for /health
	DefaultWebhookWait         = 5 * time.Second // longest a webhook request waits for its update to be handled
	maxWebhookBody             = 1 << 20         // an Update is a few KiB; 1 MiB is plenty
	recentUpdateIDs            = 4096            // update ids remembered to refuse a redelivery
	webhookSecretContext       = "starsbot telegram webhook secret_token v1"
)

// webhookSecretRE is setWebhook's rule for secret_token: "1-256
// characters. Only characters A-Z, a-z, 0-9, _ and - are allowed".
var webhookSecretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// DeriveWebhookSecret is the secret_token used when none is configured:
// HMAC-SHA256 of a fixed label keyed with the bot token, in unpadded
// base64url (43 characters of A-Z a-z 0-9 _ -). Every replica with the
// same token derives the same secret; it reveals nothing about the token.
func DeriveWebhookSecret(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(webhookSecretContext))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// webhookState is what webhook mode keeps; zero in polling mode.
type webhookState struct {
	ready      atomic.Bool  // setWebhook succeeded and Run accepts updates
	lastUpdate atomic.Int64 // Unix ns of the last update accepted by the handler; 0 before
	recent     recentIDs

	infoMu      sync.Mutex
	infoOK      time.Time // last successful getWebhookInfo
	infoFailing bool      // the latest getWebhookInfo or setWebhook failed
	lastErrDate time.Time // getWebhookInfo's last_error_date
	lastErrMsg  string    // getWebhookInfo's last_error_message
	urlMismatch bool      // getWebhookInfo names another URL than ours
}

// initWebhook checks and completes the webhook settings.
func (b *Bot) initWebhook() error {
	if b.WebhookURL == "" {
		return nil
	}
	u, err := url.Parse(b.WebhookURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("bot: WebhookURL must be an absolute https URL")
	}
	if b.WebhookSecret == "" {
		b.WebhookSecret = DeriveWebhookSecret(b.Token)
	}
	if !webhookSecretRE.MatchString(b.WebhookSecret) {
		return errors.New("bot: WebhookSecret must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
	}
	if b.WebhookInfoInterval <= 0 {
		b.WebhookInfoInterval = DefaultWebhookInfoInterval
	}
	if b.WebhookWait <= 0 {
		b.WebhookWait = DefaultWebhookWait
	}
	return nil
}

// WebhookPath is the path of WebhookURL, which WebhookHandler serves
// ("/" for none); "" in polling mode.
func (b *Bot) WebhookPath() string {
	if b.WebhookURL == "" {
		return ""
	}
	u, err := url.Parse(b.WebhookURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// allowedUpdates are the update types the bot asks for, by polling or
// by webhook.
var allowedUpdates = []string{"message", "callback_query"}

// runWebhook registers the webhook (retrying until it succeeds or ctx is
// done), then asks getWebhookInfo every WebhookInfoInterval for /health
// until ctx is done. It never calls getUpdates.
func (b *Bot) runWebhook(ctx context.Context) {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		call, cancel := context.WithTimeout(ctx, 30*time.Second)
		// Idempotent: every replica sets the same URL, secret and types
		// at its start. drop_pending_updates is false, so that updates
		// sent while no replica ran are delivered now.
		err := b.raw(call, "setWebhook", map[string]any{
			"url":                  b.WebhookURL,
			"secret_token":         b.WebhookSecret,
			"allowed_updates":      allowedUpdates,
			"drop_pending_updates": false,
		}, nil)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		b.setInfoFailing(true)
		backoff = nextBackoff(err, backoff)
		b.Logger.Warn("telegram setWebhook failed", "error", b.redact(err), "retry_in", backoff)
		if b.Sleep(ctx, backoff) != nil {
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	b.wh.ready.Store(true)
	b.Logger.Info("telegram webhook set; updates arrive by HTTP", "path", b.WebhookPath())
	for {
		b.webhookInfo(ctx)
		if sleepCtx(ctx, b.WebhookInfoInterval) != nil {
			return
		}
	}
}

// webhookInfo asks getWebhookInfo and keeps its error fields for /health.
func (b *Bot) webhookInfo(ctx context.Context) {
	var info struct {
		URL              string `json:"url"`
		PendingCount     int    `json:"pending_update_count"`
		LastErrorDate    int64  `json:"last_error_date"`
		LastErrorMessage string `json:"last_error_message"`
	}
	call, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := b.raw(call, "getWebhookInfo", nil, &info)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			b.setInfoFailing(true)
			b.Logger.Warn("telegram getWebhookInfo failed", "error", b.redact(err))
		}
		return
	}
	w := &b.wh
	w.infoMu.Lock()
	w.infoOK, w.infoFailing = b.Now(), false
	w.lastErrDate, w.lastErrMsg = time.Time{}, info.LastErrorMessage
	if info.LastErrorDate > 0 {
		w.lastErrDate = time.Unix(info.LastErrorDate, 0).UTC()
	}
	w.urlMismatch = info.URL != b.WebhookURL
	w.infoMu.Unlock()
	if info.URL != b.WebhookURL {
		// Another deployment (or a polling replica's deleteWebhook) moved
		// the webhook: say so, without the other URL (it may carry a secret path).
		b.Logger.Warn("telegram webhook is not ours any more; another process changed it", "set", info.URL != "")
	}
}

func (b *Bot) setInfoFailing(v bool) {
	b.wh.infoMu.Lock()
	b.wh.infoFailing = v
	b.wh.infoMu.Unlock()
}

// WebhookStatus is webhook mode as the health probe shows it.
type WebhookStatus struct {
	Ready            bool      // setWebhook succeeded; updates are accepted
	LastUpdate       time.Time // last update received by the handler; zero before
	InfoChecked      time.Time // last successful getWebhookInfo; zero before
	Failing          bool      // the latest setWebhook or getWebhookInfo failed
	LastErrorDate    time.Time // getWebhookInfo's last_error_date: Telegram's latest failed delivery
	LastErrorMessage string    // its last_error_message
	NotOurs          bool      // getWebhookInfo names another URL (or none)
}

// Webhook reports webhook mode's state; ok is false in polling mode.
func (b *Bot) Webhook() (s WebhookStatus, ok bool) {
	if b.WebhookURL == "" {
		return s, false
	}
	w := &b.wh
	s.Ready = w.ready.Load()
	if ns := w.lastUpdate.Load(); ns != 0 {
		s.LastUpdate = time.Unix(0, ns).UTC()
	}
	w.infoMu.Lock()
	s.InfoChecked, s.Failing, s.LastErrorDate, s.LastErrorMessage, s.NotOurs = w.infoOK, w.infoFailing, w.lastErrDate, w.lastErrMsg, w.urlMismatch
	w.infoMu.Unlock()
	return s, true
}

// WebhookHandler serves Telegram's webhook requests at WebhookPath: it
// checks the secret header in constant time (401 without it, 403 when
// wrong; nothing is read or handled), reads at most 1 MiB, decodes the
// Update and hands it to its chat's queue, the same pipeline and
// middleware as polling. It answers 200 once the update is handled, or
// after WebhookWait (it stays queued), so that Telegram does not send
// the next update of the chat, possibly to another replica, while this
// one runs: the open-source Bot API server (tdlib/telegram-bot-api,
// telegram-bot-api/WebhookActor.cpp: send_update, on_update_ok) sends the
// next update of a queue only once the previous one got its 2XY. An update_id it has seen recently is answered 200 and not
// handled again. Before setWebhook succeeded and after Run stopped it
// answers 503, and Telegram redelivers later.
func (b *Bot) WebhookHandler() http.Handler {
	return http.HandlerFunc(b.serveWebhook)
}

func (b *Bot) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get(WebhookSecretHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(b.WebhookSecret)) != 1 {
		status := http.StatusForbidden
		if got == "" {
			status = http.StatusUnauthorized
		}
		// Neither the expected nor the presented secret is logged.
		b.Logger.Warn("telegram webhook request refused: wrong or missing secret token", "status", status, "remote_addr", r.RemoteAddr, "header_present", got != "")
		http.Error(w, http.StatusText(status), status)
		return
	}
	if !b.wh.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	var u tele.Update
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxWebhookBody))
	if err := dec.Decode(&u); err != nil || u.ID <= 0 {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		b.Logger.Warn("telegram webhook request refused: not an Update", "remote_addr", r.RemoteAddr)
		http.Error(w, "bad update", http.StatusBadRequest)
		return
	}
	if !b.wh.recent.add(u.ID) {
		b.Logger.Info("telegram update received again; not handled twice", "update_id", u.ID)
		w.WriteHeader(http.StatusOK)
		return
	}
	b.wh.lastUpdate.Store(b.Now().UnixNano())
	chatID := updateChat(u)
	done := make(chan struct{})
	if !b.disp.enqueue(chatID, func() { defer close(done); b.process(u) }) {
		// Full or stopping: forget the id, so that Telegram's retry
		// (here or on another replica) is handled.
		b.wh.recent.remove(u.ID)
		b.Logger.Warn("telegram chat queue full or stopping; update refused for redelivery", "chat_id", chatID, "update_id", u.ID)
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	t := time.NewTimer(b.WebhookWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusOK)
}

// recentIDs is a bounded set of update ids, oldest forgotten first.
type recentIDs struct {
	mu   sync.Mutex
	slot map[int]int // id → its index in ring
	ring []int       // 0: free
	next int
}

// add records id and reports whether it is new.
func (r *recentIDs) add(id int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slot == nil {
		r.slot = make(map[int]int, recentUpdateIDs)
		r.ring = make([]int, recentUpdateIDs)
	}
	if _, dup := r.slot[id]; dup {
		return false
	}
	if old := r.ring[r.next]; old != 0 {
		delete(r.slot, old)
	}
	r.ring[r.next] = id
	r.slot[id] = r.next
	r.next = (r.next + 1) % len(r.ring)
	return true
}

// remove forgets id.
func (r *recentIDs) remove(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := r.slot[id]; ok {
		r.ring[i] = 0
		delete(r.slot, id)
	}
}

// leaveWebhook prepares long polling: when a webhook is set (an earlier
// run in webhook mode), it deletes it, since getUpdates does not work
// while one is. It reports whether polling may start.
func (b *Bot) leaveWebhook(ctx context.Context) bool {
	var info struct {
		URL string `json:"url"`
	}
	call, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.raw(call, "getWebhookInfo", nil, &info); err != nil {
		if ctx.Err() == nil {
			b.Logger.Warn("telegram getWebhookInfo failed", "error", b.redact(err))
		}
		return false
	}
	if info.URL == "" {
		return true
	}
	// drop_pending_updates false: the updates waiting for the webhook are
	// fetched by getUpdates instead.
	if err := b.raw(call, "deleteWebhook", map[string]any{"drop_pending_updates": false}, nil); err != nil {
		if ctx.Err() == nil {
			b.Logger.Warn("telegram deleteWebhook failed", "error", b.redact(err))
		}
		return false
	}
	b.Logger.Info("telegram webhook deleted: switching to long polling")
	return true
}

// nextBackoff is the wait after a failed call: a 429's retry_after, else
// doubling from 500 ms up to 30 s.
func nextBackoff(err error, prev time.Duration) time.Duration {
	var fe tele.FloodError
	switch {
	case errors.As(err, &fe) && fe.RetryAfter > 0:
		return time.Duration(fe.RetryAfter) * time.Second
	case prev == 0:
		return 500 * time.Millisecond
	default:
		return min(2*prev, 30*time.Second)
	}
}
