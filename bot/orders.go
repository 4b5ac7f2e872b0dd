package bot

import (
	"html"
	"strconv"
	"strings"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// ordersPage is how many orders one page lists.
const ordersPage = 5

// onOrders lists the user's orders, newest first, a page at a time; the
// callback data is the page's cursor ("0" for the newest).
func (b *Bot) onOrders(t *turn) error {
	var before int64
	if t.Callback() != nil {
		var err error
		if before, err = strconv.ParseInt(t.Data(), 10, 64); err != nil || before < 0 {
			return t.answer(t.T("err.stale_button"), true)
		}
	}
	orders, next, err := b.Shop.FindOrders(t.ctx, shop.OrderFilter{UserID: t.user.ID, Before: before, Limit: ordersPage})
	if err != nil {
		return t.fail(err)
	}
	if len(orders) == 0 && before == 0 {
		return t.show(t.T("orders.none"), keyboard{
			{button(t.T("btn.buy_stars"), cbBuy, kindStars), button(t.T("btn.premium"), cbBuy, kindPremium)},
			{t.btnMenu()},
		})
	}
	var text strings.Builder
	text.WriteString(t.T("orders.title"))
	var row []tele.InlineButton
	for _, o := range orders {
		text.WriteString("\n")
		text.WriteString(t.T("orders.line", o.ID, formatDate(o.CreatedAt), orderItem(t.lang, o), t.ton(o.PriceTON), t.status(o.Status)))
		row = append(row, button("#"+strconv.FormatInt(o.ID, 10), cbOrder, strconv.FormatInt(o.ID, 10)))
	}
	kb := keyboard{}
	if len(row) > 0 {
		kb = append(kb, row)
	}
	if len(orders) > 0 {
		// The newest order of the page, again, at today's price.
		kb = append(kb, buyAgain(orders[0], t.T("btn.buy_again_n", orders[0].ID)))
	}
	var nav []tele.InlineButton
	if before != 0 {
		nav = append(nav, button(t.T("btn.newest"), cbOrders, "0"))
	}
	if next != 0 {
		nav = append(nav, button(t.T("btn.older"), cbOrders, strconv.FormatInt(next, 10)))
	}
	if len(nav) > 0 {
		kb = append(kb, nav)
	}
	kb = append(kb, []tele.InlineButton{t.btnMenu()})
	return t.show(text.String(), kb)
}

// onOrder shows one order.
func (b *Bot) onOrder(t *turn) error {
	id, ok := t.orderButton()
	if !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	o, err := b.Shop.FindOrder(t.ctx, t.user.ID, id)
	if err != nil {
		return t.fail(err)
	}
	return b.showOrder(t, o)
}

// onCancelOrder cancels an unpaid order.
func (b *Bot) onCancelOrder(t *turn) error {
	id, ok := t.orderButton()
	if !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	o, err := b.Shop.CancelOrder(t.ctx, t.user.ID, id)
	if err != nil {
		return t.fail(err)
	}
	if err := t.answer(t.T("orders.cancelled"), false); err != nil {
		return err
	}
	// Its payment screens say it is cancelled and lose their QR codes;
	// pressed on one of them, that one is replaced here.
	pressed := 0
	if cb := t.Callback(); cb != nil && cb.Message != nil {
		pressed = cb.Message.ID
	}
	if b.settleScreens(t.ctx, t.chat, t.lang, o, pressed) {
		text, kb, _ := b.settledScreen(t.lang, o)
		return t.show(text, kb)
	}
	return b.showOrder(t, o)
}

// showOrder renders an order's detail with the actions that apply.
func (b *Bot) showOrder(t *turn, o *shop.Order) error {
	var s strings.Builder
	s.WriteString(t.T("order.head", o.ID, orderItem(t.lang, o)))
	s.WriteString(t.T("order.status", t.status(o.Status)))
	s.WriteString(t.T("order.created", formatTime(o.CreatedAt)))
	if !o.PaidAt.IsZero() {
		s.WriteString(t.T("order.paid_at", formatTime(o.PaidAt)))
	}
	if !o.CompletedAt.IsZero() {
		s.WriteString(t.T("order.completed_at", formatTime(o.CompletedAt)))
	}
	s.WriteString(b.receipt(t.lang, o))
	pending := o.Status == shop.StatusPendingPayment && o.PaymentMethod == shop.PayTONMemo
	if pending {
		s.WriteString(t.T("order.pay_hint", t.ton(o.PriceTON), html.EscapeString(o.PaymentAddress),
			html.EscapeString(o.PaymentMemo), formatTime(o.ExpiresAt)))
	}
	kb := keyboard{}
	if pending {
		id := strconv.FormatInt(o.ID, 10)
		kb = append(kb, t.walletRows(o.PaymentAddress, o.PriceTON, o.PaymentMemo)...)
		kb = append(kb, []tele.InlineButton{button(t.T("btn.check_payment"), cbCheckPay, id)},
			[]tele.InlineButton{button(t.T("btn.cancel_order"), cbCancelOrder, id)})
	}
	if !pending {
		kb = append(kb, buyAgain(o, t.T("btn.buy_again")))
	}
	kb = append(kb, []tele.InlineButton{button(t.T("btn.back_orders"), cbOrders, "0"), t.btnMenu()})
	return t.show(s.String(), kb)
}

// status is the localized name of an order status.
func (t *turn) status(s shop.OrderStatus) string { return t.T("status." + string(s)) }

// orderButton reads the order id a button carries (its callback data) and
// makes it the turn's order, for error messages; ok is false for data
// that is not an order id (a stale or forged button).
func (t *turn) orderButton() (id int64, ok bool) {
	id, err := strconv.ParseInt(t.Data(), 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	t.order = id
	return id, true
}
