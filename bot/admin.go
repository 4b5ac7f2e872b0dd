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
	cbAdmOK     = "aok" // nonce: carry out the pending credit or debit
	cbAdmNo     = "ano" // cancel the pending credit or debit
	cbAdmDelAsk = "ada" // order id: ask before marking it delivered
	cbAdmDel    = "adl" // order id: mark it delivered
	cbAdmRefAsk = "ara" // order id: ask before refunding it
	cbAdmRef    = "arf" // order id: refund it
)

// Admin views reachable by button.
const (
	viewMenu      = "menu"
	viewStats     = "stats"
	viewPending   = "pending"
	viewUnmatched = "unmatched"
	viewDust      = "dust"
	viewFees      = "fees"
	viewAudit     = "audit"
)

// Limits of the admin listings, chosen so a screen fits one message.
const (
	pendingShown   = 10
	unmatchedShown = 20
	auditShown     = 20
	auditMax       = 50
	userOrders     = 5
	userEntries    = 5
	refundReason   = "refunded by an admin"
	maxArgEcho     = 64 // characters of an argument quoted back in an error
)

// stepAdminOp is the chat state of a credit or debit waiting for its
// confirmation button.
const stepAdminOp = "admin_op"

// adminOp is a credit or debit an admin asked for and has not confirmed.
type adminOp struct {
	Kind   string       `json:"kind"` // "credit" or "debit"
	UserID int64        `json:"user_id"`
	Amount shop.NanoTON `json:"amount"`
	Reason string       `json:"reason"`
	Nonce  string       `json:"nonce"`
}

func (op *adminOp) String() string {
	return fmt.Sprintf("%d %s %s", op.UserID, op.Amount, op.Reason)
}

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
	{"pending", "/pending", "orders waiting for manual delivery"},
	{"deliver", "/deliver &lt;order&gt; [reference]", "mark a manual order delivered"},
	{"refund", "/refund &lt;order&gt; &lt;reason&gt;", "refund an order to the buyer's balance"},
	{"unmatched", "/unmatched [dust]", "deposits whose memo matched nothing; dust: transfers below the minimum, ignored"},
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
	b.onAdmin("/pending", "pending", b.onAdminPending)
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
		// pending confirmation, except the confirmation itself.
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

// findUser resolves a user argument: a Telegram id or a @username.
func (b *Bot) findUser(ctx context.Context, arg string) (*shop.User, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		if id <= 0 {
			return nil, shop.Errorf(shop.EVALIDATION, "a user id is a positive number")
		}
		return b.Shop.FindUser(ctx, id)
	}
	return b.Shop.FindUserByUsername(ctx, arg)
}

