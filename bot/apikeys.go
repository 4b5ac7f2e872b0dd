package bot

import (
	"html"
	"strings"

	"starsbot/shop"
)

// onAPICommand is /api (an osk_ key for the orders API) or /api sk (an sk_
// key for the simple API). Only private chats reach it: the middleware
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

// apiScreen issues a key of prefix when the user has no active one and
// shows it once; otherwise it shows only the key's hint and creation date.
func (b *Bot) apiScreen(t *turn, prefix string) error {
	keys, err := b.Shop.Keys(t.ctx, t.user.ID)
	if err != nil {
		return t.fail(err)
	}
	var active *shop.APIKey
	for _, k := range keys {
		if k.Active() && k.Prefix == prefix {
			active = k
		}
	}
	if active == nil {
		return b.issueKey(t, prefix)
	}
	kind := keyKind(prefix)
	other, otherLabel := keySimple, t.T("btn.key_simple")
	if kind == keySimple {
		other, otherLabel = keyOrders, t.T("btn.key_orders")
	}
	text := t.T("api.status", prefix, html.EscapeString(active.Hint), formatDate(active.CreatedAt),
		html.EscapeString(b.publicURL()), html.EscapeString(t.user.Memo))
	return t.show(text, keyboard{
		{button(t.T("btn.rotate"), cbRotateAsk, kind), button(t.T("btn.revoke"), cbRevokeAsk, kind)},
		{button(otherLabel, cbAPI, other)},
		{t.btnMenu()},
	})
}

// issueKey creates a key (revoking the previous one of its prefix) and
// shows it, the only time it is ever shown, with the base URL, the top-up
// memo and a curl example.
func (b *Bot) issueKey(t *turn, prefix string) error {
	plaintext, key, err := b.Shop.IssueKey(t.ctx, t.user.ID, prefix)
	if err != nil {
		return t.fail(err)
	}
	b.Logger.Info("telegram API key issued", "user_id", t.user.ID, "key_hint", key.Hint)
	base := b.publicURL()
	text := t.T("api.key", prefix, html.EscapeString(plaintext), html.EscapeString(base),
		html.EscapeString(t.user.Memo), html.EscapeString(b.Shop.DepositAddress()),
		html.EscapeString(plaintext), html.EscapeString(strings.TrimRight(base, "/")))
	kb := keyboard{{button(t.T("btn.hide_key"), cbHide, keyKind(prefix))}}
	if t.Callback() != nil && t.Callback().Message != nil {
		return t.show(text, kb)
	}
	return t.say(text, kb)
}

func (b *Bot) publicURL() string {
	if b.PublicURL == "" {
		return "http://localhost:8080"
	}
	return b.PublicURL
}

// onHide deletes the one-time key message and shows the API screen.
func (b *Bot) onHide(t *turn) error {
	if cb := t.Callback(); cb != nil && cb.Message != nil {
		if err := b.tb.Delete(cb.Message); err != nil {
			b.Logger.Info("telegram delete failed", "chat_id", t.chat, "error", b.redact(err))
		}
	}
	keys, err := b.Shop.Keys(t.ctx, t.user.ID)
	if err != nil {
		return t.fail(err)
	}
	prefix := keyPrefix(t.Data())
	for _, k := range keys {
		if k.Active() && k.Prefix == prefix {
			return t.say(t.T("api.status", prefix, html.EscapeString(k.Hint), formatDate(k.CreatedAt),
				html.EscapeString(b.publicURL()), html.EscapeString(t.user.Memo)), t.keyButtons(keyKind(prefix)))
		}
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
