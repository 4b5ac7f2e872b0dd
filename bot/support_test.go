package bot_test

import (
	"strings"
	"testing"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/fulfillment"
)

// Support and trust (issue 17 item 9): SUPPORT_CONTACT in the help (text
// and a button), the FAQ, an error message about an order (with its
// number) and the manual-delivery notice; the FAQ answers delivery time,
// short and late payments and refunds. Both languages; an https contact
// is a link.
func TestSupport_ContactEverywhere_FAQ(t *testing.T) {
	for _, tc := range []struct {
		u                                                      bottest.User
		contact, shown, help, faq, faqTitle, support, needHelp string
		faqWants                                               []string
		orders, cancel, notCancellable, orderNo, order, payTON string
		manual                                                 string
	}{
		{alice, "@shop_support", "@shop_support", "Help", "FAQ", "Frequently asked questions", "Support", "Need help? Write to @shop_support",
			[]string{"How long does delivery take?", "less than the price", "too late", "the excess goes to your balance", "What if delivery fails?", "15 minutes"},
			"My orders", "Cancel order", "can no longer be cancelled", "mention order #1", "Your order", "Pay by TON transfer", "needs a manual step"},
		{ivan, "https://example.com/help", `<a href="https://example.com/help">https://example.com/help</a>`, "Помощь", "Вопросы и ответы", "Частые вопросы", "Поддержка", "Нужна помощь? Напишите <a href",
			[]string{"Сколько ждать доставки?", "меньше цены", "опоздаю", "излишек поступит на ваш баланс", "доставка не удастся", "15 мин."},
			"Мои заказы", "Отменить заказ", "уже нельзя отменить", "укажите номер заказа #1", "Ваш заказ", "Оплатить переводом TON", "доставит вручную"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.restart(func(c *bot.Config) { c.SupportContact = tc.contact })
			e.startChat(tc.u)
			e.fake.Press(tc.u, tc.help)
			h := e.fake.Wait(tc.u.ID, tc.needHelp)
			if !strings.Contains(h.Text, tc.shown) {
				t.Errorf("help lacks the contact %q:\n%s", tc.shown, h.Text)
			}
			if _, b, ok := e.fake.FindButton(tc.u.ID, tc.support); !ok || (b.URL != "https://t.me/shop_support" && b.URL != "https://example.com/help") {
				t.Errorf("support button: %+v %v", b, ok)
			}
			e.fake.Press(tc.u, tc.faq)
			f := e.fake.Wait(tc.u.ID, tc.faqTitle)
			for _, want := range append(tc.faqWants, tc.shown) {
				if !strings.Contains(f.Text, want) {
					t.Errorf("FAQ lacks %q:\n%s", want, f.Text)
				}
			}

			// An error about an order names it and the contact: cancel,
			// from the order screen, an order paid meanwhile.
			e.fake.Send(tc.u, "/start stars_100_someone_x")
			e.fake.Wait(tc.u.ID, tc.order)
			e.fake.Press(tc.u, tc.payTON)
			e.fake.Wait(tc.u.ID, "#1")
			e.fake.Send(tc.u, "/orders")
			e.fake.Wait(tc.u.ID, "#1")
			e.fake.Press(tc.u, "#1")
			e.fake.Wait(tc.u.ID, map[string]string{"en": "Status:", "ru": "Статус:"}[tc.u.LanguageCode])
			o := e.orders(tc.u)[0]
			e.deposit(tc.u, o.PaymentMemo, o.PriceTON)
			e.fake.Press(tc.u, tc.cancel)
			c := e.fake.Wait(tc.u.ID, tc.notCancellable)
			for _, want := range []string{tc.orderNo, tc.shown} {
				if !strings.Contains(c.Text, want) {
					t.Errorf("error lacks %q:\n%s", want, c.Text)
				}
			}

			// The manual-delivery notice.
			e.deliver()
			e.deposit(tc.u, "", 1_000_000_000)
			e.fake.Send(tc.u, "/start stars_100_"+fulfillment.SandboxManual)
			e.fake.Wait(tc.u.ID, tc.order)
			e.fake.Press(tc.u, map[string]string{"en": "Confirm", "ru": "Подтвердить"}[tc.u.LanguageCode])
			e.deliver()
			m := e.fake.Wait(tc.u.ID, tc.manual)
			if !strings.Contains(m.Text, tc.shown) || !strings.Contains(m.Text, "#2") {
				t.Errorf("manual notice:\n%s", m.Text)
			}
		})
	}
}

// Without SUPPORT_CONTACT nothing names a contact.
func TestSupport_NoContact(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Help")
	h := e.fake.Wait(alice.ID, "How it works")
	if strings.Contains(h.Text, "Need help?") {
		t.Errorf("help names a contact:\n%s", h.Text)
	}
	if _, _, ok := e.fake.FindButton(alice.ID, "Support"); ok {
		t.Error("a support button without a contact")
	}
}
