// Command starsbot sells Telegram Stars and Telegram Premium for TON through
// a Telegram bot and a partner REST API. With no configuration it starts in
// sandbox mode: a local bbolt file, a simulated chain and a sandbox
// fulfillment provider. See README.md.
//
// main.go starts and stops the program; wire.go builds and connects its
// components; chain.go sets up the TON side, provider.go the fulfillment
// provider, probe.go the health probes and sandbox.go the sandbox partner;
// commands.go holds the backup, restore and check commands, and adminsock.go
// the service's backup socket they use.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"starsbot/config"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "starsbot:", err)
		os.Exit(1)
	}
}

// run starts every component and blocks until ctx is cancelled or a signal
// arrives, then stops them and closes the store last. A configuration
// problem is returned as one line naming the variable. Credentials in URLs
// are redacted from the error and from every log line (config.RedactURL).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	defer func() { err = config.RedactError(err) }()
	if len(args) > 0 {
		return runCommand(ctx, args, getenv, stdout, stderr) // commands.go
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	logger.Info("starting", "config", cfg)

	db, bolt, err := openStore(ctx, cfg, logger) // stores.go
	if err != nil {
		return err
	}
	defer func() {
		if err := db.Close(); err != nil {
			logger.Error("close store", "error", err)
		}
	}()
	if bolt != nil { // the backup socket serves bbolt snapshots
		defer startAdmin(cfg.DataDir, bolt, logger.With("component", "backup"))() // adminsock.go
	}

	chain, err := openChain(ctx, cfg, db, logger.With("component", "ton"))
	if err != nil {
		return err
	}
	defer chain.close()

	a, err := wire(ctx, cfg, db, bolt, chain, logger)
	if err != nil {
		return err
	}
	if cfg.Sandbox() && cfg.TelegramToken == "" {
		if err := printSandboxPartner(ctx, a.svc, cfg.PublicURL, stdout); err != nil {
			return fmt.Errorf("sandbox partner: %w", err)
		}
	}
	return a.run(ctx)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: config.RedactAttr}
	if cfg.LogFormat == config.LogFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
