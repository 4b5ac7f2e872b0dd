package bot

import (
	"errors"
	"fmt"
	"html"
	"net/url"
	"strings"
	"unicode/utf8"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// Webhook endpoints from the bot (issue 16 item 1): 🔑 API → 🪝 Webhooks
// lists the user's endpoints, adds one (the URL is typed; the shop
// validates it), and per endpoint sends a test event, shows the last
// deliveries, rotates the secret, re-enables a disabled one and deletes.
// A secret (whsec_…) is shown once, in a message the user hides as the
// API key's (apikeys.go): never logged, never in callback data. Endpoints
// added here get every event type; the API filters by type.

// stepWebhookURL is the chat state of a typed webhook URL.
const stepWebhookURL = "webhook_url"

// Buttons of the webhook screens. The argument is a webhook id, "wh_" and
// 26 base32 characters: at most 34 bytes of callback data.
const (
	cbWh       = "wh"  // the list of endpoints
	cbWhAdd    = "wha" // ask for a new endpoint's URL
	cbWhView   = "whv" // id: one endpoint
	cbWhTest   = "wht" // id: queue a webhook.test event
	cbWhLog    = "whl" // id: the last deliveries
	cbWhRotAsk = "whr" // id: confirm a secret rotation
	cbWhRot    = "why" // id: rotate the secret
	cbWhDelAsk = "whd" // id: confirm the deletion
	cbWhDel    = "whx" // id: delete
	cbWhEnable = "whe" // id: re-enable a disabled endpoint
	cbWhHide   = "whh" // id: hide the one-time secret message
)

const (
	whDeliveriesShown = 5  // deliveries on the log screen
	whListed          = 20 // endpoints with a button on the list
	whURLShown        = 120
)

// webhookRoutes registers the webhook screens' buttons.
func (b *Bot) webhookRoutes() {
	for unique, fn := range map[string]func(*turn) error{
		cbWh: b.onWebhooks, cbWhAdd: b.onWebhookAdd, cbWhView: b.onWebhookView,
		cbWhTest: b.onWebhookTest, cbWhLog: b.onWebhookLog, cbWhRotAsk: b.onWebhookRotateAsk,
		cbWhRot: b.onWebhookRotate, cbWhDelAsk: b.onWebhookDeleteAsk, cbWhDel: b.onWebhookDelete,
		cbWhEnable: b.onWebhookEnable, cbWhHide: b.onWebhookHide,
	} {
		b.on(&tele.InlineButton{Unique: unique}, fn)
	}
}

// validWebhookID reports whether s could be a webhook id (shop's
// newEventID("wh_"): 26 lowercase base32 characters).
func validWebhookID(s string) bool {
	rest, ok := strings.CutPrefix(s, "wh_")
	if !ok || len(rest) != 26 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// webhookURLShown is an endpoint's URL as the screens show it: scheme,
// host and path, without credentials, query or fragment (a query may hold
// a token; "?…" says there is one), at most whURLShown characters.
// Callers escape it.
func webhookURLShown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "?"
	}
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?…"
	}
	return clipRunes(s, whURLShown)
}

// clipRunes cuts s to n characters, the last an ellipsis when cut.
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// ---- the list ---------------------------------------------------------------

// onWebhooks lists the user's endpoints.
func (b *Bot) onWebhooks(t *turn) error { return b.showWebhooks(t, "") }

