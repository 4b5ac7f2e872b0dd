package bot

import (
	"html"
	"net/url"

	"starsbot/shop"
)

// Referrals screen: the user's personal link (t.me/<bot>?start=ref_<code>,
// Telegram's bot deep link: https://core.telegram.org/bots/features#deep-linking),
// how many people came by it and what they earned. The counters live on
// the user's record (shop.Service.Referrals), so the screen reads one
// record whatever the number of users.

// referralLink is the personal link of payload, or "" before the bot
// knows its own username (getMe).
func (b *Bot) referralLink(payload string) string {
	if b.tb.Me == nil || b.tb.Me.Username == "" {
		return ""
	}
	return "https://t.me/" + url.PathEscape(b.tb.Me.Username) + "?start=" + url.QueryEscape(payload)
}

// onReferrals shows the Referrals screen.
func (b *Bot) onReferrals(t *turn) error {
	rs, err := b.Shop.Referrals(t.ctx, t.user.ID)
	if err != nil {
		return t.fail(err)
	}
	kb := keyboard{{button(t.T("btn.balance"), cbBalance), t.btnMenu()}}
	if !rs.Enabled {
		return t.show(t.T("ref.off", t.num(rs.People), t.ton(rs.Earned)), kb)
	}
	link := b.referralLink(rs.Payload)
	if link != "" {
		// Telegram's share link: https://core.telegram.org/widgets/share
		// ("https://t.me/share/url?url={url}&text={text}").
		share := "https://t.me/share/url?url=" + url.QueryEscape(link) + "&text=" + url.QueryEscape(t.T("ref.share_text"))
		kb = append(keyboard{{urlButton(t.T("btn.share"), share)}}, kb...)
	}
	return t.show(t.T("ref.screen", t.pct(rs.Percent), html.EscapeString(link), t.num(rs.People), t.ton(rs.Earned)), kb)
}

// pct renders a percent of shop.FormatFeePercent in the user's language
// (a decimal comma in Russian).
func (t *turn) pct(p string) string { return localDecimal(t.lang, p) }

// referralNote is the notification of a referral reward.
func referralNote(lang string, e shop.Event) string {
	return tr(lang, "note.referral", tonAmount(lang, e.Amount), tonAmount(lang, e.Balance))
}

// referralsOn reports whether referral rewards are on (REFERRAL_PERCENT >
// 0), which shows the menu's Referrals button.
func (b *Bot) referralsOn() bool { return b.Shop.ReferralShare() > 0 }
