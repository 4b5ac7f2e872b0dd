package bot

import (
	"fmt"
	"html"
	"strconv"
	"strings"

	"starsbot/shop"
)

// Admin screens that move money: credit and debit of a balance, and
// deposits that matched no user.

// unmatchedShown bounds the deposit listings, so a screen fits one message.
const unmatchedShown = 20

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
	// The shop's own rules (shop.ValidateReason, User.BalanceAfter), so
	// that no confirmation is offered for what it would refuse; it checks
	// them again when the button is pressed.
	reason, err := shop.ValidateReason(args[2])
	if err != nil {
		return t.usage(shop.ErrorMessage(err), use)
	}
	u, err := b.findUser(t.ctx, args[0])
	if err != nil {
		return err
	}
	delta := amount
	if kind == "debit" {
		delta = -amount
	}
	after, err := u.BalanceAfter(delta)
	switch {
	case err != nil && kind == "debit":
		t.result = "refused: balance too low"
		return t.say(fmt.Sprintf("⚠️ %s has %s TON; a debit of %s TON would make the balance negative. Nothing changed.",
			userLabel(u), u.Balance, amount), nil)
	case err != nil:
		t.result = "refused: " + err.Error()
		return t.say("⚠️ "+html.EscapeString(shop.ErrorMessage(err))+". Nothing changed.", nil)
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

// onAdminConfirm carries out the unconfirmed credit or debit whose button was
// pressed. The confirmation is consumed before the ledger changes: a
// repeated press, or a press after a crash, can never move money twice.
func (b *Bot) onAdminConfirm(t *adminTurn) error {
	st, raw, err := b.loadStateRaw(t.ctx, t.chat)
	if err != nil {
		return err
	}
	taken := false
	if st != nil && st.Step == stepAdminOp && st.Op != nil && st.Op.Nonce == t.Data() {
		// Compare-and-delete: of two handlings of one press (a repeated
		// webhook update served by two replicas) only one takes the
		// confirmation and moves money.
		if taken, err = b.State.TakeChatState(t.ctx, t.chat, raw); err != nil {
			return err
		}
	}
	if !taken {
		t.result = "stale confirmation"
		if err := t.answer("This confirmation expired or was already used. Nothing changed.", true); err != nil {
			return err
		}
		return t.show("This confirmation expired or was already used. Nothing changed.", nil)
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
	if op.Kind != "credit" {
		b.BalanceChanged(op.UserID) // a debit emits no event: the partner's low-balance alert is checked here
	}
	done := map[string]string{"credit": "Credited %s TON to %d", "debit": "Debited %s TON from %d"}[op.Kind]
	note := ""
	if op.Kind == "credit" {
		note = " The user is notified."
	}
	return t.show(fmt.Sprintf("✅ "+done+". Balance now <b>%s TON</b> (ledger entry #%d).%s",
		op.Amount, op.UserID, entry.BalanceAfter, entry.ID, note), nil)
}

// onAdminCancel drops the unconfirmed credit or debit (the middleware already
// cleared the chat's state).
func (b *Bot) onAdminCancel(t *adminTurn) error {
	return t.show("Cancelled. Nothing changed.", nil)
}

// ---- deposits ------------------------------------------------------------

func (b *Bot) onAdminUnmatched(t *adminTurn) error {
	switch strings.ToLower(t.args) {
	case "":
	case "dust":
		return b.showDust(t)
	case "rejected":
		return b.showRejected(t)
	default:
		return t.usage("/unmatched takes dust or rejected, got "+echo(t.args), "/unmatched [dust|rejected]")
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
	return fmt.Sprintf("#%d · <b>%s TON</b>%s · %s · from <code>%s</code> · %s",
		d.ID, d.Amount, depositAsset(d), what, html.EscapeString(plainText(d.From, unmatchedField)), formatTime(d.ChainTime))
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
