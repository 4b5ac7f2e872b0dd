package bot

import (
	"context"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	tele "gopkg.in/telebot.v3"

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
	case shop.AlertBackupFailed:
		return "💾 <b>Backup failed</b>\n"
	case shop.AlertSessionDown:
		return "🔌 <b>Fragment session left out</b>\n"
	}
	return "⚠️"
}

// DefaultAlertBatchWindow is how often, at most, admins get a message
// about unmatched deposits (ALERT_BATCH_WINDOW).
const DefaultAlertBatchWindow = time.Minute

// Bounds of one unmatched-deposits alert: at most unmatchedListed deposits
// are listed, in at most unmatchedBudget characters (Alert cuts at 3000),
// each memo or sender cut to unmatchedField characters.
const (
	unmatchedListed = 10
	unmatchedBudget = 2600
	unmatchedField  = 64
)

// unmatchedBatch collects unmatched-deposit events between two alerts.
type unmatchedBatch struct {
	events   []shop.Event // the first unmatchedListed of the batch
	count    int          // all of them
	total    shop.NanoTON // their amount, saturating
	lastSent time.Time    // when the last unmatched-deposits alert went out
	armed    func() bool  // stops the pending flush; nil when none is pending
	stopped  bool         // Run has ended: nothing more is armed
}

// take empties the batch and notes now as the time of its alert.
func (u *unmatchedBatch) take(now time.Time) unmatchedBatch {
	out := unmatchedBatch{events: u.events, count: u.count, total: u.total}
	u.events, u.count, u.total, u.lastSent = nil, 0, 0, now
	return out
}

// queueUnmatched batches the alerts of deposits whose memo matched nothing,
// so that a flood of transfers cannot flood the admins: at most one message
// per AlertBatchWindow lists them all. The first one after a quiet window
// goes out at once; the ones that arrive within the window after a message
// wait until it ends and go out together (a timer, armed by the first of
// them). Nothing is lost beyond the message: every unmatched deposit is in
// the store, listed by /unmatched, and each alert is logged.
func (b *Bot) queueUnmatched(e shop.Event) {
	b.unmatchedMu.Lock()
	u := &b.unmatched
	u.count++
	u.total = addSaturating(u.total, e.Amount)
	if len(u.events) < unmatchedListed {
		u.events = append(u.events, e)
	}
	now := b.Now()
	wait := min(u.lastSent.Add(b.AlertBatchWindow).Sub(now), b.AlertBatchWindow)
	if u.armed == nil && !u.stopped && (u.lastSent.IsZero() || wait <= 0) {
		batch := u.take(now)
		b.unmatchedMu.Unlock()
		b.alertUnmatched(batch)
		return
	}
	if u.armed == nil && !u.stopped {
		b.work.add(1) // until the flush has run, or is stopped
		u.armed = b.AfterFunc(wait, func() {
			defer b.work.add(-1)
			b.flushUnmatched()
		})
	}
	pending := u.count
	b.unmatchedMu.Unlock()
	b.Logger.Debug("unmatched deposit alert batched", "deposit_id", e.DepositID, "pending", pending)
}

// flushUnmatched sends the batch collected since the last alert, if any.
func (b *Bot) flushUnmatched() {
	b.unmatchedMu.Lock()
	u := &b.unmatched
	u.armed = nil
	if u.count == 0 {
		b.unmatchedMu.Unlock()
		return
	}
	batch := u.take(b.Now())
	b.unmatchedMu.Unlock()
	b.alertUnmatched(batch)
}

// stopUnmatched, when Run ends, stops the pending flush and sends what it
// held at once, while the chat queues still take messages.
func (b *Bot) stopUnmatched() {
	b.unmatchedMu.Lock()
	u := &b.unmatched
	if u.armed != nil {
		if u.armed() {
			b.work.add(-1) // the flush will not run
		}
		u.armed = nil
	}
	u.stopped = true
	b.unmatchedMu.Unlock()
	b.flushUnmatched()
}