// showWebhooks shows the list, after head (a line saying what just
// happened, or "").
func (b *Bot) showWebhooks(t *turn, head string) error {
	ws, err := b.Shop.Webhooks(t.ctx, t.user.ID)
	if err != nil {
		return t.fail(err)
	}
	var list strings.Builder
	kb := keyboard{}
	for i, w := range ws {
		line := t.T("wh.line", i+1, webhookMark(w), html.EscapeString(webhookURLShown(w.URL)), t.webhookState(w), t.webhookTypes(w))
		if !fits(&list, "\n\n"+line) {
			list.WriteString("\n\n" + t.T("wh.more", len(ws)-i))
			break
		}
		if i < whListed {
			kb = append(kb, []tele.InlineButton{button(webhookLabel(i+1, w), cbWhView, w.ID)})
		}
	}
	if len(ws) == 0 {
		list.WriteString("\n\n" + t.T("wh.none"))
	}
	kb = append(kb,
		[]tele.InlineButton{button(t.T("btn.wh_add"), cbWhAdd)},
		[]tele.InlineButton{button(t.T("btn.back_api"), cbAPI, keyOrders), t.btnMenu()})
	return t.show(head+t.T("wh.screen", shop.MaxWebhooks)+list.String(), kb)
}

// webhookMark is an endpoint's state at a glance.
func webhookMark(w *shop.Webhook) string {
	switch {
	case !w.Enabled():
		return "⛔"
	case !w.FailingSince.IsZero():
		return "⚠️"
	}
	return "✅"
}

// webhookLabel is an endpoint's button on the list: its number, state and
// host and path, cut to fit a row of its own.
func webhookLabel(n int, w *shop.Webhook) string {
	short := "?"
	if u, err := url.Parse(w.URL); err == nil && u.Host != "" {
		short = u.Host + u.EscapedPath()
	}
	prefix := fmt.Sprintf("%d. %s ", n, webhookMark(w))
	return prefix + clipRunes(short, MaxButtonRunes(1)-utf8.RuneCountInString(prefix))
}

// webhookState is "enabled", "enabled, failing since …" or "disabled:
// reason".
func (t *turn) webhookState(w *shop.Webhook) string {
	if !w.Enabled() {
		return t.T("wh.disabled", formatTime(w.DisabledAt), html.EscapeString(truncateReason(w.DisabledReason)))
	}
	if !w.FailingSince.IsZero() {
		return t.T("wh.failing", formatTime(w.FailingSince))
	}
	return t.T("wh.enabled")
}

// webhookTypes is the event types an endpoint gets.
func (t *turn) webhookTypes(w *shop.Webhook) string {
	if len(w.EventTypes) == 0 {
		return t.T("wh.all")
	}
	s := make([]string, len(w.EventTypes))
	for i, typ := range w.EventTypes {
		s[i] = "<code>" + html.EscapeString(string(typ)) + "</code>"
	}
	return strings.Join(s, ", ")
}

// ---- adding -----------------------------------------------------------------

// onWebhookAdd asks for the URL of a new endpoint, unless the user already
// has the most enabled endpoints allowed.
func (b *Bot) onWebhookAdd(t *turn) error {
	ws, err := b.Shop.Webhooks(t.ctx, t.user.ID)
	if err != nil {
		return t.fail(err)
	}
	enabled := 0
	for _, w := range ws {
		if w.Enabled() {
			enabled++
		}
	}
	if enabled >= shop.MaxWebhooks {
		return t.show(t.T("wh.err_limit", shop.MaxWebhooks), keyboard{{button(t.T("btn.wh_back"), cbWh), t.btnMenu()}})
	}
	if err := b.saveState(t.ctx, t.chat, chatState{Step: stepWebhookURL}); err != nil {
		return t.fail(err)
	}
	return t.show(t.T("wh.ask_url"), keyboard{{button(t.T("btn.cancel"), cbWh)}})
}

// onWebhookURLText registers the typed URL for every event type and shows
// the secret once. A URL the shop refuses is explained, and the next text
// is read as a URL again.
func (b *Bot) onWebhookURLText(t *turn, st *chatState, text string) error {
	w, err := b.Shop.CreateWebhook(t.ctx, t.user.ID, text, nil)
	if err != nil {
		if shop.ErrorCode(err) != shop.EVALIDATION {
			_ = b.clearState(t.ctx, t.chat)
			return t.fail(err)
		}
		why := t.webhookError(err)
		if strings.Contains(shop.ErrorMessage(err), "per account") { // the limit: another URL will not help
			_ = b.clearState(t.ctx, t.chat)
			return t.say(why, keyboard{{button(t.T("btn.wh_back"), cbWh), t.btnMenu()}})
		}
		_ = b.saveState(t.ctx, t.chat, *st)
		return t.say(why+"\n\n"+t.T("wh.again"), keyboard{{button(t.T("btn.cancel"), cbWh)}})
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return t.fail(err)
	}
	b.Logger.Info("telegram webhook endpoint created", "user_id", t.user.ID, "webhook", w.ID)
	return t.say(t.T("wh.secret", html.EscapeString(webhookURLShown(w.URL)), html.EscapeString(w.Secret.Reveal())),
		keyboard{{button(t.T("btn.wh_hide"), cbWhHide, w.ID)}})
}

