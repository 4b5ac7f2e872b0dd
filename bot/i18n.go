package bot

import "fmt"

// tr returns the text of key in lang (falling back to English), formatted
// with args. Texts are HTML: arguments that carry user or outside data must
// be escaped by the caller with html.EscapeString.
func tr(lang, key string, args ...any) string {
	s, ok := catalogs[lang][key]
	if !ok {
		if s, ok = catalogs["en"][key]; !ok {
			return key
		}
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// catalogs holds every user-facing text, by language and key. A test
// checks that both languages have the same keys and format verbs, and that
// every key the code uses exists.
var catalogs = map[string]map[string]string{
	"en": {
		"btn.alerts":         "🔔 Alerts",
		"btn.alert_low":      "🔔 Low-balance threshold",
		"btn.alert_orders":   "%s order alerts",
		"btn.alert_webhooks": "%s webhook alerts",
		"alerts.turn_on":     "Turn on",
		"alerts.turn_off":    "Turn off",
		"btn.back_api":       "‹ API",
		"alerts.on":          "on",
		"alerts.off":         "off",
		"alerts.below":       "below %s TON",
		"alerts.screen": "🔔 <b>Partner alerts</b>\n\nMessages in this chat when:\n" +
			"• your balance falls below a threshold: <b>%s</b>\n" +
			"• an order you created through the API goes to manual delivery or is refunded: <b>%s</b>\n" +
			"• one of your webhook endpoints keeps failing: <b>%s</b>\n\n" +
			"The low-balance alert comes once each time the balance drops below the threshold, not at every purchase.",
		"alerts.ask_low":       "Send the threshold in TON, for example 5 or 0.5. Send 0 to turn the low-balance alert off.",
		"alerts.bad_low":       "That is not an amount of TON. Send a number such as 5 or 0.5 (at most 9 decimals), or 0 to turn the alert off:",
		"alert.low_balance":    "🔔 <b>Low balance</b>: %s TON, below your threshold of %s TON. Top up to keep your API orders going.",
		"alert.order_manual":   "🔔 API order #%d (%s) went to manual delivery: %s. Our team delivers it; nothing to do on your side.",
		"alert.order_refunded": "🔔 API order #%d (%s) was refunded: +%s TON to your balance. Reason: %s.",
		"alert.webhook":        "🔔 Your webhook endpoint %s keeps failing: %s. Check it, then replay the missed events.",
		"rcpt.named":           "👤 Recipient: <b>%s</b> (%s), found on Telegram",
		"rcpt.found":           "👤 Recipient: %s, found on Telegram",
		"rcpt.unchecked":       "⚠️ Recipient %s could not be checked right now. If delivery fails, the price comes back to your balance.",
		"btn.premium_for":      "💎 Premium instead",
		"btn.faq":              "❔ FAQ",
		"btn.support":          "💬 Support",
		"support.line":         "💬 Need help? Write to %s.",
		"support.order":        "💬 Need help? Write to %s and mention order #%d.",
		"faq": "❔ <b>Frequently asked questions</b>\n\n" +
			"<b>How long does delivery take?</b>\nUsually a minute or two: a TON transfer is seen within a minute or two of being sent, and delivery starts at once. " +
			"If the provider needs a manual step, our team delivers the order by hand and you get a message when it is done.\n\n" +
			"<b>What if I send less than the price, or pay too late?</b>\nAn order is paid by a transfer of at least its price with its memo, within %s minutes. " +
			"A smaller or late transfer does not pay it, and nothing is lost: the whole amount goes to your balance, to spend on any order.\n\n" +
			"<b>And if I send more?</b>\nThe order is paid and the excess goes to your balance.\n\n" +
			"<b>I sent it without the memo.</b>\nThen the transfer cannot be matched automatically. Write to support with the transaction link: we credit it by hand.\n\n" +
			"<b>What if delivery fails?</b>\nThe price goes back to your balance at once (a refund), and the message says why.",
		"receipt.price":         "Price: %s, %s\n",
		"receipt.fee":           "Service fee included: %s TON\n",
		"receipt.rate":          "Rate: 1 TON = %s\n",
		"receipt.paid_tx":       "Payment: %s\n",
		"receipt.delivery":      "Delivery: %s\n",
		"receipt.refund_reason": "Refund reason: %s\n",
		"receipt.view":          "view on Tonviewer",
		"receipt.tx":            "Transaction: %s",
		"btn.buy_again":         "🔁 Buy again",
		"btn.buy_again_n":       "🔁 Buy #%d again",
		"btn.referrals":         "🎁 Invite friends",
		"btn.share":             "📤 Share the link",
		"ref.screen": "🎁 <b>Invite friends</b>\n\n" +
			"Share your personal link. Whenever someone who started this bot with it completes a purchase of Stars or Premium, <b>%s%%</b> of its price goes to your balance.\n\n" +
			"Your link (tap to copy):\n<code>%s</code>\n\nPeople invited: <b>%s</b>\nEarned: <b>%s TON</b>",
		"ref.off":         "🎁 <b>Invite friends</b>\n\nThe referral programme is paused: purchases earn no rewards now.\n\nPeople invited: <b>%s</b>\nEarned: <b>%s TON</b>",
		"ref.share_text":  "Telegram Stars and Premium for TON",
		"note.referral":   "🎁 <b>Referral reward</b>: +%s TON for a purchase by someone you invited.\nYour balance: <b>%s TON</b>.",
		"ledger.referral": "referral reward",
		"menu.title": "⭐ <b>Telegram Stars &amp; Premium for TON</b>\n\n" +
			"Buy Stars or Premium for yourself or for anyone, paid in TON.\n" +
			"Your balance: <b>%s TON</b>",
		"help": "❓ <b>How it works</b>\n\n" +
			"⭐ <b>Buy Stars</b>: choose the recipient (you, or any @username), the amount (%s to %s stars), and pay from your balance or by a TON transfer.\n" +
			"💎 <b>Premium</b>: 3, 6 or 12 months for anyone.\n" +
			"💰 <b>Balance</b>: top up by sending TON with your personal memo.\n" +
			"🔑 <b>API</b>: for shops and developers who buy from their own code; the 🔑 API button explains it.\n\n" +
			"Commands: /start, /balance, /orders, /language, /help, /faq",
		"help.short": "I didn't understand that. Use the menu below, or /help.",

		"cmd.start":    "Main menu",
		"cmd.balance":  "Balance and top-up",
		"cmd.orders":   "My orders",
		"cmd.language": "Language",
		"cmd.help":     "Help",
		"cmd.faq":      "Questions and answers",

		"btn.buy_stars":         "⭐ Buy Stars",
		"btn.premium":           "💎 Premium",
		"btn.balance":           "💰 Balance & top-up",
		"btn.orders":            "📦 My orders",
		"btn.api":               "🔑 API",
		"btn.language":          "🌐 Language",
		"btn.help":              "❓ Help",
		"btn.menu":              "🏠 Menu",
		"btn.cancel":            "✖ Cancel",
		"btn.me":                "👤 Me",
		"btn.me_named":          "👤 Me (@%s)",
		"btn.someone":           "🎁 Someone else",
		"btn.months":            "%d months",
		"btn.other_amount":      "✏️ Other amount",
		"btn.confirm":           "✅ Confirm: pay %s TON",
		"btn.pay_ton":           "💎 Pay by TON transfer",
		"btn.topup":             "💰 Top up balance",
		"btn.tonkeeper":         "Open in Tonkeeper",
		"btn.mytonwallet":       "Open in MyTonWallet",
		"btn.telegram_wallet":   "Telegram Wallet",
		"btn.other_wallet":      "🖥 Other wallet",
		"btn.cancel_order":      "✖ Cancel order",
		"btn.check_payment":     "🔄 Check payment",
		"btn.newest":            "« Newest",
		"btn.older":             "Older »",
		"btn.back_orders":       "‹ My orders",
		"btn.key_simple":        "Simple API key (sk_)",
		"btn.key_orders":        "Orders API key (osk_)",
		"btn.rotate":            "🔄 Rotate",
		"btn.revoke":            "🗑 Revoke",
		"btn.hide_key":          "✅ I saved it, hide the key",
		"api.key_hidden":        "🔑 The key was shown here once and is now hidden.",
		"btn.yes_rotate":        "Yes, rotate the key",
		"btn.yes_revoke":        "Yes, revoke the key",
		"btn.new_key":           "🔑 Get a new key",
		"btn.create_key_orders": "🔑 Create an orders API key",
		"btn.create_key_simple": "Create a simple API key (sk_)",

		"err.stale_button":    "This button is no longer valid. Send /start.",
		"err.internal":        "Something went wrong on our side. Please try again later.",
		"err.insufficient":    "Not enough balance for this order.",
		"err.recipient":       "This recipient cannot receive it.",
		"err.not_found":       "Not found.",
		"err.not_cancellable": "This order can no longer be cancelled.",
		"err.conflict":        "This offer was already used. Start a new purchase from the menu.",
		"err.rate_limited":    "Too many requests. Please wait a moment.",
		"err.validation":      "That doesn't look right. Please check and try again.",
		"group.refuse":        "Please talk to me in a private chat.",
		"banned":              "Your account is blocked.",

		"lang.choose": "🌐 Choose your language:",
		"lang.set":    "Language: English",

		"buy.who.s":            "⭐ <b>Buy Stars</b>\n\nWho are the Stars for?",
		"buy.who.p":            "💎 <b>Telegram Premium</b>\n\nWho is Premium for?",
		"buy.who_n.s":          "⭐ <b>Buy %s</b>\n\nWho are the Stars for?",
		"buy.who_n.p":          "💎 <b>Telegram Premium, %d months</b>\n\nWho is Premium for?",
		"start.bad_link":       "⚠️ This link asks for an amount the shop does not offer, so nothing was prefilled. Choose below.",
		"buy.no_username":      "You have no Telegram username. Set one in Telegram's settings, or choose \"Someone else\".",
		"buy.ask_recipient":    "Send the recipient's Telegram username: @username, username or a t.me/username link.",
		"buy.bad_username":     "That is not a Telegram username. A username has 5 to 32 letters, digits or underscores, like @durov. Try again:",
		"buy.not_found":        "user not found",
		"buy.cannot_receive.s": "@%s cannot receive Stars: %s. Send another username:",
		"buy.cannot_receive.p": "@%s cannot receive Premium: %s. Send another username:",
		"buy.pick_stars":       "⭐ How many Stars for @%s?",
		"buy.pick_months":      "💎 How long a Premium subscription for @%s?",
		"buy.ask_amount":       "Send the number of Stars, from %s to %s:",
		"buy.bad_amount":       "Please send a whole number of Stars from %s to %s. Nothing was ordered.",
		"buy.quote": "🧾 <b>Your order</b>\n\n%s\nPrice: <b>%s</b>\nYour balance: %s TON\n\n" +
			"Pay from your balance, or pay this order directly with a TON transfer.",
		"buy.quote_short": "🧾 <b>Your order</b>\n\n%s\nPrice: <b>%s</b>\nYour balance: %s TON, not enough for this order.\n\n" +
			"Pay it directly with a TON transfer from your wallet, or top up your balance first.",
		"buy.held":       "🔒 This price is held for %d s: either button charges exactly it. After that I'll show the current price before charging anything.",
		"buy.requote":    "⏳ <b>The price %s TON is no longer held.</b> Nothing was charged. Here is the current price; confirm again to buy.\n\n",
		"buy.price_gone": "⏳ <b>That price is no longer held.</b> Nothing was charged. Here is the current price; confirm again to buy.\n\n",
		"buy.insufficient": "⚠️ <b>Not enough balance</b>\n\n%s\nPrice: <b>%s</b>\nYour balance: %s TON\n\n" +
			"Top up your balance, or pay this order directly with a TON transfer.",
		"buy.paid":     "✅ <b>Order #%d is paid</b>\n\n%s\n%s was taken from your balance. Delivery has started; I'll tell you when it's done.",
		"item.stars":   "⭐ %s for @%s",
		"item.premium": "💎 Telegram Premium, %d months, for @%s",

		"pay.ton": "💎 <b>Order #%d: pay by TON transfer</b>\n\n%s\n\n" +
			"Send at least <b>%s TON</b>%s to\n<code>%s</code>\nwith this comment (memo):\n<code>%s</code>\n\n" +
			"Pay before %s. Sending more is fine: the excess goes to your balance. A transfer without the memo, short of the price or late does not pay the order; the amount goes to your balance instead.\n\n" +
			"Telegram Wallet has no payment link: open it and copy the address, the amount and the memo from here (tap to copy).\n" +
			"Any other wallet, or on a computer: <code>%s</code>",
		"pay.other_wallet":   "Tap the ton:// link in the message to copy it, then paste it into your browser's address bar: your TON wallet opens with the address, amount and memo filled in. Or scan the QR code.",
		"pay.qr":             "Scan with a TON wallet: %s TON, memo <code>%s</code>",
		"pay.qr_void":        "⛔ This QR code is no longer valid. Do not pay with it.",
		"pay.not_yet":        "No payment seen yet. A transfer shows up here within a minute or two of being sent; pay before %s.",
		"pay.done.paid":      "✅ <b>Order #%d is paid</b>\n\n%s\nPayment of %s received. Status: %s. I'll tell you when it's delivered.",
		"pay.done.expired":   "⌛ <b>Order #%d expired unpaid</b>\n\n%s\nIt could be paid until %s. Do not pay it any more: TON sent for it now goes to your balance.",
		"pay.done.cancelled": "✖ <b>Order #%d is cancelled</b>\n\n%s\nDo not pay it: TON sent for it now goes to your balance.",

		"balance.text": "💰 <b>Balance: %s TON</b>\n\n" +
			"To top up, send any amount of TON to\n<code>%s</code>\nwith this comment (memo):\n<code>%s</code>\n" +
			"The memo is yours for good. Without it the deposit cannot be matched.\n\nTON link: <code>%s</code>\n\n" +
			"<b>Recent operations</b>\n%s",
		"balance.no_address": "💰 <b>Balance: %s TON</b>\n\nYour top-up memo: <code>%s</code>\n\n<b>Recent operations</b>\n%s",
		"balance.entry":      "%s TON · %s · %s",
		"balance.no_entries": "No operations yet.",
		"balance.qr":         "Scan with a TON wallet to top up. Memo: <code>%s</code>",

		"ledger.deposit":      "deposit",
		"ledger.order":        "order",
		"ledger.refund":       "refund",
		"ledger.admin_credit": "credit",
		"ledger.admin_debit":  "debit",

		"orders.none":      "📦 You have no orders yet.",
		"orders.title":     "📦 <b>Your orders</b>",
		"orders.line":      "#%d · %s · %s · %s TON · %s",
		"orders.cancelled": "Order cancelled",

		"order.head":         "📦 <b>Order #%d</b>\n%s\n\n",
		"order.status":       "Status: <b>%s</b>\n",
		"order.created":      "Created: %s\n",
		"order.paid_at":      "Paid: %s\n",
		"order.completed_at": "Completed: %s\n",
		"order.pay_hint":     "\nSend at least <b>%s TON</b> to <code>%s</code> with the memo <code>%s</code> before %s.\n",

		"method.balance":  "from balance",
		"method.ton_memo": "TON transfer",

		"status.pending_payment": "waiting for payment",
		"status.paid":            "paid",
		"status.processing":      "being delivered",
		"status.completed":       "completed",
		"status.cancelled":       "cancelled",
		"status.expired":         "expired",
		"status.manual":          "manual delivery",
		"status.failed":          "failed",
		"status.refunded":        "refunded",

		"api.intro": "🔑 <b>Partner API</b>\n\n" +
			"For shops and developers who buy Stars and Premium from their own code, over HTTP. " +
			"You don't need it to buy here: the buttons do everything.\n\n" +
			"An API key spends your balance just as you can, so create one only when you are about to use it, and keep it secret. " +
			"There are two APIs: the orders API (osk_ keys) and the simple API (sk_ keys).\n\n%s",
		"api.base":       "Base URL: <code>%s</code>",
		"api.not_public": "⚠️ The API of this shop is not public yet: there is no address to reach it from outside. Ask the shop's operator before integrating.",
		"api.status": "🔑 <b>Partner API</b>\n\nYour %s key: <code>%s</code>, created %s.\n" +
			"The full key was shown only once; we keep only its hash. Lost it? Rotate it.\n\n" +
			"%s\nBalance top-up memo: <code>%s</code>",
		"api.key": "🔑 <b>Your new %s API key</b>\n\n<code>%s</code>\n\n" +
			"⚠️ This is the only time the key is shown. Copy it now and keep it secret: it spends your balance. " +
			"We store only its hash; if you lose it, rotate it.\n\n" +
			"%s\nBalance top-up memo: <code>%s</code> (send TON to <code>%s</code>)%s",
		"api.try":        "\n\nTry it:\n<pre>curl -H \"Authorization: Bearer %s\" %s/api/v1/balance</pre>",
		"api.rotate_ask": "🔄 Rotate your %s key? The current key stops working at once, and a new one is shown once.",
		"api.revoke_ask": "🗑 Revoke your %s key? Requests with it will be refused at once.",
		"api.revoked":    "Your %s key is revoked.",

		"note.deposit":      "💰 <b>Deposit received</b>: +%s TON.\nYour balance: <b>%s TON</b>.",
		"note.admin_credit": "💰 Your balance was credited: +%s TON.\nYour balance: <b>%s TON</b>.",
		"note.paid":         "✅ <b>Payment received</b> for order #%d: %s.\nDelivery has started.",
		"note.completed":    "🎉 <b>Order #%d completed</b>: %s delivered.",
		"note.manual":       "⏳ Order #%d (%s) needs a manual step by our team. It will be delivered soon; nothing to do on your side.",
		"note.refunded":     "↩️ Order #%d (%s) could not be delivered and was refunded: +%s TON.\nYour balance: <b>%s TON</b>.",
		"note.expired":      "⌛ Order #%d (%s) expired unpaid. TON sent for it now will be credited to your balance.",
		"note.hook_off":     "⚠️ Your webhook endpoint <code>%s</code> failed every delivery for 3 days and was disabled. Fix it, then re-enable it in the bot (/api, then Webhooks) or with POST /api/v1/webhooks/{id}/enable, and replay what it missed through the API.",
	},
	"ru": {
		"btn.alerts":         "🔔 Уведомления",
		"btn.alert_low":      "🔔 Порог баланса",
		"btn.alert_orders":   "%s уведомления о заказах",
		"btn.alert_webhooks": "%s уведомления о вебхуках",
		"alerts.turn_on":     "Включить",
		"alerts.turn_off":    "Выключить",
		"btn.back_api":       "‹ К API",
		"alerts.on":          "вкл.",
		"alerts.off":         "выкл.",
		"alerts.below":       "ниже %s TON",
		"alerts.screen": "🔔 <b>Уведомления для партнёров</b>\n\nБот напишет в этот чат, когда:\n" +
			"• баланс опускается ниже порога: <b>%s</b>\n" +
			"• заказ, созданный через API, уходит на ручную доставку или возвращается: <b>%s</b>\n" +
			"• ваш вебхук-адрес раз за разом не отвечает: <b>%s</b>\n\n" +
			"Уведомление о балансе приходит один раз, когда баланс опускается ниже порога, а не после каждой покупки.",
		"alerts.ask_low":       "Отправьте порог в TON, например 5 или 0,5. Отправьте 0, чтобы выключить уведомление о балансе.",
		"alerts.bad_low":       "Это не сумма в TON. Отправьте число, например 5 или 0,5 (не больше 9 знаков после запятой), или 0, чтобы выключить уведомление:",
		"alert.low_balance":    "🔔 <b>Баланс заканчивается</b>: %s TON — ниже вашего порога %s TON. Пополните баланс, чтобы заказы через API не останавливались.",
		"alert.order_manual":   "🔔 Заказ #%d через API (%s) передан на ручную доставку: %s. Наша команда доставит его, от вас ничего не требуется.",
		"alert.order_refunded": "🔔 Заказ #%d через API (%s) возвращён: +%s TON на баланс. Причина: %s.",
		"alert.webhook":        "🔔 Ваш вебхук-адрес %s раз за разом не отвечает: %s. Проверьте его, затем повторите пропущенные события.",
		"rcpt.named":           "👤 Получатель: <b>%s</b> (%s), найден в Telegram",
		"rcpt.found":           "👤 Получатель: %s, найден в Telegram",
		"rcpt.unchecked":       "⚠️ Проверить получателя %s сейчас не удалось. Если доставка не удастся, цена вернётся на ваш баланс.",
		"btn.premium_for":      "💎 Premium вместо звёзд",
		"btn.faq":              "❔ Вопросы и ответы",
		"btn.support":          "💬 Поддержка",
		"support.line":         "💬 Нужна помощь? Напишите %s.",
		"support.order":        "💬 Нужна помощь? Напишите %s и укажите номер заказа #%d.",
		"faq": "❔ <b>Частые вопросы</b>\n\n" +
			"<b>Сколько ждать доставки?</b>\nОбычно минуту-две: перевод TON виден через минуту-две после отправки, и доставка начинается сразу. " +
			"Если поставщику нужен ручной шаг, наша команда доставит заказ вручную, и вы получите сообщение, когда всё будет готово.\n\n" +
			"<b>Что, если я отправлю меньше цены или опоздаю с оплатой?</b>\nЗаказ оплачивается переводом не меньше его цены с его комментарием в течение %s мин. " +
			"Меньший или опоздавший перевод заказ не оплатит, но ничего не пропадёт: вся сумма поступит на ваш баланс, и её можно потратить на любой заказ.\n\n" +
			"<b>А если отправлю больше?</b>\nЗаказ будет оплачен, а излишек поступит на ваш баланс.\n\n" +
			"<b>Перевод ушёл без комментария.</b>\nТогда перевод не найдётся автоматически. Напишите в поддержку и пришлите ссылку на транзакцию — мы зачислим её вручную.\n\n" +
			"<b>А если доставка не удастся?</b>\nЦена сразу вернётся на ваш баланс, а в сообщении будет указана причина.",
		"receipt.price":         "Цена: %s, %s\n",
		"receipt.fee":           "В том числе комиссия сервиса: %s TON\n",
		"receipt.rate":          "Курс: 1 TON = %s\n",
		"receipt.paid_tx":       "Оплата: %s\n",
		"receipt.delivery":      "Доставка: %s\n",
		"receipt.refund_reason": "Причина возврата: %s\n",
		"receipt.view":          "открыть в Tonviewer",
		"receipt.tx":            "Транзакция: %s",
		"btn.buy_again":         "🔁 Купить снова",
		"btn.buy_again_n":       "🔁 Повторить #%d",
		"btn.referrals":         "🎁 Пригласить друзей",
		"btn.share":             "📤 Поделиться ссылкой",
		"ref.screen": "🎁 <b>Пригласите друзей</b>\n\n" +
			"Поделитесь личной ссылкой. Каждый раз, когда тот, кто запустил бота по ней, завершает покупку звёзд или Premium, <b>%s\u00a0%%</b> от её цены поступает на ваш баланс.\n\n" +
			"Ваша ссылка (нажмите, чтобы скопировать):\n<code>%s</code>\n\nПриглашено: <b>%s</b>\nЗаработано: <b>%s TON</b>",
		"ref.off":         "🎁 <b>Пригласите друзей</b>\n\nРеферальная программа приостановлена: сейчас покупки не приносят вознаграждения.\n\nПриглашено: <b>%s</b>\nЗаработано: <b>%s TON</b>",
		"ref.share_text":  "Звёзды и Telegram Premium за TON",
		"note.referral":   "🎁 <b>Реферальное вознаграждение</b>: +%s TON за покупку приглашённого вами человека.\nВаш баланс: <b>%s TON</b>.",
		"ledger.referral": "реферальное вознаграждение",
		"menu.title": "⭐ <b>Звёзды и Telegram Premium за TON</b>\n\n" +
			"Покупайте звёзды и Premium себе или кому угодно с оплатой в TON.\n" +
			"Ваш баланс: <b>%s TON</b>",
		"help": "❓ <b>Как это работает</b>\n\n" +
			"⭐ <b>Купить звёзды</b>: выберите получателя (себя или любое @имя), количество (от %s до %s) и оплатите с баланса или переводом TON.\n" +
			"💎 <b>Premium</b>: на 3, 6 или 12 месяцев кому угодно.\n" +
			"💰 <b>Баланс</b>: пополняется переводом TON с вашим личным комментарием (memo).\n" +
			"🔑 <b>API</b>: для магазинов и разработчиков, которые покупают из своего кода; подробности — по кнопке 🔑 API.\n\n" +
			"Команды: /start, /balance, /orders, /language, /help, /faq",
		"help.short": "Не получилось разобрать сообщение. Воспользуйтесь меню ниже или /help.",

		"cmd.start":    "Главное меню",
		"cmd.balance":  "Баланс и пополнение",
		"cmd.orders":   "Мои заказы",
		"cmd.language": "Язык",
		"cmd.help":     "Помощь",
		"cmd.faq":      "Вопросы и ответы",

		"btn.buy_stars":         "⭐ Купить звёзды",
		"btn.premium":           "💎 Premium",
		"btn.balance":           "💰 Баланс",
		"btn.orders":            "📦 Мои заказы",
		"btn.api":               "🔑 API",
		"btn.language":          "🌐 Язык",
		"btn.help":              "❓ Помощь",
		"btn.menu":              "🏠 Меню",
		"btn.cancel":            "✖ Отмена",
		"btn.me":                "👤 Себе",
		"btn.me_named":          "👤 Себе (@%s)",
		"btn.someone":           "🎁 Другому",
		"btn.months":            "%d мес.",
		"btn.other_amount":      "✏️ Другое количество",
		"btn.confirm":           "✅ Подтвердить: %s TON",
		"btn.pay_ton":           "💎 Оплатить переводом TON",
		"btn.topup":             "💰 Пополнить баланс",
		"btn.tonkeeper":         "Открыть в Tonkeeper",
		"btn.mytonwallet":       "Открыть MyTonWallet",
		"btn.telegram_wallet":   "Кошелёк в Telegram",
		"btn.other_wallet":      "🖥 Другой кошелёк",
		"btn.cancel_order":      "✖ Отменить заказ",
		"btn.check_payment":     "🔄 Проверить оплату",
		"btn.newest":            "« Новые",
		"btn.older":             "Старше »",
		"btn.back_orders":       "‹ Мои заказы",
		"btn.key_simple":        "Ключ простого API (sk_)",
		"btn.key_orders":        "Ключ API заказов (osk_)",
		"btn.rotate":            "🔄 Перевыпустить",
		"btn.revoke":            "🗑 Отозвать",
		"btn.hide_key":          "✅ Ключ сохранён — скрыть",
		"api.key_hidden":        "🔑 Здесь был показан ключ; теперь он скрыт.",
		"btn.yes_rotate":        "Да, перевыпустить ключ",
		"btn.yes_revoke":        "Да, отозвать ключ",
		"btn.new_key":           "🔑 Получить новый ключ",
		"btn.create_key_orders": "🔑 Создать ключ API заказов",
		"btn.create_key_simple": "Создать ключ простого API (sk_)",

		"err.stale_button":    "Эта кнопка больше не действует. Отправьте /start.",
		"err.internal":        "У нас что-то пошло не так. Попробуйте позже.",
		"err.insufficient":    "Недостаточно средств на балансе для этого заказа.",
		"err.recipient":       "Этому получателю нельзя отправить такой заказ.",
		"err.not_found":       "Не найдено.",
		"err.not_cancellable": "Этот заказ уже нельзя отменить.",
		"err.conflict":        "По этой цене заказ уже создан. Начните новую покупку из меню.",
		"err.rate_limited":    "Слишком много запросов. Подождите немного.",
		"err.validation":      "Что-то не так. Проверьте и попробуйте ещё раз.",
		"group.refuse":        "Пожалуйста, напишите мне в личные сообщения.",
		"banned":              "Ваш аккаунт заблокирован.",

		"lang.choose": "🌐 Выберите язык:",
		"lang.set":    "Язык: русский",

		"buy.who.s":            "⭐ <b>Купить звёзды</b>\n\nКому отправить звёзды?",
		"buy.who.p":            "💎 <b>Telegram Premium</b>\n\nКому подарить Premium?",
		"buy.who_n.s":          "⭐ <b>Купить %s</b>\n\nКому отправить звёзды?",
		"buy.who_n.p":          "💎 <b>Telegram Premium, %d мес.</b>\n\nКому подарить Premium?",
		"start.bad_link":       "⚠️ В этой ссылке количество, которого магазин не предлагает, поэтому ничего не заполнено. Выберите ниже.",
		"buy.no_username":      "У вас нет имени пользователя в Telegram. Задайте его в настройках Telegram или выберите «Другому».",
		"buy.ask_recipient":    "Отправьте имя пользователя получателя: @username, username или ссылку t.me/username.",
		"buy.bad_username":     "Это не имя пользователя Telegram. Имя состоит из 5–32 латинских букв, цифр или подчёркиваний, например @durov. Попробуйте ещё раз:",
		"buy.not_found":        "пользователь не найден",
		"buy.cannot_receive.s": "@%s не может получить звёзды: %s. Отправьте другое имя:",
		"buy.cannot_receive.p": "@%s не может получить Premium: %s. Отправьте другое имя:",
		"buy.pick_stars":       "⭐ Сколько звёзд для @%s?",
		"buy.pick_months":      "💎 На какой срок Premium для @%s?",
		"buy.ask_amount":       "Отправьте количество звёзд: от %s до %s.",
		"buy.bad_amount":       "Отправьте целое число от %s до %s — количество звёзд. Заказ не создан.",
		"buy.quote": "🧾 <b>Ваш заказ</b>\n\n%s\nЦена: <b>%s</b>\nВаш баланс: %s TON\n\n" +
			"Оплатите с баланса или напрямую переводом TON.",
		"buy.quote_short": "🧾 <b>Ваш заказ</b>\n\n%s\nЦена: <b>%s</b>\nВаш баланс: %s TON — на этот заказ не хватает.\n\n" +
			"Оплатите его напрямую переводом TON из кошелька или сначала пополните баланс.",
		"buy.held":       "🔒 Эта цена действует %d сек.: любая из кнопок спишет ровно её. Потом я сначала покажу актуальную цену и ничего не спишу без подтверждения.",
		"buy.requote":    "⏳ <b>Цена %s TON больше не действует.</b> Ничего не списано. Вот актуальная цена; подтвердите ещё раз, чтобы купить.\n\n",
		"buy.price_gone": "⏳ <b>Эта цена больше не действует.</b> Ничего не списано. Вот актуальная цена; подтвердите ещё раз, чтобы купить.\n\n",
		"buy.insufficient": "⚠️ <b>Недостаточно средств</b>\n\n%s\nЦена: <b>%s</b>\nВаш баланс: %s TON\n\n" +
			"Пополните баланс или оплатите этот заказ напрямую переводом TON.",
		"buy.paid":     "✅ <b>Заказ #%d оплачен</b>\n\n%s\nС баланса списано %s. Доставка началась; я сообщу, когда всё будет готово.",
		"item.stars":   "⭐ %s для @%s",
		"item.premium": "💎 Telegram Premium на %d мес. для @%s",

		"pay.ton": "💎 <b>Заказ #%d: оплата переводом TON</b>\n\n%s\n\n" +
			"Отправьте не меньше <b>%s TON</b>%s на адрес\n<code>%s</code>\nс комментарием (memo):\n<code>%s</code>\n\n" +
			"Оплатите до %s. Можно отправить больше: излишек поступит на ваш баланс. Перевод без комментария, меньше цены или после срока не оплатит заказ — сумма поступит на ваш баланс.\n\n" +
			"У Кошелька в Telegram нет платёжных ссылок: откройте его и скопируйте отсюда адрес, сумму и комментарий (нажмите, чтобы скопировать).\n" +
			"Любой другой кошелёк или компьютер: <code>%s</code>",
		"pay.other_wallet":   "Нажмите на ссылку ton:// в сообщении, чтобы скопировать её, и вставьте в адресную строку браузера: TON-кошелёк откроется с адресом, суммой и комментарием. Или отсканируйте QR-код телефоном.",
		"pay.qr":             "Отсканируйте TON-кошельком: %s TON, комментарий <code>%s</code>",
		"pay.qr_void":        "⛔ Этот QR-код больше не действует. Не платите по нему.",
		"pay.not_yet":        "Оплата пока не видна. Перевод появляется здесь через минуту-две после отправки; оплатите до %s.",
		"pay.done.paid":      "✅ <b>Заказ #%d оплачен</b>\n\n%s\nОплата %s получена. Статус: %s. Я сообщу, когда заказ будет доставлен.",
		"pay.done.expired":   "⌛ <b>Заказ #%d истёк неоплаченным</b>\n\n%s\nОплатить его можно было до %s. Больше за него не платите: если всё же отправите TON, сумма поступит на ваш баланс.",
		"pay.done.cancelled": "✖ <b>Заказ #%d отменён</b>\n\n%s\nНе оплачивайте его: если всё же отправите TON, сумма поступит на ваш баланс.",

		"balance.text": "💰 <b>Баланс: %s TON</b>\n\n" +
			"Чтобы пополнить, отправьте любую сумму TON на адрес\n<code>%s</code>\nс комментарием (memo):\n<code>%s</code>\n" +
			"Этот комментарий закреплён за вами навсегда. Без него платёж не будет зачислен автоматически.\n\nСсылка TON: <code>%s</code>\n\n" +
			"<b>Последние операции</b>\n%s",
		"balance.no_address": "💰 <b>Баланс: %s TON</b>\n\nВаш комментарий для пополнения: <code>%s</code>\n\n<b>Последние операции</b>\n%s",
		"balance.entry":      "%s TON · %s · %s",
		"balance.no_entries": "Операций пока нет.",
		"balance.qr":         "Отсканируйте TON-кошельком для пополнения. Комментарий: <code>%s</code>",

		"ledger.deposit":      "пополнение",
		"ledger.order":        "заказ",
		"ledger.refund":       "возврат",
		"ledger.admin_credit": "начисление",
		"ledger.admin_debit":  "списание",

		"orders.none":      "📦 У вас пока нет заказов.",
		"orders.title":     "📦 <b>Ваши заказы</b>",
		"orders.line":      "#%d · %s · %s · %s TON · %s",
		"orders.cancelled": "Заказ отменён",

		"order.head":         "📦 <b>Заказ #%d</b>\n%s\n\n",
		"order.status":       "Статус: <b>%s</b>\n",
		"order.created":      "Создан: %s\n",
		"order.paid_at":      "Оплачен: %s\n",
		"order.completed_at": "Выполнен: %s\n",
		"order.pay_hint":     "\nОтправьте не меньше <b>%s TON</b> на <code>%s</code> с комментарием <code>%s</code> до %s.\n",

		"method.balance":  "с баланса",
		"method.ton_memo": "перевод TON",

		"status.pending_payment": "ожидает оплаты",
		"status.paid":            "оплачен",
		"status.processing":      "доставляется",
		"status.completed":       "выполнен",
		"status.cancelled":       "отменён",
		"status.expired":         "истёк",
		"status.manual":          "ручная доставка",
		"status.failed":          "не выполнен",
		"status.refunded":        "возвращён",

		"api.intro": "🔑 <b>API для партнёров</b>\n\n" +
			"Для магазинов и разработчиков, которые покупают звёзды и Premium из своего кода по HTTP. " +
			"Чтобы покупать здесь, API не нужен: всё делается кнопками.\n\n" +
			"API-ключ тратит ваш баланс так же, как вы сами, поэтому создавайте его, только когда он действительно понадобится, и храните в секрете. " +
			"API два: API заказов (ключи osk_) и простой API (ключи sk_).\n\n%s",
		"api.base":       "Базовый URL: <code>%s</code>",
		"api.not_public": "⚠️ API этого магазина пока не открыт: снаружи к нему не обратиться. Прежде чем интегрироваться, спросите оператора магазина.",
		"api.status": "🔑 <b>API для партнёров</b>\n\nВаш ключ %s: <code>%s</code>, создан %s.\n" +
			"Полный ключ показывался только один раз; мы храним лишь его хеш. Потеряли — перевыпустите.\n\n" +
			"%s\nКомментарий для пополнения баланса: <code>%s</code>",
		"api.key": "🔑 <b>Ваш новый API-ключ %s</b>\n\n<code>%s</code>\n\n" +
			"⚠️ Ключ показывается только сейчас. Скопируйте его и храните в секрете: с ним тратится ваш баланс. " +
			"Мы храним лишь его хеш; если потеряете — перевыпустите.\n\n" +
			"%s\nКомментарий для пополнения баланса: <code>%s</code> (TON на адрес <code>%s</code>)%s",
		"api.try":        "\n\nПопробуйте:\n<pre>curl -H \"Authorization: Bearer %s\" %s/api/v1/balance</pre>",
		"api.rotate_ask": "🔄 Перевыпустить ключ %s? Текущий ключ сразу перестанет работать, новый будет показан один раз.",
		"api.revoke_ask": "🗑 Отозвать ключ %s? Запросы с ним сразу будут отклоняться.",
		"api.revoked":    "Ваш ключ %s отозван.",

		"note.deposit":      "💰 <b>Пополнение получено</b>: +%s TON.\nВаш баланс: <b>%s TON</b>.",
		"note.admin_credit": "💰 На ваш баланс зачислено +%s TON.\nВаш баланс: <b>%s TON</b>.",
		"note.paid":         "✅ <b>Оплата получена</b> за заказ #%d: %s.\nДоставка началась.",
		"note.completed":    "🎉 <b>Заказ #%d выполнен</b>: %s — доставка завершена.",
		"note.manual":       "⏳ Заказ #%d (%s) наша команда доставит вручную. Это займёт чуть больше времени; от вас ничего не требуется.",
		"note.refunded":     "↩️ Заказ #%d (%s) не удалось доставить. Цена вернулась на ваш баланс: +%s TON.\nВаш баланс: <b>%s TON</b>.",
		"note.expired":      "⌛ Заказ #%d (%s) истёк неоплаченным. Если всё же отправите за него TON, сумма поступит на ваш баланс.",
		"note.hook_off":     "⚠️ Ваш webhook <code>%s</code> не принял ни одной доставки за 3 дня и отключён. Исправьте его, затем включите снова в боте (/api, затем «Вебхуки») или через POST /api/v1/webhooks/{id}/enable, и повторите пропущенное через API (replay).",
	},
}
