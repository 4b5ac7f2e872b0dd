package main

import (
	"context"
	"fmt"
	"log/slog"

	"starsbot/config"
	"starsbot/ton"
)

// chainSetup is the TON side of the program: the chain the deposit watcher
// reads, the deposit address, and the hot wallet when there is one.
type chainSetup struct {
	ton.Chain
	sim            *ton.SimChain     // sandbox only
	jettons        ton.JettonWallets // get_wallet_address: the liteservers, or the simulated chain
	wallet         *ton.Wallet       // nil without TON_WALLET_MNEMONIC
	depositAddress string
	close          func()
}

func (c *chainSetup) walletAddress() string {
	if c.wallet == nil {
		return "none"
	}
	return c.wallet.Address()
}

// openChain sets up the simulated chain on the sandbox network, or
// connects to the liteservers of testnet or mainnet and opens the hot
// wallet. The deposit address is TON_DEPOSIT_ADDRESS, else the hot
// wallet's, else (sandbox) a fixed simulated one.
func openChain(ctx context.Context, cfg *config.Config, db appStore, logger *slog.Logger) (*chainSetup, error) {
	if cfg.Sandbox() {
		addr := cfg.TONDepositAddress
		if addr == "" {
			addr = sandboxDepositAddress
		}
		sim := ton.NewSimChain(db, addr)
		return &chainSetup{Chain: sim, sim: sim, jettons: sim, depositAddress: addr, close: func() {}}, nil
	}
	if cfg.TONDepositAddress != "" {
		// The checksum, which config does not check.
		if _, err := ton.ParseAddress(cfg.TONDepositAddress); err != nil {
			return nil, &config.ValidationError{Var: "TON_DEPOSIT_ADDRESS", Problem: "is not a valid TON address (bad checksum?)"}
		}
	}
	logger.Info("connecting to liteservers", "config_url", config.RedactURL(cfg.TONConfigURL))
	client, stop, err := ton.Dial(ctx, cfg.TONConfigURL)
	if err != nil {
		return nil, config.RedactError(fmt.Errorf("TON_CONFIG_URL: %w", err))
	}
	lite := &ton.Lite{API: client}
	c := &chainSetup{Chain: lite, jettons: lite, depositAddress: cfg.TONDepositAddress, close: stop}
	if cfg.TONWalletMnemonic != "" {
		w, err := ton.NewWallet(client, ton.WalletConfig{
			Mnemonic: cfg.TONWalletMnemonic,
			Version:  cfg.TONWalletVersion,
			Testnet:  cfg.TONNetwork == config.NetworkTestnet,
		})
		if err != nil {
			stop()
			return nil, &config.ValidationError{Var: "TON_WALLET_MNEMONIC", Problem: err.Error()}
		}
		w.Logger = logger.With("wallet", w.Address())
		c.wallet = w
		if c.depositAddress == "" {
			c.depositAddress = w.Address()
		}
	}
	return c, nil
}
