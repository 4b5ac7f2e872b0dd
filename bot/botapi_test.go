package bot_test

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"starsbot/bot/bottest"
)

// The Bot API table (bottest/testdata/botapi_methods.json) holds the
// methods and parameters the bot uses, with their types and whether they
// are required, the length limits of the texts, and the parse modes:
// facts copied from the machine-readable Bot API specification named in
// its "source" (PaulSonOfLars/telegram-bot-api-spec api.json, Bot API
// 10.1), nothing else. checkBotAPICalls validates every call each bot test
// recorded against it, at the test's end.

type apiParam struct {
	Types    []string `json:"types"`
	Required bool     `json:"required"`
}

type apiLimit struct {
	Min, Max int
	Unit     string
}

type apiTable struct {
	Source     map[string]string              `json:"source"`
	Methods    map[string]map[string]apiParam `json:"methods"`
	Types      map[string]map[string]apiParam `json:"types"`
	Limits     map[string]apiLimit            `json:"limits"`
	ParseModes []string                       `json:"parse_modes"`
}

var (
	tableOnce sync.Once
	table     *apiTable
	tableErr  error
)

func loadTable() (*apiTable, error) {
	tableOnce.Do(func() {
		raw, err := os.ReadFile("bottest/testdata/botapi_methods.json")
		if err != nil {
			tableErr = err
			return
		}
		table = &apiTable{}
		tableErr = json.Unmarshal(raw, table)
	})
	return table, tableErr
}

// knownExtra are parameters outside the table that a call may carry, each
// with why. The Bot API ignores unknown fields; these are listed so that
// no new one slips in unnoticed.
var knownExtra = map[string]string{
	// telebot v3.3.8 sendable.go line 84 (Document.Send) adds
	// "file_name" as a form field; sendDocument has no such parameter
	// (the file's name travels in the multipart part). bot/backup.go's
	// /backup sends through telebot.
	"sendDocument.file_name": "telebot v3.3.8 form field, ignored by the Bot API",
}

// nonActionFields are the InlineKeyboardButton fields that are not an
// action: every other field of the type in the table is one, and a button
// must carry exactly one ("exactly one of the optional fields must be
// used to specify type of the button", InlineKeyboardButton).
var nonActionFields = []string{"text", "icon_custom_emoji_id", "style"}

var htmlTagRE = regexp.MustCompile(`<[^>]*>`)

// entitiesParsed is s as Telegram counts it after parsing HTML entities:
// tags removed, character references decoded; its length is in UTF-16
// code units.
func entitiesParsed(s string) int {
	return len(utf16.Encode([]rune(html.UnescapeString(htmlTagRE.ReplaceAllString(s, "")))))
}

// validateCall returns what is wrong with c by the table.
func validateCall(tab *apiTable, c bottest.Call) []string {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, c.Method+": "+fmt.Sprintf(format, args...)) }
	params, ok := tab.Methods[c.Method]
	if !ok {
		return []string{c.Method + ": not a method in the table"}
	}
	for name, p := range params {
		_, present := c.Params[name]
		if name == "photo" {
			present = present || c.Photo != nil
		}
		if name == "document" {
			present = present || c.Document != nil
		}
		if p.Required && !present {
			add("required parameter %s missing", name)
		}
	}
	for name, v := range c.Params {
		p, ok := params[name]
		if !ok {
			if _, extra := knownExtra[c.Method+"."+name]; !extra {
				add("unknown parameter %s", name)
			}
			continue
		}
		checkValue(tab, c.Method+"."+name, p.Types, v, add)
		if l, ok := tab.Limits[c.Method+"."+name]; ok {
			n := entitiesParsed(v)
			if l.Unit == "characters" {
				n = len(utf16.Encode([]rune(v)))
			}
			if n < l.Min || n > l.Max {
				add("%s is %d %s, outside %d-%d", name, n, l.Unit, l.Min, l.Max)
			}
		}
		if name == "parse_mode" && !slices.Contains(tab.ParseModes, v) {
			add("parse_mode %q is none of %v", v, tab.ParseModes)
		}
	}
	return bad
}

// checkValue checks a parameter's value against its types.
func checkValue(tab *apiTable, where string, types []string, v string, add func(string, ...any)) {
	switch types[0] {
	case "Integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil && !slices.Contains(types, "String") {
			add("%s = %q is not an Integer", where, v)
		}
	case "Boolean":
		if v != "true" && v != "false" {
			add("%s = %q is not a Boolean", where, v)
		}
	case "String", "InputFile":
	case "Array of BotCommand":
		var cmds []map[string]any
		if err := json.Unmarshal([]byte(v), &cmds); err != nil {
			add("%s is not an array of objects: %v", where, err)
			return
		}
		for _, c := range cmds {
			checkObject(tab, where, "BotCommand", c, add)
		}
	case "BotCommandScope":
		var o map[string]any
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			add("%s is not an object: %v", where, err)
			return
		}
		typ, _ := o["type"].(string)
		name := "BotCommandScope" + map[string]string{"default": "Default", "chat": "Chat"}[typ]
		if _, ok := tab.Types[name]; !ok {
			add("%s: scope type %q not in the table", where, typ)
			return
		}
		checkObject(tab, where, name, o, add)
	case "Array of String":
		var a []string
		if err := json.Unmarshal([]byte(v), &a); err != nil {
			add("%s is not an array of strings", where)
		}
	default: // an object type: the first of the union is the one the bot sends
		var o map[string]any
		if err := json.Unmarshal([]byte(v), &o); err != nil {
			add("%s is not an object: %v", where, err)
			return
		}
		checkObject(tab, where, types[0], o, add)
	}
}

