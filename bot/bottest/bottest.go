// Package bottest is a fake Telegram Bot API server for tests: an
// httptest.Server that answers /bot<token>/<method>, records every call,
// lets a test inject messages, press the inline buttons the bot sent, and
// simulate flood-control (429) answers.
//
// It checks what the bot sends the way Telegram would: HTML in parse mode
// HTML must be well formed with only the tags and entities the Bot API
// accepts, callback data must be 1-64 bytes, texts and captions must fit
// the length limits (in UTF-16 code units, as Telegram counts), URL
// buttons must use http(s) or tg://, every button must carry exactly one
// action field, and the deprecated disable_web_page_preview is refused in
// favour of link_preview_options. Any breach is answered with a 400 error
// and fails the test.
//
// It also gives the answers Telegram gives when things go wrong, with
// Telegram's exact descriptions: a user who blocked the bot (Block), a
// message deleted meanwhile (DeleteByUser), an edit that changes nothing,
// a callback query answered too late (CallbackTooOld) and a message too
// old to delete: sent 48 hours or more ago by the fake's clock (Now).
//
// Webhook mode (webhook.go): setWebhook, deleteWebhook and getWebhookInfo
// as the Bot API documents them; while a webhook is set, getUpdates is
// refused 409 and the fake POSTs pending updates to the webhook with its
// secret header, repeating those not answered 2XY.
package bottest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// DefaultWait is how long the Wait helpers wait before failing the test.
const DefaultWait = 5 * time.Second

// BotUser is the bot's own account, as getMe reports it.
var BotUser = User{ID: 4242, Username: "starsbot_test_bot", FirstName: "Stars"}

// User is a Telegram account in an injected update.
type User struct {
	ID           int64
	Username     string // without "@"; may be empty
	FirstName    string
	LanguageCode string // e.g. "en", "ru"
}

// Chat is where an injected update happens.
type Chat struct {
	ID    int64
	Type  string // "private", "group", "supergroup"
	Title string
}

// Private returns the private chat with u.
func Private(u User) Chat { return Chat{ID: u.ID, Type: "private"} }

// Button is one inline keyboard button the bot sent.
type Button struct {
	Text string
	Data string // callback_data, as sent (telebot's "\f" prefix included)
	URL  string
	// Actions are the action fields the button carried, as sent (e.g.
	// ["callback_data"]); the fake refuses any other number than one.
	Actions []string
}

// Message is the fake's view of one message the bot sent, after any edits.
type Message struct {
	ID       int
	ChatID   int64
	Text     string // text, or caption of a photo
	Photo    []byte // the uploaded file of a photo message
	Keyboard [][]Button
	Deleted  bool
	SentAt   time.Time // by the fake's clock (Server.Now)
}

// Buttons returns every button of the message, row by row.
func (m *Message) Buttons() []Button {
	var bs []Button
	for _, row := range m.Keyboard {
		bs = append(bs, row...)
	}
	return bs
}

// Button returns the first button whose text contains text.
func (m *Message) Button(text string) (Button, bool) {
	for _, b := range m.Buttons() {
		if strings.Contains(b.Text, text) {
			return b, true
		}
	}
	return Button{}, false
}

// Call is one Bot API request the bot made.
type Call struct {
	Seq       int               // 1, 2, … in arrival order
	Method    string            // e.g. "sendMessage"
	Params    map[string]string // every parameter as a string (files excluded)
	ChatID    int64             // from chat_id, when present
	MessageID int               // the message sent or edited, when any
	Text      string            // text or caption
	Photo     []byte            // uploaded photo
	Document  []byte            // uploaded document (sendDocument)
	FileName  string            // the document's file name
	Keyboard  [][]Button        // parsed reply_markup inline keyboard
	Status    int               // HTTP status answered
}

