package bot_test

import (
	"strings"
	"testing"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/shop"
)

// Receipts (issue 17 item 6): the top-up notice, the completion notice and
// the order screen link the chain transaction on Tonviewer (testnet here)
// and show price, fee and rate; a refund says why, in the user's language
// (the provider's reason translated); the orders list shows date and price
// and offers to buy again.
func TestReceipts(t *testing.T) {
	for _, tc := range []struct {
		u                                            bottest.User
		deposit, tx, order, payTON, completed, price string
		fee, rate, payment, delivery, refundReason   string
		orders, line, again, quote                   string
	}{
		{alice, "Deposit received", "Transaction: <a href=\"https://testnet.tonviewer.com/transaction/", "Your order", "Pay by TON transfer", "completed",
			"TON transfer", "Service fee included: ", "Rate: 1 TON = $3.59", "Payment: <a href=\"https://testnet.tonviewer.com/transaction/", "Delivery: <code>sandbox-",
			"Refund reason: the sandbox provider refused this order", "My orders", "2026-04-16 · ⭐ 100 Stars", "Buy #3 again", "Your order"},
		{ivan, "Пополнение получено", "Транзакция: <a href=\"https://testnet.tonviewer.com/transaction/", "Ваш заказ", "Оплатить переводом TON", "выполнен",
			"перевод TON", "В том числе комиссия сервиса: ", "Курс: 1 TON = 3,59\u00a0$", "Оплата: <a href=\"https://testnet.tonviewer.com/transaction/", "Доставка: <code>sandbox-",
			"Причина возврата: тестовый поставщик отклонил этот заказ", "Мои заказы", "2026-04-16 · ⭐ 100", "Повторить #3", "Ваш заказ"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.restart(func(c *bot.Config) { c.Explorer = bot.ExplorerTestnet })
			e.setFee(50_000) // 5 %
			e.startChat(tc.u)
			hash := e.deposit(tc.u, "", shop.TON)
			if d := e.fake.Wait(tc.u.ID, tc.deposit); !strings.Contains(d.Text, tc.tx+hash+"\"") {
				t.Errorf("top-up notice lacks the transaction link:\n%s", d.Text)
			}

			// A TON-transfer order: paid on chain, delivered.
			e.fake.Send(tc.u, "/start stars_100_someone_x")
			e.fake.Wait(tc.u.ID, tc.order)
			e.fake.Press(tc.u, tc.payTON)
			e.fake.Wait(tc.u.ID, "#1")
			o := e.orders(tc.u)[0]
			payHash := e.deposit(tc.u, o.PaymentMemo, o.PriceTON)
			e.fake.Wait(tc.u.ID, tc.payment+payHash) // the payment screen, edited to paid, links the transfer
			e.deliver()
			c := e.fake.Wait(tc.u.ID, tc.completed)
			for _, want := range []string{tc.price, tc.fee, tc.rate, tc.payment + payHash + "\"", tc.delivery} {
				if !strings.Contains(c.Text, want) {
					t.Errorf("completion notice lacks %q:\n%s", want, c.Text)
				}
			}

			// A refunded order says why.
			e.fake.Send(tc.u, "/start stars_100_"+fulfillment.SandboxFail)
			e.fake.Wait(tc.u.ID, tc.order)
			e.fake.Press(tc.u, map[string]string{"en": "Confirm", "ru": "Подтвердить"}[tc.u.LanguageCode])
			e.fake.Wait(tc.u.ID, "#2")
			e.deliver()
			e.fake.Wait(tc.u.ID, tc.refundReason)

			// The order screen is the same receipt.
			e.fake.Send(tc.u, "/orders")
			e.fake.Wait(tc.u.ID, "#2")
			e.fake.Press(tc.u, "#1")
			if c := e.fake.Wait(tc.u.ID, tc.payment); !strings.Contains(c.Text, tc.rate) || !strings.Contains(c.Text, tc.fee) {
				t.Errorf("order screen:\n%s", c.Text)
			}

			// The list: date and price, and buy again.
			e.fake.Send(tc.u, "/start stars_250_someone_y")
			e.fake.Wait(tc.u.ID, tc.order)
			e.fake.Press(tc.u, tc.payTON)
			e.fake.Wait(tc.u.ID, "#3")
			e.fake.Send(tc.u, "/orders")
			l := e.fake.Wait(tc.u.ID, tc.line)
			if !strings.Contains(l.Text, tonIn(tc.u, o.PriceTON)+" TON") {
				t.Errorf("orders list lacks the price:\n%s", l.Text)
			}
			e.fake.Press(tc.u, tc.again)
			if q := e.fake.Wait(tc.u.ID, tc.quote); !strings.Contains(q.Text, "@someone_y") {
				t.Errorf("buy again quoted:\n%s", q.Text)
			}
		})
	}
}
