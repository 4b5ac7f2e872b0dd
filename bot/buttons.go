package bot

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// MaxCallbackData is the Bot API's limit on callback_data, in bytes.
const MaxCallbackData = 64

// Callback uniques. A button's callback_data is "\f<unique>|<arg>|<arg>…",
// the form telebot routes; it must fit MaxCallbackData bytes.
const (
	cbMenu        = "m"    // main menu
	cbHelp        = "help" // help text
	cbBuy         = "buy"  // kind: choose the recipient
	cbMe          = "rme"  // kind[|quantity]: recipient is the user (quantity: chosen by a deep link)
	cbOther       = "rot"  // kind[|quantity]: ask for a username
	cbAmount      = "amt"  // kind|quantity|recipient: quote
	cbCustom      = "amo"  // recipient: ask for a number of stars
	cbPay         = "pay"  // quote id|method|recipient: create the order of a locked quote (before: nonce|method|kind|quantity|recipient)
	cbBalance     = "bal"  // balance and top-up
	cbOrders      = "ol"   // before: orders page
	cbOrder       = "od"   // order id: detail
	cbCancelOrder = "oc"   // order id: cancel an unpaid order
	cbCheckPay    = "pc"   // order id: has the payment arrived? (settles the payment screen)
	cbAPI         = "api"  // key kind: API screen (explains the API and offers to create a key if none)
	cbCreateKey   = "akn"  // key kind: create a key (an explicit press on the API screen)
	cbRotateAsk   = "akr"  // key kind: confirm rotation
	cbRotate      = "aky"  // key kind: rotate
	cbRevokeAsk   = "akv"  // key kind: confirm revocation
	cbRevoke      = "akx"  // key kind: revoke
	cbHide        = "hide" // delete this message (the one-time key)
	cbOtherWallet = "ow"   // how to pay with any other wallet or on a computer (the ton:// link)
	cbLang        = "lang" // language choice
	cbSetLang     = "setl" // language code
	cbReferrals   = "ref"  // the Referrals screen: personal link, people, earnings
	cbFAQ         = "faq"  // frequently asked questions
	cbPickFor     = "pf"   // kind|recipient: amounts or durations for a recipient already chosen
	cbAlerts      = "al"   // partner alerts: preferences
	cbAlertToggle = "alt"  // o|w: toggle the orders or webhooks alert
	cbAlertLow    = "alb"  // ask for the low-balance threshold
)

// Order kinds and payment methods as they appear in callback data.
const (
	kindStars   = "s"
	kindPremium = "p"
	payBalance  = "b"
	payTON      = "t"
	keyOrders   = "o" // osk_ key
	keySimple   = "s" // sk_ key
)

// button returns an inline button whose callback data routes to unique with
// args. Data longer than MaxCallbackData is a programming error: every
// argument is bounded (usernames ≤ 32 characters, numbers ≤ 19 digits),
// and a test checks the longest combinations.
func button(text, unique string, args ...string) tele.InlineButton {
	data := "\f" + unique
	if len(args) > 0 {
		data += "|" + strings.Join(args, "|")
	}
	if len(data) > MaxCallbackData {
		panic(fmt.Sprintf("bot: callback data for %q is %d bytes", unique, len(data)))
	}
	return tele.InlineButton{Text: text, Data: data}
}

// urlButton returns an inline button that opens a URL.
func urlButton(text, u string) tele.InlineButton {
	return tele.InlineButton{Text: text, URL: u}
}

func (t *turn) btnMenu() tele.InlineButton { return button(t.T("btn.menu"), cbMenu) }

