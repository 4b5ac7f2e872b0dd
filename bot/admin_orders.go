package bot

import (
	"context"
	"fmt"
	"html"
	"slices"
	"strconv"
	"strings"

	"starsbot/shop"

	tele "gopkg.in/telebot.v3"
)

// Admin screens of orders waiting for manual delivery.

const (
	manualShown  = 10 // orders listed, so a screen fits one message
	refundReason = "refunded by an admin"
)

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

func (b *Bot) onAdminManual(t *adminTurn) error {
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
		if i == manualShown {
			fmt.Fprintf(&s, "\n…and %d more after these.", len(orders)-manualShown)
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
	kb = append(kb, []tele.InlineButton{button("🔄 Refresh", cbAdm, viewManual), adminMenuButton()})
	return t.show(s.String(), kb)
}

// manualOrder reads the order a Delivered or Refund button names. When
// it returns nil the turn is answered: the button is stale, or the order
// is no longer waiting for an admin.
func (b *Bot) manualOrder(t *adminTurn) (*shop.Order, error) {
	id, ok := parseID(t.Data())
	if !ok {
		return nil, t.stale()
	}
	o, err := b.Shop.FindOrder(t.ctx, shop.AnyOwner, id)
	if err != nil {
		return nil, err
	}
	if o.Status != shop.StatusManual {
		t.result = "order is " + string(o.Status)
		return nil, t.show(fmt.Sprintf("Order #%d is %s now; nothing to do.", o.ID, o.Status), keyboard{{button("⏳ Manual", cbAdm, viewManual)}})
	}
	return o, nil
}

func (b *Bot) onAdminDeliverAsk(t *adminTurn) error {
	o, err := b.manualOrder(t)
	if o == nil {
		return err
	}
	id := strconv.FormatInt(o.ID, 10)
	return t.show(fmt.Sprintf("Mark order #%d delivered?\n%s · %s TON · buyer %d%s\n\nDeliver it by hand first: the buyer will be told it was delivered.",
		o.ID, orderItem(t.lang, o), o.PriceTON, o.UserID, heldBecause(o)),
		keyboard{{button("✅ Yes, #"+id+" was delivered", cbAdmDel, id)}, {button("« Back", cbAdm, viewManual)}})
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
	o, err := b.Shop.FindOrder(t.ctx, shop.AnyOwner, id)
	if err != nil {
		return err
	}
	if o.Status == shop.StatusCompleted {
		t.result = "ok: already completed"
		return t.show(fmt.Sprintf("Order #%d was already completed; nothing changed.", o.ID), keyboard{{button("⏳ Manual", cbAdm, viewManual)}})
	}
	if o, err = b.Shop.CompleteOrder(t.ctx, t.admin, id, ref); err != nil {
		return err
	}
	return t.show(fmt.Sprintf("✅ Order #%d marked delivered. %s", o.ID, buyerTold(o)), keyboard{{button("⏳ Manual", cbAdm, viewManual), adminMenuButton()}})
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
	o, err := b.manualOrder(t)
	if o == nil {
		return err
	}
	id := strconv.FormatInt(o.ID, 10)
	return t.show(fmt.Sprintf("Refund order #%d?\n%s · buyer %d%s\n%s TON go back to the buyer's balance.",
		o.ID, orderItem(t.lang, o), o.UserID, heldBecause(o), o.PriceTON),
		keyboard{{button("↩ Yes, refund #"+id, cbAdmRef, id), button("« Back", cbAdm, viewManual)}})
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
		keyboard{{button("⏳ Manual", cbAdm, viewManual), adminMenuButton()}})
}
