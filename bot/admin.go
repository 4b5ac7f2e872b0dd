package bot

import (
	"context"
	"fmt"
	"html"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// Admin commands run the shop from a private chat with an admin (Bot.Admins).
// Anyone else gets no answer at all, not even "unknown command", and the
// attempt is logged. Every admin action, including a refused confirmation,
// is written to the shop's audit log. The admin screens are in English.

// Callback uniques of the admin screens.
const (
	cbAdm       = "adm" // view: one of the admin views below
	cbAdmOK     = "aok" // nonce: carry out the unconfirmed credit or debit
	cbAdmNo     = "ano" // cancel the unconfirmed credit or debit
	cbAdmDelAsk = "ada" // order id: ask before marking it delivered
	cbAdmDel    = "adl" // order id: mark it delivered
	cbAdmRefAsk = "ara" // order id: ask before refunding it
	cbAdmRef    = "arf" // order id: refund it
)

// Admin views reachable by button.
const (
	viewMenu      = "menu"
	viewStats     = "stats"
	viewManual    = "manual"
	viewUnmatched = "unmatched"
	viewDust      = "dust"
	viewFees      = "fees"
	viewAudit     = "audit"
)

// maxArgEcho is how many characters of an argument an error quotes back.
const maxArgEcho = 64

// adminTurn is one admin update being handled: the turn plus what the
// audit log records about it.
type adminTurn struct {
	*turn
	admin  int64
	action string // audit action, e.g. "credit"
	args   string // audit arguments, as given
	result string // audit result; "ok" unless the handler says otherwise
}

// adminCommands are the admin commands, as the menu lists them and
// Telegram's command menu shows them to admins.
var adminCommands = []struct{ name, usage, about string }{
	{"admin", "/admin", "this menu"},
	{"stats", "/stats", "users, deposits, orders, revenue, wallet, watcher, provider"},
	{"user", "/user &lt;id|@username&gt;", "a user's profile, balance, orders, ledger, keys"},
	{"credit", "/credit &lt;user&gt; &lt;TON&gt; &lt;reason&gt;", "add to a balance (asks to confirm)"},
	{"debit", "/debit &lt;user&gt; &lt;TON&gt; &lt;reason&gt;", "take from a balance (asks to confirm)"},
	{"manual", "/manual", "orders waiting for manual delivery"},
	{"deliver", "/deliver &lt;order&gt; [reference]", "mark a manual order delivered"},
	{"refund", "/refund &lt;order&gt; &lt;reason&gt;", "refund an order to the buyer's balance"},
	{"unmatched", "/unmatched [dust|rejected]", "deposits whose memo matched nothing; dust: transfers below the minimum, ignored; rejected: fake jettons"},
	{"assign", "/assign &lt;deposit&gt; &lt;user&gt;", "credit an unmatched deposit to a user"},
	{"ban", "/ban &lt;user&gt;", "stop a user from buying and using API keys"},
	{"unban", "/unban &lt;user&gt;", "lift a ban"},
	{"revokekey", "/revokekey &lt;user&gt;", "revoke all of a user's API keys"},
	{"fees", "/fees [set &lt;name&gt; &lt;value&gt; | reset]", "show or change the fee, limits and prices"},
	{"backup", "/backup", "a consistent snapshot of the database, as a file"},
	{"audit", "/audit [n]", "the latest admin actions"},
}

// adminRoutes registers the admin commands and buttons.
func (b *Bot) adminRoutes() {
	cb := func(unique string) *tele.InlineButton { return &tele.InlineButton{Unique: unique} }
	b.onAdmin("/admin", "admin", b.onAdminMenu)
	b.onAdmin("/stats", "stats", b.onAdminStats)
	b.onAdmin("/user", "user", b.onAdminUser)
	b.onAdmin("/credit", "credit", func(t *adminTurn) error { return b.onAdminAsk(t, "credit") })
	b.onAdmin("/debit", "debit", func(t *adminTurn) error { return b.onAdminAsk(t, "debit") })
	b.onAdmin("/manual", "manual", b.onAdminManual)
	// The command's old name; "pending" is an order status of its own
	// (pending_payment), so it is no longer shown anywhere.
	b.onAdmin("/pending", "manual", b.onAdminManual)
	b.onAdmin("/deliver", "deliver", b.onAdminDeliver)
	b.onAdmin("/refund", "refund", b.onAdminRefund)
	b.onAdmin("/unmatched", "unmatched", b.onAdminUnmatched)
	b.onAdmin("/assign", "assign", b.onAdminAssign)
	b.onAdmin("/ban", "ban", func(t *adminTurn) error { return b.onAdminBan(t, true) })
	b.onAdmin("/unban", "unban", func(t *adminTurn) error { return b.onAdminBan(t, false) })
	b.onAdmin("/revokekey", "revokekey", b.onAdminRevokeKey)
	b.onAdmin("/fees", "fees", b.onAdminFees)
	b.onAdmin("/backup", "backup", b.onAdminBackup)
	b.onAdmin("/audit", "audit", b.onAdminAudit)

	b.onAdmin(cb(cbAdm), "view", b.onAdminView)
	b.onAdmin(cb(cbAdmOK), "confirm", b.onAdminConfirm)
	b.onAdmin(cb(cbAdmNo), "cancel", b.onAdminCancel)
	b.onAdmin(cb(cbAdmDelAsk), "deliver_ask", b.onAdminDeliverAsk)
	b.onAdmin(cb(cbAdmDel), "deliver", b.onAdminDeliverButton)
	b.onAdmin(cb(cbAdmRefAsk), "refund_ask", b.onAdminRefundAsk)
	b.onAdmin(cb(cbAdmRef), "refund", b.onAdminRefundButton)
}

// isAdmin reports whether id is one of the configured admins.
func (b *Bot) isAdmin(id int64) bool { return id > 0 && slices.Contains(b.Admins, id) }

// onAdmin registers fn for endpoint behind the admin middleware.
func (b *Bot) onAdmin(endpoint any, action string, fn func(*adminTurn) error) {
	b.tb.Handle(endpoint, b.adminWrap(action, fn))
}

// adminWrap is the middleware of every admin handler: a context with a
// timeout, the admin and private-chat rule (anyone else: no answer, a log
// line), panic recovery, the end of any pending flow, and the audit entry.
func (b *Bot) adminWrap(action string, fn func(*adminTurn) error) tele.HandlerFunc {
	return func(c tele.Context) error {
		sender, chat := c.Sender(), c.Chat()
		if sender == nil || chat == nil {
			return nil
		}
		if !b.isAdmin(sender.ID) || chat.Type != tele.ChatPrivate {
			b.Logger.Warn("admin command refused: not an admin in a private chat",
				"user_id", sender.ID, "chat_id", chat.ID, "action", action)
			return nil
		}
		ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
		defer cancel()
		c.Set(ctxKey, ctx)
		t := &adminTurn{
			turn:   &turn{Context: c, b: b, ctx: ctx, chat: chat.ID, lang: shop.Languages[0]},
			admin:  sender.ID,
			action: action,
			args:   strings.TrimSpace(c.Data()),
			result: "ok",
		}
		defer func() {
			if r := recover(); r != nil {
				b.Logger.Error("telegram admin handler panicked", "action", action,
					"panic", b.redactString(fmt.Sprint(r)), "stack", string(debug.Stack()))
				t.result = "internal error"
				t.safeSay("⚠️ Internal error; see the log.")
			}
			t.finish()
			b.audit(t)
		}()
		// Anything an admin does ends a flow waiting for text, and a
		// confirmation not given yet, except the confirmation itself.
		if action != "confirm" {
			if err := b.clearState(ctx, t.chat); err != nil {
				return t.fail(err)
			}
		}
		if err := fn(t); err != nil {
			return t.fail(err)
		}
		return nil
	}
}

// say and show send the admin's reply. A reply that cannot be delivered
// is logged and noted in the audit entry, but is not the action's error:
// the action itself may well have been done.
func (t *adminTurn) say(text string, kb keyboard) error { return t.sent(t.turn.say(text, kb)) }

func (t *adminTurn) show(text string, kb keyboard) error { return t.sent(t.turn.show(text, kb)) }

func (t *adminTurn) sent(err error) error {
	if err != nil {
		t.b.Logger.Warn("telegram admin reply not delivered", "action", t.action, "error", t.b.redact(err))
		t.result += "; reply not delivered"
	}
	return nil
}

// audit writes t to the audit log; a failure is logged, never shown.
func (b *Bot) audit(t *adminTurn) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), 5*time.Second)
	defer cancel()
	_, err := b.Shop.Audit(ctx, shop.AuditEntry{AdminID: t.admin, Action: t.action, Args: t.args, Result: t.result})
	if err != nil {
		b.Logger.Error("admin audit entry not written", "admin_id", t.admin, "action", t.action, "error", err)
	}
}

