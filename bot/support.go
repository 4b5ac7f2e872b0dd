package bot

import (
	"html"
	"strconv"
	"strings"

	tele "gopkg.in/telebot.v3"
)

// Support and trust: SUPPORT_CONTACT (Config.SupportContact, an @username
// or an https URL, validated by package config) is named in the help, the
// FAQ, every error message (with the order number when there is one), and
// the manual-delivery and refund notices.

// supportURL is where the contact's button leads: t.me/<username> for an
// @username (Telegram's public username link,
// https://core.telegram.org/api/links#public-username-links), else the URL.
func (b *Bot) supportURL() string {
	c := b.SupportContact
	if name, ok := strings.CutPrefix(c, "@"); ok {
		return "https://t.me/" + name
	}
	return c
}

// supportHTML is the contact as message text: an @username (clients link
// it) or a link.
func (b *Bot) supportHTML() string {
	c := b.SupportContact
	if strings.HasPrefix(c, "@") {
		return html.EscapeString(c)
	}
	return `<a href="` + html.EscapeString(c) + `">` + html.EscapeString(c) + `</a>`
}

// supportLine is "\n\nNeed help? Write to …" (naming order when it is not
// 0), or "" without a contact.
func (b *Bot) supportLine(lang string, order int64) string {
	if b.SupportContact == "" {
		return ""
	}
	if order > 0 {
		return "\n\n" + tr(lang, "support.order", b.supportHTML(), order)
	}
	return "\n\n" + tr(lang, "support.line", b.supportHTML())
}

// supportRow is a row with the contact's button, or nil without one.
func (b *Bot) supportRow(lang string) []tele.InlineButton {
	if b.SupportContact == "" {
		return nil
	}
	return []tele.InlineButton{urlButton(tr(lang, "btn.support"), b.supportURL())}
}

// onFAQ shows the frequently asked questions.
func (b *Bot) onFAQ(t *turn) error {
	p := b.Shop.Pricing()
	minutes := strconv.Itoa(int(p.OrderTTL.Minutes()))
	kb := keyboard{}
	if row := b.supportRow(t.lang); row != nil {
		kb = append(kb, row)
	}
	kb = append(kb, []tele.InlineButton{button(t.T("btn.help"), cbHelp), t.btnMenu()})
	return t.show(t.T("faq", minutes)+b.supportLine(t.lang, 0), kb)
}
