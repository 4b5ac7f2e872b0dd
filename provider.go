package main

import (
	"log/slog"

	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/ton"
)

// newProvider builds the fulfillment provider FULFILLMENT names; config has
// checked that fragment has its cookies and wallet. sessions keeps
// Fragment's renewed cookies, sealed with a key derived from the wallet's
// seed.
func newProvider(cfg *config.Config, chain *chainSetup, sessions fulfillment.SessionStore, logger *slog.Logger) (fulfillment.Provider, error) {
	switch cfg.Fulfillment {
	case config.FulfillmentSandbox:
		return fulfillment.Sandbox{}, nil
	case config.FulfillmentFragment:
		if chain.wallet == nil {
			return nil, &config.ValidationError{Var: "TON_WALLET_MNEMONIC", Problem: "must be set when FULFILLMENT=fragment (it pays Fragment)"}
		}
		return fulfillment.NewFragment(fulfillment.FragmentConfig{
			Cookies:   cfg.FragmentCookies,
			Wallet:    chain.wallet,
			Tolerance: cfg.FragmentMargin,
			Sessions:  sessions,
			Logger:    logger,
		}), nil
	}
	return fulfillment.ManualProvider{}, nil
}

// The hot wallet pays Fragment in batches.
var _ fulfillment.BatchWallet = (*ton.Wallet)(nil)