// webhookError says why the shop refused a URL, in the user's language.
// The shop's reasons are English sentences (shop/webhook.go,
// checkWebhookURL and CreateWebhook); the known ones are translated, any
// other is shown as the shop wrote it.
func (t *turn) webhookError(err error) string {
	msg := shop.ErrorMessage(err)
	switch {
	case strings.Contains(msg, "public addresses"), strings.Contains(msg, "has no address"):
		return t.T("wh.err_private")
	case strings.Contains(msg, "does not resolve"):
		return t.T("wh.err_resolve")
	case strings.Contains(msg, "must use https"), strings.Contains(msg, "must start with https"):
		return t.T("wh.err_https")
	case strings.Contains(msg, "credentials"):
		return t.T("wh.err_credentials")
	case strings.Contains(msg, "per account"):
		return t.T("wh.err_limit", shop.MaxWebhooks)
	case strings.Contains(msg, "absolute"), strings.Contains(msg, "is required"):
		return t.T("wh.err_form")
	}
	return t.T("wh.err_other", html.EscapeString(msg))
}

// ---- one endpoint -----------------------------------------------------------

// webhookOf returns the endpoint the pressed button names. nil means the
// press is answered already: a malformed id as a stale button, an
// endpoint that no longer exists (or is another user's) by saying so and
// showing the list.
func (b *Bot) webhookOf(t *turn) (*shop.Webhook, error) {
	id := t.Data()
	if !validWebhookID(id) {
		return nil, t.answer(t.T("err.stale_button"), true)
	}
	w, err := b.Shop.FindWebhook(t.ctx, t.user.ID, id)
	if shop.ErrorCode(err) == shop.ENOTFOUND {
		return nil, b.webhookGone(t)
	}
	if err != nil {
		return nil, t.fail(err)
	}
	return w, nil
}

// webhookGone answers a button of an endpoint that no longer exists.
func (b *Bot) webhookGone(t *turn) error {
	if err := t.answer(t.T("wh.gone"), true); err != nil {
		return err
	}
	return b.showWebhooks(t, "")
}

// onWebhookView shows one endpoint.
func (b *Bot) onWebhookView(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	return b.showWebhook(t, w, "")
}

// showWebhook shows an endpoint and what can be done with it, after head.
func (b *Bot) showWebhook(t *turn, w *shop.Webhook, head string) error {
	text, kb := b.webhookView(t, w, head)
	return t.show(text, kb)
}

// webhookView is an endpoint's screen: its URL, id, state, event types
// and secret's age, and its buttons.
func (b *Bot) webhookView(t *turn, w *shop.Webhook, head string) (string, keyboard) {
	secret := t.T("wh.secret_since", formatDate(w.CreatedAt))
	if !w.SecretRotatedAt.IsZero() {
		secret = t.T("wh.secret_since", formatDate(w.SecretRotatedAt))
	}
	if w.PreviousSecret != "" && b.Now().Before(w.PreviousExpires) {
		secret += t.T("wh.previous", formatTime(w.PreviousExpires))
	}
	text := head + t.T("wh.view", html.EscapeString(webhookURLShown(w.URL)), w.ID, t.webhookState(w), t.webhookTypes(w), formatDate(w.CreatedAt), secret)
	first := []tele.InlineButton{button(t.T("btn.wh_test"), cbWhTest, w.ID), button(t.T("btn.wh_log"), cbWhLog, w.ID)}
	if !w.Enabled() {
		first[0] = button(t.T("btn.wh_enable"), cbWhEnable, w.ID)
	}
	return text, keyboard{
		first,
		{button(t.T("btn.wh_rotate"), cbWhRotAsk, w.ID), button(t.T("btn.wh_delete"), cbWhDelAsk, w.ID)},
		{button(t.T("btn.wh_back"), cbWh), t.btnMenu()},
	}
}

