package bot

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"starsbot/shop"
)

// Recipient check: before a price is shown, the fulfillment provider's
// recipient search (Fragment's searchStarsRecipient /
// searchPremiumGiftRecipient, through shop.Service.CheckRecipient) says
// whether the username can receive, and the name it shows for it; the
// quote names the recipient, or says that it could not be checked.

// checkRecipient asks the provider about recipient once per update (the
// typed-username step and the quote that follows share the answer). ok is
// false when the provider says the recipient cannot receive; rc is nil
// when it could not tell.
func (b *Bot) checkRecipient(t *turn, typ shop.OrderType, recipient string) (rc *shop.RecipientCheck, ok bool) {
	if t.rcName == recipient && t.rcType == typ {
		return t.rc, t.rc == nil || t.rc.CanReceive
	}
	rc, err := b.Shop.CheckRecipient(t.ctx, typ, recipient)
	if err != nil {
		if shop.ErrorCode(err) != shop.EVALIDATION {
			b.Logger.Warn("telegram recipient lookup failed", "error", err)
		}
		rc = nil
	}
	t.rc, t.rcName, t.rcType = rc, recipient, typ
	return rc, rc == nil || rc.CanReceive
}

// recipientLine is the quote's line about the recipient: the name the
// provider shows, that it was found, or that it could not be checked.
func (t *turn) recipientLine(rc *shop.RecipientCheck, recipient string) string {
	who := "@" + html.EscapeString(recipient)
	switch {
	case rc == nil:
		return t.T("rcpt.unchecked", who)
	case cleanName(rc.Name) != "":
		return t.T("rcpt.named", html.EscapeString(cleanName(rc.Name)), who)
	}
	return t.T("rcpt.found", who)
}

// cleanName is a display name from outside, safe to show in one line:
// control and bidirectional-override characters removed (a name could
// otherwise reorder the text around it), spaces collapsed, at most 64
// characters.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64]) + "…"
	}
	return s
}

// typedRecipientRE is what typed at the top level names a recipient:
// @username, or a t.me (telegram.me) link. A bare word is not taken for a
// username.
var typedRecipientRE = regexp.MustCompile(`(?i)^(@|(https?://)?(www\.)?(t|telegram)\.me/)[a-z0-9_]+/?$`)

// onTopLevelText starts a purchase from text typed outside any flow: a
// @username or t.me link starts buying Stars for that user (with a
// Premium choice), a bare number starts buying that many Stars. It
// reports false for any other text.
func (b *Bot) onTopLevelText(t *turn, text string) (bool, error) {
	if typedRecipientRE.MatchString(text) {
		name, err := shop.NormalizeUsername(text)
		if err != nil {
			return true, t.say(t.T("buy.bad_username"), keyboard{{t.btnMenu()}})
		}
		rc, ok := b.checkRecipient(t, shop.OrderStars, name)
		if !ok {
			return true, t.say(t.T("buy.cannot_receive.s", html.EscapeString(name), html.EscapeString(providerReason(t.lang, reasonOr(t, rc)))), keyboard{{t.btnMenu()}})
		}
		if rc != nil && rc.Username != "" {
			name = rc.Username
		}
		text, kb := t.pickAmount(kindStars, name)
		kb = append(keyboard{{button(t.T("btn.premium_for"), cbPickFor, kindPremium, name)}}, kb...)
		return true, t.say(text, kb)
	}
	digits := strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", ",", "", "_", "").Replace(text)
	if n, err := strconv.ParseInt(digits, 10, 64); err == nil && digits != "" && digits[0] != '+' && digits[0] != '-' {
		p := b.Shop.Pricing()
		if n < p.StarsMin || n > p.StarsMax {
			return true, t.say(t.T("buy.bad_amount", t.num(p.StarsMin), t.num(p.StarsMax)), keyboard{{t.btnMenu()}})
		}
		return true, t.say(t.whoFor(kindStars, n))
	}
	return false, nil
}

func reasonOr(t *turn, rc *shop.RecipientCheck) string {
	if rc != nil && rc.Reason != "" {
		return rc.Reason
	}
	return t.T("buy.not_found")
}

// onPickFor offers the amounts (Stars) or durations (Premium) for a
// recipient already chosen: data kind|username.
func (b *Bot) onPickFor(t *turn) error {
	args := t.Args()
	if len(args) != 2 {
		return t.answer(t.T("err.stale_button"), true)
	}
	name, err := shop.NormalizeUsername(args[1])
	if _, ok := orderType(args[0]); !ok || err != nil {
		return t.answer(t.T("err.stale_button"), true)
	}
	return t.show(t.pickAmount(args[0], name))
}