// Server is the fake Bot API. Create it with New.
type Server struct {
	*httptest.Server
	Token string

	// Idle, when set, reports when the bot has nothing in flight (the
	// bot's Idle). The bot answers a button press before it edits the
	// screen, so the answer alone does not mean the press is handled:
	// WaitAnswer (and Press) then also wait for Idle.
	Idle func(context.Context) error

	// Now is the fake's clock: it stamps each message the bot sends, and
	// deleteMessage refuses a message sent DeleteLimit or more before it.
	// Default the wall clock; set it before the bot sends anything.
	Now func() time.Time

	// WebhookClient makes the fake's webhook requests (webhook.go);
	// default http.DefaultClient. Set it to an httptest TLS server's
	// Client before the bot calls setWebhook.
	WebhookClient *http.Client

	t testing.TB

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced whenever anything is recorded
	nextUpdate   int
	nextMsg      int
	nextCB       int
	updates      []json.RawMessage // pending, in update_id order
	updateIDs    []int
	calls        []Call
	messages     map[int]*Message // by message id
	cursor       map[int64]int    // per chat: calls before this Seq were already waited for
	answers      map[string]Call  // answerCallbackQuery by callback_query_id
	failNext     map[string][]int // method → queued retry_after values for 429 answers
	conflicts    int              // getUpdates calls still to answer 409
	blocked      map[int64]bool   // users who blocked the bot, until they write again
	queries      map[string]bool  // callback query ids issued → still answerable
	polls        int              // getUpdates calls answered
	hook         webhook          // the webhook set by setWebhook; url "" when none
	delivering   bool             // the webhook delivery goroutine runs
	webhookPosts int              // webhook requests made
	closed       bool             // the test ended: the delivery goroutine returns
	taken        int              // highest update id the bot asked past (getUpdates offset - 1)
	violations   []string
}

// New starts a fake server for token and closes it when the test ends. At
// the end of the test it reports every rule the bot broke.
func New(t testing.TB, token string) *Server {
	t.Helper()
	s := &Server{
		Token:    token,
		t:        t,
		changed:  make(chan struct{}),
		nextMsg:  1000,
		messages: map[int]*Message{},
		cursor:   map[int64]int{},
		answers:  map[string]Call{},
		failNext: map[string][]int{},
		blocked:  map[int64]bool{},
		queries:  map[string]bool{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.mu.Lock()
		s.closed = true
		s.notifyLocked()
		s.mu.Unlock()
		s.Close()
		for _, v := range s.Violations() {
			t.Errorf("bottest: %s", v)
		}
	})
	return s
}

// notifyLocked wakes every waiter; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Violations returns the Bot API rules the bot broke so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

// Calls returns every call recorded so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the recorded calls of one method.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns the messages the bot sent to a chat, oldest first, with
// their current text and keyboard.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for id := 0; id < s.nextMsg+1; id++ {
		if m, ok := s.messages[id]; ok && m.ChatID == chatID {
			out = append(out, *m)
		}
	}
	return out
}

// FailNext makes the next call of method fail with 429 Too Many Requests
// and the given retry_after (seconds).
func (s *Server) FailNext(method string, retryAfter int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[method] = append(s.failNext[method], retryAfter)
}

// DeleteLimit is how long after sending it a bot may delete its own
// message: "A message can only be deleted if it was sent less than 48
// hours ago" (https://core.telegram.org/bots/api#deletemessage).
const DeleteLimit = 48 * time.Hour

// now is the fake's clock: Now, or the wall clock.
func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Block makes user id block the bot: every call to their chat fails with
// 403 until they write to the bot again (SendText or a button press, as a
// user must unblock the bot to do either).
func (s *Server) Block(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[userID] = true
}

// DeleteByUser deletes message id as the user can do in a private chat:
// from now on it can be neither edited nor deleted.
func (s *Server) DeleteByUser(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.messages[id]; ok {
		m.Deleted = true
	}
	s.notifyLocked()
}

// Conflict makes the next n getUpdates calls fail with 409 Conflict, as
// Telegram answers while another process polls with the same token: the
// description is the one logged in pengrad/java-telegram-bot-api issue
// #261 ("response 409 Conflict: terminated by other getUpdates request;
// make sure that only one bot instance is running").
func (s *Server) Conflict(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conflicts += n
}

// Polls reports how many getUpdates calls the server has answered,
// failures included.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// ---- injecting updates ------------------------------------------------------

func (s *Server) push(build func(id int) any) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpdate++
	id := s.nextUpdate
	raw, err := json.Marshal(build(id))
	if err != nil {
		panic(err)
	}
	s.updates = append(s.updates, raw)
	s.updateIDs = append(s.updateIDs, id)
	s.notifyLocked()
	return id
}

