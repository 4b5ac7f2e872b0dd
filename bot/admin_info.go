package bot

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"starsbot/shop"
)

// Admin screens that inform or configure: statistics, the price list and
// the audit log.

// Limits of the audit log screen, chosen so it fits one message.
const (
	auditShown = 20
	auditMax   = 50
)

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
	fmt.Fprintf(&s, "Dust ignored (below the minimum deposit, not counted above): %s\n", deposits(st.Dust))
	s.WriteString(b.usdtStats(t.ctx, st) + "\n")
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
	if b.ProviderQueue != nil {
		if depth, oldest := b.ProviderQueue(); depth > 0 {
			fmt.Fprintf(&s, "Delivery queue: %d orders, oldest waiting %s\n", depth, oldest.Round(time.Second))
		} else {
			s.WriteString("Delivery queue: empty\n")
		}
	}
	return t.show(s.String(), keyboard{{button("🔄 Refresh", cbAdm, viewStats), adminMenuButton()}})
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