// onWebhookTest queues a webhook.test event for the endpoint.
func (b *Bot) onWebhookTest(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	d, err := b.Shop.TestWebhook(t.ctx, t.user.ID, w.ID)
	switch shop.ErrorCode(err) {
	case "":
	case shop.ENOTFOUND:
		return b.webhookGone(t)
	case shop.EINVALIDSTATE: // disabled meanwhile
		if err := t.answer(t.T("wh.test_disabled"), true); err != nil {
			return err
		}
		return b.showWebhook(t, w, "")
	default:
		return t.fail(err)
	}
	return t.show(t.T("wh.test_queued", html.EscapeString(webhookURLShown(w.URL)), d.ID), keyboard{
		{button(t.T("btn.wh_log"), cbWhLog, w.ID), button(t.T("btn.wh_endpoint"), cbWhView, w.ID)},
	})
}

// onWebhookLog shows the endpoint's last deliveries.
func (b *Bot) onWebhookLog(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	ds, _, err := b.Shop.WebhookDeliveries(t.ctx, t.user.ID, w.ID, 0, whDeliveriesShown)
	if shop.ErrorCode(err) == shop.ENOTFOUND {
		return b.webhookGone(t)
	} else if err != nil {
		return t.fail(err)
	}
	var s strings.Builder
	for _, d := range ds {
		s.WriteString("\n\n" + t.webhookDelivery(d))
	}
	if len(ds) == 0 {
		s.WriteString("\n\n" + t.T("wh.log_none"))
	}
	return t.show(t.T("wh.log", html.EscapeString(webhookURLShown(w.URL)), whDeliveriesShown)+s.String(), keyboard{
		{button(t.T("btn.wh_refresh"), cbWhLog, w.ID), button(t.T("btn.wh_endpoint"), cbWhView, w.ID)},
	})
}

// webhookDelivery is one line of the log: id, event type, status,
// attempts, the last answer and when.
func (t *turn) webhookDelivery(d *shop.WebhookDelivery) string {
	var status string
	switch d.Status {
	case shop.WebhookDelivered:
		status = t.T("wh.st_delivered")
	case shop.WebhookFailed:
		status = t.T("wh.st_failed")
	default:
		status = t.T("wh.st_pending")
	}
	last := "—"
	switch {
	case d.LastStatusCode != 0:
		last = fmt.Sprintf("HTTP %d", d.LastStatusCode)
	case d.LastError != "":
		last = html.EscapeString(clipRunes(d.LastError, 100))
	}
	when := t.T("wh.queued_at", formatTime(d.CreatedAt))
	if !d.LastAttemptAt.IsZero() {
		when = t.T("wh.tried_at", formatTime(d.LastAttemptAt))
	}
	if d.Status == shop.WebhookPending && !d.NextAttemptAt.IsZero() && d.Attempts > 0 {
		when += t.T("wh.next_at", formatTime(d.NextAttemptAt))
	}
	if d.Status != shop.WebhookDelivered && d.LastStatusCode != 0 && d.LastError != "" && d.LastError != last {
		last += " (" + html.EscapeString(clipRunes(d.LastError, 100)) + ")"
	}
	return t.T("wh.delivery", d.ID, html.EscapeString(string(d.EventType)), status, d.Attempts, last, when)
}