func userJSON(u User) map[string]any {
	m := map[string]any{"id": u.ID, "is_bot": false, "first_name": cmpOr(u.FirstName, "Test")}
	if u.Username != "" {
		m["username"] = u.Username
	}
	if u.LanguageCode != "" {
		m["language_code"] = u.LanguageCode
	}
	return m
}

func chatJSON(c Chat) map[string]any {
	m := map[string]any{"id": c.ID, "type": c.Type}
	if c.Title != "" {
		m["title"] = c.Title
	}
	return m
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// SendText injects a text message from u in chat and returns its update id.
// It does not wait for the bot.
func (s *Server) SendText(u User, chat Chat, text string) int {
	s.mu.Lock()
	delete(s.blocked, u.ID)
	s.mu.Unlock()
	return s.push(func(id int) any {
		s.nextMsg++
		msg := map[string]any{
			"message_id": s.nextMsg,
			"date":       s.now().Unix(),
			"chat":       chatJSON(chat),
			"from":       userJSON(u),
			"text":       text,
		}
		if strings.HasPrefix(text, "/") {
			n := len(text)
			if i := strings.IndexByte(text, ' '); i >= 0 {
				n = i
			}
			msg["entities"] = []any{map[string]any{"type": "bot_command", "offset": 0, "length": n}}
		}
		return map[string]any{"update_id": id, "message": msg}
	})
}

// Send injects a text message from u in its private chat.
func (s *Server) Send(u User, text string) int { return s.SendText(u, Private(u), text) }

// Callback injects a press of a button with callback data on message msgID
// of chat by u, and returns the callback query id. It does not wait.
//
// Official clients send only the data of a button on the message, but the
// fake delivers any data (a modified client, or a replay of a button the
// bot has since edited away), so that tests can check the bot refuses it.
// Source: the Bot API's CallbackQuery.data, "Be aware that the message
// originated the query can contain no callback buttons with this data"
// (core.telegram.org/bots/api#callbackquery).
// The message in the update carries its current keyboard, as Telegram's
// does.
func (s *Server) Callback(u User, chatID int64, msgID int, data string) string {
	return s.callback(u, chatID, msgID, data, true)
}

// CallbackTooOld injects a press whose callback query has expired by the
// time the bot answers it (Telegram allows a few seconds): the bot's
// answerCallbackQuery gets 400 "query is too old…". It returns the query
// id; WaitAnswer does not see failed answers.
func (s *Server) CallbackTooOld(u User, chatID int64, msgID int, data string) string {
	return s.callback(u, chatID, msgID, data, false)
}

func (s *Server) callback(u User, chatID int64, msgID int, data string, answerable bool) string {
	s.mu.Lock()
	delete(s.blocked, u.ID)
	s.nextCB++
	cbID := "cb" + strconv.Itoa(s.nextCB)
	s.queries[cbID] = answerable
	text := ""
	var markup any
	if m, ok := s.messages[msgID]; ok {
		text = m.Text
		markup = keyboardJSON(m.Keyboard)
	}
	s.mu.Unlock()
	chatType := "private"
	if chatID != u.ID {
		chatType = "group"
	}
	s.push(func(id int) any {
		return map[string]any{"update_id": id, "callback_query": map[string]any{
			"id":            cbID,
			"from":          userJSON(u),
			"chat_instance": "ci" + strconv.FormatInt(chatID, 10),
			"data":          data,
			"message": map[string]any{
				"message_id":   msgID,
				"date":         s.now().Unix(),
				"chat":         chatJSON(Chat{ID: chatID, Type: chatType}),
				"from":         userJSON(BotUser),
				"text":         text,
				"reply_markup": markup,
			},
		}}
	})
	return cbID
}

// keyboardJSON is kb as an InlineKeyboardMarkup, or nil.
func keyboardJSON(kb [][]Button) any {
	if len(kb) == 0 {
		return nil
	}
	rows := []any{}
	for _, row := range kb {
		out := []any{}
		for _, b := range row {
			if b.URL != "" {
				out = append(out, map[string]any{"text": b.Text, "url": b.URL})
			} else {
				out = append(out, map[string]any{"text": b.Text, "callback_data": b.Data})
			}
		}
		rows = append(rows, out)
	}
	return map[string]any{"inline_keyboard": rows}
}

// FindButton returns the newest message in chat (not deleted) with a button
// whose text contains text, and that button.
func (s *Server) FindButton(chatID int64, text string) (*Message, Button, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := s.nextMsg; id > 0; id-- {
		m, ok := s.messages[id]
		if !ok || m.ChatID != chatID || m.Deleted {
			continue
		}
		if b, ok := m.Button(text); ok {
			cp := *m
			return &cp, b, true
		}
	}
	return nil, Button{}, false
}

// Press presses the button whose text contains text on the newest message
// of u's private chat that has one, and waits until the bot has answered
// the callback query (so the bot has finished handling it). It returns the
// answer's text (an alert or notification, often empty).
func (s *Server) Press(u User, text string) string {
	s.t.Helper()
	m, b, ok := s.FindButton(u.ID, text)
	if !ok || b.Data == "" {
		s.t.Fatalf("bottest: no button %q in chat %d; messages:\n%s", text, u.ID, s.dump(u.ID))
	}
	id := s.Callback(u, u.ID, m.ID, b.Data)
	return s.WaitAnswer(id).Params["text"]
}

// WaitAnswer waits for the bot's answerCallbackQuery to callback query id.
func (s *Server) WaitAnswer(id string) Call {
	s.t.Helper()
	var got Call
	ok := s.waitFor(DefaultWait, func() bool {
		c, ok := s.answers[id]
		got = c
		return ok
	})
	if !ok {
		s.t.Fatalf("bottest: callback query %s was never answered", id)
	}
	if s.Idle != nil {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
		defer cancel()
		if err := s.Idle(ctx); err != nil {
			s.t.Fatalf("bottest: the bot is not idle after answering %s: %v", id, err)
		}
	}
	return got
}

// Wait waits for the first message the bot sends or edits in chat, after
// the ones already waited for, whose text or caption contains substr, and
// returns it. Earlier non-matching messages are skipped.
func (s *Server) Wait(chatID int64, substr string) Call {
	s.t.Helper()
	c, ok := s.WaitTimeout(chatID, substr, DefaultWait)
	if !ok {
		s.t.Fatalf("bottest: no message containing %q in chat %d; messages:\n%s", substr, chatID, s.dump(chatID))
	}
	return c
}

// WaitTimeout is Wait with a timeout that does not fail the test.
func (s *Server) WaitTimeout(chatID int64, substr string, d time.Duration) (Call, bool) {
	var got Call
	ok := s.waitFor(d, func() bool {
		for _, c := range s.calls {
			if c.Seq <= s.cursor[chatID] || c.ChatID != chatID || c.Status != http.StatusOK {
				continue
			}
			switch c.Method {
			case "sendMessage", "editMessageText", "editMessageCaption", "sendPhoto", "sendDocument":
			default:
				continue
			}
			if strings.Contains(c.Text, substr) {
				s.cursor[chatID] = c.Seq
				got = c
				return true
			}
		}
		return false
	})
	return got, ok
}

// WaitCalls waits until n recorded calls satisfy match, and returns them.
func (s *Server) WaitCalls(n int, match func(Call) bool) []Call {
	s.t.Helper()
	var got []Call
	ok := s.waitFor(DefaultWait, func() bool {
		got = got[:0]
		for _, c := range s.calls {
			if match(c) {
				got = append(got, c)
			}
		}
		return len(got) >= n
	})
	if !ok {
		s.t.Fatalf("bottest: %d matching calls after %v, want %d", len(got), DefaultWait, n)
	}
	return got
}

// Quiet reports the calls to chat (other than answerCallbackQuery) after
// the ones already waited for, once the bot is idle: tests use it to
// assert that nothing more is sent. It waits until the bot has fetched
// every update injected so far (it called getUpdates with an offset past
// them), then until idle returns (the bot's Idle: nothing in flight), for
// at most DefaultWait each; it fails the test if either never happens.
// It does not listen for a while: what the bot does later, prompted by
// something that happens after Quiet, is not its concern.
func (s *Server) Quiet(chatID int64, idle func(context.Context) error) []Call {
	s.t.Helper()
	s.mu.Lock()
	last := s.nextUpdate
	s.mu.Unlock()
	if !s.waitFor(DefaultWait, func() bool { return s.taken >= last }) {
		s.t.Fatalf("bottest: the bot never fetched update %d (getUpdates offset past it)", last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	if err := idle(ctx); err != nil {
		s.t.Fatalf("bottest: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Seq > s.cursor[chatID] && c.ChatID == chatID && c.Method != "answerCallbackQuery" {
			out = append(out, c)
		}
	}
	return out
}

// waitFor re-evaluates cond (under s.mu) whenever something is recorded,
// until it holds or d passes.
func (s *Server) waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if cond() {
			s.mu.Unlock()
			return true
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

func (s *Server) dump(chatID int64) string {
	var b strings.Builder
	for _, m := range s.Messages(chatID) {
		fmt.Fprintf(&b, "  #%d deleted=%v %q buttons=%v\n", m.ID, m.Deleted, m.Text, m.Buttons())
	}
	return b.String()
}

// ---- serving ------------------------------------------------------------------

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot"+s.Token+"/")
	if !ok || s.Token == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	method := rest
	params, files, err := readParams(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, apiError(400, "Bad Request: "+err.Error()))
		return
	}
	if method == "getUpdates" {
		s.getUpdates(w, r, params)
		return
	}
	if method == "getMe" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": map[string]any{
			"id": BotUser.ID, "is_bot": true, "first_name": BotUser.FirstName, "username": BotUser.Username,
		}})
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.notifyLocked()
	call := Call{Seq: len(s.calls) + 1, Method: method, Params: params, Photo: files["photo"].data}
	call.Document, call.FileName = files["document"].data, files["document"].name
	call.ChatID, _ = strconv.ParseInt(params["chat_id"], 10, 64)
	call.Text = params["text"]
	if method == "sendPhoto" || method == "sendDocument" || method == "editMessageCaption" {
		call.Text = params["caption"]
	}
	status, body := s.answerLocked(&call, params)
	call.Status = status
	s.calls = append(s.calls, call)
	if method == "answerCallbackQuery" && status == http.StatusOK {
		s.answers[params["callback_query_id"]] = call
	}
	writeJSON(w, status, body)
}

