package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// namedChecker answers recipient lookups as Fragment's search would: a
// display name (found.name; this one with a right-to-left override that
// must not reach the screen), a provider that cannot tell, a user that
// does not exist.
type namedChecker struct{}

func (namedChecker) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	switch strings.ToLower(username) {
	case "alice_liddell":
		return &shop.RecipientCheck{Username: username, CanReceive: true, Name: "Alice \u202eLiddell"}, nil
	case "lookup_down":
		return nil, errors.New("fragment: unexpected answer")
	case "nobody_here":
		return &shop.RecipientCheck{Username: username, Reason: "recipient not found on Telegram"}, nil
	}
	return &shop.RecipientCheck{Username: username, CanReceive: true}, nil
}

// Recipient check (issue 17 item 7): the quote names the recipient as the
// provider's search shows it, or says it could not be checked; a typed
// @username or t.me link at the top level starts a purchase for that user,
// a bare number one for that many Stars; a recipient who cannot receive is
// refused with the provider's reason, translated.
func TestRecipient_NameShown_TypedShortcuts(t *testing.T) {
	for _, tc := range []struct {
		u                                                bottest.User
		pick, btn100, named, unchecked, notFound, who250 string
		premium, months                                  string
	}{
		{alice, "How many Stars for @alice_liddell", "100 ⭐", "Recipient: <b>Alice Liddell</b> (@alice_liddell)", "Recipient @lookup_down could not be checked",
			"@nobody_here cannot receive Stars: recipient not found on Telegram", "Buy 250 Stars", "Premium instead", "How long a Premium subscription for @alice_liddell"},
		{ivan, "Сколько звёзд для @alice_liddell", "100 ⭐", "Получатель: <b>Alice Liddell</b> (@alice_liddell)", "Проверить получателя @lookup_down сейчас не удалось",
			"@nobody_here не может получить звёзды: получатель не найден в Telegram", "Купить 250 звёзд", "Premium вместо звёзд", "На какой срок Premium для @alice_liddell"},
	} {
		t.Run(tc.u.LanguageCode, func(t *testing.T) {
			e := newEnv(t)
			e.svc.Recipients = namedChecker{}
			e.startChat(tc.u)

			e.fake.Send(tc.u, "@alice_liddell")
			e.fake.Wait(tc.u.ID, tc.pick)
			e.fake.Press(tc.u, tc.btn100)
			if q := e.fake.Wait(tc.u.ID, tc.named); strings.ContainsRune(q.Text, '\u202e') {
				t.Errorf("a bidi override reached the quote:\n%q", q.Text)
			}

			e.fake.Send(tc.u, "https://t.me/lookup_down")
			e.fake.Wait(tc.u.ID, "@lookup_down")
			e.fake.Press(tc.u, tc.btn100)
			e.fake.Wait(tc.u.ID, tc.unchecked)

			e.fake.Send(tc.u, "@nobody_here")
			e.fake.Wait(tc.u.ID, tc.notFound)

			e.fake.Send(tc.u, "250")
			e.fake.Wait(tc.u.ID, tc.who250)

			e.fake.Send(tc.u, "t.me/alice_liddell")
			e.fake.Wait(tc.u.ID, tc.pick)
			e.fake.Press(tc.u, tc.premium)
			e.fake.Wait(tc.u.ID, tc.months)
		})
	}
}
