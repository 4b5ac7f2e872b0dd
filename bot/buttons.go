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
	cbAPI         = "api"  // key kind: API screen (explains the API and offers to create a key if none)
	cbCreateKey   = "akn"  // key kind: create a key (an explicit press on the API screen)
	cbRotateAsk   = "akr"  // key kind: confirm rotation
	cbRotate      = "aky"  // key kind: rotate
	cbRevokeAsk   = "akv"  // key kind: confirm revocation
	cbRevoke      = "akx"  // key kind: revoke
	cbHide        = "hide" // delete this message (the one-time key)
	cbLang        = "lang" // language choice
	cbSetLang     = "setl" // language code
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

// tonkeeperURL is Tonkeeper's universal transfer link; amount 0 leaves the
// amount to the user.
func tonkeeperURL(address string, amount shop.NanoTON, memo string) string {
	return "https://app.tonkeeper.com/transfer/" + url.PathEscape(address) + transferQuery(amount, memo)
}

// tonLink is the ton:// transfer link of TON wallets, also what the QR
// codes encode.
func tonLink(address string, amount shop.NanoTON, memo string) string {
	return "ton://transfer/" + url.PathEscape(address) + transferQuery(amount, memo)
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