// answerLocked validates and performs one call; s.mu is held.
func (s *Server) answerLocked(call *Call, p map[string]string) (int, any) {
	if q := s.failNext[call.Method]; len(q) > 0 {
		s.failNext[call.Method] = q[1:]
		return http.StatusTooManyRequests, map[string]any{
			"ok": false, "error_code": 429,
			"description": fmt.Sprintf("Too Many Requests: retry after %d", q[0]),
			"parameters":  map[string]any{"retry_after": q[0]},
		}
	}
	// bad refuses a call that breaks the Bot API's documented rules (or
	// ours, e.g. no deprecated disable_web_page_preview, which Telegram
	// itself still accepts) and records it as a violation that fails the
	// test. The descriptions after "Bad Request: " are the fake's own,
	// unrecorded texts: the bot must never make such a call, so nothing
	// depends on them; it treats any 400 it does not know as an error of
	// that one call.
	bad := func(desc string) (int, any) {
		s.violations = append(s.violations, fmt.Sprintf("%s: %s", call.Method, desc))
		return http.StatusBadRequest, apiError(400, "Bad Request: "+desc)
	}
	if call.ChatID != 0 && s.blocked[call.ChatID] {
		// Telegram's answer to any call to the private chat of a user who
		// blocked the bot, e.g. {"ok":false,"error_code":403,"description":
		// "Forbidden: bot was blocked by the user"} for a sendMessage in
		// https://github.com/Achaak/toogoodtogo-bot/issues/27.
		return http.StatusForbidden, apiError(403, "Forbidden: bot was blocked by the user")
	}
	if _, ok := p["disable_web_page_preview"]; ok {
		// Deprecated since Bot API 7.0 in favour of link_preview_options
		// (https://core.telegram.org/bots/api-changelog#december-29-2023).
		return bad("disable_web_page_preview is deprecated; use link_preview_options")
	}
	switch call.Method {
	case "sendMessage", "editMessageText", "editMessageCaption", "sendPhoto", "sendDocument":
		if call.ChatID == 0 {
			return bad("chat not found")
		}
		limit := 4096
		switch call.Method {
		case "editMessageCaption":
			limit = 1024
		case "sendPhoto":
			limit = 1024
			if len(call.Photo) == 0 {
				return bad("there is no photo in the request")
			}
		case "sendDocument":
			limit = 1024
			if len(call.Document) == 0 || call.FileName == "" {
				return bad("there is no document in the request")
			}
			// Over the 50 MB a bot may send (core.telegram.org/bots/api#senddocument).
			// Reported answer: "413 Request Entity Too Large", sometimes as an
			// nginx HTML page (go-telegram-bot-api/telegram-bot-api#31,
			// telegraf/telegraf#913). The bot decides by size before sending
			// and never depends on this answer or its text.
			if len(call.Document) > 50<<20 {
				return http.StatusRequestEntityTooLarge, apiError(413, "Request Entity Too Large")
			}
		}
		if (call.Method == "sendMessage" || call.Method == "editMessageText") && call.Text == "" {
			return bad("message text is empty")
		}
		if p["parse_mode"] == "HTML" {
			plain, err := CheckHTML(call.Text)
			if err != nil {
				return bad("can't parse entities: " + err.Error())
			}
			if n := utf16Len(plain); n > limit {
				return bad(fmt.Sprintf("message is too long (%d UTF-16 code units)", n))
			}
		} else if utf16Len(call.Text) > limit {
			return bad("message is too long")
		}
		kb, err := parseKeyboard(p["reply_markup"])
		if err != nil {
			return bad(err.Error())
		}
		call.Keyboard = kb
		if call.Method == "editMessageText" || call.Method == "editMessageCaption" {
			id, _ := strconv.Atoi(p["message_id"])
			m, ok := s.messages[id]
			if !ok || m.ChatID != call.ChatID || m.Deleted {
				// Telegram's answer for an edit of a deleted message:
				// {"ok":false,"error_code":400,"description":"Bad Request:
				// message to edit not found"}
				// (https://github.com/TelegramBotAPI/errors/issues/7).
				return http.StatusBadRequest, apiError(400, "Bad Request: message to edit not found")
			}
			// A text message has no caption; a photo has no text.
			if call.Method == "editMessageText" && m.Photo != nil {
				return bad("there is no text in the message to edit")
			}
			if call.Method == "editMessageCaption" && m.Photo == nil {
				return bad("there is no caption in the message to edit")
			}
			if m.Text == call.Text && fmt.Sprint(m.Keyboard) == fmt.Sprint(kb) {
				// Telegram's answer to an edit that changes nothing, quoted
				// in https://github.com/eternnoir/pyTelegramBotAPI/issues/763
				// (telebot v3.3.8 errors.go: ErrSameMessageContent).
				return http.StatusBadRequest, apiError(400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
			}
			m.Text, m.Keyboard = call.Text, kb
			call.MessageID = id
			return http.StatusOK, map[string]any{"ok": true, "result": s.messageJSON(m)}
		}
		s.nextMsg++
		m := &Message{ID: s.nextMsg, ChatID: call.ChatID, Text: call.Text, Photo: call.Photo, Keyboard: kb, SentAt: s.now()}
		s.messages[m.ID] = m
		call.MessageID = m.ID
		return http.StatusOK, map[string]any{"ok": true, "result": s.messageJSON(m)}
	case "answerCallbackQuery":
		if p["callback_query_id"] == "" {
			return bad("query id is empty")
		}
		if _, dup := s.answers[p["callback_query_id"]]; dup || !s.queries[p["callback_query_id"]] {
			// Telegram's answer to a query answered already, too late or
			// never issued: {"ok":false,"error_code":400,"description":"Bad
			// Request: query is too old and response timeout expired or query
			// ID is invalid"} in
			// https://github.com/go-telegram-bot-api/telegram-bot-api/issues/579
			// (telebot v3.3.8 errors.go: ErrQueryTooOld).
			return http.StatusBadRequest, apiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
		}
		if n := len([]rune(p["text"])); n > 200 {
			return bad("answer text is too long")
		}
		return http.StatusOK, map[string]any{"ok": true, "result": true}
	case "deleteMessage":
		id, _ := strconv.Atoi(p["message_id"])
		m, ok := s.messages[id]
		if !ok || m.ChatID != call.ChatID || m.Deleted {
			// telebot v3.3.8 errors.go: ErrNotFoundToDelete.
			return http.StatusBadRequest, apiError(400, "Bad Request: message to delete not found")
		}
		if !s.now().Before(m.SentAt.Add(DeleteLimit)) {
			// "A message can only be deleted if it was sent less than 48
			// hours ago" (https://core.telegram.org/bots/api#deletemessage),
			// by the fake's clock; Telegram then answers 400 "Bad Request: message can't be
			// deleted for everyone", the text bots match on (e.g. the "Delete
			// Message error after 48h" of
			// https://github.com/messagine/messagine-bot/issues/99).
			return http.StatusBadRequest, apiError(400, "Bad Request: message can't be deleted for everyone")
		}
		m.Deleted = true
		call.MessageID = id
		return http.StatusOK, map[string]any{"ok": true, "result": true}
	case "setMyCommands":
		return http.StatusOK, map[string]any{"ok": true, "result": true}
	case "setWebhook", "deleteWebhook", "getWebhookInfo":
		return s.webhookLocked(call, p, bad)
	}
	return http.StatusNotFound, apiError(404, "Not Found: method not found")
}

func (s *Server) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"message_id": m.ID,
		"date":       s.now().Unix(),
		"chat":       map[string]any{"id": m.ChatID, "type": "private"},
		"from":       userJSON(BotUser),
	}
	if m.Photo != nil {
		out["photo"] = []any{map[string]any{"file_id": fmt.Sprintf("photo%d", m.ID), "file_unique_id": fmt.Sprintf("u%d", m.ID), "width": 512, "height": 512}}
		out["caption"] = m.Text
	} else {
		out["text"] = m.Text
	}
	return out
}

