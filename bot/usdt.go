package bot

import (
	"context"
	"fmt"
	"html"
	"strings"

	"starsbot/shop"
)

// USDT on TON in the admin screens (issue 19): the USDT received and the
// hot wallet's USDT in /stats, the asset of a deposit in listings, and the
// rejected fake-jetton notifications (/unmatched rejected).

// usdtStats is /stats' USDT part: what arrived in USDT (and was credited in
// TON), the fake jettons refused, and the hot wallet's USDT when known.
func (b *Bot) usdtStats(ctx context.Context, st *shop.Stats) string {
	var s strings.Builder
	fmt.Fprintf(&s, "USDT received: %d deposits, %s USDT, credited %s TON\n",
		st.USDTReceived.Count, shop.FormatUSDT(st.USDTUnits), st.USDTReceived.Amount)
	fmt.Fprintf(&s, "Fake jettons rejected (not counted above): %d\n", st.Rejected.Count)
	if b.WalletUSDT != nil {
		if units, err := b.WalletUSDT(ctx); err != nil {
			b.Logger.Warn("hot wallet USDT unknown", "error", b.redact(err))
			s.WriteString("Hot wallet USDT: unknown (see the log)\n")
		} else {
			fmt.Fprintf(&s, "Hot wallet USDT: %s\n", shop.FormatUSDT(units))
		}
	}
	return s.String()
}

// depositAsset is what a jetton deposit carried, for an admin listing:
// " (10 USDT)", " (fake jetton: 1000 units from <wallet>)", or "".
func depositAsset(d *shop.Deposit) string {
	switch d.Asset {
	case shop.AssetUSDT:
		return fmt.Sprintf(" (%s USDT)", shop.FormatUSDT(d.JettonAmount))
	case shop.AssetJetton:
		return fmt.Sprintf(" (fake jetton: %d units from <code>%s</code>)", d.JettonAmount, html.EscapeString(plainText(d.JettonWallet, unmatchedField)))
	}
	return ""
}

// showRejected lists the newest rejected deposits: jetton notifications
// that did not come from our USDT jetton wallet, never credited.
func (b *Bot) showRejected(t *adminTurn) error {
	deps, err := b.Shop.FindDeposits(t.ctx, shop.DepositRejected, 0, unmatchedShown)
	if err != nil {
		return err
	}
	kb := keyboard{{button("❓ Unmatched", cbAdm, viewUnmatched), adminMenuButton()}}
	if len(deps) == 0 {
		return t.show("🚫 No fake jetton: every jetton notification came from our USDT jetton wallet.", kb)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "🚫 <b>Rejected jettons</b>: notifications not from our USDT jetton wallet, never credited (the TON shown is what they carried). The newest, at most %d:\n", unmatchedShown)
	for i, d := range deps {
		if !fits(&s, "\n"+depositLine(d)) {
			fmt.Fprintf(&s, "\n…and %d more.", len(deps)-i)
			break
		}
	}
	return t.show(s.String(), kb)
}
