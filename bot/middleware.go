package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// ctxKey is where the update's context is stored in the telebot context:
// telebot handlers get no context.Context, so the middleware stores one,
// derived from Run's, and ctxOf reads it.
const ctxKey = "starsbot.ctx"

// ctxOf returns the context of the update being handled.
func ctxOf(c tele.Context) context.Context {
	if ctx, ok := c.Get(ctxKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

// bannedRepeat is how often a banned user is told so, at most.
const bannedRepeat = time.Hour

// keyboard is an inline keyboard, rows of buttons.
type keyboard [][]tele.InlineButton

// turn is one update being handled: the telebot context plus the update's
// context, the user and their language.
type turn struct {
	tele.Context
	b        *Bot
	ctx      context.Context
	chat     int64
	user     *shop.User
	lang     string
	answered bool
	order    int64 // the order the update is about, if any: named in error messages

	// The recipient lookup of this update (checkRecipient): its answer
	// (nil: the provider could not tell) for rcName and rcType.
	rc     *shop.RecipientCheck
	rcName string
	rcType shop.OrderType
}

// on registers fn for endpoint behind the bot's middleware.
func (b *Bot) on(endpoint any, fn func(*turn) error) {
	b.tb.Handle(endpoint, b.wrap(fn))
}

// wrap is the bot's middleware around every handler, outermost first:
// a context with a timeout (stored for ctxOf), panic recovery, the
// callback answer, the private-chat rule, the user record and the ban.
func (b *Bot) wrap(fn func(*turn) error) tele.HandlerFunc {
	return func(c tele.Context) (err error) {
		ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
		defer cancel()
		c.Set(ctxKey, ctx)
		t := &turn{Context: c, b: b, ctx: ctxOf(c), lang: shop.Languages[0]}
		if s := c.Sender(); s != nil {
			t.lang = shop.NormalizeLanguage(s.LanguageCode)
		}
		if ch := c.Chat(); ch != nil {
			t.chat = ch.ID
			if c.Sender() != nil && ch.Type == tele.ChatPrivate {
				b.setBlocked(t.chat, false) // they write, so they unblocked it
			}
		}
		defer func() {
			if r := recover(); r != nil {
				b.Logger.Error("telegram handler panicked", "chat_id", t.chat,
					"panic", b.redactString(fmt.Sprint(r)), "stack", string(debug.Stack()))
				t.safeSay(t.T("err.internal") + b.supportLine(t.lang, t.order))
				err = nil
			}
			t.finish()
		}()
		if c.Sender() == nil || t.chat == 0 {
			return nil
		}
		if c.Chat().Type != tele.ChatPrivate {
			return t.refuseGroup()
		}
		u := shop.UserUpdate{ID: c.Sender().ID, Username: c.Sender().Username, LanguageCode: c.Sender().LanguageCode}
		if m := c.Message(); m != nil && isCommand(m.Text, "start") {
			u.StartPayload = m.Payload
		}
		user, err := b.Shop.EnsureUser(ctx, u)
		if err != nil {
			return t.fail(err)
		}
		t.user, t.lang = user, user.Language
		if user.Banned {
			return t.refuseBanned()
		}
		if m := c.Message(); c.Callback() != nil || (m != nil && strings.HasPrefix(m.Text, "/")) {
			// Any button or command ends a flow that waits for text; the
			// buttons that start one save a fresh state.
			if err := b.clearState(ctx, t.chat); err != nil {
				return t.fail(err)
			}
		}
		return fn(t)
	}
}

// isCommand reports whether text is /name, with or without arguments or a
// bot name.
func isCommand(text, name string) bool {
	cmd, _, _ := strings.Cut(text, " ")
	cmd, _, _ = strings.Cut(cmd, "@")
	return cmd == "/"+name
}

// refuseGroup answers commands and buttons outside private chats with a
// short refusal and nothing else; plain group chatter is ignored.
func (t *turn) refuseGroup() error {
	if t.Callback() != nil {
		return t.answer(t.T("group.refuse"), true)
	}
	if m := t.Message(); m != nil && strings.HasPrefix(m.Text, "/") {
		_, err := t.b.sendText(t.ctx, t.chat, t.T("group.refuse"), nil)
		return err
	}
	return nil
}

// refuseBanned tells a banned user so, at most once per bannedRepeat.
func (t *turn) refuseBanned() error {
	b := t.b
	now := b.Now()
	b.bannedMu.Lock()
	last, seen := b.bannedSeen[t.user.ID]
	if !seen || now.Sub(last) >= bannedRepeat {
		b.bannedSeen[t.user.ID] = now
		seen = false
	}
	b.bannedMu.Unlock()
	if seen {
		return nil
	}
	if t.Callback() != nil {
		return t.answer(t.T("banned"), true)
	}
	_, err := b.sendText(t.ctx, t.chat, t.T("banned"), nil)
	return err
}

// T returns the catalog text of key in the user's language.
func (t *turn) T(key string, args ...any) string { return tr(t.lang, key, args...) }

// say sends a new message to the chat.
func (t *turn) say(text string, kb keyboard) error {
	_, err := t.b.sendText(t.ctx, t.chat, text, kb)
	return err
}

// show replaces the message whose button was pressed, or sends a new
// message when the update is not a button press (or the edit fails).
func (t *turn) show(text string, kb keyboard) error {
	_, err := t.showMsg(text, kb)
	return err
}

// showMsg is show, returning the id of the message that shows text (the
// edited one, or the new one).
func (t *turn) showMsg(text string, kb keyboard) (int, error) {
	cb := t.Callback()
	if cb == nil || cb.Message == nil {
		return t.sayMsg(text, kb)
	}
	// Answer the press before editing: an edit that waits out a 429 must
	// not keep the client's progress indicator spinning until the query
	// is too old to answer.
	t.finish()
	err := t.b.editText(t.ctx, t.chat, cb.Message.ID, text, kb)
	if err == nil || errors.Is(err, tele.ErrMessageNotModified) || errors.Is(err, tele.ErrSameMessageContent) {
		return cb.Message.ID, nil
	}
	if errors.Is(err, errBlocked) {
		return 0, err
	}
	t.b.Logger.Info("telegram edit failed; sending a new message", "chat_id", t.chat, "error", t.b.redact(err))
	return t.sayMsg(text, kb)
}

func (t *turn) sayMsg(text string, kb keyboard) (int, error) {
	msg, err := t.b.sendText(t.ctx, t.chat, text, kb)
	if err != nil || msg == nil {
		return 0, err
	}
	return msg.ID, nil
}

// photo sends a PNG with a caption.
func (t *turn) photo(png []byte, caption string) error {
	_, err := t.b.sendPhoto(t.ctx, t.chat, png, caption)
	return err
}

// answer answers the pressed button's callback query with a notification
// (or an alert); without a button press it sends the text as a message.
func (t *turn) answer(text string, alert bool) error {
	cb := t.Callback()
	if cb == nil {
		return t.say(text, nil)
	}
	if t.answered {
		return nil
	}
	t.answered = true
	err := t.b.tb.Respond(cb, &tele.CallbackResponse{Text: text, ShowAlert: alert})
	if errors.Is(err, tele.ErrQueryTooOld) {
		// Too late to answer (or answered already): the press is still
		// handled; only its notification is lost.
		t.b.Logger.Info("telegram callback query too old to answer", "chat_id", t.chat)
		return nil
	}
	return err
}

// finish answers a button press the handler left unanswered, so that the
// client stops its progress indicator.
func (t *turn) finish() {
	if t.Callback() == nil || t.answered {
		return
	}
	if err := t.answer("", false); err != nil {
		t.b.Logger.Info("telegram answerCallbackQuery failed", "chat_id", t.chat, "error", t.b.redact(err))
	}
}

// safeSay sends text, ignoring a panic or error (used while recovering).
func (t *turn) safeSay(text string) {
	defer func() { _ = recover() }()
	if err := t.say(text, keyboard{{t.btnMenu()}}); err != nil {
		t.b.Logger.Info("telegram send failed", "chat_id", t.chat, "error", t.b.redact(err))
	}
}

// fail tells the user what went wrong, in their language, by error code.
// Internal errors are logged here, once, and shown as a generic sentence.
func (t *turn) fail(err error) error {
	code := shop.ErrorCode(err)
	var text string
	switch code {
	case shop.EINSUFFICIENT:
		text = t.T("err.insufficient")
	case shop.ERECIPIENT:
		text = t.T("err.recipient")
	case shop.ENOTFOUND:
		text = t.T("err.not_found")
	case shop.EUNAUTHORIZED:
		text = t.T("banned")
	case shop.ENOTCANCELLABLE:
		text = t.T("err.not_cancellable")
	case shop.ECONFLICT:
		text = t.T("err.conflict")
	case shop.ERATELIMITED:
		text = t.T("err.rate_limited")
	case shop.EVALIDATION:
		text = t.T("err.validation")
	default:
		t.b.Logger.Error("telegram handler failed", "chat_id", t.chat, "error", t.b.redact(err))
		text = t.T("err.internal")
	}
	return t.say(text+t.b.supportLine(t.lang, t.order), keyboard{{t.btnMenu()}})
}

// ---- sending -----------------------------------------------------------------

// Messages are sent and edited with Bot API calls built here rather than
// through telebot's Send and Edit, for two things telebot v3.3.8 cannot
// do: its InlineButton always serializes "switch_inline_query_current_chat"
// (a second, empty action on every button: markup.go, no omitempty), and
// its SendOptions only know the deprecated "disable_web_page_preview",
// not "link_preview_options".

// inlineButtonJSON is an inline keyboard button with exactly one action:
// a URL or callback data.
type inlineButtonJSON struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
}

// markup is the reply_markup of kb, or nil for none.
func markup(kb keyboard) any {
	if len(kb) == 0 {
		return nil
	}
	rows := make([][]inlineButtonJSON, 0, len(kb))
	for _, row := range kb {
		out := make([]inlineButtonJSON, 0, len(row))
		for _, btn := range row {
			j := inlineButtonJSON{Text: btn.Text}
			if btn.URL != "" {
				j.URL = btn.URL
			} else {
				j.CallbackData = btn.Data
				if btn.Unique != "" { // telebot's form; button() never makes it
					j.CallbackData = "\f" + btn.Unique
					if btn.Data != "" {
						j.CallbackData += "|" + btn.Data
					}
				}
			}
			out = append(out, j)
		}
		rows = append(rows, out)
	}
	return map[string]any{"inline_keyboard": rows}
}

// textParams are the parameters of every text message: HTML, no link
// previews, and the keyboard (none removes an edited message's keyboard).
// The text is cut to fit one message (fitHTML).
func textParams(chat int64, text string, kb keyboard) map[string]any {
	p := map[string]any{
		"chat_id":              chat,
		"text":                 fitHTML(text, MaxMessageText),
		"parse_mode":           tele.ModeHTML,
		"link_preview_options": map[string]any{"is_disabled": true},
	}
	if m := markup(kb); m != nil {
		p["reply_markup"] = m
	}
	return p
}

// sendText sends an HTML message to chat through the limiter.
func (b *Bot) sendText(ctx context.Context, chat int64, text string, kb keyboard) (*tele.Message, error) {
	var msg *tele.Message
	err := b.deliver(ctx, chat, func() error {
		var m tele.Message
		if err := b.raw(ctx, "sendMessage", textParams(chat, text, kb), &m); err != nil {
			return err
		}
		msg = &m
		return nil
	})
	return msg, err
}

// editText replaces the text and keyboard of message id in chat.
func (b *Bot) editText(ctx context.Context, chat int64, id int, text string, kb keyboard) error {
	p := textParams(chat, text, kb)
	p["message_id"] = id
	return b.deliver(ctx, chat, func() error { return b.raw(ctx, "editMessageText", p, nil) })
}

// editCaption replaces the HTML caption of photo message id in chat and
// removes its keyboard.
func (b *Bot) editCaption(ctx context.Context, chat int64, id int, caption string) error {
	p := map[string]any{"chat_id": chat, "message_id": id, "caption": caption, "parse_mode": tele.ModeHTML}
	return b.deliver(ctx, chat, func() error { return b.raw(ctx, "editMessageCaption", p, nil) })
}

// sendPhoto sends a PNG with an HTML caption (and no keyboard) to chat
// through the limiter and returns the sent message's id.
func (b *Bot) sendPhoto(ctx context.Context, chat int64, png []byte, caption string) (int, error) {
	id := 0
	err := b.deliver(ctx, chat, func() error {
		p := &tele.Photo{File: tele.FromReader(bytes.NewReader(png)), Caption: caption}
		msg, err := b.tb.Send(tele.ChatID(chat), p, &tele.SendOptions{ParseMode: tele.ModeHTML})
		if msg != nil {
			id = msg.ID
		}
		return err
	})
	return id, err
}
