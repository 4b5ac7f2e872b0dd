package bot

import (
	"context"
	"errors"
	"html"
	"net/url"
	"strings"

	"starsbot/shop"
)

// Partner alerts in Telegram (issue 16 item 6), opt-in from the API
// screen: the balance fell below a threshold the partner set (once per
// crossing: shop.Service.LowBalanceCrossed), an API order went to manual
// delivery or was refunded, a webhook endpoint keeps failing
// (NotifyWebhookFailing, for main to wire to the webhook dispatcher's
// event). Preferences are on the user's record (shop.AlertPrefs).

// stepAlertThreshold is the chat state of a typed low-balance threshold.
const stepAlertThreshold = "alert_threshold"

// onAlerts shows the alert preferences with their toggles.
func (b *Bot) onAlerts(t *turn) error {
	onOff := func(on bool) string {
		if on {
			return t.T("alerts.on")
		}
		return t.T("alerts.off")
	}
	turn := func(on bool) string {
		if on {
			return t.T("alerts.turn_on")
		}
		return t.T("alerts.turn_off")
	}
	low := t.T("alerts.off")
	if t.user.AlertLowBalance > 0 {
		low = t.T("alerts.below", t.ton(t.user.AlertLowBalance))
	}
	text := t.T("alerts.screen", low, onOff(t.user.AlertOrders), onOff(t.user.AlertWebhooks))
	return t.show(text, keyboard{
		{button(t.T("btn.alert_low"), cbAlertLow)},
		{button(t.T("btn.alert_orders", turn(!t.user.AlertOrders)), cbAlertToggle, "o")},
		{button(t.T("btn.alert_webhooks", turn(!t.user.AlertWebhooks)), cbAlertToggle, "w")},
		{button(t.T("btn.back_api"), cbAPI, keyOrders), t.btnMenu()},
	})
}

// onAlertToggle switches the orders or webhooks alert.
func (b *Bot) onAlertToggle(t *turn) error {
	p := alertPrefs(t.user)
	switch t.Data() {
	case "o":
		p.Orders = !p.Orders
	case "w":
		p.Webhooks = !p.Webhooks
	default:
		return t.answer(t.T("err.stale_button"), true)
	}
	user, err := b.Shop.SetAlertPrefs(t.ctx, t.user.ID, p)
	if err != nil {
		return t.fail(err)
	}
	t.user = user
	return b.onAlerts(t)
}

// onAlertLow asks for the low-balance threshold.
func (b *Bot) onAlertLow(t *turn) error {
	if err := b.saveState(t.ctx, t.chat, chatState{Step: stepAlertThreshold}); err != nil {
		return t.fail(err)
	}
	return t.show(t.T("alerts.ask_low"), keyboard{{button(t.T("btn.cancel"), cbAlerts)}})
}

// onAlertLowText saves a typed threshold ("5", "0.5", "0,5"; 0 turns the
// alert off).
func (b *Bot) onAlertLowText(t *turn, st *chatState, text string) error {
	v := strings.ReplaceAll(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), "TON")), ",", ".")
	n, err := shop.ParseTON(v)
	if err == nil && n > shop.MaxAlertLowBalance {
		err = errors.New("too large")
	}
	if err != nil {
		_ = b.saveState(t.ctx, t.chat, *st)
		return t.say(t.T("alerts.bad_low"), keyboard{{button(t.T("btn.cancel"), cbAlerts)}})
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return t.fail(err)
	}
	p := alertPrefs(t.user)
	p.LowBalance = n
	user, err := b.Shop.SetAlertPrefs(t.ctx, t.user.ID, p)
	if err != nil {
		return t.fail(err)
	}
	t.user = user
	return b.onAlerts(t)
}

func alertPrefs(u *shop.User) shop.AlertPrefs {
	return shop.AlertPrefs{LowBalance: u.AlertLowBalance, Orders: u.AlertOrders, Webhooks: u.AlertWebhooks}
}

// balanceEvents are the events after which a balance may have changed.
var balanceEvents = map[shop.EventType]bool{
	shop.EventDepositCredited: true, shop.EventAdminCredit: true, shop.EventOrderRefunded: true,
	shop.EventOrderPaid: true, shop.EventReferralCredited: true,
}