// onWebhookEnable re-enables a disabled endpoint.
func (b *Bot) onWebhookEnable(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	on, err := b.Shop.EnableWebhook(t.ctx, t.user.ID, w.ID)
	switch shop.ErrorCode(err) {
	case "":
	case shop.ENOTFOUND:
		return b.webhookGone(t)
	case shop.EVALIDATION: // the limit of enabled endpoints
		if err := t.answer(clipRunes(stripTags(t.webhookError(err)), 200), true); err != nil {
			return err
		}
		return b.showWebhook(t, w, "")
	default:
		return t.fail(err)
	}
	if w.Enabled() {
		return b.showWebhook(t, on, "")
	}
	b.Logger.Info("telegram webhook endpoint re-enabled", "user_id", t.user.ID, "webhook", w.ID)
	return b.showWebhook(t, on, t.T("wh.enabled_now")+"\n\n")
}

// stripTags removes the HTML tags of a catalog text (for a callback
// answer, which is plain text).
func stripTags(s string) string {
	var out strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			out.WriteString(s)
			return html.UnescapeString(out.String())
		}
		out.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return html.UnescapeString(out.String())
		}
		s = s[i+j+1:]
	}
}

// onWebhookRotateAsk confirms a secret rotation.
func (b *Bot) onWebhookRotateAsk(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	return t.show(t.T("wh.rotate_ask", html.EscapeString(webhookURLShown(w.URL))), keyboard{
		{button(t.T("btn.wh_yes_rotate"), cbWhRot, w.ID)},
		{button(t.T("btn.cancel"), cbWhView, w.ID)},
	})
}

// onWebhookRotate gives the endpoint a new secret and shows it once; the
// old one keeps signing beside it for shop.SecretOverlap.
func (b *Bot) onWebhookRotate(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	w, err = b.Shop.RotateWebhookSecret(t.ctx, t.user.ID, w.ID)
	if shop.ErrorCode(err) == shop.ENOTFOUND {
		return b.webhookGone(t)
	} else if err != nil {
		return t.fail(err)
	}
	b.Logger.Info("telegram webhook secret rotated", "user_id", t.user.ID, "webhook", w.ID)
	return t.show(t.T("wh.rotated", html.EscapeString(webhookURLShown(w.URL)), html.EscapeString(w.Secret.Reveal()), formatTime(w.PreviousExpires)),
		keyboard{{button(t.T("btn.wh_hide"), cbWhHide, w.ID)}})
}

// onWebhookHide deletes the one-time secret message (or, when Telegram
// refuses to delete it, edits the secret away) and shows the endpoint. A
// message without a secret is left alone.
func (b *Bot) onWebhookHide(t *turn) error {
	if cb := t.Callback(); cb != nil && cb.Message != nil && strings.Contains(cb.Message.Text, shop.WebhookSecretPrefix) {
		t.finish()
		err := b.deliver(t.ctx, t.chat, func() error { return b.tb.Delete(cb.Message) })
		if err != nil && !errors.Is(err, errBlocked) {
			b.Logger.Info("telegram delete failed; editing the webhook secret away", "chat_id", t.chat, "error", b.redact(err))
			if err := b.editText(t.ctx, t.chat, cb.Message.ID, t.T("wh.secret_hidden"), nil); err != nil {
				b.Logger.Info("telegram webhook secret message not edited", "chat_id", t.chat, "error", b.redact(err))
			}
		}
	}
	id := t.Data()
	if !validWebhookID(id) {
		return t.answer(t.T("err.stale_button"), true)
	}
	w, err := b.Shop.FindWebhook(t.ctx, t.user.ID, id)
	if shop.ErrorCode(err) == shop.ENOTFOUND {
		return b.webhookGone(t)
	} else if err != nil {
		return t.fail(err)
	}
	return t.say(b.webhookView(t, w, ""))
}

// onWebhookDeleteAsk confirms a deletion.
func (b *Bot) onWebhookDeleteAsk(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	return t.show(t.T("wh.delete_ask", html.EscapeString(webhookURLShown(w.URL))), keyboard{
		{button(t.T("btn.wh_yes_delete"), cbWhDel, w.ID)},
		{button(t.T("btn.cancel"), cbWhView, w.ID)},
	})
}

