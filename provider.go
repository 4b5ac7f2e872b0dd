package main

import (
	"log/slog"

	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/ton"
)

// newProvider builds the fulfillment provider FULFILLMENT names; config has
// checked that fragment has its cookies and wallet. sessions keeps each
// Fragment session's renewed cookies, sealed with a key derived from the
// wallet's seed. Several lines of FRAGMENT_COOKIES make a pool, one
// Fragment per session (fulfillment.FragmentPool).
func newProvider(cfg *config.Config, chain *chainSetup, sessions func(i int) fulfillment.SessionStore, logger *slog.Logger) (fulfillment.Provider, error) {
	switch cfg.Fulfillment {
	case config.FulfillmentSandbox:
		return fulfillment.Sandbox{}, nil
	case config.FulfillmentFragment:
		if chain.wallet == nil {
			return nil, &config.ValidationError{Var: "TON_WALLET_MNEMONIC", Problem: "must be set when FULFILLMENT=fragment (it pays Fragment)"}
		}
		lines := cfg.FragmentSessions()
		members := make([]*fulfillment.Fragment, len(lines))
		for i, line := range lines {
			log := logger
			if len(lines) > 1 {
				log = logger.With("fragment_session", i+1)
			}
			members[i] = fulfillment.NewFragment(fulfillment.FragmentConfig{
				Cookies:   line,
				Wallet:    chain.wallet,
				Tolerance: cfg.FragmentMargin,
				Sessions:  sessions(i),
				Logger:    log,
			})
		}
		// With several replicas (PostgreSQL) even one session is a pool:
		// the pool holds each session on one replica at a time
		// (FragmentPool.SetLocks, wire).
		if len(members) == 1 && !cfg.Postgres() {
			return members[0], nil
		}
		return fulfillment.NewFragmentPool(members...)
	}
	return fulfillment.ManualProvider{}, nil
}

// The hot wallet pays Fragment in batches.
var _ fulfillment.BatchWallet = (*ton.Wallet)(nil)
