package bot

import (
	"html"
	"strconv"
	"strings"

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
	me := t.T("btn.me")
	if t.user.Username != "" {
		me = t.T("btn.me_named", html.EscapeString(t.user.Username))
	}
	return t.show(t.T("buy.who."+kind), keyboard{
		{button(me, cbMe, kind), button(t.T("btn.someone"), cbOther, kind)},
		{t.btnMenu()},
	})
}

// onRecipientMe picks the user as recipient; it needs a username.
func (b *Bot) onRecipientMe(t *turn) error {
	kind := t.Data()
	if _, ok := orderType(kind); !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	if t.user.Username == "" {
		return t.answer(t.T("buy.no_username"), true)
	}
	return t.show(t.pickAmount(kind, t.user.Username))
}

// onRecipientOther waits for a username.
func (b *Bot) onRecipientOther(t *turn) error {
	kind := t.Data()
	if _, ok := orderType(kind); !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	if err := b.saveState(t.ctx, t.chat, chatState{Step: stepRecipient, Kind: kind}); err != nil {
		return t.fail(err)
	}
	return t.show(t.T("buy.ask_recipient"), keyboard{{button(t.T("btn.cancel"), cbMenu)}})
}

// onRecipientText validates a typed username with the API's rules and the
// provider's lookup, then offers the amounts.
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
	rc, err := b.Shop.CheckRecipient(t.ctx, typ, name)
	switch {
	case shop.ErrorCode(err) == shop.EVALIDATION:
		_ = b.saveState(t.ctx, t.chat, *st)
		return t.say(t.T("buy.bad_username"), cancel)
	case err != nil:
		// The provider could not tell; the service lets such orders
		// through and refunds them if delivery fails.
		b.Logger.Warn("telegram recipient lookup failed", "error", err)
	case !rc.CanReceive:
		_ = b.saveState(t.ctx, t.chat, *st)
		reason := rc.Reason
		if reason == "" {
			reason = t.T("buy.not_found")
		}
		return t.say(t.T("buy.cannot_receive."+st.Kind, html.EscapeString(name), html.EscapeString(reason)), cancel)
	default:
		name = rc.Username
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return t.fail(err)
	}
	return t.say(t.pickAmount(st.Kind, name))
}

// pickAmount is the amount (Stars) or duration (Premium) choice.
func (t *turn) pickAmount(kind, recipient string) (string, keyboard) {
	who := html.EscapeString(recipient)
	if kind == kindPremium {
		var row []tele.InlineButton
		for _, m := range shop.PremiumMonths {
			row = append(row, button(t.T("btn.months", m), cbAmount, kind, strconv.Itoa(m), recipient))
		}
		return t.T("buy.pick_months", who), keyboard{row, {t.btnMenu()}}
	}
	p := t.b.Shop.Pricing()
	var kb keyboard
	var row []tele.InlineButton
	for _, n := range starPresets {
		if n < p.StarsMin || n > p.StarsMax {
			continue
		}
		row = append(row, button(strconv.FormatInt(n, 10), cbAmount, kind, strconv.FormatInt(n, 10), recipient))
		if len(row) == 3 {
			kb, row = append(kb, row), nil
		}
	}
	if len(row) > 0 {
		kb = append(kb, row)
	}
	kb = append(kb, []tele.InlineButton{button(t.T("btn.other_amount"), cbCustom, recipient)}, []tele.InlineButton{t.btnMenu()})
	return t.T("buy.pick_stars", who), kb
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
	return b.quote(t, args[0], n, args[2])
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
	return t.show(t.T("buy.ask_amount", p.StarsMin, p.StarsMax), keyboard{{button(t.T("btn.cancel"), cbMenu)}})
}

// onAmountText quotes a typed number of stars; out of limits it explains
// the limits and creates nothing.
func (b *Bot) onAmountText(t *turn, st *chatState, text string) error {
	p := b.Shop.Pricing()
	n, err := strconv.ParseInt(strings.NewReplacer(" ", "", "_", "", ",", "", "\u00a0", "").Replace(text), 10, 64)
	if err != nil || n < p.StarsMin || n > p.StarsMax {
		_ = b.saveState(t.ctx, t.chat, *st)
		return t.say(t.T("buy.bad_amount", p.StarsMin, p.StarsMax), keyboard{{button(t.T("btn.cancel"), cbMenu)}})
	}
	if err := b.clearState(t.ctx, t.chat); err != nil {
		return t.fail(err)
	}
	return b.quote(t, st.Kind, n, st.Recipient)
}

