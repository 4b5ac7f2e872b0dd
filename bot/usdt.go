package bot

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"strconv"
	"strings"

	tele "gopkg.in/telebot.v3"

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

// ---- buyers: top up and pay in USDT -------------------------------------

// Buttons of the USDT screens.
const (
	cbUSDTTopup = "ut" // the USDT top-up screen
	cbUSDTPay   = "up" // order id: pay this unpaid order in USDT instead of TON
)

// usdtShop is what the USDT screens ask of the shop beyond Shop;
// *shop.Service has it.
type usdtShop interface {
	USDTRate(ctx context.Context) (perUSDT shop.NanoTON, feePPM int64, ok bool, err error)
	PayOrderInUSDT(ctx context.Context, userID, orderID int64) (*shop.Order, error)
}

// usdtOn reports whether the bot offers USDT: a USDT master is configured
// and the shop prices in USDT.
func (b *Bot) usdtOn() (usdtShop, bool) {
	s, ok := b.Shop.(usdtShop)
	return s, ok && b.USDTMaster != ""
}

// Jetton transfer links. Tonkeeper documents one for jettons, with the
// same three prefixes (ton://, tonkeeper://, https://app.tonkeeper.com/)
// and parameters:
//
//	{PREFIX}transfer/<address>?jetton=<jetton master>&amount=<jetton units>&text=<url-encoded-utf8-text>
//
// Source: https://docs.tonconsole.com/tonkeeper/deep-linking, "Transfer
// Jetton" (amount "in the token's smallest units", jetton "required
// jetton master address"). MyTonWallet reads only amount and text of a
// transfer link (mytonwalletorg/mytonwallet src/util/ton/deeplinks.ts,
// parseTonDeeplink), so it gets no USDT button: it would offer TON. The
// same page says a wallet SHOULD ignore unknown parameters, so a wallet
// that does not know "jetton" would offer the amount as nanoTON: the
// screens say the amount in USDT in words, and the shop books whatever
// arrives by its memo.
func jettonQuery(master string, units int64, memo string) string {
	q := []string{"jetton=" + url.QueryEscape(master)}
	if units > 0 {
		q = append(q, "amount="+strconv.FormatInt(units, 10))
	}
	if memo != "" {
		q = append(q, "text="+url.QueryEscape(memo))
	}
	return "?" + strings.Join(q, "&")
}

// tonkeeperJettonURL is Tonkeeper's universal link of a jetton transfer.
func tonkeeperJettonURL(address, master string, units int64, memo string) string {
	return "https://app.tonkeeper.com/transfer/" + url.PathEscape(address) + jettonQuery(master, units, memo)
}

// tonJettonLink is the ton:// link of a jetton transfer, shown as text and
// encoded in the QR code (like tonLink).
func tonJettonLink(address, master string, units int64, memo string) string {
	return "ton://transfer/" + url.PathEscape(address) + jettonQuery(master, units, memo)
}

// usdtWalletRows are the wallet choices of a USDT screen.
func (t *turn) usdtWalletRows(address, master string, units int64, memo string) keyboard {
	return keyboard{
		{urlButton(t.T("btn.tonkeeper_usdt"), tonkeeperJettonURL(address, master, units, memo)), urlButton(t.T("btn.telegram_wallet"), telegramWalletURL)},
		{button(t.T("btn.other_wallet"), cbOtherWallet)},
	}
}

// usdtTopupRow is the balance screen's button to the USDT top-up, or none.
func (b *Bot) usdtTopupRow(t *turn) keyboard {
	if _, ok := b.usdtOn(); !ok {
		return nil
	}
	return keyboard{{button(t.T("btn.usdt_topup"), cbUSDTTopup)}}
}

// usdtPayRow is a payment screen's button to pay the order in USDT, or
// none (USDT off, or the order already priced in USDT).
func (b *Bot) usdtPayRow(t *turn, o *shop.Order) keyboard {
	if _, ok := b.usdtOn(); !ok || o.PaymentCurrency == shop.AssetUSDT {
		return nil
	}
	return keyboard{{button(t.T("btn.usdt_pay"), cbUSDTPay, strconv.FormatInt(o.ID, 10))}}
}

