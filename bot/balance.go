package bot

import (
	"html"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"starsbot/shop"
)

// ledgerLines is how many recent ledger entries the balance screen shows.
const ledgerLines = 5

// onBalance shows the balance, the personal top-up memo and address with a
// Tonkeeper button, the recent ledger entries, and a QR code of the
// top-up link.
func (b *Bot) onBalance(t *turn) error {
	entries, _, err := b.Shop.Ledger(t.ctx, shop.LedgerFilter{UserID: t.user.ID, Limit: ledgerLines})
	if err != nil {
		return t.fail(err)
	}
	var hist strings.Builder
	for _, e := range entries {
		hist.WriteString(t.T("balance.entry", signedTON(t.lang, e.Amount), t.T("ledger."+string(e.Type)), formatTime(e.CreatedAt)))
		if e.TxHash != "" && b.Explorer != "" {
			hist.WriteString(" · " + b.txLink(t.lang, e.TxHash))
		}
		hist.WriteByte('\n')
	}
	if len(entries) == 0 {
		hist.WriteString(t.T("balance.no_entries"))
	}
	memo := html.EscapeString(t.user.Memo)
	kb := keyboard{{button(t.T("btn.orders"), cbOrders, "0"), t.btnMenu()}}
	deposit := b.Shop.DepositAddress()
	if deposit == "" {
		return t.show(t.T("balance.no_address", t.ton(t.user.Balance), memo, hist.String()), kb)
	}
	addr := html.EscapeString(deposit)
	link := tonLink(deposit, 0, t.user.Memo)
	kb = append(append(t.walletRows(deposit, 0, t.user.Memo), b.usdtTopupRow(t)...), kb...)
	if err := t.show(t.T("balance.text", t.ton(t.user.Balance), addr, memo, html.EscapeString(link), hist.String()), kb); err != nil {
		return err
	}
	png, err := qrPNG(link)
	if err != nil {
		b.Logger.Error("telegram QR code failed", "error", err)
		return nil
	}
	return t.photo(png, t.T("balance.qr", memo))
}

// qrPNG renders content as a QR code image.
func qrPNG(content string) ([]byte, error) {
	return qrcode.Encode(content, qrcode.Medium, 512)
}

// formatTime renders a time for users, in UTC to the minute.
func formatTime(tm time.Time) string {
	if tm.IsZero() {
		return "—"
	}
	return tm.UTC().Format("2006-01-02 15:04 UTC")
}

// signed renders a signed amount with an explicit "+" for a credit.
func signed(n shop.NanoTON) string {
	if n > 0 {
		return "+" + n.String()
	}
	return n.String()
}

// formatDate renders a date for users.
func formatDate(tm time.Time) string { return tm.UTC().Format("2006-01-02") }
