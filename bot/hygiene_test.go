package bot_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// actionFields are the InlineKeyboardButton fields of which exactly one
// must be used (https://core.telegram.org/bots/api#inlinekeyboardbutton).
var actionFields = []string{"url", "callback_data", "web_app", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"}

// checkRecordedMarkup checks, on the raw parameters of every recorded
// call, that each button carries exactly one action field and that no
// message asks for the deprecated disable_web_page_preview; every text
// message disables link previews with link_preview_options. It returns
// how many buttons it checked.
func checkRecordedMarkup(t *testing.T, calls []bottest.Call) int {
	t.Helper()
	buttons := 0
	for _, c := range calls {
		if _, ok := c.Params["disable_web_page_preview"]; ok {
			t.Errorf("call %d %s sends disable_web_page_preview", c.Seq, c.Method)
		}
		if c.Method == "sendMessage" || c.Method == "editMessageText" {
			var lp struct {
				Disabled bool `json:"is_disabled"`
			}
			if err := json.Unmarshal([]byte(c.Params["link_preview_options"]), &lp); err != nil || !lp.Disabled {
				t.Errorf("call %d %s: link_preview_options = %q", c.Seq, c.Method, c.Params["link_preview_options"])
			}
		}
		raw := c.Params["reply_markup"]
		if raw == "" {
			continue
		}
		var rm struct {
			InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
		}
		if err := json.Unmarshal([]byte(raw), &rm); err != nil {
			t.Errorf("call %d %s: reply_markup %q: %v", c.Seq, c.Method, raw, err)
			continue
		}
		for _, row := range rm.InlineKeyboard {
			for _, b := range row {
				buttons++
				var got []string
				for _, f := range actionFields {
					if _, ok := b[f]; ok {
						got = append(got, f)
					}
				}
				if len(got) != 1 {
					t.Errorf("call %d %s: button %s carries %v, want exactly one action", c.Seq, c.Method, b["text"], got)
				}
			}
		}
	}
	return buttons
}

func TestButtons_ExactlyOneAction_NoDeprecatedPreview(t *testing.T) {
	for _, u := range []bottest.User{alice, ivan} {
		e := newEnv(t)
		e.startChat(u)
		e.fake.Press(u, "💰")   // balance: wallet URL buttons
		e.startChat(u)         // a new menu
		e.fake.Press(u, "⭐")   // buy Stars: callback buttons, edited in place
		e.fake.Send(u, "/api") // the API screen
		e.quiet(u.ID)
		if n := checkRecordedMarkup(t, e.fake.Calls()); n < 10 {
			t.Errorf("%s: only %d buttons recorded", u.LanguageCode, n)
		}
	}
}

// TestPress_AnsweredBeforeEdit: the press is answered first, so that an
// edit waiting out a 429 leaves no spinner.
func TestPress_AnsweredBeforeEdit(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.FailNext("editMessageText", 1)
	e.fake.Press(alice, "Buy Stars")
	answer, edit := 0, 0
	for _, c := range e.fake.Calls() {
		switch {
		case c.Method == "answerCallbackQuery" && answer == 0:
			answer = c.Seq
		case c.Method == "editMessageText" && edit == 0:
			edit = c.Seq
			if c.Status != 429 {
				t.Errorf("first edit answered %d, want the injected 429", c.Status)
			}
		}
	}
	if answer == 0 || edit == 0 || answer > edit {
		t.Fatalf("answerCallbackQuery #%d, first editMessageText #%d: want the answer first", answer, edit)
	}
	if _, _, ok := e.fake.FindButton(alice.ID, "Someone else"); !ok {
		t.Fatal("the edit was not retried after the 429")
	}
	if got := e.sleeps(); len(got) != 1 || got[0].Seconds() != 1 {
		t.Errorf("sleeps = %v, want the 1 s retry_after", got)
	}
}

// TestBlockedUser: a user who blocked the bot gets one failed call and no
// more: the 403 is logged once, later notifications are dropped, and
// writing to the bot again lifts it.
func TestBlockedUser(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Block(alice.ID)
	for range 3 {
		e.deposit(alice, "", shop.TON)
	}
	calls := e.quiet(alice.ID)
	if len(calls) != 1 || calls[0].Status != 403 {
		t.Fatalf("calls to a user who blocked the bot: %+v", calls)
	}
	e.waitLog("telegram user blocked the bot", 1)
	if n := strings.Count(e.logText(), "level=WARN msg=\"telegram user blocked the bot"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, e.logText())
	}
	if strings.Contains(e.logText(), "not delivered") {
		t.Errorf("the drop was logged as a failure:\n%s", e.logText())
	}
	e.fake.Send(alice, "/balance")
	e.fake.Wait(alice.ID, "3 TON")
}

