package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// price100at20 is 100 stars after an admin raised the fee to 20 %: the
// price the issue saw charged by a Confirm button that showed price100.
const price100at20 = shop.NanoTON(502_000_000) // 0.501392758, rounded up to 0.001

// setFee changes the fee as an admin's /fees set does.
func (e *env) setFee(ppm int64) {
	e.t.Helper()
	p := e.svc.Pricing()
	p.FeePPM = ppm
	if err := e.svc.SavePricing(context.Background(), p); err != nil {
		e.t.Fatal(err)
	}
}

// orderDebits returns the amounts of u's order debits in the ledger.
func (e *env) orderDebits(u bottest.User) []shop.NanoTON {
	e.t.Helper()
	var out []shop.NanoTON
	for _, le := range e.ledger(u) {
		if le.Type == shop.LedgerOrder {
			out = append(out, -le.Amount)
		}
	}
	return out
}

// ruStarsQuote walks the Russian menu to the quote for 100 stars.
func ruStarsQuote(e *env, u bottest.User) bottest.Call {
	e.t.Helper()
	e.startChat(u)
	e.fake.Press(u, "Купить звёзды")
	e.fake.Press(u, "Другому")
	e.fake.Send(u, "@someone_x")
	e.fake.Wait(u.ID, "Сколько звёзд")
	e.fake.Press(u, "100")
	return e.fake.Wait(u.ID, "Ваш заказ")
}

// The case: the fee goes from 0 to 20 % while the quote is on the
// screen. Confirm, pressed within QUOTE_TTL, charges the price on the
// button, not the new one.
func TestConfirm_FeeRaised_ChargesShownPrice(t *testing.T) {
	for _, u := range []bottest.User{alice, ivan} {
		t.Run(u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.startChat(u)
			e.deposit(u, "", shop.TON)
			var q bottest.Call
			confirm := "Confirm: pay " + price100.String() + " TON"
			if u.LanguageCode == "ru" {
				q = ruStarsQuote(e, u)
				confirm = "Подтвердить: " + tonIn(u, price100) + " TON"
			} else {
				q = buyStarsQuote(e, u, "@someone_x", "100")
			}
			held := map[string]string{"en": "held for 60 s", "ru": "действует 60 сек."}[u.LanguageCode]
			if !strings.Contains(q.Text, held) {
				t.Errorf("quote does not say how long the price is held:\n%s", q.Text)
			}
			if _, _, ok := e.fake.FindButton(u.ID, confirm); !ok {
				t.Fatalf("no button %q", confirm)
			}

			e.setFee(200_000)
			e.clock.Advance(shop.DefaultQuoteTTL - time.Second)
			e.fake.Press(u, confirm)
			e.fake.Wait(u.ID, "#1")
			os := e.orders(u)
			if len(os) != 1 || os[0].PriceTON != price100 || os[0].Status != shop.StatusPaid {
				t.Fatalf("orders = %+v; want one paid at %s", os, price100)
			}
			if got := e.orderDebits(u); len(got) != 1 || got[0] != price100 {
				t.Errorf("debits = %v, want [%s]", got, price100)
			}
			if got := e.user(u).Balance; got != shop.TON-price100 {
				t.Errorf("balance = %s, want %s", got, shop.TON-price100)
			}
			e.assertKeyboardData()
		})
	}
}

// After QUOTE_TTL the button is not charged: the bot shows the new price
// (on the message and the new button) and asks again. Only the new button
// charges, and exactly its price; the old one, pressed again, asks again.
func TestConfirm_Expired_ShowsNewPriceAndAsksAgain(t *testing.T) {
	for _, u := range []bottest.User{alice, ivan} {
		t.Run(u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.startChat(u)
			e.deposit(u, "", shop.TON)
			ru := u.LanguageCode == "ru"
			confirm, oldNotice, nothing := "Confirm: pay ", "The price "+price100.String()+" TON is no longer held", "Nothing was charged"
			if ru {
				ruStarsQuote(e, u)
				confirm, oldNotice, nothing = "Подтвердить: ", "Цена "+tonIn(u, price100)+" TON больше не действует", "Ничего не списано"
			} else {
				buyStarsQuote(e, u, "@someone_x", "100")
			}
			oldMsg, oldBtn, ok := e.fake.FindButton(u.ID, confirm+tonIn(u, price100))
			if !ok {
				t.Fatal("no Confirm button")
			}

			e.setFee(200_000)
			e.clock.Advance(shop.DefaultQuoteTTL)
			e.fake.WaitAnswer(e.fake.Callback(u, u.ID, oldMsg.ID, oldBtn.Data))
			again := e.fake.Wait(u.ID, oldNotice)
			for _, want := range []string{nothing, tonIn(u, price100at20) + " TON"} {
				if !strings.Contains(again.Text, want) {
					t.Errorf("the new screen lacks %q:\n%s", want, again.Text)
				}
			}
			if n := len(e.orders(u)); n != 0 || e.user(u).Balance != shop.TON {
				t.Fatalf("%d orders, balance %s after an expired Confirm", n, e.user(u).Balance)
			}
			_, newBtn, ok := e.fake.FindButton(u.ID, confirm+tonIn(u, price100at20)+" TON")
			if !ok {
				t.Fatalf("no Confirm button with the new price:\n%v", again.Keyboard)
			}
			if newBtn.Data == oldBtn.Data {
				t.Fatal("the new button carries the expired quote")
			}

			// The old button, replayed, still charges nothing.
			e.fake.WaitAnswer(e.fake.Callback(u, u.ID, oldMsg.ID, oldBtn.Data))
			e.fake.Wait(u.ID, oldNotice)
			if n := len(e.orders(u)); n != 0 {
				t.Fatalf("%d orders after replaying the expired button", n)
			}

			e.fake.Press(u, confirm+tonIn(u, price100at20))
			e.fake.Wait(u.ID, "#1")
			os := e.orders(u)
			if len(os) != 1 || os[0].PriceTON != price100at20 {
				t.Fatalf("orders = %+v; want one at %s", os, price100at20)
			}
			if got := e.orderDebits(u); len(got) != 1 || got[0] != price100at20 {
				t.Errorf("debits = %v, want [%s]", got, price100at20)
			}
			e.assertKeyboardData()
		})
	}
}

