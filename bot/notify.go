package bot

import (
	"context"
	"errors"
	"strings"

	"starsbot/shop"
)

// notify tells a user about a shop event in their chat. It runs in the
// chat's queue, after the updates of that chat that came before it.
//
// It reports whether the event is done with: true when it was sent, or
// there was nothing to send, or the send failed for good (the user blocked
// the bot, Telegram refused it after the limiter's retries); false when it
// was not sent for a reason that passes — the bot is stopping, parent
// ended (Tell's caller stopped waiting), or the store failed — so that
// Tell's caller, the durable notifier, tells it again later (HandleEvent
// ignores it). parent is the bot's base context or one made from it.
//
// Order events are sent for orders created in the bot: partners follow
// their API orders through the API, and a bulk integration must not flood
// their chat. The "paid" event of a balance order is not sent either: the
// bot has just said so while creating it.
func (b *Bot) notify(parent context.Context, e shop.Event) (done bool) {
	if b.baseContext().Err() != nil {
		b.Logger.Warn("telegram notification dropped at shutdown", "event", e.Type, "user_id", e.UserID)
		return false
	}
	if parent.Err() != nil {
		return false
	}
	if b.isBlocked(e.UserID) {
		b.Logger.Debug("telegram notification dropped: the user blocked the bot", "event", e.Type, "user_id", e.UserID)
		return true
	}
	ctx, cancel := context.WithTimeout(parent, b.UpdateTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			b.Logger.Error("telegram notification panicked", "event", e.Type, "user_id", e.UserID, "panic", r)
			done = true // it would panic again
		}
	}()
	user, err := b.Shop.FindUser(ctx, e.UserID)
	if err != nil {
		b.Logger.Warn("telegram notification: no user", "event", e.Type, "user_id", e.UserID, "error", err)
		return shop.ErrorCode(err) == shop.ENOTFOUND
	}
	b.partnerAlerts(ctx, user, e)
	lang := user.Language
	balance := e.Balance
	if balance == 0 {
		balance = user.Balance
	}
	var text string
	switch e.Type {
	case shop.EventDepositCredited:
		text = tr(lang, "note.deposit", tonAmount(lang, e.Amount), tonAmount(lang, balance)) + b.usdtReceipt(ctx, lang, e)
		if e.DepositID != 0 {
			if d, err := b.Shop.FindDeposit(ctx, e.DepositID); err == nil && d.TxHash != "" {
				text += "\n" + tr(lang, "receipt.tx", b.txLink(lang, d.TxHash))
			}
		}
	case shop.EventAdminCredit:
		text = tr(lang, "note.admin_credit", tonAmount(lang, e.Amount), tonAmount(lang, balance))
	case shop.EventReferralCredited:
		text = referralNote(lang, e)
	case shop.EventOrderPaid, shop.EventOrderCompleted, shop.EventOrderManual, shop.EventOrderRefunded, shop.EventOrderExpired:
		o, err := b.Shop.FindOrder(ctx, e.UserID, e.OrderID)
		if err != nil {
			b.Logger.Warn("telegram notification: no order", "event", e.Type, "order_id", e.OrderID, "error", err)
			return shop.ErrorCode(err) == shop.ENOTFOUND
		}
		if o.Source != "bot" || (e.Type == shop.EventOrderPaid && o.PaymentMethod == shop.PayBalance) {
			return true
		}
		// The payment screen, if the bot showed one, says where the
		// order is now and loses its QR code.
		b.settleScreens(ctx, user.ID, lang, o, 0)
		item := orderItem(lang, o)
		switch e.Type {
		case shop.EventOrderPaid:
			text = tr(lang, "note.paid", o.ID, item)
		case shop.EventOrderCompleted:
			text = tr(lang, "note.completed", o.ID, item) + "\n\n" + strings.TrimSuffix(b.receipt(lang, o), "\n")
		case shop.EventOrderManual:
			text = tr(lang, "note.manual", o.ID, item) + b.supportLine(lang, o.ID)
		case shop.EventOrderRefunded:
			amount := e.Amount
			if amount == 0 {
				amount = o.PriceTON
			}
			text = tr(lang, "note.refunded", o.ID, item, tonAmount(lang, amount), tonAmount(lang, balance)) + "\n\n" + strings.TrimSuffix(b.receipt(lang, o), "\n") + b.supportLine(lang, o.ID)
		case shop.EventOrderExpired:
			text = tr(lang, "note.expired", o.ID, item)
		}
	case shop.EventWebhookDisabled:
		text = tr(lang, "note.hook_off", e.WebhookID)
	case shop.EventWebhookFailing:
		// Opt-in (🔑 API → 🔔 Alerts): NotifyWebhookFailing checks the
		// partner's preference and shows the URL without credentials.
		endpoint := e.WebhookID
		reason := "> " + shop.WebhookWarnAfter.String() // language-neutral: the alert's text says what failed
		if w, err := b.Shop.FindWebhook(ctx, e.UserID, e.WebhookID); err == nil {
			endpoint = w.URL
			if !w.FailingSince.IsZero() {
				reason = "⏱ " + w.FailingSince.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
		b.NotifyWebhookFailing(e.UserID, endpoint, reason)
		return true
	default:
		return true
	}
	kb := keyboard{{button(tr(lang, "btn.orders"), cbOrders, "0"), button(tr(lang, "btn.menu"), cbMenu)}}
	if _, err := b.sendText(ctx, user.ID, text, kb); err != nil && !errors.Is(err, errBlocked) {
		b.Logger.Info("telegram notification not delivered", "event", e.Type, "user_id", e.UserID, "error", b.redact(err))
		return parent.Err() == nil
	}
	return true
}
