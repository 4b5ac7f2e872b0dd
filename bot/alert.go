package bot

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"sync/atomic"
	"time"

	"starsbot/shop"
)

// DefaultAlertRepeat is how often, at most, admins are reminded that the
// provider is still unhealthy.
const DefaultAlertRepeat = time.Hour

// Alert pushes a to every admin's chat; it implements fulfillment.Notifier.
// It never blocks: each admin's message joins that chat's queue. An
// unhealthy provider is reported once, then at most every AlertRepeat
// until it is healthy again. Every alert is also logged, so that none is
// lost when no admin is configured or Telegram is unreachable.
func (b *Bot) Alert(ctx context.Context, a shop.Alert) {
	if b.init() != nil {
		return
	}
	due, undo := b.alertDue(a)
	if !due {
		b.Logger.Info("admin alert not repeated yet", "kind", a.Kind, "message", a.Message)
		return
	}
	b.Logger.Warn("admin alert", "kind", a.Kind, "order_id", a.OrderID, "message", a.Message)
	if len(b.Admins) == 0 {
		b.Logger.Warn("no admin to alert: set ADMIN_IDS", "kind", a.Kind)
		return
	}
	// A message is at most 4096 characters; an alert's text comes from
	// our own code, but a provider's reason inside it is not ours to bound.
	text := alertIcon(a.Kind) + " " + html.EscapeString(truncateRunes(a.Message, 3000))
	var kb keyboard
	if a.Kind == shop.AlertManualNeeded && a.OrderID > 0 {
		id := strconv.FormatInt(a.OrderID, 10)
		kb = keyboard{{button("✅ #"+id+" delivered", cbAdmDelAsk, id), button("↩ Refund #"+id, cbAdmRefAsk, id)}}
	}
	// When no admin got the alert, the repeat policy must not count it
	// as sent: the next occurrence is reported at once.
	var pending atomic.Int32
	var delivered atomic.Bool
	pending.Store(int32(len(b.Admins)))
	done := func(ok bool) {
		if ok {
			delivered.Store(true)
		}
		if pending.Add(-1) == 0 && !delivered.Load() {
			undo()
		}
	}
	for _, admin := range b.Admins {
		ok := b.disp.enqueue(admin, func() {
			ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
			defer cancel()
			_, err := b.sendText(ctx, admin, text, kb)
			if err != nil {
				b.Logger.Warn("admin alert not delivered", "admin_id", admin, "kind", a.Kind, "error", b.redact(err))
			}
			done(err == nil)
		})
		if !ok {
			b.Logger.Warn("admin alert dropped: chat queue full or bot stopped", "admin_id", admin, "kind", a.Kind)
			done(false)
		}
	}
}

// alertDue applies the repeat policy: an unhealthy provider is reported
// once, then at most every AlertRepeat until a healthy alert resets it.
// undo forgets that the alert was sent, for when it reached no admin.
func (b *Bot) alertDue(a shop.Alert) (due bool, undo func()) {
	b.alertMu.Lock()
	defer b.alertMu.Unlock()
	now := b.Now()
	undo = func() {}
	switch a.Kind {
	case shop.AlertProviderUnhealthy:
		if !b.unhealthyAlerted.IsZero() && now.Sub(b.unhealthyAlerted) < b.AlertRepeat {
			return false, undo
		}
		prev := b.unhealthyAlerted
		b.unhealthyAlerted = now
		undo = func() {
			b.alertMu.Lock()
			defer b.alertMu.Unlock()
			if b.unhealthyAlerted.Equal(now) {
				b.unhealthyAlerted = prev
			}
		}
	case shop.AlertProviderHealthy:
		b.unhealthyAlerted = time.Time{}
	}
	return true, undo
}

func alertIcon(k shop.AlertKind) string {
	switch k {
	case shop.AlertManualNeeded:
		return "⏳ <b>Manual delivery needed</b>\n"
	case shop.AlertProviderUnhealthy:
		return "🚨 <b>Provider unhealthy</b>\n"
	case shop.AlertProviderHealthy:
		return "✅ <b>Provider healthy</b>\n"
	case shop.AlertWalletLow:
		return "🪫 <b>Hot wallet low</b>\n"
	case shop.AlertUnmatchedDeposit:
		return "❓ <b>Unmatched deposit</b>\n"
	case shop.AlertWatcherLag:
		return "🐢 <b>Deposit watcher behind</b>\n"
	case shop.AlertWatcherCaughtUp:
		return "✅ <b>Deposit watcher caught up</b>\n"
	}
	return "⚠️"
}

// alertUnmatched tells admins about a deposit whose memo matched nothing.
func (b *Bot) alertUnmatched(e shop.Event) {
	ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
	defer cancel()
	msg := fmt.Sprintf("Deposit #%d of %s TON arrived with a memo that matches no user or order.", e.DepositID, e.Amount)
	if d, err := b.Shop.FindDeposit(ctx, e.DepositID); err == nil {
		msg = fmt.Sprintf("Deposit #%d of %s TON from %s arrived with the memo %s, which matches no user or order.",
			d.ID, d.Amount, d.From, strconv.Quote(truncateRunes(d.Memo, 64)))
	} else {
		b.Logger.Warn("unmatched deposit not found", "deposit_id", e.DepositID, "error", err)
	}
	b.Alert(ctx, shop.Alert{
		Kind:    shop.AlertUnmatchedDeposit,
		Amount:  e.Amount,
		Message: msg + fmt.Sprintf(" Credit it with /assign %d <user id or @username>.", e.DepositID),
	})
}

// setAdminCommands shows each admin the admin commands in Telegram's
// command menu of their chat; a failure (an admin who never opened the
// bot) is only logged.
func (b *Bot) setAdminCommands(ctx context.Context) {
	var cmds []map[string]string
	for _, c := range menuCommands {
		cmds = append(cmds, map[string]string{"command": c, "description": tr(shop.Languages[0], "cmd."+c)})
	}
	for _, c := range adminCommands {
		cmds = append(cmds, map[string]string{"command": c.name, "description": "admin: " + c.about})
	}
	for _, admin := range b.Admins {
		err := b.call(ctx, b.pollHTTP, 10*time.Second, "setMyCommands", map[string]any{
			"commands": cmds,
			"scope":    map[string]any{"type": "chat", "chat_id": admin},
		}, nil)
		if err != nil {
			b.Logger.Warn("telegram setMyCommands for an admin failed", "admin_id", admin, "error", b.redact(err))
		}
	}
}
