package bot

import (
	"html"
	"regexp"
	"strconv"
	"strings"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// Explorer base URLs for transaction links (Config.Explorer): Tonviewer,
// Tonkeeper's explorer, at /transaction/<hex hash>, as Tonkeeper's own
// console links it (tonkeeper/ton-console
// src/shared/lib/blockchain/explorer.ts: transactionLink(hash) =
// `${baseUrl}/transaction/${hash}`, baseUrl https://tonviewer.com or
// https://testnet.tonviewer.com).
const (
	ExplorerMainnet = "https://tonviewer.com"
	ExplorerTestnet = "https://testnet.tonviewer.com"
)

// txHashRE is a chain transaction hash as the shop stores it: 64 hex
// digits. A fulfillment reference that is not one (a provider's own id)
// gets no link.
var txHashRE = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// txLink renders a transaction hash: a link to the explorer when there is
// one (testnet, mainnet) and the reference is a hash, else the reference
// shortened in <code>.
func (b *Bot) txLink(lang, ref string) string {
	if ref == "" {
		return ""
	}
	if b.Explorer != "" && txHashRE.MatchString(ref) {
		u := b.Explorer + "/transaction/" + strings.ToLower(ref)
		return `<a href="` + html.EscapeString(u) + `">` + tr(lang, "receipt.view") + "</a>"
	}
	short := ref
	if r := []rune(ref); len(r) > 20 {
		short = string(r[:8]) + "…" + string(r[len(r)-8:])
	}
	return "<code>" + html.EscapeString(short) + "</code>"
}

// receipt is what an order cost and how it went: price with ≈ USD, the
// fee part, the rate, the payment and delivery transactions, and for a
// refund the reason. Each line ends with "\n".
func (b *Bot) receipt(lang string, o *shop.Order) string {
	var s strings.Builder
	s.WriteString(tr(lang, "receipt.price", tonAmount(lang, o.PriceTON)+" TON"+approxUSD(lang, o.PriceTON, o.TONUSD), tr(lang, "method."+string(o.PaymentMethod))))
	if o.FeeTON > 0 {
		s.WriteString(tr(lang, "receipt.fee", tonAmount(lang, o.FeeTON)))
	}
	if o.TONUSD > 0 {
		s.WriteString(tr(lang, "receipt.rate", usdRate(lang, o.TONUSD)))
	}
	if l := b.txLink(lang, o.PaidTxHash); l != "" {
		s.WriteString(tr(lang, "receipt.paid_tx", l))
	}
	if o.Status == shop.StatusCompleted {
		if l := b.txLink(lang, o.FulfillmentRef); l != "" {
			s.WriteString(tr(lang, "receipt.delivery", l))
		}
	}
	if o.Status == shop.StatusRefunded && o.FailureReason != "" {
		s.WriteString(tr(lang, "receipt.refund_reason", html.EscapeString(providerReason(lang, o.FailureReason))))
	}
	return s.String()
}

// usdRate renders a TON/USD rate: "$3.59" (en), "3,59 $" (ru), with up to
// 4 decimals kept (the rate is micro-USD; cents are too coarse for it).
func usdRate(lang string, m shop.MicroUSD) string {
	s := m.String()
	if whole, frac, ok := strings.Cut(s, "."); ok && len(frac) > 4 {
		s = whole + "." + frac[:4]
	} else if !ok {
		s += ".00"
	} else if len(frac) == 1 {
		s += "0"
	}
	if lang == "ru" {
		return localDecimal(lang, s) + nbsp + "$"
	}
	return "$" + localDecimal(lang, s)
}

// Provider reasons: what the fulfillment providers and the recipient
// lookup say (fulfillment/fragment_client.go, fragment.go, sandbox.go),
// in the user's language. An unknown reason is shown as it is.
var providerReasons = []struct{ en, ru string }{
	{"recipient not found on Telegram", "получатель не найден в Telegram"},
	{"the username does not belong to a Telegram user", "это имя принадлежит не пользователю Telegram"},
	{"this account cannot receive Telegram Stars", "этот аккаунт сейчас не может получать Звёзды"},
	{"the recipient already has Telegram Premium", "у получателя уже есть Telegram Premium"},
	{"user not found", "пользователь не найден"},
	{"invalid username", "неверное имя пользователя"},
	{"the sandbox provider refused this order", "тестовый поставщик отклонил этот заказ"},
	{"the sandbox provider asks for manual delivery", "тестовый поставщик просит доставить вручную"},
	{"temporary delivery error", "временная ошибка доставки"},
}

// sandboxNotFoundRE is the sandbox's "recipient @name was not found".
var sandboxNotFoundRE = regexp.MustCompile(`^recipient @[A-Za-z0-9_]+ was not found$`)

// providerReason translates a provider's reason into lang.
func providerReason(lang, reason string) string {
	if lang != "ru" {
		return reason
	}
	for _, r := range providerReasons {
		if strings.EqualFold(reason, r.en) {
			return r.ru
		}
	}
	if sandboxNotFoundRE.MatchString(reason) {
		return "получатель не найден"
	}
	return reason
}

// buyAgain is the button that quotes an order's item again, for the same
// recipient.
func buyAgain(o *shop.Order, label string) []tele.InlineButton {
	kind, n := kindStars, o.Stars
	if o.Type == shop.OrderPremium {
		kind, n = kindPremium, int64(o.Months)
	}
	return []tele.InlineButton{button(label, cbAmount, kind, strconv.FormatInt(n, 10), o.Recipient)}
}