// TestEdit_NotModifiedIsSuccess: pressing a button whose screen is the
// one shown gets Telegram's "message is not modified", and nothing more
// is sent.
func TestEdit_NotModifiedIsSuccess(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	m, b, ok := e.fake.FindButton(alice.ID, "Help")
	if !ok {
		t.Fatal("no Help button")
	}
	e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, b.Data))
	e.fake.Wait(alice.ID, "How it works")
	e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, b.Data))
	calls := e.quiet(alice.ID)
	if len(calls) != 1 || calls[0].Method != "editMessageText" || calls[0].Status != 400 {
		t.Fatalf("after an unchanged edit: %+v", calls)
	}
	if strings.Contains(e.logText(), "edit failed") {
		t.Errorf("a not-modified edit was treated as a failure:\n%s", e.logText())
	}
}

// TestEdit_TargetGone_SendsNew: a press on a message the user has deleted
// meanwhile shows its screen in a new message.
func TestEdit_TargetGone_SendsNew(t *testing.T) {
	for _, tc := range []struct {
		u    bottest.User
		want string
	}{{alice, "How it works"}, {ivan, "Как это работает"}} {
		e := newEnv(t)
		e.startChat(tc.u)
		m, b, ok := e.fake.FindButton(tc.u.ID, "❓")
		if !ok {
			t.Fatal("no help button")
		}
		e.fake.DeleteByUser(m.ID)
		e.fake.WaitAnswer(e.fake.Callback(tc.u, tc.u.ID, m.ID, b.Data))
		got := e.fake.Wait(tc.u.ID, tc.want)
		if got.Method != "sendMessage" || got.MessageID == m.ID {
			t.Errorf("%s: screen shown by %s of #%d", tc.u.LanguageCode, got.Method, got.MessageID)
		}
	}
}

// TestCallback_TooOld_StillHandled: a press answered too late is handled
// all the same.
func TestCallback_TooOld_StillHandled(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	m, b, ok := e.fake.FindButton(alice.ID, "Help")
	if !ok {
		t.Fatal("no Help button")
	}
	id := e.fake.CallbackTooOld(alice, alice.ID, m.ID, b.Data)
	e.fake.Wait(alice.ID, "How it works")
	e.quiet(alice.ID)
	answers := e.fake.CallsTo("answerCallbackQuery")
	if len(answers) != 1 || answers[0].Params["callback_query_id"] != id || answers[0].Status != 400 {
		t.Fatalf("answers: %+v", answers)
	}
	if strings.Contains(e.logText(), "handler failed") {
		t.Errorf("a late answer failed the handler:\n%s", e.logText())
	}
}

// TestHideKey_Undeletable_EditsKeyAway: a key message Telegram will no
// longer delete (48 h) has its text replaced instead, in both languages.
func TestHideKey_Undeletable_EditsKeyAway(t *testing.T) {
	for _, tc := range []struct {
		u                  bottest.User
		create, hide, gone string
	}{
		{alice, "Create an orders API key", "I saved it", "now hidden"},
		{ivan, "", "скрыть", "теперь он скрыт"},
	} {
		e := newEnv(t)
		e.fake.Send(tc.u, "/api")
		_ = e.fake.Quiet(tc.u.ID, e.idle)
		create := tc.create
		if create == "" {
			m := e.fake.Messages(tc.u.ID)
			last := m[len(m)-1]
			create = last.Buttons()[0].Text
		}
		e.fake.Press(tc.u, create)
		msgs := e.fake.Messages(tc.u.ID)
		keyMsg := msgs[len(msgs)-1]
		if !strings.Contains(keyMsg.Text, "osk_") {
			t.Fatalf("%s: no key message: %q", tc.u.LanguageCode, keyMsg.Text)
		}
		e.clock.Advance(bottest.DeleteLimit) // 48 h later Telegram no longer deletes it
		e.fake.Press(tc.u, tc.hide)
		for _, m := range e.fake.Messages(tc.u.ID) {
			if m.ID == keyMsg.ID {
				if strings.Contains(m.Text, "osk_") || !strings.Contains(m.Text, tc.gone) || len(m.Keyboard) != 0 {
					t.Errorf("%s: the undeletable key message now reads %q, buttons %v", tc.u.LanguageCode, m.Text, m.Buttons())
				}
			}
		}
	}
}

// TestAdminUser_ManyKeys_FitsOneMessage: the /user screen of a partner
// who rotated a key hundreds of times fits one message.
func TestAdminUser_ManyKeys_FitsOneMessage(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	ctx := context.Background()
	for range 300 {
		if _, _, err := e.svc.IssueKey(ctx, alice.ID, shop.KeyPrefixOrders); err != nil {
			t.Fatal(err)
		}
	}
	got := e.admin(fmt.Sprintf("/user %d", alice.ID), "API keys")
	plain, err := bottest.CheckHTML(got.Text)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(utf16.Encode([]rune(plain))); n > 4096 {
		t.Errorf("/user is %d UTF-16 units", n)
	}
	if !strings.Contains(got.Text, "and 280 more") {
		t.Errorf("/user does not count the keys it leaves out:\n%s", got.Text)
	}
}