// partnerAlerts sends the partner alerts an event calls for, in the
// user's chat (notify's queue). Order alerts are for orders not created
// in the bot: the bot tells the buyer about its own orders anyway.
func (b *Bot) partnerAlerts(ctx context.Context, user *shop.User, e shop.Event) {
	lang := user.Language
	var texts []string
	if balanceEvents[e.Type] {
		if text := b.lowBalanceAlert(ctx, user); text != "" {
			texts = append(texts, text)
		}
	}
	if user.AlertOrders && (e.Type == shop.EventOrderManual || e.Type == shop.EventOrderRefunded) {
		if o, err := b.Shop.FindOrder(ctx, user.ID, e.OrderID); err == nil && o.Source != shop.SourceBot {
			reason := html.EscapeString(providerReason(lang, o.FailureReason))
			if e.Type == shop.EventOrderManual {
				texts = append(texts, tr(lang, "alert.order_manual", o.ID, orderItem(lang, o), reason))
			} else {
				texts = append(texts, tr(lang, "alert.order_refunded", o.ID, orderItem(lang, o), tonAmount(lang, o.PriceTON), reason))
			}
		}
	}
	for _, text := range texts {
		b.sendAlert(ctx, user, text, e.Type)
	}
}

// lowBalanceAlert is the low-balance alert's text when the user's balance
// has just crossed below their threshold, else "".
func (b *Bot) lowBalanceAlert(ctx context.Context, user *shop.User) string {
	if user.AlertLowBalance <= 0 {
		return ""
	}
	crossed, u, err := b.Shop.LowBalanceCrossed(ctx, user.ID)
	if err != nil {
		b.Logger.Warn("telegram low-balance check failed", "user_id", user.ID, "error", err)
		return ""
	}
	if !crossed {
		return ""
	}
	lang := u.Language
	return tr(lang, "alert.low_balance", tonAmount(lang, u.Balance), tonAmount(lang, u.AlertLowBalance))
}

// BalanceChanged checks a user's low-balance alert after a balance change
// that emits no shop event the bot sees (an admin's debit; main may wire
// the webhooks branch's balance.debited to it too). It never blocks.
func (b *Bot) BalanceChanged(userID int64) {
	if userID <= 0 {
		return
	}
	if !b.disp.enqueue(userID, func() {
		if b.baseContext().Err() != nil || b.isBlocked(userID) {
			return
		}
		ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
		defer cancel()
		user, err := b.Shop.FindUser(ctx, userID)
		if err != nil {
			return
		}
		if text := b.lowBalanceAlert(ctx, user); text != "" {
			b.sendAlert(ctx, user, text, "low_balance")
		}
	}) {
		b.Logger.Warn("telegram chat queue full; low-balance check dropped", "user_id", userID)
	}
}

func (b *Bot) sendAlert(ctx context.Context, user *shop.User, text string, what any) {
	kb := keyboard{{button(tr(user.Language, "btn.alerts"), cbAlerts), button(tr(user.Language, "btn.menu"), cbMenu)}}
	if _, err := b.sendText(ctx, user.ID, text, kb); err != nil && !errors.Is(err, errBlocked) {
		b.Logger.Info("telegram partner alert not delivered", "alert", what, "user_id", user.ID, "error", b.redact(err))
	}
}

// NotifyWebhookFailing tells a partner who opted in that their webhook
// endpoint keeps failing (or was disabled), with the reason. It never
// blocks: the message is queued in the partner's chat. url is shown
// without its query, fragment or credentials. main wires it to the
// webhook dispatcher's event (EventWebhookFailing / EventWebhookDisabled
// on the webhooks branch).
func (b *Bot) NotifyWebhookFailing(userID int64, endpoint, reason string) {
	if userID <= 0 {
		return
	}
	shown := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		shown = u.Scheme + "://" + u.Host + u.EscapedPath()
	} else {
		shown = "?"
	}
	if !b.disp.enqueue(userID, func() {
		if b.baseContext().Err() != nil || b.isBlocked(userID) {
			return
		}
		ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
		defer cancel()
		user, err := b.Shop.FindUser(ctx, userID)
		if err != nil || !user.AlertWebhooks {
			return
		}
		lang := user.Language
		b.sendAlert(ctx, user, tr(lang, "alert.webhook", html.EscapeString(shown), html.EscapeString(truncateReason(reason))), "webhook")
	}) {
		b.Logger.Warn("telegram chat queue full; webhook alert dropped", "user_id", userID)
	}
}

// truncateReason cuts a failure reason to 200 characters for a message.
func truncateReason(s string) string {
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}