// onUSDTTopup shows how to top up the balance with USDT: the deposit
// address, the personal memo, what one USDT is worth now, the wallet
// buttons and the QR code of the jetton transfer link.
func (b *Bot) onUSDTTopup(t *turn) error {
	us, ok := b.usdtOn()
	deposit := b.Shop.DepositAddress()
	if !ok || deposit == "" {
		return t.answer(t.T("err.stale_button"), true)
	}
	perUSDT, fee, ok, err := us.USDTRate(t.ctx)
	if err != nil {
		return t.fail(err)
	}
	if !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	link := tonJettonLink(deposit, b.USDTMaster, 0, t.user.Memo)
	memo := html.EscapeString(t.user.Memo)
	text := t.T("usdt.topup", html.EscapeString(deposit), memo, t.ton(perUSDT), localDecimal(t.lang, shop.FormatFeePercent(fee)), html.EscapeString(b.USDTMaster), html.EscapeString(link))
	kb := append(t.usdtWalletRows(deposit, b.USDTMaster, 0, t.user.Memo), []tele.InlineButton{button(t.T("btn.balance"), cbBalance), t.btnMenu()})
	if err := t.show(text, kb); err != nil {
		return err
	}
	png, err := qrPNG(link)
	if err != nil {
		b.Logger.Error("telegram QR code failed", "error", err)
		return nil
	}
	return t.photo(png, t.T("usdt.topup_qr", memo))
}

// onUSDTPay switches an unpaid order to payment in USDT and shows how to
// pay it: the USDT amount, address, memo and deadline, the wallet buttons
// and the QR code; the screen is settled like the TON one when the order
// is paid, expires or is cancelled.
func (b *Bot) onUSDTPay(t *turn) error {
	us, ok := b.usdtOn()
	id, err := strconv.ParseInt(t.Data(), 10, 64)
	if !ok || err != nil || id <= 0 {
		return t.answer(t.T("err.stale_button"), true)
	}
	o, err := us.PayOrderInUSDT(t.ctx, t.user.ID, id)
	if err != nil {
		if shop.ErrorCode(err) == shop.EINVALIDSTATE {
			if o, ferr := b.Shop.FindOrder(t.ctx, t.user.ID, id); ferr == nil {
				return b.showOrder(t, o)
			}
		}
		return t.fail(err)
	}
	return b.showUSDTPayment(t, o)
}

// showUSDTPayment is showPayment for an order priced in USDT.
func (b *Bot) showUSDTPayment(t *turn, o *shop.Order) error {
	usdt := localDecimal(t.lang, shop.FormatUSDT(o.PriceUSDT))
	link := tonJettonLink(o.PaymentAddress, b.USDTMaster, o.PriceUSDT, o.PaymentMemo)
	text := t.T("usdt.pay", o.ID, orderItem(t.lang, o), usdt, t.ton(o.PriceTON),
		html.EscapeString(o.PaymentAddress), html.EscapeString(o.PaymentMemo),
		formatTime(o.ExpiresAt), html.EscapeString(link))
	id := strconv.FormatInt(o.ID, 10)
	kb := append(t.usdtWalletRows(o.PaymentAddress, b.USDTMaster, o.PriceUSDT, o.PaymentMemo),
		[]tele.InlineButton{button(t.T("btn.check_payment"), cbCheckPay, id)},
		[]tele.InlineButton{button(t.T("btn.cancel_order"), cbCancelOrder, id), t.btnMenu()})
	textID, err := t.showMsg(text, kb)
	if err != nil {
		return err
	}
	qrID := 0
	if png, err := qrPNG(link); err != nil {
		b.Logger.Error("telegram QR code failed", "error", err)
	} else if qrID, err = b.sendPhoto(t.ctx, t.chat, png, t.T("usdt.pay_qr", usdt, html.EscapeString(o.PaymentMemo))); err != nil {
		b.rememberScreen(t.ctx, t.chat, o.ID, textID, 0)
		return err
	}
	b.rememberScreen(t.ctx, t.chat, o.ID, textID, qrID)
	return nil
}

