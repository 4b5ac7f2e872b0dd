package bot_test

import (
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// Callback data that is not on the message (issue 17 item 14): a stale
// button the bot has since edited away, or a forged one from a modified
// client. The fake delivers it on a real message (bottest.Server.Callback
// does not check the data against the keyboard); the bot answers every
// press, says the button no longer works or shows a safe screen, creates
// nothing and never reports an internal error or a panic. Both languages.
func TestForgedAndStaleButtons_AnsweredGracefully(t *testing.T) {
	forged := []string{
		"", "garbage", "\f", "\fzzz", "\fzzz|1|2",
		"\fbuy", "\fbuy|x", "\frme|s|-5", "\frot|q", "\frme|s|1|2|3",
		"\famt", "\famt|s|abc|someone_x", "\famt|s|999999999999|someone_x", "\famt|p|5|someone_x", "\famt|s|100|bad name!",
		"\famo|not a name", "\fpay", "\fpay|x|b|someone_x", "\fpay|" + strings.Repeat("A", shop.QuoteIDLen) + "|z|someone_x",
		"\fol|-1", "\fol|abc", "\fod|0", "\fod|abc", "\fod|999", "\foc|999", "\foc|x", "\fpc|999", "\fpc|-1",
		"\fakn|z", "\faky|z", "\fakx|z", "\fsetl|de", "\fsetl|", "\fpf|s", "\fpf|z|someone_x", "\fpf|s|bad name!",
		"\falt|z", "\falt", "\fhide|1", "\fref|x", "\ffaq|x",
	}
	for _, tc := range []struct {
		u     bottest.User
		stale string
	}{
		{alice, "no longer valid"},
		{ivan, "больше не действует"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			menu := e.startChat(tc.u)
			staleAnswers := 0
			for _, data := range forged {
				c := e.fake.WaitAnswer(e.fake.Callback(tc.u, tc.u.ID, menu.MessageID, data))
				if strings.Contains(c.Params["text"], tc.stale) {
					staleAnswers++
				}
			}
			if staleAnswers < len(forged)/2 {
				t.Errorf("only %d of %d forged presses were told the button no longer works", staleAnswers, len(forged))
			}
			e.quiet(tc.u.ID)
			for _, c := range e.fake.Calls() {
				if strings.Contains(c.Text, "went wrong") || strings.Contains(c.Text, "пошло не так") {
					t.Errorf("internal error shown: %s %q", c.Method, c.Text)
				}
			}
			if logs := e.logText(); strings.Contains(logs, "panicked") || strings.Contains(logs, "handler failed") {
				t.Errorf("the log shows a failure:\n%s", logs)
			}
			if n := len(e.orders(tc.u)); n != 0 {
				t.Errorf("%d orders created by forged buttons", n)
			}
		})
	}
}

// The 48-hour delete limit runs on the fake's clock: a QR photo just under
// 48 hours old is deleted; the next one, 48 hours old, is captioned void.
func TestDeleteLimit_FakeClock(t *testing.T) {
	e := newEnv(t)
	text, qr, _ := openPayment(e, payLangs[0])
	e.clock.Advance(bottest.DeleteLimit - time.Second)
	e.fake.Press(alice, payLangs[0].cancelBtn)
	e.fake.Wait(alice.ID, payLangs[0].cancelled)
	if m := e.message(alice.ID, qr.ID); !m.Deleted {
		t.Errorf("QR photo 47:59:59 old not deleted: %+v", m)
	}
	_ = text
}
