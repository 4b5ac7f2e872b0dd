package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

type payTexts struct {
	u                                   bottest.User
	payTON, payScreen, check, notYet    string
	paid, expired, cancelled, cancelBtn string
	received, orders, qrVoid            string
}

var payLangs = []payTexts{
	{alice, "Pay by TON transfer", "pay by TON transfer", "Check payment", "No payment seen yet",
		"Order #1 is paid", "Order #1 expired unpaid", "Order #1 is cancelled", "Cancel order",
		"Payment received", "My orders", "no longer valid"},
	{ivan, "Оплатить переводом TON", "оплата переводом TON", "Проверить оплату", "Оплата пока не видна",
		"Заказ #1 оплачен", "Заказ #1 истёк неоплаченным", "Заказ #1 отменён", "Отменить заказ",
		"Оплата получена", "Мои заказы", "больше не действует"},
}

// openPayment shows the payment screen of a 100-Stars order and returns
// its text message and QR photo (as the fake now holds them) and the order.
func openPayment(e *env, tc payTexts) (text, qr bottest.Message, o *shop.Order) {
	e.t.Helper()
	e.fake.Send(tc.u, "/start stars_100_someone_x")
	e.fake.Wait(tc.u.ID, "someone_x")
	e.fake.Press(tc.u, tc.payTON)
	pay := e.fake.Wait(tc.u.ID, tc.payScreen)
	e.fake.Wait(tc.u.ID, "TON")
	e.quiet(tc.u.ID)
	return e.message(tc.u.ID, pay.MessageID), e.message(tc.u.ID, e.lastPhoto(tc.u.ID)), e.orders(tc.u)[0]
}

// message returns the fake's current view of message id in chat.
func (e *env) message(chat int64, id int) bottest.Message {
	e.t.Helper()
	for _, m := range e.fake.Messages(chat) {
		if m.ID == id {
			return m
		}
	}
	e.t.Fatalf("no message %d in chat %d", id, chat)
	return bottest.Message{}
}

func (e *env) lastPhoto(chat int64) int {
	e.t.Helper()
	id := 0
	for _, m := range e.fake.Messages(chat) {
		if m.Photo != nil {
			id = m.ID
		}
	}
	if id == 0 {
		e.t.Fatal("no photo sent")
	}
	return id
}

// assertSettled checks that the payment text now says want, has no
// wallet, check or cancel buttons, and that the QR photo is gone.
func assertSettled(t *testing.T, e *env, tc payTexts, textID, qrID int, want string) {
	t.Helper()
	m := e.message(tc.u.ID, textID)
	if !strings.Contains(m.Text, want) || strings.Contains(m.Text, "ton://") {
		t.Errorf("payment screen now:\n%s", m.Text)
	}
	for _, b := range m.Buttons() {
		if b.URL != "" || strings.Contains(b.Text, tc.check) || strings.Contains(b.Text, tc.cancelBtn) {
			t.Errorf("settled screen keeps button %+v", b)
		}
	}
	if _, ok := m.Button(tc.orders); !ok {
		t.Errorf("settled screen has no %q button: %v", tc.orders, m.Buttons())
	}
	if qr := e.message(tc.u.ID, qrID); !qr.Deleted {
		t.Errorf("QR photo still there: %q", qr.Text)
	}
}

// Paid: the payment screen is edited in place to "paid", its QR code
// deleted, and the notification still comes.
func TestPaymentScreen_Paid(t *testing.T) {
	for _, tc := range payLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			text, qr, o := openPayment(e, tc)
			if _, ok := text.Button(tc.check); !ok {
				t.Fatalf("no %q button: %v", tc.check, text.Buttons())
			}
			// Before paying, Check payment only says it is not there yet.
			if got := e.fake.Press(tc.u, tc.check); !strings.Contains(got, tc.notYet) {
				t.Errorf("check before paying = %q", got)
			}
			e.deposit(tc.u, o.PaymentMemo, o.PriceTON)
			e.fake.Wait(tc.u.ID, tc.received)
			assertSettled(t, e, tc, text.ID, qr.ID, tc.paid)
			if e.state.Len() != 0 {
				t.Errorf("%d chat records left after payment", e.state.Len())
			}
			e.assertKeyboardData()
		})
	}
}

