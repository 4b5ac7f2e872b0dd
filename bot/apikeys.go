package bot

import (
	"errors"
	"html"
	"net"
	"net/url"
	"strings"

	"starsbot/shop"
)

// onAPICommand is /api (the orders API, osk_ keys) or /api sk (the
// simple API, sk_ keys). Only private chats reach it: the middleware
// refuses groups before any key is looked at.
func (b *Bot) onAPICommand(t *turn) error {
	prefix := shop.KeyPrefixOrders
	if arg := strings.ToLower(strings.TrimSpace(t.Message().Payload)); arg == "sk" || arg == "sk_" || arg == "simple" {
		prefix = shop.KeyPrefixSimple
	}
	return b.apiScreen(t, prefix)
}

// onAPIButton is the API screen for the button's key kind.
func (b *Bot) onAPIButton(t *turn) error { return b.apiScreen(t, keyPrefix(t.Data())) }

// apiScreen shows the user's active key of prefix (its hint and creation
// date, never the key) or, when there is none, what the API is and what a
// key can do, with buttons that create one. Nothing is created here: a
// key spends the balance, so it is created only by an explicit press.
func (b *Bot) apiScreen(t *turn, prefix string) error {
	active, err := b.activeKey(t, prefix)
	if err != nil {
		return t.fail(err)
	}
	if active == nil {
		return t.show(t.T("api.intro", b.apiBase(t)), keyboard{
			{button(t.T("btn.create_key_orders"), cbCreateKey, keyOrders)},
			{button(t.T("btn.create_key_simple"), cbCreateKey, keySimple)},
			{button(t.T("btn.webhooks"), cbWh), button(t.T("btn.alerts"), cbAlerts)},
			{t.btnMenu()},
		})
	}
	kind := keyKind(prefix)
	other, otherLabel := keySimple, t.T("btn.key_simple")
	if kind == keySimple {
		other, otherLabel = keyOrders, t.T("btn.key_orders")
	}
	return t.show(b.keyStatus(t, active), keyboard{
		{button(t.T("btn.rotate"), cbRotateAsk, kind), button(t.T("btn.revoke"), cbRevokeAsk, kind)},
		{button(otherLabel, cbAPI, other)},
		{button(t.T("btn.webhooks"), cbWh), button(t.T("btn.alerts"), cbAlerts)},
		{t.btnMenu()},
	})
}

// activeKey returns the user's active key of prefix, or nil.
func (b *Bot) activeKey(t *turn, prefix string) (*shop.APIKey, error) {
	keys, err := b.Shop.Keys(t.ctx, t.user.ID)
	if err != nil {
		return nil, err
	}
	var active *shop.APIKey
	for _, k := range keys {
		if k.Active() && k.Prefix == prefix {
			active = k
		}
	}
	return active, nil
}

// onCreateKey creates a key of the button's kind, on the user's explicit
// press on the API screen. A key that already exists (a second tap, an
// old screen) is not replaced: rotating is a separate, confirmed step.
func (b *Bot) onCreateKey(t *turn) error {
	prefix := keyPrefix(t.Data())
	active, err := b.activeKey(t, prefix)
	if err != nil {
		return t.fail(err)
	}
	if active != nil {
		return b.apiScreen(t, prefix)
	}
	return b.issueKey(t, prefix)
}

// keyStatus describes an active key: its hint, creation date, the API's
// base URL (or that the API is not public) and the top-up memo.
func (b *Bot) keyStatus(t *turn, k *shop.APIKey) string {
	return t.T("api.status", k.Prefix, html.EscapeString(k.Hint), formatDate(k.CreatedAt),
		b.apiBase(t), html.EscapeString(t.user.Memo))
}

// apiBase is the line that says where the API is: PublicURL, or, when the
// API is not public, that it is not (rather than a loopback address nobody
// outside can reach).
func (b *Bot) apiBase(t *turn) string {
	if !b.apiPublic() {
		return t.T("api.not_public")
	}
	return t.T("api.base", html.EscapeString(b.PublicURL))
}

// apiPublic reports whether PublicURL is an address partners can reach:
// set, and not on a loopback or unspecified host. With PUBLIC_URL unset,
// main passes the default derived from HTTP_ADDR (http://localhost:8080,
// http://127.0.0.1:8080), which only the shop's own machine reaches.
func (b *Bot) apiPublic() bool {
	if b.PublicURL == "" {
		return false
	}
	u, err := url.Parse(b.PublicURL)
	if err != nil || u.Hostname() == "" {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return false
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		return false
	}
	return true
}

