package bot_test

// Issue 19 in the bot: the USDT top-up screen, an order paid in USDT, the
// receipts. USDT arrives on the simulated chain as real TEP-74
// notification cells, read by a watcher that knows our jetton wallet.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/shop"
	"starsbot/ton"
)

// usdtEnv is newEnv with the bot offering USDT and a deposit watcher that
// counts USDT notifications (on its own cursor: the simulated chain's
// account is the same).
func usdtEnv(t *testing.T) (*env, *ton.Watcher) {
	t.Helper()
	e := newEnv(t)
	e.restart(func(c *bot.Config) { c.USDTMaster = ton.MainnetUSDTMaster })
	w := must(ton.NewWatcher(ton.WatcherConfig{Chain: e.sim, Shop: e.svc, Account: depositAddr, FromStart: true, Now: e.clock.Now,
		USDTMaster: ton.MainnetUSDTMaster, Jettons: e.sim}))
	return e, w
}

// depositUSDT sends units of USDT with memo and lets the watcher credit it.
func depositUSDT(e *env, w *ton.Watcher, memo string, units int64) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.sim.DepositUSDT(ctx, ton.MainnetUSDTMaster, memo, units, 0, "", fmt.Sprintf("%064x", 1_000_000+e.txn.Add(1))); err != nil {
		e.t.Fatal(err)
	}
	if _, err := w.Poll(ctx); err != nil {
		e.t.Fatal(err)
	}
}

// locNum writes a decimal as lang does (ru: a decimal comma).
func locNum(lang, s string) string {
	if lang == "ru" {
		return strings.ReplaceAll(s, ".", ",")
	}
	return s
}

var usdtLangs = []struct {
	u                                        bottest.User
	balance, topup, screen, payUSDT, paid    string
	received, receipt, payTON, payScreenUSDT string
}{
	{alice, "Balance", "Top up with USDT", "Top up with USDT (TON network)", "Pay in USDT instead", "Order #1 is paid",
		"Deposit received", "Paid in USDT: 10 USDT", "Pay by TON transfer", "pay in USDT (TON network)"},
	{ivan, "Баланс", "Пополнить в USDT", "Пополнение в USDT (сеть TON)", "Оплатить в USDT", "Заказ #1 оплачен",
		"Пополнение получено", "Оплачено в USDT: 10 USDT", "Оплатить переводом TON", "оплата в USDT (сеть TON)"},
}

// TestUSDT_TopupScreen: the balance screen offers USDT; its screen gives
// the address, the memo, what 1 USDT is worth now, a Tonkeeper jetton
// link and a QR code; a USDT top-up is credited in TON and its receipt
// names the USDT.
func TestUSDT_TopupScreen(t *testing.T) {
	for _, tc := range usdtLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e, w := usdtEnv(t)
			e.startChat(tc.u)
			e.fake.Press(tc.u, tc.balance)
			e.quiet(tc.u.ID)
			e.fake.Press(tc.u, tc.topup)
			memo := e.user(tc.u).Memo
			c := e.fake.Wait(tc.u.ID, tc.screen)
			// shoptest's 3.59 USD per TON, no fee: 1e9/3.59 nanoTON.
			for _, want := range []string{depositAddr, memo, "<b>" + locNum(tc.u.LanguageCode, "0.278551532") + " TON</b>", ton.MainnetUSDTMaster, "ton://transfer/" + depositAddr + "?jetton=" + ton.MainnetUSDTMaster + "&amp;text=" + memo} {
				if !strings.Contains(c.Text, want) {
					t.Errorf("USDT top-up screen lacks %q:\n%s", want, c.Text)
				}
			}
			_, btn, ok := e.fake.FindButton(tc.u.ID, "Tonkeeper · USDT")
			if !ok || btn.URL != "https://app.tonkeeper.com/transfer/"+depositAddr+"?jetton="+ton.MainnetUSDTMaster+"&text="+memo {
				t.Errorf("Tonkeeper USDT button %+v (found %v)", btn, ok)
			}
			e.lastPhoto(tc.u.ID) // the QR code

			depositUSDT(e, w, memo, 10_000_000)
			r := e.fake.Wait(tc.u.ID, tc.received)
			// 10 USDT = 2.78551532 TON, plus the 1 nanoTON the
			// notification carried.
			if !strings.Contains(r.Text, "+"+locNum(tc.u.LanguageCode, "2.785515321")+" TON") || !strings.Contains(r.Text, tc.receipt) {
				t.Errorf("receipt:\n%s", r.Text)
			}
			if got := e.user(tc.u).Balance; got != 2_785_515_320+1 {
				t.Errorf("balance %s", got)
			}
			e.assertKeyboardData()
		})
	}
}

