// Package config reads starsbot's configuration from environment variables
// and, optionally, from a file of KEY=VALUE lines named by CONFIG_FILE, and
// validates it before anything starts.
//
// The variable names are part of the product (SPEC "Configuration"). Load
// returns the first problem as a *ValidationError whose message is one line
// naming the variable, for example:
//
//	config: TON_NETWORK: must be sandbox, testnet or mainnet (got "foo")
//
// Secrets (TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_SECRET, TON_WALLET_MNEMONIC, FRAGMENT_COOKIES) never appear
// in error messages, in log output (Config is a slog.LogValuer) or in fmt
// output (Config implements fmt.Formatter, fmt.Stringer and fmt.GoStringer).
//
// With an empty environment the configuration is sandbox mode: simulated
// chain, sandbox fulfillment, REST API on 127.0.0.1:8080, bot disabled.
//
// Only package main imports config; every other package receives plain
// values or its own small Config.
package config
