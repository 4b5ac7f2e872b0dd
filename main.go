// Command starsbot sells Telegram Stars and Telegram Premium for TON through
// a Telegram bot and a partner REST API. With no configuration it starts in
// sandbox mode: a local bbolt file, a simulated chain and a sandbox
// fulfillment provider. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"starsbot/config"
	"starsbot/shop"
	"starsbot/store"
)

// sandboxDepositAddress is the simulated chain's service wallet: a
// well-formed testnet, non-bounceable address (0Q…) of no real account,
// derived from sha256("starsbot sandbox deposit address").
const sandboxDepositAddress = "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC5"

// maintenanceInterval is how often unpaid orders past their TTL are expired.
const maintenanceInterval = 15 * time.Second

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "starsbot:", err)
		os.Exit(1)
	}
}

// run starts every component and blocks until ctx is cancelled or a signal
// arrives, then stops them and closes the store last. A configuration
// problem is returned as one line naming the variable.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: starsbot is configured by environment variables (see README.md)", args)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	logger.Info("starting", "config", cfg)

	if !cfg.Sandbox() {
		// Deposits on a real network need the chain watcher and outgoing
		// payments need the hot wallet; selling without them would take
		// ton_memo orders that can never be marked paid.
		return &config.ValidationError{Var: "TON_NETWORK", Problem: cfg.TONNetwork + " needs the TON chain watcher, which this build does not include yet; use sandbox"}
	}
	depositAddress := cfg.TONDepositAddress
	if depositAddress == "" {
		depositAddress = sandboxDepositAddress
	}

	db, err := store.Open(cfg.DBPath())
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			logger.Error("close store", "error", err)
		}
	}()

	var rates shop.RateSource = shop.StaticRate{TONUSD: cfg.TONUSDRate, Since: time.Now()}
	if cfg.RateURL != "" {
		rates = &shop.HTTPRate{
			URL:      cfg.RateURL,
			Path:     cfg.RateJSONPath,
			TTL:      cfg.RateTTL,
			Fallback: rates,
			Logger:   logger.With("component", "rate"),
		}
	}
	svc, err := shop.NewService(db, rates, cfg.Pricing, depositAddress)
	if err != nil {
		return fmt.Errorf("pricing: %w", err)
	}
	svc.Logger = logger.With("component", "shop")

	logger.Info("components",
		"network", cfg.TONNetwork,
		"db", cfg.DBPath(),
		"deposit_address", depositAddress,
		"bot", enabled(cfg.TelegramToken != "", "disabled: TELEGRAM_TOKEN is empty"),
		"fulfillment", cfg.Fulfillment+" (worker not included in this build yet)",
		"rate_source", rateSourceName(cfg),
		"api", "not included in this build yet",
	)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.RunMaintenance(ctx, maintenanceInterval) })
	<-ctx.Done()
	logger.Info("stopping")
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	logger.Info("stopped")
	return nil
}

func enabled(on bool, otherwise string) string {
	if on {
		return "configured, not included in this build yet"
	}
	return otherwise
}

func rateSourceName(cfg *config.Config) string {
	if cfg.RateURL != "" {
		return "http, static fallback"
	}
	return "static"
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