// quote prices the purchase and offers Confirm (pay from balance), Pay by
// TON transfer and Cancel. Both payment buttons carry one fresh nonce, the
// order's idempotency key: whatever is tapped, twice or replayed, this
// quote yields at most one order.
func (b *Bot) quote(t *turn, kind string, n int64, recipient string) error {
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
	q, err := b.Shop.Quote(t.ctx, req)
	if shop.ErrorCode(err) == shop.EVALIDATION {
		p := b.Shop.Pricing()
		return t.say(t.T("buy.bad_amount", p.StarsMin, p.StarsMax), keyboard{{t.btnMenu()}})
	} else if err != nil {
		return t.fail(err)
	}
	nonce := newNonce()
	qty := strconv.FormatInt(n, 10)
	text := t.T("buy.quote", t.item(typ, n, recipient), q.PriceTON, t.user.Balance)
	kb := keyboard{
		{button(t.T("btn.confirm", q.PriceTON), cbPay, nonce, payBalance, kind, qty, recipient)},
		{button(t.T("btn.pay_ton"), cbPay, nonce, payTON, kind, qty, recipient)},
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
	return tr(lang, "item.stars", n, html.EscapeString(recipient))
}

func orderItem(lang string, o *shop.Order) string {
	n := o.Stars
	if o.Type == shop.OrderPremium {
		n = int64(o.Months)
	}
	return itemText(lang, o.Type, n, o.Recipient)
}

// onPay creates the order of a quote, paid from the balance or by a TON
// transfer, with the button's nonce as idempotency key.
func (b *Bot) onPay(t *turn) error {
	args := t.Args()
	if len(args) != 5 || !validNonce(args[0]) || (args[1] != payBalance && args[1] != payTON) {
		return t.answer(t.T("err.stale_button"), true)
	}
	nonce, method, kind := args[0], args[1], args[2]
	typ, ok := orderType(kind)
	n, err := strconv.ParseInt(args[3], 10, 64)
	if !ok || err != nil {
		return t.answer(t.T("err.stale_button"), true)
	}
	req := shop.CreateOrderRequest{
		UserID:         t.user.ID,
		Type:           typ,
		Recipient:      args[4],
		PaymentMethod:  shop.PayBalance,
		IdempotencyKey: "bot-" + nonce,
		Source:         "bot",
	}
	if method == payTON {
		req.PaymentMethod = shop.PayTONMemo
	}
	if typ == shop.OrderStars {
		req.Stars = n
	} else {
		req.Months = int(n)
	}
	order, err := b.Shop.CreateOrder(t.ctx, req)
	switch shop.ErrorCode(err) {
	case "":
	case shop.EINSUFFICIENT:
		q, qerr := b.Shop.Quote(t.ctx, shop.QuoteRequest{Type: typ, Stars: req.Stars, Months: req.Months})
		if qerr != nil {
			return t.fail(qerr)
		}
		return t.show(t.T("buy.insufficient", t.item(typ, n, args[4]), q.PriceTON, t.user.Balance), keyboard{
			{button(t.T("btn.topup"), cbBalance)},
			{button(t.T("btn.pay_ton"), cbPay, nonce, payTON, kind, args[3], args[4])},
			{button(t.T("btn.cancel"), cbMenu)},
		})
	case shop.ECONFLICT:
		return t.show(t.T("err.conflict"), keyboard{{t.btnMenu()}})
	case shop.ERECIPIENT:
		return t.show(t.T("buy.cannot_receive."+kind, html.EscapeString(args[4]), t.T("buy.not_found")), keyboard{{t.btnMenu()}})
	default:
		return t.fail(err)
	}
	b.Logger.Info("telegram order created", "user_id", t.user.ID, "order_id", order.ID, "payment_method", order.PaymentMethod)
	switch {
	case order.PaymentMethod == shop.PayTONMemo && order.Status == shop.StatusPendingPayment:
		return b.showPayment(t, order)
	case order.PaymentMethod == shop.PayBalance && (order.Status == shop.StatusPaid || order.Status == shop.StatusProcessing):
		return t.show(t.T("buy.paid", order.ID, orderItem(t.lang, order), order.PriceTON), keyboard{
			{button(t.T("btn.orders"), cbOrders, "0"), t.btnMenu()},
		})
	}
	// A replayed button of an order that has moved on: show where it is.
	return b.showOrder(t, order)
}

// showPayment shows how to pay a ton_memo order: address, exact amount,
// memo, deadline, a Tonkeeper button, the ton:// link and its QR code.
func (b *Bot) showPayment(t *turn, o *shop.Order) error {
	link := tonLink(o.PaymentAddress, o.PriceTON, o.PaymentMemo)
	text := t.T("pay.ton", o.ID, orderItem(t.lang, o), o.PriceTON,
		html.EscapeString(o.PaymentAddress), html.EscapeString(o.PaymentMemo),
		formatTime(o.ExpiresAt), html.EscapeString(link))
	kb := keyboard{
		{urlButton(t.T("btn.tonkeeper"), tonkeeperURL(o.PaymentAddress, o.PriceTON, o.PaymentMemo))},
		{button(t.T("btn.cancel_order"), cbCancelOrder, strconv.FormatInt(o.ID, 10)), t.btnMenu()},
	}
	if err := t.show(text, kb); err != nil {
		return err
	}
	png, err := qrPNG(link)
	if err != nil {
		b.Logger.Error("telegram QR code failed", "error", err)
		return nil
	}
	return t.photo(png, t.T("pay.qr", o.PriceTON, html.EscapeString(o.PaymentMemo)), nil)
}
