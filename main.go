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

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"starsbot/api"
	"starsbot/bot"
	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/rate"
	"starsbot/shop"
	"starsbot/store"
	"starsbot/ton"
)

// sandboxDepositAddress is the simulated chain's service wallet: a
// well-formed testnet, non-bounceable address (0Q…) of no real account,
// derived from sha256("starsbot sandbox deposit address").
const sandboxDepositAddress = "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC5"

// maintenanceInterval is how often unpaid orders past their TTL are expired.
const maintenanceInterval = 15 * time.Second

// sandboxPartnerID is the Telegram user id of the partner that a pure
// sandbox (no TELEGRAM_TOKEN) creates so that its API can be called at once.
const sandboxPartnerID = 1

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

	db, err := store.Open(cfg.DBPath())
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if err := db.Close(); err != nil {
			logger.Error("close store", "error", err)
		}
	}()

	chain, err := openChain(ctx, cfg, db, logger.With("component", "ton"))
	if err != nil {
		return err
	}
	defer chain.close()

	var rates shop.RateSource = shop.StaticRate{TONUSD: cfg.TONUSDRate, Since: time.Now()}
	if cfg.RateURL != "" {
		rates = &rate.HTTP{
			URL:      cfg.RateURL,
			Path:     cfg.RateJSONPath,
			TTL:      cfg.RateTTL,
			Fallback: rates,
			Logger:   logger.With("component", "rate"),
		}
	}
	svc, err := shop.NewService(db, rates, cfg.Pricing, chain.depositAddress)
	if err != nil {
		return fmt.Errorf("pricing: %w", err)
	}
	svc.Logger = logger.With("component", "shop")
	svc.MinDeposit = cfg.TONMinDeposit
	if saved, err := svc.LoadPricing(ctx); err != nil {
		return fmt.Errorf("saved pricing: %w", err)
	} else if saved {
		logger.Info("an admin's saved price list overrides the configured one")
	}
	metrics := api.NewMetrics()
	svc.Subscribe(metrics.ObserveEvent)

	flog := logger.With("component", "fulfillment")
	provider, err := newProvider(cfg, chain, svc, flog)
	if err != nil {
		return err
	}
	if _, manual := provider.(fulfillment.ManualProvider); !manual {
		svc.Recipients = provider
	}

	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "starsbot_ton_skipped_transactions_total",
		Help: "Transactions of the deposit wallet that were not deposits, by reason.",
	}, []string{"reason"})
	watcher, err := ton.NewWatcher(ton.WatcherConfig{
		Chain:     chain.Chain,
		Shop:      svc,
		Account:   chain.depositAddress,
		Interval:  cfg.TONPollInterval,
		FromStart: chain.sim != nil, // the simulated history starts empty with the database
		Logger:    logger.With("component", "ton"),
		OnSkip:    func(reason string) { skipped.WithLabelValues(reason).Inc() },
	})
	if err != nil {
		return err
	}
	metrics.Registerer().MustRegister(skipped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "starsbot_ton_watcher_lag_seconds",
		Help: "Now minus the time of the block the deposit watcher last read completely.",
	}, func() float64 { lag, _ := watcher.Lag(); return lag.Seconds() }))

	// Alerts go to the admins through the bot, or only to the log
	// without one. The bot shows the worker's health, and the worker
	// alerts through the bot: the bot is made first, and reads the
	// worker's health through closures.
	var worker *fulfillment.Worker
	var notifier fulfillment.Notifier = fulfillment.LogNotifier{Logger: logger.With("component", "alerts")}
	var tg *bot.Bot
	if cfg.TelegramToken != "" {
		bcfg := bot.Config{
			Shop:             svc,
			State:            db,
			Token:            cfg.TelegramToken,
			APIURL:           cfg.TelegramAPIURL,
			PublicURL:        cfg.PublicURL,
			DepositAddress:   chain.depositAddress,
			Logger:           logger.With("component", "bot"),
			Admins:           cfg.AdminIDs,
			WatcherLag:       watcher.Lag,
			ProviderHealth:   func() (bool, string) { return worker.Health() },
			ProviderNotice:   func() string { return worker.Notice() },
			Backup:           db.WriteTo,
			BackupDir:        cfg.DataDir, // writable wherever the database is, also on a read-only root
			DefaultPricing:   cfg.Pricing,
			AlertBatchWindow: cfg.AlertBatchWindow,
		}
		if chain.wallet != nil {
			bcfg.WalletBalance = chain.wallet.Balance
		}
		if tg, err = bot.New(bcfg); err != nil {
			return err
		}
		notifier = tg
		if len(cfg.AdminIDs) == 0 {
			logger.Warn("ADMIN_IDS is empty: nobody can run the admin commands, and alerts only reach this log")
		}
	}
	worker, err = fulfillment.NewWorker(fulfillment.WorkerConfig{
		Shop:        svc,
		Provider:    provider,
		Name:        cfg.Fulfillment,
		Notifier:    notifier,
		MaxAttempts: int(cfg.FulfillmentMaxAttempts),
		Logger:      flog,
	})
	if err != nil {
		return err
	}
	svc.Subscribe(func(e shop.Event) {
		if e.Type == shop.EventOrderPaid {
			worker.Poke()
		}
	})
	if tg != nil {
		svc.Subscribe(tg.HandleEvent)
	}

	scfg := api.ServerConfig{
		Shop:         svc,
		Addr:         cfg.HTTPAddr,
		TopUpAddress: chain.depositAddress,
		Metrics:      metrics,
		RateLimit:    cfg.APIRateLimit,
		RateBurst:    int(cfg.APIRateBurst),
		Logger:       logger.With("component", "api"),
		Probes: map[string]api.Probe{
			"store":    api.StoreProbe(db),
			"bot":      api.StaticProbe(botComponent(cfg)),
			"provider": providerProbe(cfg.Fulfillment, worker),
			"chain":    chainProbe(watcher),
		},
	}
	if chain.sim != nil {
		chain.sim.OnAppend = watcher.Poke
		scfg.Sandbox = chain.sim
	}
	srv, err := api.NewServer(scfg)
	if err != nil {
		return err
	}
	lagAlarm, err := ton.NewLagAlarm(ton.LagAlarmConfig{
		Watcher: watcher,
		Max:     cfg.TONWatcherLagAlert,
		Alert:   notifier.Alert,
		Logger:  logger.With("component", "ton"),
	})
	if err != nil {
		return err
	}

	logger.Info("components",
		"network", cfg.TONNetwork,
		"db", cfg.DBPath(),
		"deposit_address", chain.depositAddress,
		"hot_wallet", chain.walletAddress(),
		"api", cfg.HTTPAddr,
		"bot", botComponent(cfg).Detail,
		"fulfillment", cfg.Fulfillment,
		"rate_source", rateSourceName(cfg),
	)
	if cfg.Sandbox() && cfg.TelegramToken == "" {
		if err := printSandboxPartner(ctx, svc, cfg.PublicURL, stdout); err != nil {
			return fmt.Errorf("sandbox partner: %w", err)
		}
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.RunMaintenance(ctx, maintenanceInterval) })
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return watcher.Run(ctx) })
	g.Go(func() error { return worker.Run(ctx) })
	g.Go(func() error { return lagAlarm.Run(ctx) })
	if tg != nil {
		g.Go(func() error { return tg.Run(ctx) })
	}
	if chain.wallet != nil && cfg.TONWalletLowBalance > 0 {
		alarm, err := fulfillment.NewBalanceAlarm(fulfillment.BalanceAlarmConfig{Wallet: chain.wallet, Threshold: cfg.TONWalletLowBalance, Notifier: notifier, Logger: flog})
		if err != nil {
			return err
		}
		g.Go(func() error { return alarm.Run(ctx) })
	}
	<-ctx.Done()
	logger.Info("stopping")
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// providerProbe reports whether the fulfillment provider works.
func providerProbe(name string, w *fulfillment.Worker) api.Probe {
	return func(context.Context) api.Component {
		if ok, reason := w.Health(); !ok {
			return api.Component{Status: api.ComponentDegraded, Detail: name + " paused: " + reason}
		}
		if n := w.Notice(); n != "" {
			return api.Component{Status: api.ComponentOK, Detail: name + "; note: " + n}
		}
		return api.Component{Status: api.ComponentOK, Detail: name}
	}
}

