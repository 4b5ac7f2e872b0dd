// Package bot is the Telegram front door of the shop, for end users
// (buy Stars and Premium, top up, orders, language) and partners (/api
// keys). It is the only package that imports telebot, and it holds no money
// logic: every rule is a call to the shop's Service (see Shop).
//
// Runtime: every Bot API call goes through telebot. Run long-polls with
// its own loop over telebot's getUpdates call, bound to Run's context
// (telebot's Start/Stop and LongPoller are not used: Stop deadlocks unless
// Start has begun, and LongPoller retries errors in a hot loop; see
// telegram.go for what telebot cannot do), and hands each update to a
// per-chat queue:
// the updates of one chat are handled in order, chats in parallel. Each
// handler gets a context with a timeout (ctxOf), recovers from panics, and
// answers its button press. Shop events (HandleEvent) join the same queues,
// so a notification never overtakes the reply it follows.
//
// Webhook mode (Config.WebhookURL, webhookmode.go) replaces polling, so
// that several replicas can serve one bot: Run calls setWebhook with a
// secret_token, and WebhookHandler, mounted by main on the API's server,
// checks that secret on every request and hands each update to the same
// per-chat queues, once per update_id.
//
// Safety: private chats only; the buttons that create orders carry a
// locked quote (shop.LockQuote), so they charge exactly the price they
// show or, once it expired, show the new price and ask again; the quote's
// id is the order's idempotency key; callback data stays
// within 64 bytes; banned users get one short refusal; outbound messages
// go through a limiter (about 30 per second overall, 1 per second per
// chat) that honours 429 retry_after. Multi-step flows keep their state in
// a StateStore for StateTTL, so they survive a restart.
//
// Texts live in en and ru catalogs (i18n.go), rendered in HTML parse mode
// with user data escaped.
package bot