// fail shows an admin what went wrong: the shop's message for its errors
// (they are safe to show), a generic sentence for internal ones (logged).
func (t *adminTurn) fail(err error) error {
	msg := shop.ErrorMessage(err)
	if shop.ErrorCode(err) == shop.EINTERNAL {
		t.b.Logger.Error("telegram admin handler failed", "action", t.action, "error", t.b.redact(err))
		msg = "Internal error; see the log."
	}
	t.result = "error: " + msg
	return t.show("⚠️ "+html.EscapeString(msg), keyboard{{adminMenuButton()}})
}

// usage answers bad arguments with what the command expects; nothing
// changed.
func (t *adminTurn) usage(problem, usage string) error {
	t.result = "bad arguments: " + problem
	return t.say("⚠️ "+html.EscapeString(problem)+"\nUsage: "+usage, nil)
}

// stale answers a button that no longer applies.
func (t *adminTurn) stale() error {
	t.result = "stale button"
	return t.answer("This button no longer applies.", true)
}

// splitArgs splits s at whitespace into at most n fields; the last field is
// the rest of s, trimmed, with its inner spacing kept.
func splitArgs(s string, n int) []string {
	var out []string
	s = strings.TrimSpace(s)
	for s != "" && len(out) < n-1 {
		i := strings.IndexFunc(s, isSpace)
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		s = strings.TrimLeftFunc(s[i:], isSpace)
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// echo quotes an argument back, bounded.
func echo(s string) string { return strconv.Quote(truncateRunes(s, maxArgEcho)) }

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// parseID parses a positive record id.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// maxScreen bounds the HTML of a listing, in bytes, below the Bot API's
// 4096 characters per message (bytes are never fewer than characters),
// leaving room for a closing line.
const maxScreen = 3700

// fits appends line to s if the screen stays within maxScreen.
func fits(s *strings.Builder, line string) bool {
	if s.Len()+len(line) > maxScreen {
		return false
	}
	s.WriteString(line)
	return true
}
func adminMenuButton() tele.InlineButton { return button("« Admin", cbAdm, viewMenu) }

// ---- menu --------------------------------------------------------------

func (b *Bot) onAdminMenu(t *adminTurn) error {
	var s strings.Builder
	s.WriteString("🛠 <b>Shop admin</b>\n")
	for _, c := range adminCommands[1:] {
		fmt.Fprintf(&s, "\n%s: %s", c.usage, c.about)
	}
	return t.show(s.String(), keyboard{
		{button("📊 Stats", cbAdm, viewStats), button("⏳ Manual", cbAdm, viewManual)},
		{button("❓ Unmatched", cbAdm, viewUnmatched), button("💲 Fees", cbAdm, viewFees)},
		{button("📜 Audit log", cbAdm, viewAudit)},
	})
}

// onAdminView shows the view a menu button names.
func (b *Bot) onAdminView(t *adminTurn) error {
	t.action = "view " + t.Data()
	switch t.Data() {
	case viewMenu:
		return b.onAdminMenu(t)
	case viewStats:
		return b.onAdminStats(t)
	case viewManual, "pending": // "pending": buttons sent before the rename
		return b.onAdminManual(t)
	case viewUnmatched:
		return b.onAdminUnmatched(t)
	case viewDust:
		return b.showDust(t)
	case viewFees:
		return b.showFees(t, "")
	case viewAudit:
		return b.showAudit(t, auditShown)
	}
	return t.stale()
}