// getUpdates answers pending updates with id ≥ offset, long-polling up to
// the requested timeout (at least a few ms, so a short-polling bot does not
// spin) until one arrives or the client goes away.
func (s *Server) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	offset, _ := strconv.Atoi(p["offset"])
	s.mu.Lock()
	s.polls++
	// The bot asks past an update only once it has handed it to its
	// queues: from here on, Idle covers it.
	s.taken = max(s.taken, offset-1)
	s.notifyLocked()
	if q := s.failNext["getUpdates"]; len(q) > 0 {
		s.failNext["getUpdates"] = q[1:]
		s.mu.Unlock()
		writeJSON(w, http.StatusTooManyRequests, map[string]any{
			"ok": false, "error_code": 429,
			"description": fmt.Sprintf("Too Many Requests: retry after %d", q[0]),
			"parameters":  map[string]any{"retry_after": q[0]},
		})
		return
	}
	if s.hook.url != "" {
		s.mu.Unlock()
		// "You will not be able to receive updates using getUpdates for as
		// long as an outgoing webhook is set up" (setWebhook's notes,
		// https://core.telegram.org/bots/api#setwebhook); Telegram's answer,
		// logged in https://github.com/reo7sp/tgbot-cpp/issues/158 and
		// https://github.com/m1guelpf/chatgpt-telegram/issues/40.
		writeJSON(w, http.StatusConflict, apiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"))
		return
	}
	if s.conflicts > 0 {
		s.conflicts--
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, apiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"))
		return
	}
	s.mu.Unlock()
	timeout, _ := strconv.Atoi(p["timeout"])
	wait := time.Duration(timeout) * time.Second
	if wait <= 0 {
		wait = 10 * time.Millisecond
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		// Updates below offset are confirmed: forget them.
		for len(s.updateIDs) > 0 && s.updateIDs[0] < offset {
			s.updateIDs, s.updates = s.updateIDs[1:], s.updates[1:]
		}
		if len(s.updates) > 0 {
			out := append([]json.RawMessage(nil), s.updates...)
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": out})
			return
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "result": []any{}})
			return
		case <-r.Context().Done():
			return
		}
	}
}