// issueKey creates a key (revoking the previous one of its prefix) and
// shows it, the only time it is ever shown, with the base URL, the top-up
// memo and a curl example (when the API is public).
func (b *Bot) issueKey(t *turn, prefix string) error {
	plaintext, key, err := b.Shop.IssueKey(t.ctx, t.user.ID, prefix)
	if err != nil {
		return t.fail(err)
	}
	b.Logger.Info("telegram API key issued", "user_id", t.user.ID, "key_hint", key.Hint)
	try := ""
	if b.apiPublic() {
		try = t.T("api.try", html.EscapeString(plaintext), html.EscapeString(strings.TrimRight(b.PublicURL, "/")))
	}
	text := t.T("api.key", prefix, html.EscapeString(plaintext), b.apiBase(t),
		html.EscapeString(t.user.Memo), html.EscapeString(b.Shop.DepositAddress()), try)
	kb := keyboard{{button(t.T("btn.hide_key"), cbHide, keyKind(prefix))}}
	if t.Callback() != nil && t.Callback().Message != nil {
		return t.show(text, kb)
	}
	return t.say(text, kb)
}

// onHide deletes the one-time key message and shows the API screen.
func (b *Bot) onHide(t *turn) error {
	if cb := t.Callback(); cb != nil && cb.Message != nil {
		t.finish()
		err := b.deliver(t.ctx, t.chat, func() error { return b.tb.Delete(cb.Message) })
		if err != nil && !errors.Is(err, errBlocked) {
			// Telegram refuses to delete a bot's message older than 48
			// hours: the key is edited away instead.
			b.Logger.Info("telegram delete failed; editing the key away", "chat_id", t.chat, "error", b.redact(err))
			if err := b.editText(t.ctx, t.chat, cb.Message.ID, t.T("api.key_hidden"), nil); err != nil {
				b.Logger.Info("telegram key message not edited", "chat_id", t.chat, "error", b.redact(err))
			}
		}
	}
	prefix := keyPrefix(t.Data())
	k, err := b.activeKey(t, prefix)
	if err != nil {
		return t.fail(err)
	}
	if k != nil {
		return t.say(b.keyStatus(t, k), t.keyButtons(keyKind(prefix)))
	}
	return t.say(t.menuText(), t.menuKeyboard())
}

func (t *turn) keyButtons(kind string) keyboard {
	return keyboard{
		{button(t.T("btn.rotate"), cbRotateAsk, kind), button(t.T("btn.revoke"), cbRevokeAsk, kind)},
		{t.btnMenu()},
	}
}

// onRotateAsk confirms a rotation.
func (b *Bot) onRotateAsk(t *turn) error {
	kind := keyKind(keyPrefix(t.Data()))
	return t.show(t.T("api.rotate_ask", keyPrefix(kind)), keyboard{
		{button(t.T("btn.yes_rotate"), cbRotate, kind)},
		{button(t.T("btn.cancel"), cbAPI, kind)},
	})
}

// onRotate issues a new key; the old one stops working at once.
func (b *Bot) onRotate(t *turn) error { return b.issueKey(t, keyPrefix(t.Data())) }

// onRevokeAsk confirms a revocation.
func (b *Bot) onRevokeAsk(t *turn) error {
	kind := keyKind(keyPrefix(t.Data()))
	return t.show(t.T("api.revoke_ask", keyPrefix(kind)), keyboard{
		{button(t.T("btn.yes_revoke"), cbRevoke, kind)},
		{button(t.T("btn.cancel"), cbAPI, kind)},
	})
}

// onRevoke revokes the user's active key of the kind.
func (b *Bot) onRevoke(t *turn) error {
	prefix := keyPrefix(t.Data())
	_, err := b.Shop.RevokeKey(t.ctx, t.user.ID, prefix)
	if err != nil && shop.ErrorCode(err) != shop.ENOTFOUND {
		return t.fail(err)
	}
	b.Logger.Info("telegram API key revoked", "user_id", t.user.ID, "prefix", prefix)
	return t.show(t.T("api.revoked", prefix), keyboard{
		{button(t.T("btn.new_key"), cbAPI, keyKind(prefix))},
		{t.btnMenu()},
	})
}
