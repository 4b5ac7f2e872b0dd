package bot_test

import (
	"strings"
	"testing"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// A balance short of the price leads with paying by wallet: the first
// button pays by TON transfer, the second tops up, and there is no
// "pay from balance" button that could only fail. In both languages.
func TestQuote_ShortBalance_LeadsWithWallet(t *testing.T) {
	for _, tc := range []struct {
		u                       bottest.User
		recipientPrompt         string
		order, short, payTON    string
		topUp, confirm, howMany string
	}{
		{alice, "Someone else", "Your order", "not enough for this order", "Pay by TON transfer", "Top up", "Confirm", "How many Stars"},
		{ivan, "Другому", "Ваш заказ", "на этот заказ не хватает", "Оплатить переводом TON", "Пополнить", "Подтвердить", "Сколько звёзд"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.startChat(tc.u)
			e.fake.Press(tc.u, map[string]string{"en": "Buy Stars", "ru": "Купить звёзды"}[tc.u.LanguageCode])
			e.fake.Press(tc.u, tc.recipientPrompt)
			e.fake.Send(tc.u, "@someone_x")
			e.fake.Wait(tc.u.ID, tc.howMany)
			e.fake.Press(tc.u, "100")
			q := e.fake.Wait(tc.u.ID, tc.order)
			if !strings.Contains(q.Text, tc.short) || !strings.Contains(q.Text, tonIn(tc.u, price100)+" TON") {
				t.Errorf("quote with a zero balance:\n%s", q.Text)
			}
			if len(q.Keyboard) < 2 || !strings.Contains(q.Keyboard[0][0].Text, tc.payTON) || !strings.Contains(q.Keyboard[1][0].Text, tc.topUp) {
				t.Errorf("keyboard = %v; want pay by TON first, then top up", q.Keyboard)
			}
			for _, row := range q.Keyboard {
				for _, b := range row {
					if strings.Contains(b.Text, tc.confirm) {
						t.Errorf("a pay-from-balance button on a short balance: %q", b.Text)
					}
				}
			}
			e.fake.Press(tc.u, tc.payTON)
			if os := e.orders(tc.u); len(os) != 1 || os[0].PaymentMethod != shop.PayTONMemo || os[0].PriceTON != price100 {
				t.Fatalf("orders = %+v", os)
			}

			// With enough balance, Confirm leads as before.
			e.deposit(tc.u, "", shop.TON)
			e.startChat(tc.u)
			e.fake.Press(tc.u, map[string]string{"en": "Buy Stars", "ru": "Купить звёзды"}[tc.u.LanguageCode])
			e.fake.Press(tc.u, tc.recipientPrompt)
			e.fake.Send(tc.u, "@someone_x")
			e.fake.Wait(tc.u.ID, tc.howMany)
			e.fake.Press(tc.u, "100")
			q = e.fake.Wait(tc.u.ID, tc.order)
			if !strings.Contains(q.Keyboard[0][0].Text, tc.confirm) {
				t.Errorf("funded keyboard = %v; want Confirm first", q.Keyboard)
			}
			e.assertKeyboardData()
		})
	}
}