// Pending reports how many injected updates the bot has not confirmed yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

func apiError(code int, desc string) map[string]any {
	return map[string]any{"ok": false, "error_code": code, "description": desc}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readParams reads a JSON object, a form or a multipart form into strings
// (JSON numbers and booleans as their literal text), plus the uploaded
// "photo" file of a multipart request.
// upload is a file sent in a multipart request.
type upload struct {
	name string
	data []byte
}

// readParams reads a request's parameters from the query, a form, a
// multipart form (with its files, by field) or a JSON body.
func readParams(r *http.Request) (map[string]string, map[string]upload, error) {
	params := map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			return nil, nil, err
		}
		files := map[string]upload{}
		for k, v := range r.MultipartForm.Value {
			if k == "photo" {
				// telebot uploads readers without a file name, which Go
				// parses as a plain value.
				files[k] = upload{data: []byte(v[0])}
				continue
			}
			params[k] = v[0]
		}
		for field, fs := range r.MultipartForm.File {
			if len(fs) == 0 {
				continue
			}
			f, err := fs[0].Open()
			if err != nil {
				return nil, nil, err
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, nil, err
			}
			files[field] = upload{name: fs[0].Filename, data: data}
		}
		return params, files, nil
	case "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return nil, nil, err
		}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
		return params, nil, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, nil, err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return params, nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, nil, err
	}
	for k, raw := range m {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			params[k] = str
		} else {
			params[k] = string(raw)
		}
	}
	return params, nil, nil
}