// Expired: edited to "expired", QR deleted; the record stays, so a
// transfer sent before the deadline and booked after it still turns the
// screen to "paid".
func TestPaymentScreen_ExpiredThenLatePayment(t *testing.T) {
	for _, tc := range payLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			text, qr, o := openPayment(e, tc)
			ctx := context.Background()
			// A transfer sent now, before the deadline, that the watcher
			// books only after the order expired.
			if _, err := e.sim.Deposit(ctx, o.PaymentMemo, o.PriceTON, strings.Repeat("e", 64)); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(e.svc.Pricing().OrderTTL + time.Minute)
			if n, err := e.svc.ExpireOrders(ctx); err != nil || n != 1 {
				t.Fatalf("ExpireOrders = %d, %v", n, err)
			}
			if got := e.quiet(tc.u.ID); len(got) == 0 {
				t.Fatal("nothing sent on expiry")
			}
			assertSettled(t, e, tc, text.ID, qr.ID, tc.expired)

			if _, err := e.watcher.Poll(ctx); err != nil {
				t.Fatal(err)
			}
			e.fake.Wait(tc.u.ID, tc.received)
			if m := e.message(tc.u.ID, text.ID); !strings.Contains(m.Text, tc.paid) {
				t.Errorf("after the late payment:\n%s", m.Text)
			}
			if got := e.orders(tc.u)[0].Status; got != shop.StatusPaid {
				t.Errorf("status = %s", got)
			}
		})
	}
}

// Cancelled on the payment screen: that message becomes "cancelled" and
// the QR goes. Cancelled from the order's detail: the payment screen
// (another message) is edited too.
func TestPaymentScreen_Cancelled(t *testing.T) {
	for _, tc := range payLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			text, qr, _ := openPayment(e, tc)
			e.fake.Press(tc.u, tc.cancelBtn)
			e.fake.Wait(tc.u.ID, tc.cancelled)
			assertSettled(t, e, tc, text.ID, qr.ID, tc.cancelled)

			// Second order, cancelled from /orders → #2.
			e.fake.Send(tc.u, "/start stars_100_someone_x")
			e.fake.Wait(tc.u.ID, "someone_x")
			e.fake.Press(tc.u, tc.payTON)
			pay2 := e.fake.Wait(tc.u.ID, "#2")
			e.quiet(tc.u.ID)
			qr2 := e.lastPhoto(tc.u.ID)
			e.fake.Send(tc.u, "/orders")
			e.fake.Wait(tc.u.ID, "#2")
			e.fake.Press(tc.u, "#2")
			e.fake.Wait(tc.u.ID, "#2")
			e.fake.Press(tc.u, tc.cancelBtn)
			e.quiet(tc.u.ID)
			assertSettled(t, e, tc, pay2.MessageID, qr2, strings.Replace(tc.cancelled, "#1", "#2", 1))
		})
	}
}

// The bot restarts between the payment screen and the payment, and the
// payment's event is lost with the old process: Check payment, pressed
// after the restart, finds the screen's record in the store, edits it to
// "paid" and deletes the QR.
func TestPaymentScreen_CheckAfterRestart(t *testing.T) {
	for _, tc := range payLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			text, qr, o := openPayment(e, tc)
			e.stop()
			e.deposit(tc.u, o.PaymentMemo, o.PriceTON) // no bot running: nobody is told
			e.start()
			e.fake.Press(tc.u, tc.check)
			assertSettled(t, e, tc, text.ID, qr.ID, tc.paid)
		})
	}
}

// A QR photo the Bot API no longer lets the bot delete (older than 48
// hours) gets a "no longer valid" caption instead, with editMessageCaption.
func TestPaymentScreen_UndeletableQR(t *testing.T) {
	for _, tc := range payLangs {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			text, qr, _ := openPayment(e, tc)
			e.clock.Advance(bottest.DeleteLimit) // the QR photo is now 48 h old: Telegram refuses to delete it
			e.fake.Press(tc.u, tc.cancelBtn)
			e.fake.Wait(tc.u.ID, tc.qrVoid)
			e.fake.Wait(tc.u.ID, tc.cancelled)
			if m := e.message(tc.u.ID, text.ID); !strings.Contains(m.Text, tc.cancelled) {
				t.Errorf("payment screen:\n%s", m.Text)
			}
			if m := e.message(tc.u.ID, qr.ID); !strings.Contains(m.Text, tc.qrVoid) || m.Deleted {
				t.Errorf("QR photo: deleted=%v caption %q", m.Deleted, m.Text)
			}
			if calls := e.fake.CallsTo("editMessageCaption"); len(calls) != 1 || calls[0].Params["message_id"] == "" {
				t.Errorf("editMessageCaption calls: %+v", calls)
			}
		})
	}
}