// TestUSDT_PayOrder: a TON payment screen offers USDT; its USDT screen
// gives the price in USDT with a jetton link carrying it; a USDT transfer
// of that price with the memo pays the order and settles the screen.
func TestUSDT_PayOrder(t *testing.T) {
	for _, tc := range usdtLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e, w := usdtEnv(t)
			e.fake.Send(tc.u, "/start stars_100_someone_x")
			e.fake.Wait(tc.u.ID, "someone_x")
			e.fake.Press(tc.u, tc.payTON)
			e.quiet(tc.u.ID)
			e.fake.Press(tc.u, tc.payUSDT)
			c := e.fake.Wait(tc.u.ID, tc.payScreenUSDT)
			o := e.orders(tc.u)[0]
			// 0.418 TON at 3.59 USD/TON = 1.50062 USD: 1.51 USDT.
			if o.PaymentCurrency != shop.AssetUSDT || o.PriceUSDT != 1_510_000 || !strings.Contains(c.Text, "<b>"+locNum(tc.u.LanguageCode, "1.51")+" USDT</b>") || !strings.Contains(c.Text, o.PaymentMemo) {
				t.Fatalf("order %s %d; screen:\n%s", o.PaymentCurrency, o.PriceUSDT, c.Text)
			}
			_, btn, ok := e.fake.FindButton(tc.u.ID, "Tonkeeper · USDT")
			if !ok || !strings.Contains(btn.URL, "jetton="+ton.MainnetUSDTMaster+"&amount=1510000&text="+o.PaymentMemo) {
				t.Errorf("Tonkeeper USDT button %+v", btn)
			}
			qr := e.lastPhoto(tc.u.ID)
			e.quiet(tc.u.ID)

			depositUSDT(e, w, o.PaymentMemo, 1_510_000)
			e.fake.Wait(tc.u.ID, tc.paid)
			e.quiet(tc.u.ID)
			if got := e.orders(tc.u)[0]; got.Status != shop.StatusPaid {
				t.Errorf("order is %s", got.Status)
			}
			if m := e.message(tc.u.ID, qr); !m.Deleted {
				t.Errorf("QR still there")
			}
			e.assertKeyboardData()
		})
	}
}

// TestUSDT_Admin: an unmatched USDT deposit is listed with its USDT and
// assigned at its booked TON value; a fake jetton is listed by /unmatched
// rejected, cannot be assigned, and /stats counts both.
func TestUSDT_Admin(t *testing.T) {
	e, w := usdtEnv(t)
	ctx := context.Background()
	e.startChat(alice)
	depositUSDT(e, w, "nobody", 3_590_000) // 1 TON at 3.59, plus 1 nanoTON
	if _, err := e.sim.DepositUSDT(ctx, ton.MainnetUSDTMaster, e.user(alice).Memo, 50_000_000, 0, "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	deps, _ := e.svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 0)
	fakes, _ := e.svc.FindDeposits(ctx, shop.DepositRejected, 0, 0)
	if len(deps) != 1 || len(fakes) != 1 {
		t.Fatalf("unmatched %+v, rejected %+v", deps, fakes)
	}
	list := e.admin("/unmatched", "Unmatched deposits")
	if !strings.Contains(list.Text, fmt.Sprintf("#%d · <b>1.000000001 TON</b> (3.59 USDT) · memo <code>nobody</code>", deps[0].ID)) {
		t.Errorf("list:\n%s", list.Text)
	}
	rej := e.admin("/unmatched rejected", "Rejected jettons")
	if !strings.Contains(rej.Text, "fake jetton: 50000000 units from") {
		t.Errorf("rejected:\n%s", rej.Text)
	}
	e.admin(fmt.Sprintf("/assign %d @alice_buyer", fakes[0].ID), "is rejected, not unmatched")
	e.admin(fmt.Sprintf("/assign %d @alice_buyer", deps[0].ID), "(1.000000001 TON) credited to @alice_buyer")
	entries := e.ledger(alice)
	if len(entries) != 1 || entries[0].Asset != shop.AssetUSDT || entries[0].JettonAmount != 3_590_000 || entries[0].Amount != shop.TON+1 {
		t.Fatalf("ledger %+v", entries)
	}
	st := e.admin("/stats", "Shop statistics")
	for _, want := range []string{"USDT received: 1 deposits, 3.59 USDT, credited 1.000000001 TON", "Fake jettons rejected (not counted above): 1"} {
		if !strings.Contains(st.Text, want) {
			t.Errorf("/stats lacks %q:\n%s", want, st.Text)
		}
	}
}