// onWebhookDelete deletes the endpoint and shows the list.
func (b *Bot) onWebhookDelete(t *turn) error {
	w, err := b.webhookOf(t)
	if w == nil {
		return err
	}
	err = b.Shop.DeleteWebhook(t.ctx, t.user.ID, w.ID)
	if err != nil && shop.ErrorCode(err) != shop.ENOTFOUND {
		return t.fail(err)
	}
	b.Logger.Info("telegram webhook endpoint deleted", "user_id", t.user.ID, "webhook", w.ID)
	return b.showWebhooks(t, t.T("wh.deleted", html.EscapeString(webhookURLShown(w.URL)))+"\n\n")
}

func init() {
	for lang, texts := range map[string]map[string]string{
		"en": {
			"btn.webhooks":      "🪝 Webhooks",
			"btn.wh_add":        "➕ Add an endpoint",
			"btn.wh_back":       "‹ Webhooks",
			"btn.wh_hide":       "✅ I saved it, hide the secret",
			"btn.wh_test":       "📨 Send a test",
			"btn.wh_log":        "📜 Deliveries",
			"btn.wh_enable":     "✅ Re-enable",
			"btn.wh_rotate":     "🔄 Rotate secret",
			"btn.wh_delete":     "🗑 Delete",
			"btn.wh_endpoint":   "‹ Endpoint",
			"btn.wh_refresh":    "🔄 Refresh",
			"btn.wh_yes_rotate": "Yes, rotate the secret",
			"btn.wh_yes_delete": "Yes, delete the endpoint",
			"wh.screen": "🪝 <b>Webhooks</b>\n\n" +
				"Your server gets a signed HTTP POST (Standard Webhooks) for each event of your orders and balance. At most %d enabled endpoints.\n\n" +
				"Endpoints added here get <b>all event types</b>. To subscribe to some types only, create the endpoint through the API " +
				"(<code>POST /api/v1/webhooks</code> with <code>event_types</code>); replaying missed events is in the API too.",
			"wh.none":            "No endpoints yet.",
			"wh.more":            "…and %d more: see the API.",
			"wh.line":            "%d. %s <code>%s</code>\n%s · %s",
			"wh.enabled":         "enabled",
			"wh.failing":         "enabled, failing since %s",
			"wh.disabled":        "disabled since %s: %s",
			"wh.all":             "all event types",
			"wh.view":            "🪝 <b>Webhook endpoint</b>\n\n<code>%s</code>\nID: <code>%s</code>\nState: %s\nEvents: %s\nCreated: %s\nSigning secret: %s",
			"wh.secret_since":    "set %s",
			"wh.previous":        "; the previous one also signs until %s",
			"wh.ask_url":         "🪝 Send the URL of your endpoint, for example <code>https://example.com/webhooks</code>.\n\nIt gets all event types (to pick types, use the API). It must be a public address, with https:// (required on mainnet) and without a user name or password.",
			"wh.again":           "Send another URL, or press Cancel.",
			"wh.err_private":     "🚫 This URL's host is a loopback, private, link-local or reserved address. Webhooks go only to public addresses on the internet.",
			"wh.err_resolve":     "🚫 This URL's host name does not resolve. Check it for typos.",
			"wh.err_https":       "🚫 The URL must start with https://.",
			"wh.err_credentials": "🚫 The URL must not contain a user name or password: deliveries are authenticated by their signature.",
			"wh.err_limit":       "🚫 You have %d enabled endpoints, the most allowed. Delete one first.",
			"wh.err_form":        "🚫 That is not a URL. Send a full address such as https://example.com/webhooks.",
			"wh.err_other":       "🚫 This URL was refused: %s",
			"wh.secret": "🪝 <b>Endpoint added</b>: <code>%s</code>, for all event types.\n\nIts signing secret:\n<code>%s</code>\n\n" +
				"⚠️ This is the only time the secret is shown: save it now, then hide it. Check each delivery's <code>webhook-signature</code> with it (Standard Webhooks). Lost it? Rotate it.",
			"wh.secret_hidden": "🪝 The webhook secret was shown here once and is now hidden.",
			"wh.gone":          "This webhook endpoint no longer exists.",
			"wh.test_disabled": "This endpoint is disabled: re-enable it first.",
			"wh.test_queued":   "📨 A <code>webhook.test</code> event is queued for <code>%s</code> (delivery <code>whd_%d</code>). It is sent within seconds; 📜 Deliveries shows the outcome.",
			"wh.log":           "📜 <b>Last deliveries</b> to <code>%s</code>, newest first (at most %d):",
			"wh.log_none":      "No deliveries yet.",
			"wh.delivery":      "• <code>whd_%d</code> <code>%s</code>: %s\nattempts: %d · last answer: %s · %s",
			"wh.st_delivered":  "✅ delivered",
			"wh.st_failed":     "❌ failed",
			"wh.st_pending":    "⏳ pending",
			"wh.queued_at":     "queued %s",
			"wh.tried_at":      "last try %s",
			"wh.next_at":       ", next %s",
			"wh.enabled_now":   "✅ Endpoint re-enabled. Replay what it missed through the API (<code>POST /api/v1/webhooks/{id}/replay</code>).",
			"wh.rotate_ask":    "🔄 Rotate the signing secret of <code>%s</code>?\n\nA new secret is shown once. The old secret keeps signing beside the new one for 24 hours, so your server can switch without missing a delivery.",
			"wh.rotated": "🔄 <b>New signing secret</b> of <code>%s</code>:\n\n<code>%s</code>\n\n" +
				"⚠️ This is the only time it is shown: save it now, then hide it. The old secret keeps signing beside the new one for 24 hours, until %s.",
			"wh.delete_ask": "🗑 Delete the endpoint <code>%s</code>? No more events are sent to it, and its pending deliveries are dropped.",
			"wh.deleted":    "🗑 Endpoint <code>%s</code> deleted.",
		},
		"ru": {
			"btn.webhooks":      "🪝 Вебхуки",
			"btn.wh_add":        "➕ Добавить вебхук",
			"btn.wh_back":       "‹ Вебхуки",
			"btn.wh_hide":       "✅ Сохранил, скрыть секрет",
			"btn.wh_test":       "📨 Тестовое событие",
			"btn.wh_log":        "📜 Доставки",
			"btn.wh_enable":     "✅ Включить снова",
			"btn.wh_rotate":     "🔄 Новый секрет",
			"btn.wh_delete":     "🗑 Удалить",
			"btn.wh_endpoint":   "‹ К вебхуку",
			"btn.wh_refresh":    "🔄 Обновить",
			"btn.wh_yes_rotate": "Да, выпустить новый секрет",
			"btn.wh_yes_delete": "Да, удалить вебхук",
			"wh.screen": "🪝 <b>Вебхуки</b>\n\n" +
				"Ваш сервер получает подписанный HTTP POST (Standard Webhooks) о каждом событии ваших заказов и баланса. Включённых вебхуков — не больше %d.\n\n" +
				"Вебхуки, добавленные здесь, получают <b>все типы событий</b>. Чтобы подписаться только на некоторые, создайте вебхук через API " +
				"(<code>POST /api/v1/webhooks</code> с <code>event_types</code>); повторная отправка пропущенных событий — тоже в API.",
			"wh.none":            "Вебхуков пока нет.",
			"wh.more":            "…и ещё %d: смотрите в API.",
			"wh.line":            "%d. %s <code>%s</code>\n%s · %s",
			"wh.enabled":         "включён",
			"wh.failing":         "включён, ошибки с %s",
			"wh.disabled":        "отключён с %s: %s",
			"wh.all":             "все типы событий",
			"wh.view":            "🪝 <b>Вебхук</b>\n\n<code>%s</code>\nID: <code>%s</code>\nСостояние: %s\nСобытия: %s\nСоздан: %s\nСекрет подписи: %s",
			"wh.secret_since":    "выпущен %s",
			"wh.previous":        "; прежний тоже подписывает до %s",
			"wh.ask_url":         "🪝 Отправьте URL вашего вебхука, например <code>https://example.com/webhooks</code>.\n\nОн будет получать все типы событий (выбрать типы можно через API). Адрес должен быть публичным, с https:// (обязательно в основной сети) и без имени пользователя и пароля.",
			"wh.again":           "Отправьте другой URL или нажмите «Отмена».",
			"wh.err_private":     "🚫 Хост этого URL — loopback-, частный, link-local или зарезервированный адрес. Вебхуки отправляются только на публичные адреса в интернете.",
			"wh.err_resolve":     "🚫 Имя хоста этого URL не разрешается в адрес. Проверьте, нет ли опечатки.",
			"wh.err_https":       "🚫 URL должен начинаться с https://.",
			"wh.err_credentials": "🚫 В URL не должно быть имени пользователя и пароля: доставки подтверждаются подписью.",
			"wh.err_limit":       "🚫 У вас %d включённых вебхуков — это максимум. Сначала удалите один.",
			"wh.err_form":        "🚫 Это не URL. Отправьте полный адрес, например https://example.com/webhooks.",
			"wh.err_other":       "🚫 URL не принят: %s",
			"wh.secret": "🪝 <b>Вебхук добавлен</b>: <code>%s</code>, все типы событий.\n\nЕго секрет подписи:\n<code>%s</code>\n\n" +
				"⚠️ Секрет показывается только сейчас: сохраните его и скройте. Проверяйте им <code>webhook-signature</code> каждой доставки (Standard Webhooks). Потеряли — выпустите новый.",
			"wh.secret_hidden": "🪝 Здесь один раз был показан секрет вебхука; теперь он скрыт.",
			"wh.gone":          "Этого вебхука больше нет.",
			"wh.test_disabled": "Этот вебхук отключён: сначала включите его.",
			"wh.test_queued":   "📨 Событие <code>webhook.test</code> поставлено в очередь для <code>%s</code> (доставка <code>whd_%d</code>). Оно уйдёт в течение нескольких секунд; результат — в 📜 Доставках.",
			"wh.log":           "📜 <b>Последние доставки</b> на <code>%s</code>, сначала новые (не больше %d):",
			"wh.log_none":      "Доставок пока нет.",
			"wh.delivery":      "• <code>whd_%d</code> <code>%s</code>: %s\nпопыток: %d · последний ответ: %s · %s",
			"wh.st_delivered":  "✅ доставлено",
			"wh.st_failed":     "❌ не доставлено",
			"wh.st_pending":    "⏳ ожидает",
			"wh.queued_at":     "в очереди с %s",
			"wh.tried_at":      "последняя попытка %s",
			"wh.next_at":       ", следующая %s",
			"wh.enabled_now":   "✅ Вебхук снова включён. Пропущенное можно отправить повторно через API (<code>POST /api/v1/webhooks/{id}/replay</code>).",
			"wh.rotate_ask":    "🔄 Выпустить новый секрет подписи для <code>%s</code>?\n\nНовый секрет будет показан один раз. Старый секрет ещё 24 часа подписывает доставки вместе с новым, чтобы ваш сервер успел перейти без пропусков.",
			"wh.rotated": "🔄 <b>Новый секрет подписи</b> для <code>%s</code>:\n\n<code>%s</code>\n\n" +
				"⚠️ Он показывается только сейчас: сохраните его и скройте. Старый секрет ещё 24 часа подписывает доставки вместе с новым, до %s.",
			"wh.delete_ask": "🗑 Удалить вебхук <code>%s</code>? События на него больше не отправляются, ожидающие доставки отменяются.",
			"wh.deleted":    "🗑 Вебхук <code>%s</code> удалён.",
		},
	} {
		for k, v := range texts {
			catalogs[lang][k] = v
		}
	}
}