// newNonce returns a fresh one-time token for a money-moving button: 48
// random bits, 8 URL-safe characters. Idempotency keys are per user, so
// this is ample.
func newNonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validNonce reports whether s could have come from newNonce.
func validNonce(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// orderType maps a callback kind to the shop's order type.
func orderType(kind string) (shop.OrderType, bool) {
	switch kind {
	case kindStars:
		return shop.OrderStars, true
	case kindPremium:
		return shop.OrderPremium, true
	}
	return "", false
}

// keyPrefix maps a callback key kind to the shop's key prefix.
func keyPrefix(kind string) string {
	if kind == keySimple {
		return shop.KeyPrefixSimple
	}
	return shop.KeyPrefixOrders
}

func keyKind(prefix string) string {
	if prefix == shop.KeyPrefixSimple {
		return keySimple
	}
	return keyOrders
}

// Wallet links. Every transfer link carries the amount in nanoTON (an
// integer; none when amount is 0, which leaves it to the user) and the
// comment as the URL-encoded "text" parameter, as each wallet documents.

// tonkeeperURL is Tonkeeper's universal transfer link:
//
//	https://app.tonkeeper.com/transfer/<address>?amount=<nanocoins>&text=<url-encoded-utf8-text>
//
// Source: tonkeeper/wallet-api README.md, "Unauthenticated transfers";
// https://docs.tonconsole.com/tonkeeper/deep-linking (app.tonkeeper.com is
// the legacy prefix of app.keeperwallet.com, "same paths and parameters").
func tonkeeperURL(address string, amount shop.NanoTON, memo string) string {
	return "https://app.tonkeeper.com/transfer/" + url.PathEscape(address) + transferQuery(amount, memo)
}

// myTonWalletURL is MyTonWallet's universal transfer link:
//
//	https://my.tt/transfer/<address>?amount=<nanocoins>&text=<url-encoded-utf8-text>
//
// Source: https://docs.ton.org/ecosystem/wallet-apps/deep-links,
// "Wallet-specific invoices" (ton-org/docs ecosystem/wallet-apps/deep-links.mdx,
// which points to help.mytonwallet.io/intro/key-features/deeplinks-in-mytonwallet);
// MyTonWallet reads "amount" and "text" of a transfer link
// (mytonwalletorg/mytonwallet src/util/ton/deeplinks.ts, parseTonDeeplink).
func myTonWalletURL(address string, amount shop.NanoTON, memo string) string {
	return "https://my.tt/transfer/" + url.PathEscape(address) + transferQuery(amount, memo)
}

// telegramWalletURL opens Telegram Wallet (@wallet) by its public username
// link, t.me/<username> (https://core.telegram.org/api/links, "Public
// username links"). Telegram Wallet documents no transfer link that
// carries an address, an amount and a comment (help.wallet.tg, docs.ton.org
// list none), so none is made up here: the link only opens the wallet, and
// the payment screen tells the user to copy the address, amount and memo.
const telegramWalletURL = "https://t.me/wallet"

// tonLink is the ton:// transfer link every TON wallet understands, also
// what the QR codes encode:
//
//	ton://transfer/<address>?amount=<nanocoins>&text=<url-encoded-utf8-text>
//
// Source: https://docs.ton.org/ecosystem/wallet-apps/deep-links, "TON
// transfer" (ton-org/docs ecosystem/wallet-apps/deep-links.mdx). The Bot
// API allows only http(s) and tg:// in URL buttons, and Telegram Desktop
// does not open ton:// links in bot messages (same page: "requires
// workarounds … e.g. Telegram Desktop bots"), so it is shown as text to
// copy (and a button explains where to paste it), never as a URL button.
func tonLink(address string, amount shop.NanoTON, memo string) string {
	return "ton://transfer/" + url.PathEscape(address) + transferQuery(amount, memo)
}

// walletRows are the wallet choices of a payment or top-up screen: the
// wallets with a documented transfer link, Telegram Wallet (opened, not
// prefilled) and the generic ton:// link for any other wallet or a
// computer.
func (t *turn) walletRows(address string, amount shop.NanoTON, memo string) keyboard {
	return keyboard{
		{urlButton(t.T("btn.tonkeeper"), tonkeeperURL(address, amount, memo)), urlButton(t.T("btn.mytonwallet"), myTonWalletURL(address, amount, memo))},
		{urlButton(t.T("btn.telegram_wallet"), telegramWalletURL), button(t.T("btn.other_wallet"), cbOtherWallet)},
	}
}

func transferQuery(amount shop.NanoTON, memo string) string {
	var q []string
	if amount > 0 {
		q = append(q, "amount="+strconv.FormatInt(int64(amount), 10))
	}
	if memo != "" {
		q = append(q, "text="+url.QueryEscape(memo))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + strings.Join(q, "&")
}
