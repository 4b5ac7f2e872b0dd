package bot_test

import (
	"strings"
	"testing"

	"starsbot/bot/bottest"
)

// Deep links prefill a purchase: /start stars_<n>_<username> and
// premium_<months>_<username> go straight to the quote; without a
// username they ask who it is for and then quote without asking the
// amount again; links outside the shop's offer prefill nothing. In both
// languages.
func TestStartDeepLinks_PrefillPurchase(t *testing.T) {
	for _, tc := range []struct {
		u                                 bottest.User
		order, stars100, premium3, who250 string
		someone, ask, stars250, bad, menu string
		me, meStars                       string
	}{
		{alice, "Your order", "100 Stars for @someone_x", "Telegram Premium, 3 months, for @premium_pal", "Buy 250 Stars",
			"Someone else", "Send the recipient's Telegram username", "250 Stars for @some_friend", "nothing was prefilled", "Stars &amp; Premium",
			"Me", "250 Stars for @alice_buyer"},
		{ivan, "Ваш заказ", "100 звёзд для @someone_x", "Telegram Premium на 3 мес. для @premium_pal", "Купить 250 звёзд",
			"Другому", "Отправьте имя пользователя получателя", "250 звёзд для @some_friend", "ничего не заполнено", "Звёзды и Telegram Premium",
			"Себе", "250 звёзд для @ivan_petrov"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			// stars_<n>_<username> (a username may itself contain "_").
			e.fake.Send(tc.u, "/start stars_100_someone_x")
			q := e.fake.Wait(tc.u.ID, tc.order)
			if !strings.Contains(q.Text, tc.stars100) || !strings.Contains(q.Text, tonIn(tc.u, price100)+" TON") {
				t.Errorf("stars_100_someone_x quote:\n%s", q.Text)
			}
			e.fake.Send(tc.u, "/start premium_3_premium_pal")
			if q := e.fake.Wait(tc.u.ID, tc.order); !strings.Contains(q.Text, tc.premium3) {
				t.Errorf("premium_3_premium_pal quote:\n%s", q.Text)
			}

			// stars_<n>: who for, then the quote at once.
			e.fake.Send(tc.u, "/start stars_250")
			e.fake.Wait(tc.u.ID, tc.who250)
			e.fake.Press(tc.u, tc.someone)
			e.fake.Wait(tc.u.ID, tc.ask)
			e.fake.Send(tc.u, "@some_friend")
			if q := e.fake.Wait(tc.u.ID, tc.order); !strings.Contains(q.Text, tc.stars250) {
				t.Errorf("stars_250 then a username:\n%s", q.Text)
			}
			e.fake.Send(tc.u, "/start stars_250")
			e.fake.Wait(tc.u.ID, tc.who250)
			e.fake.Press(tc.u, tc.me)
			if q := e.fake.Wait(tc.u.ID, tc.order); !strings.Contains(q.Text, tc.meStars) {
				t.Errorf("stars_250 for me:\n%s", q.Text)
			}

			// Outside the offer: nothing prefilled, the menu.
			for _, bad := range []string{"stars_1", "stars_99999999999", "premium_5", "premium_x", "stars"} {
				e.fake.Send(tc.u, "/start "+bad)
				if c := e.fake.Wait(tc.u.ID, tc.bad); !strings.Contains(c.Text, tc.menu) {
					t.Errorf("/start %s:\n%s", bad, c.Text)
				}
			}
			// A bad username is refused as a typed one is, and the flow
			// waits for another, keeping the amount.
			e.fake.Send(tc.u, "/start stars_100_x")
			e.fake.Wait(tc.u.ID, "@durov")
			e.fake.Send(tc.u, "someone_x")
			if q := e.fake.Wait(tc.u.ID, tc.order); !strings.Contains(q.Text, tc.stars100) {
				t.Errorf("after a bad username:\n%s", q.Text)
			}
			// Other payloads keep showing the menu.
			e.fake.Send(tc.u, "/start ref_42")
			e.fake.Wait(tc.u.ID, tc.menu)
			if n := len(e.orders(tc.u)); n != 0 {
				t.Errorf("%d orders created by links", n)
			}
			e.assertKeyboardData()
		})
	}
}