func addSaturating(a, b shop.NanoTON) shop.NanoTON {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// alertUnmatched tells admins about a batch of deposits whose memo matched
// nothing: one deposit in full, several as a list.
func (b *Bot) alertUnmatched(batch unmatchedBatch) {
	ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
	defer cancel()
	find := func(e shop.Event) *shop.Deposit {
		d, err := b.Shop.FindDeposit(ctx, e.DepositID)
		if err != nil {
			b.Logger.Warn("unmatched deposit not found", "deposit_id", e.DepositID, "error", err)
			return nil
		}
		return d
	}
	if batch.count == 1 && len(batch.events) == 1 {
		e := batch.events[0]
		msg := fmt.Sprintf("Deposit #%d of %s TON arrived and matches no user or order.", e.DepositID, e.Amount)
		if d := find(e); d != nil && d.Memo != "" {
			msg = fmt.Sprintf("Deposit #%d of %s TON from %s arrived with the memo %s, which matches no user or order.",
				d.ID, d.Amount, plainText(d.From, unmatchedField), quoteMemo(d.Memo))
		} else if d != nil {
			msg = fmt.Sprintf("Deposit #%d of %s TON from %s arrived with %s, so it matches no user or order.",
				d.ID, d.Amount, plainText(d.From, unmatchedField), noMemoText(d.Reason))
		}
		b.Alert(ctx, shop.Alert{
			Kind:    shop.AlertUnmatchedDeposit,
			Amount:  e.Amount,
			Message: msg + fmt.Sprintf(" Credit it with /assign %d <user id or @username>.", e.DepositID),
		})
		return
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%d deposits, %s TON in total, match no user or order:\n", batch.count, batch.total)
	listed := 0
	for _, e := range batch.events {
		line := fmt.Sprintf("\n#%d · %s TON", e.DepositID, e.Amount)
		if d := find(e); d != nil {
			line += " · from " + plainText(d.From, unmatchedField) + " · "
			if d.Memo != "" {
				line += "memo " + quoteMemo(d.Memo)
			} else {
				line += noMemoText(d.Reason)
			}
		}
		if utf8.RuneCountInString(s.String())+utf8.RuneCountInString(line) > unmatchedBudget {
			break
		}
		s.WriteString(line)
		listed++
	}
	if more := batch.count - listed; more > 0 {
		fmt.Fprintf(&s, "\n…and %d more.", more)
	}
	s.WriteString("\n\nAll of them: /unmatched. Credit one with /assign <deposit> <user id or @username>.")
	b.Alert(ctx, shop.Alert{Kind: shop.AlertUnmatchedDeposit, Amount: batch.total, Message: s.String()})
}

// quoteMemo shows a memo from the chain to admins: made plain, cut, and
// quoted as a Go string (quotes inside escaped, so the end is unambiguous).
func quoteMemo(memo string) string { return strconv.Quote(plainText(memo, unmatchedField)) }

// plainText makes text from the chain (hostile) safe to show in one line:
// line breaks and tabs become spaces, other control and format characters
// (bidirectional overrides, zero-width characters) become U+FFFD, and it
// is cut to n characters. HTML escaping is still the caller's.
func plainText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	return truncateRunes(s, n)
}

// noMemoText says, for admins, what came instead of a memo (a deposit's
// Reason).
func noMemoText(reason string) string {
	switch reason {
	case shop.NoMemoEmpty:
		return "an empty comment"
	case shop.NoMemoEncrypted:
		return "an encrypted comment, which the shop cannot read (ask the sender)"
	case shop.NoMemoBinary:
		return "a binary comment, not text"
	case shop.NoMemoMalformed:
		return "a malformed comment"
	case shop.NoMemoJetton:
		return "a jetton transfer notification (TON attached to a token transfer)"
	case shop.NoMemoOther:
		return "a message that is not a comment"
	case shop.ReasonDust:
		return "dust, below the minimum deposit"
	}
	return "no comment"
}

// setAdminCommands shows each admin the admin commands in Telegram's
// command menu of their chat; a failure (an admin who never opened the
// bot) is only logged.
func (b *Bot) setAdminCommands(ctx context.Context) {
	var cmds []tele.Command
	for _, c := range menuCommands {
		cmds = append(cmds, tele.Command{Text: c, Description: tr(shop.Languages[0], "cmd."+c)})
	}
	for _, c := range adminCommands {
		cmds = append(cmds, tele.Command{Text: c.name, Description: "admin: " + c.about})
	}
	for _, admin := range b.Admins {
		call, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := b.api(call).SetCommands(cmds, tele.CommandScope{Type: tele.CommandScopeChat, ChatID: admin})
		cancel()
		if err != nil {
			b.Logger.Warn("telegram setMyCommands for an admin failed", "admin_id", admin, "error", b.redact(err))
		}
	}
}