// usdtReceipt is what a deposit notification adds for a USDT deposit:
// the USDT that arrived and the rate it was credited at; "" otherwise.
func (b *Bot) usdtReceipt(ctx context.Context, lang string, e shop.Event) string {
	if e.DepositID == 0 {
		return ""
	}
	d, err := b.Shop.FindDeposit(ctx, e.DepositID)
	if err != nil || d.Asset != shop.AssetUSDT {
		return ""
	}
	return "\n" + tr(lang, "usdt.receipt", localDecimal(lang, shop.FormatUSDT(d.JettonAmount)), localDecimal(lang, d.RateTONUSD.String()), localDecimal(lang, shop.FormatFeePercent(b.usdtFeePPM(d))))
}

// usdtFeePPM is the fee a USDT deposit paid, as parts per million of its
// converted value (FeeTON of the gross), for the receipt.
func (b *Bot) usdtFeePPM(d *shop.Deposit) int64 {
	gross := d.Amount + d.FeeTON
	if d.FeeTON <= 0 || gross <= 0 {
		return 0
	}
	return int64(d.FeeTON) * 1_000_000 / int64(gross) // for display only; rounded down
}

func init() {
	for lang, texts := range map[string]map[string]string{
		"en": {
			"btn.usdt_topup":     "💵 Top up with USDT",
			"btn.usdt_pay":       "💵 Pay in USDT instead",
			"btn.tonkeeper_usdt": "Tonkeeper · USDT",
			"usdt.topup": "💵 <b>Top up with USDT (TON network)</b>\n\n" +
				"Send USDT on TON to\n<code>%s</code>\nwith the comment <code>%s</code> (required).\n\n" +
				"It is credited to your balance in TON at the rate of the moment it arrives: 1 USDT = <b>%s TON</b> now (after the %s%% fee).\n" +
				"Only USDT on TON counts (jetton <code>%s</code>); any other token is refused.\n\nAny wallet: <code>%s</code>",
			"usdt.topup_qr": "Scan with a TON wallet to top up in USDT. Comment: <code>%s</code>",
			"usdt.pay": "💵 <b>Order #%d: pay in USDT (TON network)</b>\n\n%s\n\n" +
				"Send at least <b>%s USDT</b> (or %s TON; any excess goes to your balance) to\n<code>%s</code>\nwith the comment <code>%s</code> (required)\nbefore %s.\n\nAny wallet: <code>%s</code>",
			"usdt.pay_qr":  "Scan with a TON wallet: %s USDT, comment <code>%s</code>",
			"usdt.receipt": "Paid in USDT: %s USDT at %s USD per TON, fee %s%%.",
		},
		"ru": {
			"btn.usdt_topup":     "💵 Пополнить в USDT",
			"btn.usdt_pay":       "💵 Оплатить в USDT",
			"btn.tonkeeper_usdt": "Tonkeeper · USDT",
			"usdt.topup": "💵 <b>Пополнение в USDT (сеть TON)</b>\n\n" +
				"Отправьте USDT в сети TON на адрес\n<code>%s</code>\nс комментарием <code>%s</code> (обязательно).\n\n" +
				"Сумма зачисляется на баланс в TON по курсу на момент поступления: сейчас 1 USDT = <b>%s TON</b> (после комиссии %s%%).\n" +
				"Засчитывается только USDT в сети TON (джеттон <code>%s</code>); другие токены отклоняются.\n\nЛюбой кошелёк: <code>%s</code>",
			"usdt.topup_qr": "Отсканируйте TON-кошельком для пополнения в USDT. Комментарий: <code>%s</code>",
			"usdt.pay": "💵 <b>Заказ #%d: оплата в USDT (сеть TON)</b>\n\n%s\n\n" +
				"Отправьте не менее <b>%s USDT</b> (или %s TON; излишек поступит на ваш баланс) на адрес\n<code>%s</code>\nс комментарием <code>%s</code> (обязательно)\nдо %s.\n\nЛюбой кошелёк: <code>%s</code>",
			"usdt.pay_qr":  "Отсканируйте TON-кошельком: %s USDT, комментарий <code>%s</code>",
			"usdt.receipt": "Оплачено в USDT: %s USDT по курсу %s USD за TON, комиссия %s%%.",
		},
	} {
		for k, v := range texts {
			catalogs[lang][k] = v
		}
	}
}
