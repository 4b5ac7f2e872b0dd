package bot_test

import (
	"context"
	"strings"
	"testing"

	"starsbot/bot"
	"starsbot/bot/bottest"
)

// The 🔑 API button explains the API and creates nothing; a key is created
// only by the explicit "Create" press, and a second press on the same
// screen does not replace it. The buyer's help and command menu carry no
// partner commands. In both languages.
func TestAPI_ExplainFirst_CreateOnPress(t *testing.T) {
	for _, tc := range []struct {
		u                     bottest.User
		intro, create, newKey string
		status, help          string
	}{
		{alice, "You don't need it to buy here", "Create an orders API key", "Your new osk_ API key", "Your osk_ key", "How it works"},
		{ivan, "Чтобы покупать здесь, API не нужен", "Создать ключ API заказов", "Ваш новый API-ключ osk_", "Ваш ключ osk_", "Как это работает"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.startChat(tc.u)
			e.fake.Press(tc.u, "API")
			intro := e.fake.Wait(tc.u.ID, tc.intro)
			if !strings.Contains(intro.Text, publicURL) {
				t.Errorf("intro lacks the base URL:\n%s", intro.Text)
			}
			keys, err := e.svc.Keys(context.Background(), tc.u.ID)
			if err != nil || len(keys) != 0 {
				t.Fatalf("the API button created %d keys (%v)", len(keys), err)
			}
			m, b, ok := e.fake.FindButton(tc.u.ID, tc.create)
			if !ok {
				t.Fatal("no create button")
			}
			e.fake.Press(tc.u, tc.create)
			key := issuedKey(t, e.fake.Wait(tc.u.ID, tc.newKey))
			// The same button pressed again (a double tap): the key stays.
			e.fake.WaitAnswer(e.fake.Callback(tc.u, tc.u.ID, m.ID, b.Data))
			e.fake.Wait(tc.u.ID, tc.status)
			if !e.authenticates(key) {
				t.Errorf("a second Create press replaced the key")
			}
			if keys, _ := e.svc.Keys(context.Background(), tc.u.ID); len(keys) != 1 {
				t.Errorf("%d keys after two presses", len(keys))
			}

			e.fake.Send(tc.u, "/help")
			help := e.fake.Wait(tc.u.ID, tc.help)
			if strings.Contains(help.Text, "/api") {
				t.Errorf("help shows partner commands:\n%s", help.Text)
			}
			for _, c := range e.fake.CallsTo("setMyCommands") {
				if !strings.Contains(c.Params["scope"], "chat_id") && strings.Contains(c.Params["commands"], `"api"`) {
					t.Errorf("the buyer's command menu lists /api: %s", c.Params["commands"])
				}
			}
		})
	}
}

// With PUBLIC_URL unset the API screens say the API is not public, never
// a loopback address, and the key message has no curl example.
func TestAPI_NotPublic(t *testing.T) {
	for _, tc := range []struct {
		u                            bottest.User
		publicURL                    string
		notPublic, create, newKey, s string
	}{
		{alice, "", "not public yet", "Create an orders API key", "Your new osk_ API key", "Your osk_ key"},
		{ivan, "", "пока не открыт", "Создать ключ API заказов", "Ваш новый API-ключ osk_", "Ваш ключ osk_"},
		// PUBLIC_URL unset: main passes the default derived from HTTP_ADDR.
		{alice, "http://127.0.0.1:8080", "not public yet", "Create an orders API key", "Your new osk_ API key", "Your osk_ key"},
		{ivan, "http://localhost:8080", "пока не открыт", "Создать ключ API заказов", "Ваш новый API-ключ osk_", "Ваш ключ osk_"},
	} {
		t.Run(tc.u.LanguageCode+tc.publicURL, func(t *testing.T) {
			e := newEnv(t)
			e.restart(func(c *bot.Config) { c.PublicURL = tc.publicURL })
			e.startChat(tc.u)
			e.fake.Press(tc.u, "API")
			e.fake.Wait(tc.u.ID, tc.notPublic)
			e.fake.Press(tc.u, tc.create)
			msg := e.fake.Wait(tc.u.ID, tc.newKey)
			if !strings.Contains(msg.Text, tc.notPublic) || strings.Contains(msg.Text, "curl") {
				t.Errorf("key message without PUBLIC_URL:\n%s", msg.Text)
			}
			e.fake.Send(tc.u, "/api")
			if st := e.fake.Wait(tc.u.ID, tc.s); !strings.Contains(st.Text, tc.notPublic) {
				t.Errorf("status without PUBLIC_URL:\n%s", st.Text)
			}
			for _, c := range e.fake.Calls() {
				for _, bad := range []string{"127.0.0.1", "localhost"} {
					if strings.Contains(c.Text, bad) {
						t.Errorf("%s shows %s:\n%s", c.Method, bad, c.Text)
					}
				}
			}
		})
	}
}
