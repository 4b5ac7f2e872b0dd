// Package shop holds starsbot's domain: users, API keys, orders, the ledger,
// deposits, money and pricing, and the one Service that both front doors (the
// Telegram bot and the partner REST API) call. Every rule about money lives
// here and nowhere else.
//
// The package imports only the standard library. Persistence is reached
// through the Store and Tx interfaces declared in store.go and implemented by
// package store (bbolt).
package shop
