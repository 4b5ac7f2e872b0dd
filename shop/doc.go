// Package shop holds starsbot's domain: users, API keys, orders, the ledger,
// deposits, money and pricing, and the one Service that both front doors (the
// Telegram bot and the partner REST API) call. Every rule about money lives
// here and nowhere else.
//
// Each entity's type and its Service operations share a file:
//
//	service.go    Service, NewService, Subscribe (events: event.go)
//	user.go       users: EnsureUser, SetLanguage, SetBanned, FindUser…
//	pricing.go    the price list: Pricing, SetPricing, SavePricing…
//	quote.go      Quote: what a purchase costs now; LockQuote: that price
//	              held for one user and item (QUOTE_TTL), FindQuote, PurgeQuotes
//	rate.go       the TON/USD rate: Rate, RateSource, StaticRate
//	recipient.go  CheckRecipient
//	order.go      orders: CreateOrder, FindOrder, FindOrders, OrderStats…
//	lifecycle.go  OrderStatus, its transitions table and every status change
//	delivery.go   the fulfillment worker's record: ClaimOrder, SaveDelivery
//	ledger.go     the one place a balance changes: post, AdminCredit,
//	              AdminDebit, Refund
//	deposit.go    incoming transfers: CreditDeposits, AssignDeposit, cursors
//	outbox.go     partner events, written in the change's transaction: record,
//	              Events (the feed), PruneOutbox
//	relay.go      Relay: the other replicas' outbox events published as
//	              Events to this replica's subscribers
//	webhook.go    partner webhook endpoints and deliveries: CreateWebhook…,
//	              FanOutWebhooks, DueWebhooks, RecordWebhookAttempt
//	apikey.go     API keys: IssueKey, RevokeKey, Authenticate
//	referral.go   referral links, the referrer set at creation, the
//	              referral reward posted when a purchase completes
//	partneralert.go  partner-alert preferences, LowBalanceCrossed
//	stats.go, audit.go, session.go, alert.go, payout.go: admin views, the
//	              audit log, the provider's session, alerts, hot-wallet payouts
//	memo.go, text.go, money.go: memos, free-text rules, NanoTON and MicroUSD
//
// The package imports only the standard library. Persistence is reached
// through the Store and Tx interfaces declared in store.go and implemented by
// package store (bbolt). Adapters (the HTTP rate source in package rate, the
// chain watcher, the fulfillment provider) implement the interfaces declared
// here.
package shop
