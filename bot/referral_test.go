package bot_test

import (
	"regexp"
	"strings"
	"testing"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

var refLinkRE = regexp.MustCompile(`https://t\.me/` + bottest.BotUser.Username + `\?start=(ref_[0-9a-z]+)`)

// The referral case: A invites B by link; B buys twice (both
// completed) and cancels a third order; A's balance and ledger show the
// referral share of both completed purchases and nothing for the
// cancelled one, and A's Referrals screen counts one person and the
// earnings. Both directions, so that each language is the referrer's
// once.
func TestReferral_InviteBuyTwiceCancelOnce(t *testing.T) {
	type words struct {
		invite, screen, people, earned, reward, deposit, confirm, payTON, cancel, paid, order string
	}
	en := words{"Invite friends", "Your link", "People invited: <b>%s</b>", "Earned: <b>%s TON</b>", "Referral reward", "Deposit received",
		"Confirm", "Pay by TON transfer", "Cancel order", "is paid", "Your order"}
	ru := words{"Пригласить друзей", "Ваша ссылка", "Приглашено: <b>%s</b>", "Заработано: <b>%s TON</b>", "Реферальное вознаграждение", "Пополнение получено",
		"Подтвердить", "Оплатить переводом TON", "Отменить заказ", "оплачен", "Ваш заказ"}
	share := shop.NanoTON(41_800_000) // 10 % of 0.418
	for _, tc := range []struct {
		a, b   bottest.User
		wa, wb words
		earned string
	}{
		{alice, ivan, en, ru, "0.0836"},
		{ivan, alice, ru, en, "0,0836"},
	} {
		t.Run(tc.a.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.svc.ReferralPPM = 100_000 // 10 %
			e.startChat(tc.a)
			e.fake.Press(tc.a, tc.wa.invite)
			scr := e.fake.Wait(tc.a.ID, tc.wa.screen)
			m := refLinkRE.FindStringSubmatch(scr.Text)
			if m == nil {
				t.Fatalf("no referral link on the screen:\n%s", scr.Text)
			}
			if !strings.Contains(scr.Text, "10") || !strings.Contains(scr.Text, strings.ReplaceAll(tc.wa.people, "%s", "0")) {
				t.Errorf("screen before anyone came:\n%s", scr.Text)
			}

			// B comes by the link; a later link of someone else changes nothing.
			e.fake.Send(tc.b, "/start "+m[1])
			e.fake.Wait(tc.b.ID, map[string]string{"en": "Stars &amp; Premium", "ru": "Звёзды и Telegram Premium"}[tc.b.LanguageCode])
			if got := e.user(tc.b).ReferredBy; got != tc.a.ID {
				t.Fatalf("B referred by %d, want %d", got, tc.a.ID)
			}
			e.startChat(nobody)
			e.fake.Send(tc.b, "/start ref_"+strings.ToLower(strconvBase36(nobody.ID)))
			e.fake.Wait(tc.b.ID, map[string]string{"en": "Stars &amp; Premium", "ru": "Звёзды и Telegram Premium"}[tc.b.LanguageCode])
			if got := e.user(tc.b).ReferredBy; got != tc.a.ID {
				t.Fatalf("B re-referred to %d", got)
			}

			e.deposit(tc.b, "", shop.TON)
			e.fake.Wait(tc.b.ID, tc.wb.deposit)
			for i := 1; i <= 2; i++ {
				e.fake.Send(tc.b, "/start stars_100_someone_x")
				e.fake.Wait(tc.b.ID, tc.wb.order)
				e.fake.Press(tc.b, tc.wb.confirm)
				e.fake.Wait(tc.b.ID, tc.wb.paid)
			}
			e.deliver()
			e.fake.Send(tc.b, "/start stars_100_someone_x")
			e.fake.Wait(tc.b.ID, tc.wb.order)
			e.fake.Press(tc.b, tc.wb.payTON)
			e.fake.Press(tc.b, tc.wb.cancel)

			os := e.orders(tc.b)
			if len(os) != 3 || os[0].Status != shop.StatusCancelled || os[1].Status != shop.StatusCompleted || os[2].Status != shop.StatusCompleted {
				t.Fatalf("B's orders: %+v", os)
			}
			var refs []*shop.LedgerEntry
			for _, le := range e.ledger(tc.a) {
				if le.Type == shop.LedgerReferral {
					refs = append(refs, le)
				} else {
					t.Errorf("A's ledger has %s %s", le.Type, le.Amount)
				}
			}
			if len(refs) != 2 || refs[0].Amount != share || refs[1].Amount != share || refs[0].OrderID != os[1].ID || refs[1].OrderID != os[2].ID {
				t.Fatalf("A's referral entries: %+v", refs)
			}
			ua := e.user(tc.a)
			if ua.Balance != 2*share || ua.ReferralEarned != 2*share || ua.Referrals != 1 {
				t.Errorf("A: balance %s, earned %s, referrals %d", ua.Balance, ua.ReferralEarned, ua.Referrals)
			}
			for _, le := range e.ledger(tc.b) {
				if le.Type == shop.LedgerReferral {
					t.Errorf("B got a referral entry: %+v", le)
				}
			}
			e.fake.Wait(tc.a.ID, tc.wa.reward)
			e.fake.Wait(tc.a.ID, tc.wa.reward)

			e.startChat(tc.a)
			e.fake.Press(tc.a, tc.wa.invite)
			scr = e.fake.Wait(tc.a.ID, tc.wa.screen)
			for _, want := range []string{strings.ReplaceAll(tc.wa.people, "%s", "1"), strings.ReplaceAll(tc.wa.earned, "%s", tc.earned)} {
				if !strings.Contains(scr.Text, want) {
					t.Errorf("screen lacks %q:\n%s", want, scr.Text)
				}
			}
			if _, _, ok := e.fake.FindButton(tc.a.ID, map[string]string{"en": "Share", "ru": "Поделиться"}[tc.a.LanguageCode]); !ok {
				t.Error("no share button")
			}
			e.assertKeyboardData()
		})
	}
}

// With REFERRAL_PERCENT 0 (the default) the menu has no Referrals button
// and nobody earns, even with a referral link.
func TestReferral_OffByDefault(t *testing.T) {
	e := newEnv(t)
	menu := e.startChat(alice)
	for _, row := range menu.Keyboard {
		for _, b := range row {
			if strings.Contains(b.Text, "Invite") {
				t.Errorf("menu has %q with referrals off", b.Text)
			}
		}
	}
	e.fake.Send(ivan, "/start "+shop.ReferralPayload(alice.ID))
	e.fake.Wait(ivan.ID, "Звёзды и Telegram Premium")
	e.deposit(ivan, "", shop.TON)
	e.fake.Send(ivan, "/start stars_100_someone_x")
	e.fake.Wait(ivan.ID, "Ваш заказ")
	e.fake.Press(ivan, "Подтвердить")
	e.fake.Wait(ivan.ID, "оплачен")
	e.deliver()
	e.fake.Wait(ivan.ID, "выполнен")
	if got := e.user(alice); got.Balance != 0 || got.Referrals != 1 {
		t.Errorf("alice: balance %s, referrals %d; want 0 and 1 (counted, not paid)", got.Balance, got.Referrals)
	}
}

func strconvBase36(id int64) string { return strings.TrimPrefix(shop.ReferralPayload(id), "ref_") }