// userArg resolves the one argument of a command that names a user. When
// it returns nil the turn is answered (usage) or err says why.
func (b *Bot) userArg(t *adminTurn, use string) (*shop.User, error) {
	args := strings.Fields(t.args)
	if len(args) != 1 {
		return nil, t.usage("give one user id or @username", use)
	}
	return b.findUser(t.ctx, args[0])
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

// userLabel names a user for admins: "@name (id)" or "id".
func userLabel(u *shop.User) string {
	if u.Username != "" {
		return fmt.Sprintf("@%s (%d)", html.EscapeString(u.Username), u.ID)
	}
	return strconv.FormatInt(u.ID, 10)
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
		{button("📊 Stats", cbAdm, viewStats), button("⏳ Pending", cbAdm, viewPending)},
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
	case viewPending:
		return b.onAdminPending(t)
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

// ---- stats -------------------------------------------------------------

func (b *Bot) onAdminStats(t *adminTurn) error {
	st, err := b.Shop.Stats(t.ctx)
	if err != nil {
		return err
	}
	deposits := func(d shop.DepositTotals) string { return fmt.Sprintf("%d, %s TON", d.Count, d.Amount) }
	var s strings.Builder
	s.WriteString("📊 <b>Shop statistics</b>\n\n")
	fmt.Fprintf(&s, "Users: %d (partners with an active key: %d)\n", st.Users, st.Partners)
	fmt.Fprintf(&s, "Deposits today: %s\nDeposits 7 days: %s\nDeposits all time: %s\n",
		deposits(st.DepositsToday), deposits(st.Deposits7Days), deposits(st.DepositsAll))
	fmt.Fprintf(&s, "Unmatched deposits: %s\n", deposits(st.Unmatched))
	fmt.Fprintf(&s, "Dust ignored (below the minimum deposit, not counted above): %s\n\n", deposits(st.Dust))
	s.WriteString("Orders:")
	for _, status := range shop.OrderStatuses {
		fmt.Fprintf(&s, " %s %d ·", status, st.OrdersByStatus[status])
	}
	text := strings.TrimSuffix(s.String(), " ·")
	s.Reset()
	s.WriteString(text)
	fmt.Fprintf(&s, "\nRevenue (completed orders): %s TON, of which fees %s TON\n", st.Revenue, st.FeeIncome)
	fmt.Fprintf(&s, "User balances (liability): %s TON\n\n", st.Liability)

	switch {
	case b.WalletBalance == nil:
		s.WriteString("Hot wallet: not configured\n")
	default:
		if bal, err := b.WalletBalance(t.ctx); err != nil {
			b.Logger.Warn("hot wallet balance unknown", "error", b.redact(err))
			s.WriteString("Hot wallet: balance unknown (see the log)\n")
		} else {
			fmt.Fprintf(&s, "Hot wallet: %s TON\n", bal)
		}
	}
	if b.WatcherLag != nil {
		if lag, ok := b.WatcherLag(); ok {
			fmt.Fprintf(&s, "Deposit watcher lag: %s\n", lag.Round(time.Second))
		} else {
			s.WriteString("Deposit watcher lag: no poll completed yet\n")
		}
	}
	if b.ProviderHealth != nil {
		if ok, reason := b.ProviderHealth(); ok {
			s.WriteString("Provider: healthy\n")
		} else {
			fmt.Fprintf(&s, "Provider: ⚠️ paused: %s\n", html.EscapeString(reason))
		}
	}
	if b.ProviderNotice != nil {
		if n := b.ProviderNotice(); n != "" {
			fmt.Fprintf(&s, "Provider note: %s\n", html.EscapeString(n))
		}
	}
	return t.show(s.String(), keyboard{{button("🔄 Refresh", cbAdm, viewStats), adminMenuButton()}})
}

// ---- users -------------------------------------------------------------

func (b *Bot) onAdminUser(t *adminTurn) error {
	const use = "/user &lt;id|@username&gt;"
	u, err := b.userArg(t, use)
	if u == nil {
		return err
	}
	orders, _, err := b.Shop.FindOrders(t.ctx, shop.OrderFilter{UserID: u.ID, Limit: userOrders})
	if err != nil {
		return err
	}
	entries, _, err := b.Shop.Ledger(t.ctx, shop.LedgerFilter{UserID: u.ID, Limit: userEntries})
	if err != nil {
		return err
	}
	keys, err := b.Shop.Keys(t.ctx, u.ID)
	if err != nil {
		return err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "👤 <b>User %s</b>\n", userLabel(u))
	fmt.Fprintf(&s, "Language: %s · memo <code>%s</code> · since %s\n", html.EscapeString(u.Language), html.EscapeString(u.Memo), formatDate(u.CreatedAt))
	if u.Banned {
		s.WriteString("⛔ <b>Banned</b>\n")
	}
	fmt.Fprintf(&s, "Balance: <b>%s TON</b>\n", u.Balance)
	s.WriteString("\n<b>Last orders</b>")
	if len(orders) == 0 {
		s.WriteString("\nnone")
	}
	for _, o := range orders {
		fmt.Fprintf(&s, "\n#%d · %s · %s TON · %s · %s", o.ID, orderItem(t.lang, o), o.PriceTON, o.Status, formatTime(o.CreatedAt))
	}
	s.WriteString("\n\n<b>Last ledger entries</b>")
	if len(entries) == 0 {
		s.WriteString("\nnone")
	}
	for _, e := range entries {
		fmt.Fprintf(&s, "\n#%d · %s · %s TON → %s TON · %s", e.ID, e.Type, signed(e.Amount), e.BalanceAfter, formatTime(e.CreatedAt))
		if e.AdminID != 0 {
			fmt.Fprintf(&s, " · admin %d", e.AdminID)
		}
		if e.Reason != "" {
			fmt.Fprintf(&s, " · %s", html.EscapeString(truncateRunes(e.Reason, 64)))
		}
	}
	s.WriteString("\n\n<b>API keys</b>")
	if len(keys) == 0 {
		s.WriteString("\nnone")
	}
	for _, k := range keys {
		state := "active"
		if !k.Active() {
			state = "revoked " + formatDate(k.RevokedAt)
		}
		fmt.Fprintf(&s, "\n%s… · issued %s · %s", html.EscapeString(k.Prefix), formatDate(k.CreatedAt), state)
	}
	return t.show(s.String(), nil)
}

// ---- credit and debit ----------------------------------------------------

// onAdminAsk checks a /credit or /debit and asks for confirmation, showing
// the balance before and after. Nothing changes until the button.
func (b *Bot) onAdminAsk(t *adminTurn, kind string) error {
	use := "/" + kind + " &lt;user id|@username&gt; &lt;TON&gt; &lt;reason&gt;, e.g. /" + kind + " @alice 1.5 compensation for order 12"
	args := splitArgs(t.args, 3)
	if len(args) != 3 {
		return t.usage("give a user, an amount of TON and a reason", use)
	}
	amount, err := shop.ParseTON(args[1])
	if err != nil || amount <= 0 {
		return t.usage("the amount must be a positive number of TON such as 1.5, got "+echo(args[1]), use)
	}
	reason := args[2]
	if n := len([]rune(reason)); n > 256 {
		return t.usage(fmt.Sprintf("the reason is %d characters; at most 256", n), use)
	}
	u, err := b.findUser(t.ctx, args[0])
	if err != nil {
		return err
	}
	after := u.Balance + amount
	if kind == "debit" {
		after = u.Balance - amount
		if after < 0 {
			t.result = "refused: balance too low"
			return t.say(fmt.Sprintf("⚠️ %s has %s TON; a debit of %s TON would make the balance negative. Nothing changed.",
				userLabel(u), u.Balance, amount), nil)
		}
	}
	op := &adminOp{Kind: kind, UserID: u.ID, Amount: amount, Reason: reason, Nonce: newNonce()}
	if err := b.saveState(t.ctx, t.chat, chatState{Step: stepAdminOp, Op: op}); err != nil {
		return err
	}
	t.result = "asked for confirmation"
	verb := map[string]string{"credit": "Credit", "debit": "Debit"}[kind]
	return t.say(fmt.Sprintf("%s <b>%s TON</b> %s %s?\nBalance: %s TON → <b>%s TON</b>\nReason: %s",
		verb, amount, map[string]string{"credit": "to", "debit": "from"}[kind], userLabel(u),
		u.Balance, after, html.EscapeString(reason)),
		keyboard{{button("✅ "+verb+" "+amount.String()+" TON", cbAdmOK, op.Nonce), button("✖ Cancel", cbAdmNo)}})
}

// onAdminConfirm carries out the pending credit or debit whose button was
// pressed. The confirmation is consumed before the ledger changes: a
// repeated press, or a press after a crash, can never move money twice.
func (b *Bot) onAdminConfirm(t *adminTurn) error {
	st, err := b.loadState(t.ctx, t.chat)
	if err != nil {
		return err
	}
	if st == nil || st.Step != stepAdminOp || st.Op == nil || st.Op.Nonce != t.Data() {
		t.result = "stale confirmation"
		if err := t.answer("This confirmation expired or was already used. Nothing changed.", true); err != nil {
			return err
		}
		return t.show("This confirmation expired or was already used. Nothing changed.", nil)
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return err
	}
	op := st.Op
	t.action, t.args = op.Kind, op.String()
	var entry *shop.LedgerEntry
	if op.Kind == "credit" {
		entry, err = b.Shop.AdminCredit(t.ctx, t.admin, op.UserID, op.Amount, op.Reason)
	} else {
		entry, err = b.Shop.AdminDebit(t.ctx, t.admin, op.UserID, op.Amount, op.Reason)
	}
	if err != nil {
		return err
	}
	t.result = fmt.Sprintf("ok: ledger entry %d, balance %s", entry.ID, entry.BalanceAfter)
	done := map[string]string{"credit": "Credited %s TON to %d", "debit": "Debited %s TON from %d"}[op.Kind]
	note := ""
	if op.Kind == "credit" {
		note = " The user is notified."
	}
	return t.show(fmt.Sprintf("✅ "+done+". Balance now <b>%s TON</b> (ledger entry #%d).%s",
		op.Amount, op.UserID, entry.BalanceAfter, entry.ID, note), nil)
}

// onAdminCancel drops the pending credit or debit (the middleware already
// cleared the chat's state).
func (b *Bot) onAdminCancel(t *adminTurn) error {
	return t.show("Cancelled. Nothing changed.", nil)
}

// ---- manual orders -------------------------------------------------------

// manualOrders returns every order waiting for manual delivery, oldest
// first.
func (b *Bot) manualOrders(ctx context.Context) ([]*shop.Order, error) {
	var all []*shop.Order
	var before int64
	for {
		page, next, err := b.Shop.FindOrders(ctx, shop.OrderFilter{Status: shop.StatusManual, Before: before, Limit: shop.MaxPageSize})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == 0 {
			break
		}
		before = next
	}
	slices.Reverse(all)
	return all, nil
}

func (b *Bot) onAdminPending(t *adminTurn) error {
	orders, err := b.manualOrders(t.ctx)
	if err != nil {
		return err
	}
	if len(orders) == 0 {
		return t.show("✅ No order waits for manual delivery.", keyboard{{adminMenuButton()}})
	}
	var s strings.Builder
	fmt.Fprintf(&s, "⏳ <b>%d orders wait for manual delivery</b> (oldest first)\n", len(orders))
	kb := keyboard{}
	for i, o := range orders {
		if i == pendingShown {
			fmt.Fprintf(&s, "\n…and %d more after these.", len(orders)-pendingShown)
			break
		}
		fmt.Fprintf(&s, "\n#%d · %s · %s TON · buyer %d · paid %s", o.ID, orderItem(t.lang, o), o.PriceTON, o.UserID, formatTime(o.PaidAt))
		if o.FailureReason != "" {
			fmt.Fprintf(&s, "\n   %s", html.EscapeString(truncateRunes(o.FailureReason, 120)))
		}
		id := strconv.FormatInt(o.ID, 10)
		kb = append(kb, []tele.InlineButton{button("✅ #"+id+" delivered", cbAdmDelAsk, id), button("↩ Refund #"+id, cbAdmRefAsk, id)})
	}
	s.WriteString("\n\nDeliver by hand, then press Delivered (or /deliver &lt;order&gt; [reference]).")
	kb = append(kb, []tele.InlineButton{button("🔄 Refresh", cbAdm, viewPending), adminMenuButton()})
	return t.show(s.String(), kb)
}

// pendingOrder reads the order a Delivered or Refund button names. When
// it returns nil the turn is answered: the button is stale, or the order
// is no longer waiting for an admin.
func (b *Bot) pendingOrder(t *adminTurn) (*shop.Order, error) {
	id, ok := parseID(t.Data())
	if !ok {
		return nil, t.stale()
	}
	o, err := b.Shop.FindOrder(t.ctx, 0, id)
	if err != nil {
		return nil, err
	}
	if o.Status != shop.StatusManual {
		t.result = "order is " + string(o.Status)
		return nil, t.show(fmt.Sprintf("Order #%d is %s now; nothing to do.", o.ID, o.Status), keyboard{{button("⏳ Pending", cbAdm, viewPending)}})
	}
	return o, nil
}

func (b *Bot) onAdminDeliverAsk(t *adminTurn) error {
	o, err := b.pendingOrder(t)
	if o == nil {
		return err
	}
	id := strconv.FormatInt(o.ID, 10)
	return t.show(fmt.Sprintf("Mark order #%d delivered?\n%s · %s TON · buyer %d%s\n\nDeliver it by hand first: the buyer will be told it was delivered.",
		o.ID, orderItem(t.lang, o), o.PriceTON, o.UserID, heldBecause(o)),
		keyboard{{button("✅ Yes, #"+id+" was delivered", cbAdmDel, id), button("« Back", cbAdm, viewPending)}})
}

func (b *Bot) onAdminDeliverButton(t *adminTurn) error {
	id, ok := parseID(t.Data())
	if !ok {
		return t.stale()
	}
	return b.deliverOrder(t, id, "")
}

func (b *Bot) onAdminDeliver(t *adminTurn) error {
	const use = "/deliver &lt;order&gt; [reference]"
	args := splitArgs(t.args, 2)
	if len(args) == 0 {
		return t.usage("give the order number", use)
	}
	id, ok := parseID(args[0])
	if !ok {
		return t.usage("the order number must be a positive whole number, got "+echo(args[0]), use)
	}
	ref := ""
	if len(args) == 2 {
		ref = args[1]
	}
	return b.deliverOrder(t, id, ref)
}

// deliverOrder marks a manual order delivered by this admin.
func (b *Bot) deliverOrder(t *adminTurn, id int64, ref string) error {
	o, err := b.Shop.FindOrder(t.ctx, 0, id)
	if err != nil {
		return err
	}
	if o.Status == shop.StatusCompleted {
		t.result = "ok: already completed"
		return t.show(fmt.Sprintf("Order #%d was already completed; nothing changed.", o.ID), keyboard{{button("⏳ Pending", cbAdm, viewPending)}})
	}
	if o, err = b.Shop.CompleteOrder(t.ctx, t.admin, id, ref); err != nil {
		return err
	}
	return t.show(fmt.Sprintf("✅ Order #%d marked delivered. %s", o.ID, buyerTold(o)), keyboard{{button("⏳ Pending", cbAdm, viewPending), adminMenuButton()}})
}

// heldBecause is the reason an order waits for an admin, as a line, so
// that a confirmation replacing the alert keeps it.
func heldBecause(o *shop.Order) string {
	if o.FailureReason == "" {
		return ""
	}
	return "\nWhy manual: " + html.EscapeString(truncateRunes(o.FailureReason, 200))
}

// buyerTold says whether the buyer hears of an order's change in the bot.
func buyerTold(o *shop.Order) string {
	if o.Source == "bot" {
		return "The buyer is notified."
	}
	return "It is an API order: the partner sees the change through the API."
}

func (b *Bot) onAdminRefundAsk(t *adminTurn) error {
	o, err := b.pendingOrder(t)
	if o == nil {
		return err
	}
	id := strconv.FormatInt(o.ID, 10)
	return t.show(fmt.Sprintf("Refund order #%d?\n%s · buyer %d%s\n%s TON go back to the buyer's balance.",
		o.ID, orderItem(t.lang, o), o.UserID, heldBecause(o), o.PriceTON),
		keyboard{{button("↩ Yes, refund #"+id, cbAdmRef, id), button("« Back", cbAdm, viewPending)}})
}

func (b *Bot) onAdminRefundButton(t *adminTurn) error {
	id, ok := parseID(t.Data())
	if !ok {
		return t.stale()
	}
	return b.refundOrder(t, id, refundReason)
}

func (b *Bot) onAdminRefund(t *adminTurn) error {
	const use = "/refund &lt;order&gt; &lt;reason&gt;"
	args := splitArgs(t.args, 2)
	if len(args) != 2 {
		return t.usage("give the order number and a reason", use)
	}
	id, ok := parseID(args[0])
	if !ok {
		return t.usage("the order number must be a positive whole number, got "+echo(args[0]), use)
	}
	return b.refundOrder(t, id, args[1])
}

// refundOrder refunds an order on this admin's decision.
func (b *Bot) refundOrder(t *adminTurn, id int64, reason string) error {
	o, err := b.Shop.Refund(t.ctx, t.admin, id, reason)
	if err != nil {
		return err
	}
	return t.show(fmt.Sprintf("↩ Order #%d refunded: %s TON back on the balance of %d. %s", o.ID, o.PriceTON, o.UserID, buyerTold(o)),
		keyboard{{button("⏳ Pending", cbAdm, viewPending), adminMenuButton()}})
}

// ---- deposits ------------------------------------------------------------

func (b *Bot) onAdminUnmatched(t *adminTurn) error {
	switch strings.ToLower(t.args) {
	case "":
	case "dust":
		return b.showDust(t)
	default:
		return t.usage("the only argument /unmatched takes is dust, got "+echo(t.args), "/unmatched [dust]")
	}
	deps, err := b.Shop.FindDeposits(t.ctx, shop.DepositUnmatched, 0, unmatchedShown)
	if err != nil {
		return err
	}
	if len(deps) == 0 {
		return t.show("✅ No unmatched deposit.", keyboard{{button("🧹 Dust", cbAdm, viewDust), adminMenuButton()}})
	}
	var s strings.Builder
	fmt.Fprintf(&s, "❓ <b>Unmatched deposits</b> (newest first, at most %d)\n", unmatchedShown)
	for i, d := range deps {
		if !fits(&s, "\n"+depositLine(d)) {
			fmt.Fprintf(&s, "\n…and %d more.", len(deps)-i)
			break
		}
	}
	s.WriteString("\n\nCredit one to a user: /assign &lt;deposit&gt; &lt;user id|@username&gt;")
	return t.show(s.String(), keyboard{{button("🔄 Refresh", cbAdm, viewUnmatched), button("🧹 Dust", cbAdm, viewDust), adminMenuButton()}})
}

// showDust lists the newest ignored deposits: transfers below the minimum
// deposit, never credited.
func (b *Bot) showDust(t *adminTurn) error {
	st, err := b.Shop.Stats(t.ctx)
	if err != nil {
		return err
	}
	deps, err := b.Shop.FindDeposits(t.ctx, shop.DepositIgnored, 0, unmatchedShown)
	if err != nil {
		return err
	}
	kb := keyboard{{button("❓ Unmatched", cbAdm, viewUnmatched), adminMenuButton()}}
	if len(deps) == 0 {
		return t.show("🧹 No dust: no transfer below the minimum deposit.", kb)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "🧹 <b>Dust</b>: %d transfers below the minimum deposit, %s TON in all, never credited or alerted. The newest, at most %d:\n",
		st.Dust.Count, st.Dust.Amount, unmatchedShown)
	for i, d := range deps {
		if !fits(&s, "\n"+depositLine(d)) {
			fmt.Fprintf(&s, "\n…and %d more.", len(deps)-i)
			break
		}
	}
	return t.show(s.String(), kb)
}

// depositLine is one deposit in an admin listing; what came from the chain
// is made plain and escaped.
func depositLine(d *shop.Deposit) string {
	what := "memo <code>" + html.EscapeString(plainText(d.Memo, unmatchedField)) + "</code>"
	if d.Memo == "" {
		what = "<i>" + html.EscapeString(noMemoText(d.Reason)) + "</i>"
	}
	return fmt.Sprintf("#%d · <b>%s TON</b> · %s · from <code>%s</code> · %s",
		d.ID, d.Amount, what, html.EscapeString(plainText(d.From, unmatchedField)), formatTime(d.ChainTime))
}

func (b *Bot) onAdminAssign(t *adminTurn) error {
	const use = "/assign &lt;deposit&gt; &lt;user id|@username&gt;"
	args := strings.Fields(t.args)
	if len(args) != 2 {
		return t.usage("give the deposit number and the user", use)
	}
	depID, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil || depID == 0 {
		return t.usage("the deposit number must be a positive whole number, got "+echo(args[0]), use)
	}
	u, err := b.findUser(t.ctx, args[1])
	if err != nil {
		return err
	}
	d, err := b.Shop.AssignDeposit(t.ctx, t.admin, depID, u.ID)
	if err != nil {
		return err
	}
	return t.say(fmt.Sprintf("✅ Deposit #%d (%s TON) credited to %s. The user is notified.", d.ID, d.Amount, userLabel(u)), nil)
}

// ---- bans and keys -------------------------------------------------------

func (b *Bot) onAdminBan(t *adminTurn, ban bool) error {
	use := "/ban &lt;user id|@username&gt;"
	if !ban {
		use = "/unban &lt;user id|@username&gt;"
	}
	u, err := b.userArg(t, use)
	if u == nil {
		return err
	}
	if ban && b.isAdmin(u.ID) {
		t.result = "refused: an admin"
		return t.say("⚠️ "+userLabel(u)+" is an admin; remove them from ADMIN_IDS first. Nothing changed.", nil)
	}
	if u.Banned == ban {
		t.result = "ok: unchanged"
		return t.say(fmt.Sprintf("%s is already %s. Nothing changed.", userLabel(u), map[bool]string{true: "banned", false: "not banned"}[ban]), nil)
	}
	if u, err = b.Shop.SetBanned(t.ctx, u.ID, ban); err != nil {
		return err
	}
	if ban {
		return t.say("⛔ "+userLabel(u)+" is banned: they can neither buy nor use API keys. Their balance is kept.", nil)
	}
	return t.say("✅ "+userLabel(u)+" is no longer banned.", nil)
}

func (b *Bot) onAdminRevokeKey(t *adminTurn) error {
	const use = "/revokekey &lt;user id|@username&gt;"
	u, err := b.userArg(t, use)
	if u == nil {
		return err
	}
	n, err := b.Shop.RevokeKey(t.ctx, u.ID, "")
	if err != nil {
		return err
	}
	t.result = fmt.Sprintf("ok: %d revoked", n)
	return t.say(fmt.Sprintf("🔑 Revoked %d API key(s) of %s. Requests with them now get 401.", n, userLabel(u)), nil)
}

// ---- fees ----------------------------------------------------------------

func (b *Bot) onAdminFees(t *adminTurn) error {
	const use = "/fees, /fees set &lt;name&gt; &lt;value&gt; or /fees reset"
	args := strings.Fields(t.args)
	switch {
	case len(args) == 0:
		return b.showFees(t, "")
	case args[0] == "reset" && len(args) == 1:
		if b.DefaultPricing.USDPerStar == 0 {
			t.result = "refused: no defaults"
			return t.say("⚠️ The configured price list is unknown to the bot; nothing changed.", nil)
		}
		if err := b.Shop.ResetPricing(t.ctx, b.DefaultPricing); err != nil {
			return err
		}
		return b.showFees(t, "✅ Back to the configured price list.\n\n")
	case args[0] == "set" && len(args) == 3:
		name, value := strings.ToLower(args[1]), args[2]
		cur := b.Shop.Pricing()
		old, ok := cur.Field(name)
		if !ok {
			return t.usage("unknown name "+echo(args[1])+"; one of "+strings.Join(shop.PricingFields, ", "), use)
		}
		next, err := cur.With(name, value)
		if err != nil {
			return t.usage(name+" "+err.Error(), use)
		}
		if err := b.Shop.SavePricing(t.ctx, next); err != nil {
			return err
		}
		now, _ := next.Field(name)
		t.result = fmt.Sprintf("ok: %s %s -> %s", name, old, now)
		return b.showFees(t, fmt.Sprintf("✅ %s: %s → <b>%s</b>. Saved: it outlives restarts and overrides the configuration until /fees reset.\n\n",
			name, html.EscapeString(old), html.EscapeString(now)))
	}
	return t.usage("unknown arguments", use)
}

// showFees shows the price list in force, after head.
func (b *Bot) showFees(t *adminTurn, head string) error {
	saved, err := b.Shop.PricingSaved(t.ctx)
	if err != nil {
		return err
	}
	p := b.Shop.Pricing()
	var s strings.Builder
	s.WriteString(head)
	s.WriteString("💲 <b>Price list</b> ")
	if saved {
		s.WriteString("(saved by an admin; overrides the configuration)\n")
	} else {
		s.WriteString("(from the configuration)\n")
	}
	for _, name := range shop.PricingFields {
		v, _ := p.Field(name)
		fmt.Fprintf(&s, "\n<code>%s</code> = %s", name, html.EscapeString(v))
	}
	s.WriteString("\n\nChange one: /fees set &lt;name&gt; &lt;value&gt;, e.g. /fees set fee_percent 2.5\nBack to the configuration: /fees reset")
	return t.show(s.String(), keyboard{{adminMenuButton()}})
}

// ---- audit ---------------------------------------------------------------

func (b *Bot) onAdminAudit(t *adminTurn) error {
	const use = "/audit [number of entries, 1 to 50]"
	args := strings.Fields(t.args)
	n := auditShown
	if len(args) > 1 {
		return t.usage("give at most one number", use)
	}
	if len(args) == 1 {
		v, err := strconv.Atoi(args[0])
		if err != nil || v < 1 || v > auditMax {
			return t.usage("the number of entries must be from 1 to 50, got "+echo(args[0]), use)
		}
		n = v
	}
	return b.showAudit(t, n)
}

func (b *Bot) showAudit(t *adminTurn, n int) error {
	entries, err := b.Shop.AuditLog(t.ctx, n)
	if err != nil {
		return err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "📜 <b>Audit log</b> (newest first, %d)", len(entries))
	for i, e := range entries {
		line := fmt.Sprintf("\n%s · %d · %s", e.Time.UTC().Format("01-02 15:04:05"), e.AdminID, html.EscapeString(e.Action))
		if e.Args != "" {
			line += " " + html.EscapeString(truncateRunes(e.Args, 60))
		}
		line += " → " + html.EscapeString(truncateRunes(e.Result, 60))
		if !fits(&s, line) {
			fmt.Fprintf(&s, "\n…%d older entries do not fit; ask for fewer.", len(entries)-i)
			break
		}
	}
	return t.show(s.String(), keyboard{{button("🔄 Refresh", cbAdm, viewAudit), adminMenuButton()}})
}
