package bot

import (
	"html"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// starPresets are the quantities offered as buttons (those within the
// configured limits).
var starPresets = []int64{50, 100, 250, 500, 1000, 2500}

// onBuy starts a Stars or Premium purchase: who is it for?
func (b *Bot) onBuy(t *turn) error {
	kind := t.Data()
	if _, ok := orderType(kind); !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	return t.show(t.whoFor(kind, 0))
}

// whoFor asks who the purchase is for; n, when not 0, is the amount (or
// months) a deep link already chose, carried by the buttons.
func (t *turn) whoFor(kind string, n int64) (string, keyboard) {
	me := t.T("btn.me")
	if named := t.T("btn.me_named", t.user.Username); t.user.Username != "" && utf8.RuneCountInString(named) <= MaxButtonRunes(2) {
		me = named // a long username would not fit half a row
	}
	args := []string{kind}
	text := t.T("buy.who." + kind)
	if n > 0 {
		args = append(args, strconv.FormatInt(n, 10))
		if kind == kindStars {
			text = t.T("buy.who_n."+kind, starsText(t.lang, n))
		} else {
			text = t.T("buy.who_n."+kind, n)
		}
	}
	return text, keyboard{
		{button(me, cbMe, args...), button(t.T("btn.someone"), cbOther, args...)},
		{t.btnMenu()},
	}
}

// recipientArgs parses the data of the Me and Someone else buttons: a
// kind, and optionally the amount a deep link chose (0 if none).
func recipientArgs(args []string) (kind string, n int64, ok bool) {
	if len(args) < 1 || len(args) > 2 {
		return "", 0, false
	}
	if _, ok := orderType(args[0]); !ok {
		return "", 0, false
	}
	if len(args) == 2 {
		var err error
		if n, err = strconv.ParseInt(args[1], 10, 64); err != nil || n <= 0 {
			return "", 0, false
		}
	}
	return args[0], n, true
}

// onRecipientMe picks the user as recipient; it needs a username.
func (b *Bot) onRecipientMe(t *turn) error {
	kind, n, ok := recipientArgs(t.Args())
	if !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	if t.user.Username == "" {
		return t.answer(t.T("buy.no_username"), true)
	}
	if n > 0 {
		return b.quote(t, kind, n, t.user.Username, "")
	}
	return t.show(t.pickAmount(kind, t.user.Username))
}

// onRecipientOther waits for a username.
func (b *Bot) onRecipientOther(t *turn) error {
	kind, n, ok := recipientArgs(t.Args())
	if !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	if err := b.saveState(t.ctx, t.chat, chatState{Step: stepRecipient, Kind: kind, Amount: n}); err != nil {
		return t.fail(err)
	}
	return t.show(t.T("buy.ask_recipient"), keyboard{{button(t.T("btn.cancel"), cbMenu)}})
}

// onRecipientText validates a typed username with the API's rules and the
// provider's lookup, then offers the amounts, or quotes at once when a
// deep link chose the amount.
func (b *Bot) onRecipientText(t *turn, st *chatState, text string) error {
	typ, ok := orderType(st.Kind)
	if !ok {
		return b.onHelpShort(t)
	}
	cancel := keyboard{{button(t.T("btn.cancel"), cbMenu)}}
	name, err := shop.NormalizeUsername(text)
	if err != nil {
		_ = b.saveState(t.ctx, t.chat, *st) // the flow waits again, for another StateTTL
		return t.say(t.T("buy.bad_username"), cancel)
	}
	// The provider could not tell (rc nil): the service lets such
	// orders through and refunds them if delivery fails; the quote says
	// the recipient was not checked.
	rc, ok := b.checkRecipient(t, typ, name)
	switch {
	case !ok:
		_ = b.saveState(t.ctx, t.chat, *st)
		return t.say(t.T("buy.cannot_receive."+st.Kind, html.EscapeString(name), html.EscapeString(providerReason(t.lang, reasonOr(t, rc)))), cancel)
	case rc != nil && rc.Username != "":
		name = rc.Username
		t.rcName = name
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return t.fail(err)
	}
	if st.Amount > 0 {
		return b.quote(t, st.Kind, st.Amount, name, "")
	}
	return t.say(t.pickAmount(st.Kind, name))
}

// startPurchase handles the deep links that prefill a purchase, the
// payload of /start: stars_<n>, stars_<n>_<username>, premium_<months>
// and premium_<months>_<username>. It reports false for any other
// payload (the caller shows the menu). A link with an amount outside the
// shop's limits, or months not on offer, is refused with the menu; one
// with a username goes through the same checks as a typed one.
func (b *Bot) startPurchase(t *turn, payload string) (bool, error) {
	parts := strings.SplitN(payload, "_", 3)
	var kind string
	switch parts[0] {
	case "stars":
		kind = kindStars
	case "premium":
		kind = kindPremium
	default:
		return false, nil
	}
	n, ok := int64(0), false
	if len(parts) >= 2 {
		var err error
		n, err = strconv.ParseInt(parts[1], 10, 64)
		if err == nil && kind == kindStars {
			p := b.Shop.Pricing()
			ok = n >= p.StarsMin && n <= p.StarsMax
		} else if err == nil {
			ok = slices.Contains(shop.PremiumMonths, int(n))
		}
	}
	if !ok {
		return true, t.say(t.T("start.bad_link")+"\n\n"+t.menuText(), t.menuKeyboard())
	}
	if len(parts) == 3 {
		return true, b.onRecipientText(t, &chatState{Step: stepRecipient, Kind: kind, Amount: n}, parts[2])
	}
	return true, t.say(t.whoFor(kind, n))
}

// MaxButtonRunes is the longest button text, in characters, that a row of
// n buttons shows uncut on a phone (Telegram cuts a button's text to one
// line with an ellipsis; the issue saw a 43-character full-width button
// cut). Chosen for a 360 dp wide phone: 32 alone in a row, 20 two to a
// row, 12 three or more. The tests check every button sent against it.
func MaxButtonRunes(n int) int {
	switch n {
	case 1:
		return 32
	case 2:
		return 20
	}
	return 12
}

// pickAmount is the amount (Stars) or duration (Premium) choice. Each
// choice shows what it costs now (shop.Quote: an estimate, not held; the
// quote that follows holds its price): the message lists the TON price
// with ≈ USD, and each button carries the ≈ USD, short enough for a phone
// (MaxButtonRunes). Without a rate the buttons show the quantity only.
func (t *turn) pickAmount(kind, recipient string) (string, keyboard) {
	who := html.EscapeString(recipient)
	var lines strings.Builder
	estimate := func(req shop.QuoteRequest, label string) string {
		q, err := t.b.Shop.Quote(t.ctx, req)
		if err != nil {
			return ""
		}
		lines.WriteString("\n" + label + " — " + t.tonUSD(q.PriceTON, q.Rate.TONUSD))
		return "≈" + nbsp + usdAmount(t.lang, usdOf(q.PriceTON, q.Rate.TONUSD))
	}
	if kind == kindPremium {
		var kb keyboard
		for _, m := range shop.PremiumMonths {
			label := t.T("btn.months", m)
			text := label
			if usd := estimate(shop.QuoteRequest{Type: shop.OrderPremium, Months: m}, label); usd != "" {
				text += " · " + usd
			}
			kb = append(kb, []tele.InlineButton{button(text, cbAmount, kind, strconv.Itoa(m), recipient)})
		}
		return t.T("buy.pick_months", who) + "\n" + lines.String(), append(kb, []tele.InlineButton{t.btnMenu()})
	}
	p := t.b.Shop.Pricing()
	var kb keyboard
	var row []tele.InlineButton
	for _, n := range starPresets {
		if n < p.StarsMin || n > p.StarsMax {
			continue
		}
		label := t.num(n) + " ⭐"
		text := label
		if usd := estimate(shop.QuoteRequest{Type: shop.OrderStars, Stars: n}, label); usd != "" {
			text += " " + usd
		}
		row = append(row, button(text, cbAmount, kind, strconv.FormatInt(n, 10), recipient))
		if len(row) == 2 {
			kb, row = append(kb, row), nil
		}
	}
	if len(row) > 0 {
		kb = append(kb, row)
	}
	kb = append(kb, []tele.InlineButton{button(t.T("btn.other_amount"), cbCustom, recipient)}, []tele.InlineButton{t.btnMenu()})
	return t.T("buy.pick_stars", who) + "\n" + lines.String(), kb
}

// onAmount quotes a preset amount or a Premium duration.
func (b *Bot) onAmount(t *turn) error {
	args := t.Args()
	if len(args) != 3 {
		return t.answer(t.T("err.stale_button"), true)
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return t.answer(t.T("err.stale_button"), true)
	}
	return b.quote(t, args[0], n, args[2], "")
}

// onCustomAmount waits for a typed number of stars.
func (b *Bot) onCustomAmount(t *turn) error {
	recipient, err := shop.NormalizeUsername(t.Data())
	if err != nil {
		return t.answer(t.T("err.stale_button"), true)
	}
	if err := b.saveState(t.ctx, t.chat, chatState{Step: stepAmount, Kind: kindStars, Recipient: recipient}); err != nil {
		return t.fail(err)
	}
	p := b.Shop.Pricing()
	return t.show(t.T("buy.ask_amount", t.num(p.StarsMin), t.num(p.StarsMax)), keyboard{{button(t.T("btn.cancel"), cbMenu)}})
}

// onAmountText quotes a typed number of stars; out of limits it explains
// the limits and creates nothing.
func (b *Bot) onAmountText(t *turn, st *chatState, text string) error {
	p := b.Shop.Pricing()
	n, err := strconv.ParseInt(strings.NewReplacer(" ", "", "_", "", ",", "", "\u00a0", "").Replace(text), 10, 64)
	if err != nil || n < p.StarsMin || n > p.StarsMax {
		_ = b.saveState(t.ctx, t.chat, *st)
		return t.say(t.T("buy.bad_amount", t.num(p.StarsMin), t.num(p.StarsMax)), keyboard{{button(t.T("btn.cancel"), cbMenu)}})
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return t.fail(err)
	}
	return b.quote(t, st.Kind, n, st.Recipient, "")
}

// quote locks the purchase's price for the user (shop.LockQuote, QUOTE_TTL)
// and offers Confirm (pay from balance), Pay by TON transfer and Cancel;
// when the balance is short of the price, Pay by TON transfer, Top up and
// Cancel.
// Both payment buttons carry the quote's id, which is also the order's
// idempotency key: whatever is tapped, twice or replayed, this quote
// yields at most one order, at exactly the price shown. notice, if not
// empty, heads the message (why the user is asked again).
func (b *Bot) quote(t *turn, kind string, n int64, recipient, notice string) error {
	typ, ok := orderType(kind)
	recipient, err := shop.NormalizeUsername(recipient)
	if !ok || err != nil {
		return t.answer(t.T("err.stale_button"), true)
	}
	req := shop.QuoteRequest{Type: typ}
	if typ == shop.OrderStars {
		req.Stars = n
	} else {
		req.Months = int(n)
	}
	rc, canReceive := b.checkRecipient(t, typ, recipient)
	if !canReceive {
		return t.show(t.T("buy.cannot_receive."+kind, html.EscapeString(recipient), html.EscapeString(providerReason(t.lang, reasonOr(t, rc)))), keyboard{{t.btnMenu()}})
	}
	q, err := b.Shop.LockQuote(t.ctx, t.user.ID, req)
	if shop.ErrorCode(err) == shop.EVALIDATION {
		p := b.Shop.Pricing()
		return t.say(t.T("buy.bad_amount", t.num(p.StarsMin), t.num(p.StarsMax)), keyboard{{t.btnMenu()}})
	} else if err != nil {
		return t.fail(err)
	}
	held := "\n\n" + t.T("buy.held", int64(q.ExpiresAt.Sub(q.CreatedAt).Seconds()))
	if t.user.Balance < q.PriceTON {
		// The balance cannot pay it: lead with paying by wallet, then
		// topping up; no button that could only fail.
		return t.show(notice+t.T("buy.quote_short", t.item(typ, n, recipient)+"\n"+t.recipientLine(rc, recipient), t.tonUSD(q.PriceTON, q.Rate.TONUSD), t.ton(t.user.Balance))+held, keyboard{
			{button(t.T("btn.pay_ton"), cbPay, q.ID, payTON, recipient)},
			{button(t.T("btn.topup"), cbBalance)},
			{button(t.T("btn.cancel"), cbMenu)},
		})
	}
	text := notice + t.T("buy.quote", t.item(typ, n, recipient)+"\n"+t.recipientLine(rc, recipient), t.tonUSD(q.PriceTON, q.Rate.TONUSD), t.ton(t.user.Balance)) + held
	kb := keyboard{
		{button(t.T("btn.confirm", t.ton(q.PriceTON)), cbPay, q.ID, payBalance, recipient)},
		{button(t.T("btn.pay_ton"), cbPay, q.ID, payTON, recipient)},
		{button(t.T("btn.cancel"), cbMenu)},
	}
	return t.show(text, kb)
}

// item describes what an order buys, for whom.
func (t *turn) item(typ shop.OrderType, n int64, recipient string) string {
	return itemText(t.lang, typ, n, recipient)
}

func itemText(lang string, typ shop.OrderType, n int64, recipient string) string {
	if typ == shop.OrderPremium {
		return tr(lang, "item.premium", n, html.EscapeString(recipient))
	}
	return tr(lang, "item.stars", starsText(lang, n), html.EscapeString(recipient))
}

func orderItem(lang string, o *shop.Order) string {
	n := o.Stars
	if o.Type == shop.OrderPremium {
		n = int64(o.Months)
	}
	return itemText(lang, o.Type, n, o.Recipient)
}

// quotedAmount is the quantity of a quote: Stars, or Premium months.
func quotedAmount(q *shop.LockedQuote) (kind string, n int64) {
	if q.Type == shop.OrderPremium {
		return kindPremium, int64(q.Months)
	}
	return kindStars, q.Stars
}

// onPay creates the order of a locked quote, paid from the balance or by a
// TON transfer, at the quote's price, with the quote's id as idempotency
// key. A quote that expired is never charged: the user sees the current
// price and is asked again.
func (b *Bot) onPay(t *turn) error {
	args := t.Args()
	if len(args) == 5 && validNonce(args[0]) {
		// A button from before prices were locked: price it now and ask.
		n, err := strconv.ParseInt(args[3], 10, 64)
		if err != nil {
			return t.answer(t.T("err.stale_button"), true)
		}
		return b.quote(t, args[2], n, args[4], t.T("buy.price_gone"))
	}
	if len(args) != 3 || (args[1] != payBalance && args[1] != payTON) {
		return t.answer(t.T("err.stale_button"), true)
	}
	quoteID, method, recipient := args[0], args[1], args[2]
	q, err := b.Shop.FindQuote(t.ctx, t.user.ID, quoteID)
	switch shop.ErrorCode(err) {
	case "":
	case shop.ENOTFOUND, shop.EVALIDATION: // forgotten long after it expired, another user's, or forged
		return t.answer(t.T("err.stale_button"), true)
	default:
		return t.fail(err)
	}
	kind, n := quotedAmount(q)
	req := shop.CreateOrderRequest{
		UserID:         t.user.ID,
		Type:           q.Type,
		Stars:          q.Stars,
		Months:         q.Months,
		Recipient:      recipient,
		PaymentMethod:  shop.PayBalance,
		IdempotencyKey: "bot-" + quoteID,
		QuoteID:        quoteID,
		Source:         shop.SourceBot,
	}
	if method == payTON {
		req.PaymentMethod = shop.PayTONMemo
	}
	order, err := b.Shop.CreateOrder(t.ctx, req)
	switch shop.ErrorCode(err) {
	case "":
	case shop.EINSUFFICIENT:
		return t.show(t.T("buy.insufficient", t.item(q.Type, n, recipient), t.tonUSD(q.PriceTON, q.Rate.TONUSD), t.ton(t.user.Balance)), keyboard{
			{button(t.T("btn.topup"), cbBalance)},
			{button(t.T("btn.pay_ton"), cbPay, quoteID, payTON, recipient)},
			{button(t.T("btn.cancel"), cbMenu)},
		})
	case shop.EQUOTEEXPIRED:
		return b.quote(t, kind, n, recipient, t.T("buy.requote", t.ton(q.PriceTON)))
	case shop.ECONFLICT, shop.EQUOTEUSED:
		return t.show(t.T("err.conflict"), keyboard{{t.btnMenu()}})
	case shop.ERECIPIENT:
		return t.show(t.T("buy.cannot_receive."+kind, html.EscapeString(recipient), t.T("buy.not_found")), keyboard{{t.btnMenu()}})
	default:
		return t.fail(err)
	}
	b.Logger.Info("telegram order created", "user_id", t.user.ID, "order_id", order.ID, "payment_method", order.PaymentMethod)
	switch {
	case order.PaymentMethod == shop.PayTONMemo && order.Status == shop.StatusPendingPayment:
		return b.showPayment(t, order)
	case order.PaymentMethod == shop.PayBalance && (order.Status == shop.StatusPaid || order.Status == shop.StatusProcessing):
		return t.show(t.T("buy.paid", order.ID, orderItem(t.lang, order), t.tonUSD(order.PriceTON, order.TONUSD)), keyboard{
			{button(t.T("btn.orders"), cbOrders, "0"), t.btnMenu()},
		})
	}
	// A replayed button of an order that has moved on: show where it is.
	return b.showOrder(t, order)
}

// showPayment shows how to pay a ton_memo order: address, exact amount,
// memo, deadline, the wallet buttons (walletRows), the ton:// link, a
// Check payment button and the link's QR code; it records the screen so
// that it can be edited when the order is paid, expires or is cancelled
// (payscreen.go).
func (b *Bot) showPayment(t *turn, o *shop.Order) error {
	link := tonLink(o.PaymentAddress, o.PriceTON, o.PaymentMemo)
	text := t.T("pay.ton", o.ID, orderItem(t.lang, o), t.ton(o.PriceTON), approxUSD(t.lang, o.PriceTON, o.TONUSD),
		html.EscapeString(o.PaymentAddress), html.EscapeString(o.PaymentMemo),
		formatTime(o.ExpiresAt), html.EscapeString(link))
	id := strconv.FormatInt(o.ID, 10)
	kb := append(append(t.walletRows(o.PaymentAddress, o.PriceTON, o.PaymentMemo), b.usdtPayRow(t, o)...),
		[]tele.InlineButton{button(t.T("btn.check_payment"), cbCheckPay, id)},
		[]tele.InlineButton{button(t.T("btn.cancel_order"), cbCancelOrder, id), t.btnMenu()})
	textID, err := t.showMsg(text, kb)
	if err != nil {
		return err
	}
	qrID := 0
	if png, err := qrPNG(link); err != nil {
		b.Logger.Error("telegram QR code failed", "error", err)
	} else if qrID, err = b.sendPhoto(t.ctx, t.chat, png, t.T("pay.qr", t.ton(o.PriceTON), html.EscapeString(o.PaymentMemo))); err != nil {
		b.rememberScreen(t.ctx, t.chat, o.ID, textID, 0)
		return err
	}
	b.rememberScreen(t.ctx, t.chat, o.ID, textID, qrID)
	return nil
}

// onOtherWallet explains how to pay with a wallet that has no button, or
// on a computer, where Telegram does not open ton:// links: copy the TON
// link of the screen into the browser's address bar, or scan the QR code.
func (b *Bot) onOtherWallet(t *turn) error {
	return t.answer(t.T("pay.other_wallet"), true)
}
