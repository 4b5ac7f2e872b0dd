// Package ton watches the service wallet for deposits and sends payouts; it
// and its test helper ton/tontest are the only importers of tonutils-go.
//
// Everything else in the program sees the chain through the shop's types
// (shop.Transfer, shop.Cursor, shop.NanoTON), so the TON library, its
// version quirks and its cell formats stay behind this package.
package ton