// Pay by TON transfer uses the quote too: a ton_memo order at the quoted
// price within QUOTE_TTL, a new confirmation after it.
func TestPayTON_Quote(t *testing.T) {
	e := newEnv(t)
	buyStarsQuote(e, alice, "@someone_x", "100")
	m, tb, ok := e.fake.FindButton(alice.ID, "Pay by TON transfer")
	if !ok {
		t.Fatal("no Pay by TON transfer button")
	}
	e.setFee(200_000)
	e.clock.Advance(shop.DefaultQuoteTTL)
	e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, tb.Data))
	e.fake.Wait(alice.ID, "is no longer held")
	if n := len(e.orders(alice)); n != 0 {
		t.Fatalf("%d orders after an expired quote", n)
	}
	e.setFee(0) // the price goes back; the new quote is the new screen's
	buyStarsQuote(e, alice, "@someone_x", "100")
	e.setFee(200_000)
	e.fake.Press(alice, "Pay by TON transfer")
	pay := e.fake.Wait(alice.ID, "pay by TON transfer")
	if !strings.Contains(pay.Text, price100.String()+" TON") {
		t.Errorf("payment screen:\n%s", pay.Text)
	}
	if os := e.orders(alice); len(os) != 1 || os[0].PriceTON != price100 || os[0].PaymentMethod != shop.PayTONMemo {
		t.Fatalf("orders = %+v", os)
	}
}

// Not enough balance: the screen shows the quoted price and its "Pay by TON
// transfer" button pays exactly that, even after a fee change.
func TestConfirm_Insufficient_KeepsQuote(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", shop.TON/2)
	buyStarsQuote(e, alice, "@someone_x", "100")
	if _, err := e.svc.AdminDebit(context.Background(), adminID, alice.ID, shop.TON/4, "test"); err != nil {
		t.Fatal(err)
	}
	e.fake.Press(alice, "Confirm")
	c := e.fake.Wait(alice.ID, "Not enough balance")
	if !strings.Contains(c.Text, price100.String()+" TON") {
		t.Errorf("insufficient screen:\n%s", c.Text)
	}
	e.setFee(200_000)
	e.fake.Press(alice, "Pay by TON transfer")
	e.fake.Wait(alice.ID, "pay by TON transfer")
	if os := e.orders(alice); len(os) != 1 || os[0].PriceTON != price100 {
		t.Fatalf("orders = %+v; want one at %s", os, price100)
	}
}

// Buttons the bot did not issue to this user charge nothing: another
// user's quote, a made-up id, and a button from before quotes (which is
// priced afresh and asked again).
func TestConfirm_ForeignAndOldButtons(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", shop.TON)
	e.startChat(owner)
	e.deposit(owner, "", shop.TON)
	buyStarsQuote(e, alice, "@someone_x", "100")
	m, b, ok := e.fake.FindButton(alice.ID, "Confirm")
	if !ok {
		t.Fatal("no Confirm button")
	}
	// owner presses (a copy of) alice's button in their own chat.
	got := e.fake.WaitAnswer(e.fake.Callback(owner, owner.ID, m.ID, b.Data)).Params["text"]
	if !strings.Contains(got, "no longer valid") {
		t.Errorf("answer to another user's quote = %q", got)
	}
	forged := "\fpay|" + strings.Repeat("A", shop.QuoteIDLen) + "|b|someone_x"
	got = e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, forged)).Params["text"]
	if !strings.Contains(got, "no longer valid") {
		t.Errorf("answer to an unknown quote = %q", got)
	}
	for _, bad := range []string{"\fpay|short|b|someone_x", "\fpay|" + strings.Repeat("A", shop.QuoteIDLen) + "|x|someone_x", "\fpay|a|b"} {
		got = e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, bad)).Params["text"]
		if !strings.Contains(got, "no longer valid") {
			t.Errorf("answer to %q = %q", bad, got)
		}
	}
	if len(e.orders(alice)) != 0 || len(e.orders(owner)) != 0 {
		t.Fatal("an order was created")
	}

	// A Confirm button sent before prices were locked (nonce|method|kind|
	// quantity|recipient): the current price, asked again.
	e.setFee(200_000)
	e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, "\fpay|AbCdEf12|b|s|100|someone_x"))
	again := e.fake.Wait(alice.ID, "That price is no longer held")
	if !strings.Contains(again.Text, price100at20.String()+" TON") {
		t.Errorf("old button's screen:\n%s", again.Text)
	}
	if n := len(e.orders(alice)); n != 0 {
		t.Fatalf("%d orders after an old button", n)
	}
	e.assertKeyboardData()
}
