package bot_test

import (
	"strings"
	"testing"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// Amounts (issue 17 item 3): prices as the shop rounds them (0.418, not
// 0.417827299), ≈ USD beside every TON price, on the amount buttons too,
// "at least" on the payment screens (overpayment is accepted), buttons
// that fit a phone (checked for every test by checkButtonWidths). Both
// languages, with Russian number formatting.
func TestAmounts_RoundedWithUSD_AtLeast(t *testing.T) {
	for _, tc := range []struct {
		u                                              bottest.User
		buy, other, pick, list100, btn100, order, usd  string
		payTON, atLeast, excess, orders, price, method string
	}{
		{alice, "Buy Stars", "Someone else", "How many Stars", "100 ⭐ — 0.418 TON (≈\u00a0$1.50)", "100 ⭐ ≈\u00a0$1.50", "Your order", "Price: <b>0.418 TON (≈\u00a0$1.50)</b>",
			"Pay by TON transfer", "Send at least <b>0.418 TON</b> (≈\u00a0$1.50)", "the excess goes to your balance", "My orders", "Price: 0.418 TON (≈\u00a0$1.50), TON transfer", "Order #1"},
		{ivan, "Купить звёзды", "Другому", "Сколько", "100 ⭐ — 0,418 TON (≈\u00a01,50\u00a0$)", "100 ⭐ ≈\u00a01,50\u00a0$", "Ваш заказ", "Цена: <b>0,418 TON (≈\u00a01,50\u00a0$)</b>",
			"Оплатить переводом TON", "Отправьте не меньше <b>0,418 TON</b> (≈\u00a01,50\u00a0$)", "излишек поступит на ваш баланс", "Мои заказы", "Цена: 0,418 TON (≈\u00a01,50\u00a0$), перевод TON", "Заказ #1"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.startChat(tc.u)
			e.fake.Press(tc.u, tc.buy)
			e.fake.Press(tc.u, tc.other)
			e.fake.Send(tc.u, "@someone_x")
			pick := e.fake.Wait(tc.u.ID, tc.pick)
			if !strings.Contains(pick.Text, tc.list100) {
				t.Errorf("amount choice lacks %q:\n%s", tc.list100, pick.Text)
			}
			if strings.Contains(pick.Text, "0.417827299") {
				t.Errorf("unrounded price shown:\n%s", pick.Text)
			}
			e.fake.Press(tc.u, tc.btn100)
			q := e.fake.Wait(tc.u.ID, tc.order)
			if !strings.Contains(q.Text, tc.usd) {
				t.Errorf("quote lacks %q:\n%s", tc.usd, q.Text)
			}
			e.fake.Press(tc.u, tc.payTON)
			pay := e.fake.Wait(tc.u.ID, tc.atLeast)
			if !strings.Contains(pay.Text, tc.excess) {
				t.Errorf("payment screen does not say overpayment is fine:\n%s", pay.Text)
			}
			for _, word := range []string{"exactly", "ровно"} {
				if strings.Contains(pay.Text, word) {
					t.Errorf("payment screen says %q:\n%s", word, pay.Text)
				}
			}
			e.startChat(tc.u)
			e.fake.Press(tc.u, tc.orders)
			e.fake.Press(tc.u, "#1")
			if o := e.fake.Wait(tc.u.ID, tc.method); !strings.Contains(o.Text, tc.price) {
				t.Errorf("order screen lacks %q:\n%s", tc.price, o.Text)
			}
		})
	}
}

// Premium durations carry their ≈ USD too, one to a row.
func TestAmounts_PremiumButtons(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Premium")
	e.fake.Press(alice, "Someone else")
	e.fake.Send(alice, "@premium_pal")
	c := e.fake.Wait(alice.ID, "Premium subscription for @premium_pal")
	q, err := e.svc.Quote(t.Context(), shop.QuoteRequest{Type: shop.OrderPremium, Months: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.Text, "3 months — "+q.PriceTON.String()+" TON (≈\u00a0$") {
		t.Errorf("premium choice:\n%s", c.Text)
	}
	if len(c.Keyboard) < 3 || len(c.Keyboard[0]) != 1 || !strings.HasPrefix(c.Keyboard[0][0].Text, "3 months · ≈\u00a0$") {
		t.Errorf("premium buttons: %+v", c.Keyboard)
	}
}