// checkObject checks a JSON object against a type of the table: known
// fields, required ones present, and for keyboards their buttons.
func checkObject(tab *apiTable, where, typ string, o map[string]any, add func(string, ...any)) {
	fields, ok := tab.Types[typ]
	if !ok {
		add("%s: type %s not in the table", where, typ)
		return
	}
	for name, p := range fields {
		if _, present := o[name]; p.Required && !present {
			add("%s: %s lacks required %s", where, typ, name)
		}
	}
	for name := range o {
		if _, ok := fields[name]; !ok {
			add("%s: %s has unknown field %s", where, typ, name)
		}
	}
	if typ == "BotCommand" {
		for _, f := range []string{"command", "description"} {
			s, _ := o[f].(string)
			if l := tab.Limits["BotCommand."+f]; len(utf16.Encode([]rune(s))) < l.Min || len(utf16.Encode([]rune(s))) > l.Max {
				add("%s: BotCommand %s %q outside %d-%d", where, f, s, l.Min, l.Max)
			}
		}
	}
	if typ != "InlineKeyboardMarkup" {
		return
	}
	rows, _ := o["inline_keyboard"].([]any)
	for _, r := range rows {
		row, _ := r.([]any)
		for _, b := range row {
			btn, ok := b.(map[string]any)
			if !ok {
				add("%s: a button is not an object", where)
				continue
			}
			checkObject(tab, where, "InlineKeyboardButton", btn, add)
			actions := 0
			for name := range btn {
				if !slices.Contains(nonActionFields, name) {
					actions++
				}
			}
			if actions != 1 {
				add("%s: button %v has %d actions, want exactly 1", where, btn["text"], actions)
			}
			if d, ok := btn["callback_data"].(string); ok {
				l := tab.Limits["InlineKeyboardButton.callback_data"]
				if len(d) < l.Min || len(d) > l.Max {
					add("%s: callback_data of %q is %d bytes, outside %d-%d", where, btn["text"], len(d), l.Min, l.Max)
				}
			}
		}
	}
}

// checkBotAPICalls validates every call the test recorded.
func (e *env) checkBotAPICalls() {
	tab, err := loadTable()
	if err != nil {
		e.t.Errorf("Bot API table: %v", err)
		return
	}
	seen := map[string]bool{}
	for _, c := range e.fake.Calls() {
		for _, problem := range validateCall(tab, c) {
			if !seen[problem] {
				seen[problem] = true
				e.t.Errorf("Bot API call #%d: %s", c.Seq, problem)
			}
		}
	}
}

// The table is what its source says it is, and the validator catches each
// kind of violation.
func TestBotAPITable_Validator(t *testing.T) {
	tab, err := loadTable()
	if err != nil {
		t.Fatal(err)
	}
	if tab.Source["version"] != "Bot API 10.1" || tab.Source["commit"] == "" {
		t.Errorf("source = %v", tab.Source)
	}
	kb := func(btn string) string { return `{"inline_keyboard":[[` + btn + `]]}` }
	good := bottest.Call{Method: "sendMessage", Params: map[string]string{
		"chat_id": "1", "text": "<b>hi</b>", "parse_mode": "HTML", "link_preview_options": `{"is_disabled":true}`,
		"reply_markup": kb(`{"text":"a","callback_data":"x"}`),
	}}
	if p := validateCall(tab, good); len(p) != 0 {
		t.Errorf("good call: %v", p)
	}
	long := strings.Repeat("я", 4096) + "<b></b>&amp;"
	for name, c := range map[string]bottest.Call{
		"unknown method":    {Method: "sendDice", Params: map[string]string{"chat_id": "1"}},
		"missing required":  {Method: "sendMessage", Params: map[string]string{"chat_id": "1"}},
		"unknown parameter": {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "disable_web_page_preview": "true"}},
		"two actions":       {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": kb(`{"text":"a","callback_data":"x","switch_inline_query_current_chat":""}`)}},
		"no action":         {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": kb(`{"text":"a"}`)}},
		"long text":         {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": long}},
		"empty text":        {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "<b></b>"}},
		"long caption":      {Method: "editMessageCaption", Params: map[string]string{"chat_id": "1", "message_id": "2", "caption": strings.Repeat("😀", 513)}},
		"bad parse mode":    {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "parse_mode": "html"}},
		"long data":         {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "reply_markup": kb(`{"text":"a","callback_data":"` + strings.Repeat("й", 33) + `"}`)}},
		"bad integer":       {Method: "deleteMessage", Params: map[string]string{"chat_id": "1", "message_id": "x"}},
		"long answer":       {Method: "answerCallbackQuery", Params: map[string]string{"callback_query_id": "1", "text": strings.Repeat("a", 201)}},
		"bad command":       {Method: "setMyCommands", Params: map[string]string{"commands": `[{"command":"start","description":""}]`}},
		"unknown field":     {Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "x", "link_preview_options": `{"disabled":true}`}},
		"photo missing":     {Method: "sendPhoto", Params: map[string]string{"chat_id": "1"}},
	} {
		if p := validateCall(tab, c); len(p) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	// 4,096 UTF-16 units after entities parsing is the most a text may have.
	at := bottest.Call{Method: "sendMessage", Params: map[string]string{"chat_id": "1", "text": "<b>" + strings.Repeat("я", 4095) + "</b>&amp;"}}
	if p := validateCall(tab, at); len(p) != 0 {
		t.Errorf("a text of exactly 4096 units: %v", p)
	}
}
