package bot

import (
	"strings"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// routes registers every handler. It runs once, before any update.
func (b *Bot) routes() {
	cb := func(unique string) *tele.InlineButton { return &tele.InlineButton{Unique: unique} }

	b.on("/start", b.onStart)
	b.on("/menu", b.onStart)
	b.on("/help", b.onHelp)
	b.on("/balance", b.onBalance)
	b.on("/orders", b.onOrders)
	b.on("/api", b.onAPICommand)
	b.on("/language", b.onLanguage)
	b.on(tele.OnText, b.onText)
	b.on(tele.OnMedia, b.onHelpShort)
	b.on(tele.OnCallback, b.onStaleButton)

	b.on(cb(cbMenu), b.onMenu)
	b.on(cb(cbHelp), b.onHelp)
	b.on(cb(cbBuy), b.onBuy)
	b.on(cb(cbMe), b.onRecipientMe)
	b.on(cb(cbOther), b.onRecipientOther)
	b.on(cb(cbAmount), b.onAmount)
	b.on(cb(cbCustom), b.onCustomAmount)
	b.on(cb(cbPay), b.onPay)
	b.on(cb(cbBalance), b.onBalance)
	b.on(cb(cbOrders), b.onOrders)
	b.on(cb(cbOrder), b.onOrder)
	b.on(cb(cbCancelOrder), b.onCancelOrder)
	b.on(cb(cbCheckPay), b.onCheckPayment)
	b.on(cb(cbAPI), b.onAPIButton)
	b.on(cb(cbCreateKey), b.onCreateKey)
	b.on(cb(cbRotateAsk), b.onRotateAsk)
	b.on(cb(cbRotate), b.onRotate)
	b.on(cb(cbRevokeAsk), b.onRevokeAsk)
	b.on(cb(cbRevoke), b.onRevoke)
	b.on(cb(cbHide), b.onHide)
	b.on(cb(cbOtherWallet), b.onOtherWallet)
	b.on(cb(cbUSDTTopup), b.onUSDTTopup)
	b.on(cb(cbUSDTPay), b.onUSDTPay)
	b.on(cb(cbLang), b.onLanguage)
	b.on(cb(cbSetLang), b.onSetLanguage)
	b.on(cb(cbReferrals), b.onReferrals)
	b.on(cb(cbFAQ), b.onFAQ)
	b.on(cb(cbPickFor), b.onPickFor)
	b.on(cb(cbAlerts), b.onAlerts)
	b.on(cb(cbAlertToggle), b.onAlertToggle)
	b.on(cb(cbAlertLow), b.onAlertLow)
	b.on("/faq", b.onFAQ)
	b.webhookRoutes()

	b.adminRoutes()
}

// onStart shows the main menu (the middleware has ended any flow), or,
// for a deep link that prefills a purchase (/start stars_100_durov), that
// purchase's next step.
func (b *Bot) onStart(t *turn) error {
	if m := t.Message(); m != nil && isCommand(m.Text, "start") {
		if done, err := b.startPurchase(t, strings.TrimSpace(m.Payload)); done {
			return err
		}
	}
	return t.say(t.menuText(), t.menuKeyboard())
}

// onMenu shows the main menu in place of the pressed message.
func (b *Bot) onMenu(t *turn) error { return t.show(t.menuText(), t.menuKeyboard()) }

func (t *turn) menuText() string {
	return t.T("menu.title", t.ton(t.user.Balance))
}

func (t *turn) menuKeyboard() keyboard {
	kb := keyboard{
		{button(t.T("btn.buy_stars"), cbBuy, kindStars), button(t.T("btn.premium"), cbBuy, kindPremium)},
		{button(t.T("btn.balance"), cbBalance), button(t.T("btn.orders"), cbOrders, "0")},
	}
	if t.b.referralsOn() {
		kb = append(kb, []tele.InlineButton{button(t.T("btn.referrals"), cbReferrals)})
	}
	return append(kb, []tele.InlineButton{button(t.T("btn.api"), cbAPI, keyOrders), button(t.T("btn.language"), cbLang), button(t.T("btn.help"), cbHelp)})
}

// onHelp explains what the bot does.
func (b *Bot) onHelp(t *turn) error {
	p := b.Shop.Pricing()
	kb := keyboard{{button(t.T("btn.faq"), cbFAQ)}}
	if row := b.supportRow(t.lang); row != nil {
		kb = append(kb, row)
	}
	kb = append(kb, []tele.InlineButton{t.btnMenu()})
	return t.show(t.T("help", t.num(p.StarsMin), t.num(p.StarsMax))+b.supportLine(t.lang, 0), kb)
}

// onHelpShort answers anything the bot does not understand.
func (b *Bot) onHelpShort(t *turn) error {
	return t.say(t.T("help.short"), keyboard{{t.btnMenu()}})
}

// onText handles typed text: the input a flow waits for, else a short help.
func (b *Bot) onText(t *turn) error {
	text := strings.TrimSpace(t.Text())
	st, err := b.loadState(t.ctx, t.chat)
	if err != nil {
		return t.fail(err)
	}
	if st == nil {
		if done, err := b.onTopLevelText(t, text); done {
			return err
		}
		return b.onHelpShort(t)
	}
	switch st.Step {
	case stepRecipient:
		return b.onRecipientText(t, st, text)
	case stepAmount:
		return b.onAmountText(t, st, text)
	case stepAlertThreshold:
		return b.onAlertLowText(t, st, text)
	case stepWebhookURL:
		return b.onWebhookURLText(t, st, text)
	}
	return b.onHelpShort(t)
}

// onStaleButton answers a button the bot no longer knows.
func (b *Bot) onStaleButton(t *turn) error {
	return t.answer(t.T("err.stale_button"), true)
}

// onLanguage offers the languages.
func (b *Bot) onLanguage(t *turn) error {
	return t.show(t.T("lang.choose"), keyboard{
		{button("English", cbSetLang, "en"), button("Русский", cbSetLang, "ru")},
		{t.btnMenu()},
	})
}

// onSetLanguage switches the user's language and shows the menu in it.
func (b *Bot) onSetLanguage(t *turn) error {
	lang := t.Data()
	if shop.NormalizeLanguage(lang) != lang {
		return t.answer(t.T("err.stale_button"), true)
	}
	user, err := b.Shop.SetLanguage(t.ctx, t.user.ID, lang)
	if err != nil {
		return t.fail(err)
	}
	t.user, t.lang = user, user.Language
	if err := t.answer(t.T("lang.set"), false); err != nil {
		return err
	}
	return t.show(t.menuText(), t.menuKeyboard())
}