// maxWatcherLag is the lag above which /health calls the chain degraded.
const maxWatcherLag = time.Minute

// chainProbe reports the deposit watcher's lag.
func chainProbe(w *ton.Watcher) api.Probe {
	return func(context.Context) api.Component {
		lag, ok := w.Lag()
		if !ok {
			return api.Component{Status: api.ComponentDegraded, Detail: "the deposit watcher has not completed a poll yet"}
		}
		secs := lag.Round(time.Second).Seconds()
		c := api.Component{Status: api.ComponentOK, LagSeconds: &secs}
		if lag > maxWatcherLag {
			c.Status, c.Detail = api.ComponentDegraded, "the deposit watcher is behind the chain"
		}
		return c
	}
}

func botComponent(cfg *config.Config) api.Component {
	if cfg.TelegramToken == "" {
		return api.Component{Status: api.ComponentDisabled, Detail: "disabled: TELEGRAM_TOKEN is empty"}
	}
	return api.Component{Status: api.ComponentOK, Detail: "enabled: long polling " + cfg.TelegramAPIURL}
}

// printSandboxPartner creates the sandbox partner if needed, issues it a
// fresh key of each dialect (revoking the previous ones: only hashes are
// stored, so old keys cannot be shown again) and prints them with ready
// commands. The keys go to stdout, never to the log.
func printSandboxPartner(ctx context.Context, svc *shop.Service, baseURL string, w io.Writer) error {
	u, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: sandboxPartnerID, Username: "sandbox_partner", LanguageCode: "en"})
	if err != nil {
		return err
	}
	osk, _, err := svc.IssueKey(ctx, u.ID, shop.KeyPrefixOrders)
	if err != nil {
		return err
	}
	sk, _, err := svc.IssueKey(ctx, u.ID, shop.KeyPrefixSimple)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, `
Sandbox partner ready (no real money). New API keys, issued at every start:
  orders API (osk_): %[1]s
  simple API (sk_):  %[2]s
Balance %[3]s TON, top-up memo %[4]s. Try:
  curl -s %[5]s/sandbox/v1/deposits -d '{"memo":"%[4]s","amount_ton":"10"}'
  curl -s %[5]s/api/v1/balance -H "Authorization: Bearer %[1]s"
  curl -s %[5]s/api/v1/orders/stars -H "Authorization: Bearer %[1]s" -H "Idempotency-Key: $(uuidgen)" \
    -d '{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}'

`, osk, sk, u.Balance, u.Memo, baseURL)
	return err
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
