package bot_test

import (
	"strings"
	"testing"

	"starsbot/bot/bottest"
)

// The payment screen offers Tonkeeper and MyTonWallet with their
// documented transfer links (amount in nanoTON, memo as text), Telegram
// Wallet (opened, not prefilled: it documents no transfer link), and a
// generic choice that explains the ton:// link for other wallets and
// computers. The balance screen offers the same wallets without an
// amount. In both languages.
func TestPayment_WalletChoices(t *testing.T) {
	for _, tc := range []struct {
		u                                     bottest.User
		payTON, payScreen, other, otherAnswer string
		tgWallet, tgHint, balance, topUp      string
	}{
		{alice, "Pay by TON transfer", "pay by TON transfer", "Other wallet", "paste it into your browser's address bar",
			"Telegram Wallet", "Telegram Wallet has no payment link", "Balance", "To top up"},
		{ivan, "Оплатить переводом TON", "оплата переводом TON", "Другой кошелёк", "вставьте в адресную строку браузера",
			"Кошелёк в Telegram", "нет платёжных ссылок", "Баланс", "Чтобы пополнить"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.fake.Send(tc.u, "/start stars_100_someone_x")
			e.fake.Wait(tc.u.ID, "someone_x")
			e.fake.Press(tc.u, tc.payTON)
			pay := e.fake.Wait(tc.u.ID, tc.payScreen)
			o := e.orders(tc.u)[0]
			q := "?amount=418000000&text=" + o.PaymentMemo
			if !strings.Contains(pay.Text, tc.tgHint) || !strings.Contains(pay.Text, "ton://transfer/"+depositAddr+"?amount=418000000&amp;text="+o.PaymentMemo) {
				t.Errorf("payment screen:\n%s", pay.Text)
			}
			want := map[string]string{
				"Tonkeeper":   "https://app.tonkeeper.com/transfer/" + depositAddr + q,
				"MyTonWallet": "https://my.tt/transfer/" + depositAddr + q,
				tc.tgWallet:   "https://t.me/wallet",
			}
			for name, url := range want {
				_, b, ok := e.fake.FindButton(tc.u.ID, name)
				if !ok || b.URL != url {
					t.Errorf("%s button = %+v, want URL %s", name, b, url)
				}
			}
			if got := e.fake.Press(tc.u, tc.other); !strings.Contains(got, tc.otherAnswer) {
				t.Errorf("other-wallet answer = %q", got)
			}
			alert := false
			for _, c := range e.fake.CallsTo("answerCallbackQuery") {
				alert = alert || c.Params["show_alert"] == "true" && strings.Contains(c.Params["text"], tc.otherAnswer)
			}
			if !alert {
				t.Errorf("the other-wallet answer is not an alert")
			}

			e.fake.Send(tc.u, "/balance")
			e.fake.Wait(tc.u.ID, tc.topUp)
			memo := e.user(tc.u).Memo
			if _, b, ok := e.fake.FindButton(tc.u.ID, "MyTonWallet"); !ok || b.URL != "https://my.tt/transfer/"+depositAddr+"?text="+memo {
				t.Errorf("balance MyTonWallet button = %+v", b)
			}
			e.assertKeyboardData()
		})
	}
}