// buttonActions are the fields of an InlineKeyboardButton of which
// "exactly one … must be used" (https://core.telegram.org/bots/api#inlinekeyboardbutton).
var buttonActions = []string{"url", "callback_data", "web_app", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"}

// parseKeyboard parses and validates a reply_markup inline keyboard.
func parseKeyboard(raw string) ([][]Button, error) {
	if raw == "" || raw == "null" {
		return nil, nil
	}
	var rm struct {
		InlineKeyboard [][]map[string]json.RawMessage `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &rm); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	str := func(b map[string]json.RawMessage, k string) string {
		var v string
		_ = json.Unmarshal(b[k], &v)
		return v
	}
	var kb [][]Button
	for _, row := range rm.InlineKeyboard {
		var out []Button
		for _, b := range row {
			btn := Button{Text: str(b, "text"), URL: str(b, "url"), Data: str(b, "callback_data")}
			if btn.Text == "" {
				return nil, fmt.Errorf("text buttons are unallowed in the inline keyboard")
			}
			for _, a := range buttonActions {
				if _, ok := b[a]; ok {
					btn.Actions = append(btn.Actions, a)
				}
			}
			switch {
			case len(btn.Actions) != 1:
				return nil, fmt.Errorf("button %q must have exactly one action field, has %v", btn.Text, btn.Actions)
			case btn.URL != "":
				if !strings.HasPrefix(btn.URL, "https://") && !strings.HasPrefix(btn.URL, "http://") && !strings.HasPrefix(btn.URL, "tg://") {
					return nil, fmt.Errorf("unsupported URL protocol in button %q", btn.Text)
				}
			case btn.Actions[0] == "callback_data" && (len(btn.Data) < 1 || len(btn.Data) > 64):
				return nil, fmt.Errorf("BUTTON_DATA_INVALID (button %q: %d bytes)", btn.Text, len(btn.Data))
			}
			out = append(out, btn)
		}
		kb = append(kb, out)
	}
	return kb, nil
}

// utf16Len is the length of s in UTF-16 code units, the unit of the Bot
// API's length limits.
func utf16Len(s string) int {
	return len(utf16.Encode([]rune(s)))
}

// MemState is an in-memory bot.StateStore for tests, safe for concurrent
// use. It keeps data across bot restarts as long as the value lives.
type MemState struct {
	mu   sync.Mutex
	data map[int64][]byte
}

// LoadChatState returns the saved state of a chat, or nil.
func (m *MemState) LoadChatState(ctx context.Context, chatID int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data[chatID]...), nil
}

// SaveChatState saves the state of a chat; nil data deletes it.
func (m *MemState) SaveChatState(ctx context.Context, chatID int64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[int64][]byte{}
	}
	if data == nil {
		delete(m.data, chatID)
		return nil
	}
	m.data[chatID] = append([]byte(nil), data...)
	return nil
}

// TakeChatState deletes the state of a chat if it equals want, and
// reports whether it did.
func (m *MemState) TakeChatState(ctx context.Context, chatID int64, want []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[chatID]
	if !ok || !bytes.Equal(v, want) {
		return false, nil
	}
	delete(m.data, chatID)
	return true, nil
}

// Len reports how many chats have a saved state.
func (m *MemState) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}
