package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"starsbot/api"
	"starsbot/backup"
	"starsbot/bot"
	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/pgstore"
	"starsbot/rate"
	"starsbot/shop"
	"starsbot/store"
	"starsbot/ton"
	"starsbot/webhook"
)

// maintenanceInterval is how often unpaid orders past their TTL are expired.
const maintenanceInterval = 15 * time.Second

// app is the program's components, wired together by wire and run by run.
type app struct {
	logger       *slog.Logger
	svc          *shop.Service
	srv          *api.Server
	watcher      *ton.Watcher
	worker       *fulfillment.Worker
	lagAlarm     *ton.LagAlarm
	bot          *bot.Bot                  // nil without TELEGRAM_TOKEN
	balanceAlarm *fulfillment.BalanceAlarm // nil without a hot wallet or TON_WALLET_LOW_BALANCE
	webhooks     *webhook.Dispatcher
	backups      *backup.Scheduler // nil without BACKUP_INTERVAL
	// leader elects the replica that runs the singletons: a
	// pgstore.Elector on PostgreSQL (elector, run on every replica),
	// alwaysLeader on bbolt (elector nil).
	leader  leadership
	elector *pgstore.Elector
	// replicas counts the replicas on PostgreSQL, whose API servers share
	// the per-key rate limit; nil on bbolt.
	replicas   *pgstore.Replicas
	botWebhook bool // the bot takes updates by webhook: every replica serves it
	// On PostgreSQL, every replica runs a relay (the other replicas'
	// outbox events to this one's subscribers), woken by the listener;
	// both nil on bbolt.
	relay    *shop.Relay
	listener *pgstore.Listener
	// sessionLocks holds, on PostgreSQL, the Fragment sessions this
	// replica prepares with (one replica per session); nil otherwise.
	sessionLocks *pgstore.SessionLocks
	// notifier tells buyers about the outbox's events through the bot, on
	// the leader; nil without a bot.
	notifier *shop.Notifier
}

// wire builds every component over the open store and chain and connects
// them: events to the worker and the bot, alerts to the admins, metrics
// and health probes to the API. It starts nothing.
func wire(ctx context.Context, cfg *config.Config, db appStore, bolt *store.DB, chain *chainSetup, logger *slog.Logger) (*app, error) {
	a := &app{logger: logger, leader: alwaysLeader{}, botWebhook: cfg.TelegramWebhookURL != ""}
	if cfg.Postgres() {
		el, err := pgstore.NewElector(cfg.DatabaseURL, cfg.LeaderTTL, logger.With("component", "leader"))
		if err != nil {
			return nil, err
		}
		a.leader, a.elector = el, el
	}
	svc, err := newShop(ctx, cfg, db, chain, logger)
	if err != nil {
		return nil, err
	}
	a.svc = svc
	if cfg.Postgres() {
		if err := a.newRelay(ctx, cfg, logger.With("component", "relay")); err != nil {
			return nil, err
		}
	}
	metrics := api.NewMetrics()
	svc.Subscribe(func(e shop.Event) {
		if !e.Remote { // counted where it happened
			metrics.ObserveEvent(e)
		}
	})

	flog := logger.With("component", "fulfillment")
	provider, err := newProvider(cfg, chain, func(i int) fulfillment.SessionStore { return svc.FragmentSession(i) }, flog)
	if err != nil {
		return nil, err
	}
	if _, manual := provider.(fulfillment.ManualProvider); !manual {
		svc.Recipients = provider
	}

	if a.watcher, err = newWatcher(cfg, chain, svc, metrics, logger.With("component", "ton")); err != nil {
		return nil, err
	}

	// Alerts go to the admins through the bot, or only to the log
	// without one. The bot shows the worker's health, and the worker
	// alerts through the bot: the bot is made first, and reads the
	// worker's health through closures.
	var notifier fulfillment.Notifier = fulfillment.LogNotifier{Logger: logger.With("component", "alerts")}
	if cfg.TelegramToken != "" {
		if a.bot, err = newBot(cfg, db, bolt, chain, a, logger.With("component", "bot")); err != nil {
			return nil, err
		}
		notifier = a.bot
		if len(cfg.AdminIDs) == 0 {
			logger.Warn("ADMIN_IDS is empty: nobody can run the admin commands, and alerts only reach this log")
		}
	}
	if pool, ok := provider.(*fulfillment.FragmentPool); ok {
		pool.OnSessionDown = func(ctx context.Context, reason string) {
			notifier.Alert(ctx, shop.Alert{Kind: shop.AlertSessionDown, Message: reason})
		}
		if cfg.Postgres() {
			// Each replica prepares with its fair share of the sessions.
			if a.sessionLocks, err = pgstore.NewSessionLocks(cfg.DatabaseURL, pool.SessionIDs(), cfg.LeaderTTL, flog); err != nil {
				return nil, err
			}
			a.sessionLocks.Share = func() int {
				n := 1
				if a.replicas != nil {
					n = max(a.replicas.Count(), 1)
				}
				return (pool.Sessions() + n - 1) / n
			}
			pool.SetLocks(a.sessionLocks)
		}
	}
	if a.backups, err = newBackups(ctx, cfg, bolt, notifier, nil, logger.With("component", "backup")); err != nil { // backups.go
		return nil, err
	}
	if a.backups != nil {
		metrics.Registerer().MustRegister(backupMetrics(a.backups)...)
	}
	batchSize := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "starsbot_fulfillment_batch_size",
		Help:    "Orders paid by one hot-wallet message.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 255},
	})
	deliverySeconds := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "starsbot_fulfillment_delivery_seconds",
		Help:    "Time from an order's payment to its completion by the worker.",
		Buckets: []float64{1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 600, 1800, 3600},
	})
	a.worker, err = fulfillment.NewWorker(fulfillment.WorkerConfig{
		Shop:        svc,
		Provider:    provider,
		Name:        cfg.Fulfillment,
		Notifier:    notifier,
		MaxAttempts: int(cfg.FulfillmentMaxAttempts),
		Concurrency: concurrency(cfg),
		OnBatch:     func(n int) { batchSize.Observe(float64(n)) },
		OnDelivered: func(d time.Duration) { deliverySeconds.Observe(d.Seconds()) },
		Replica:     svc.Replica, // on PostgreSQL: every replica prepares, the leader pays
		Logger:      flog,
	})
	if err != nil {
		return nil, err
	}
	metrics.Registerer().MustRegister(batchSize, deliverySeconds, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "starsbot_fulfillment_queue_depth",
		Help: "Paid orders waiting on the fulfillment queue, as of the worker's last scan.",
	}, func() float64 { n, _ := a.worker.QueueStats(); return float64(n) }))
	svc.Subscribe(func(e shop.Event) {
		if e.Type == shop.EventOrderPaid {
			a.worker.Poke()
		}
	})
	if a.bot != nil {
		if a.notifier, err = shop.NewNotifier(shop.NotifierConfig{Shop: svc, Teller: a.bot, Logger: logger.With("component", "notifier")}); err != nil {
			return nil, err
		}
		// Woken by this replica's commits and, through the relay (woken by
		// the listener), by the other replicas'.
		svc.Subscribe(func(shop.Event) { a.notifier.Poke() })
		svc.Subscribe(a.notifyBuyers)
	}
	if a.webhooks, err = newWebhooks(svc, metrics, logger.With("component", "webhook")); err != nil {
		return nil, err
	}

	scfg := api.ServerConfig{
		Shop:      svc,
		Addr:      cfg.HTTPAddr,
		Metrics:   metrics,
		RateLimit: cfg.APIRateLimit,
		RateBurst: int(cfg.APIRateBurst),
		Logger:    logger.With("component", "api"),
		Probes: map[string]api.Probe{
			"store":    api.StoreProbe(db),
			"bot":      a.leaderOnly(newBotProbe(cfg, a.bot), cfg.TelegramWebhookURL == "", "long polling runs on the leader replica"),
			"provider": a.leaderOnly(providerProbe(cfg.Fulfillment, a.worker), true, "the fulfillment worker runs on the leader replica"),
			"chain":    a.leaderOnly(chainProbe(a.watcher), true, "the deposit watcher runs on the leader replica"),
			"backup":   backupProbe(a.backups, time.Now),
		},
	}
	if a.bot != nil && a.bot.WebhookURL != "" {
		// Telegram's webhook requests reach the bot on the API's server,
		// outside its routes: the handler checks its own secret header.
		scfg.Mounts = map[string]http.Handler{a.bot.WebhookPath(): a.bot.WebhookHandler()}
	}
	if chain.sim != nil {
		chain.sim.OnAppend = a.watcher.Poke
		scfg.Sandbox = sandboxChain{SimChain: chain.sim, usdtMaster: cfg.USDTMaster}
	}
	if a.srv, err = api.NewServer(scfg); err != nil {
		return nil, err
	}
	if pg, ok := db.(*pgstore.DB); ok {
		if a.replicas, err = pgstore.NewReplicas(pg, cfg.LeaderTTL, logger.With("component", "replicas")); err != nil {
			return nil, err
		}
		alog := logger.With("component", "api")
		a.replicas.OnChange = func(n int) {
			a.srv.SetReplicas(n)
			perSecond, burst := a.srv.KeyLimit()
			alog.Info("per-key rate limit: this replica's share", "replicas", n, "rate_per_second", perSecond, "burst", burst)
		}
	}
	a.lagAlarm, err = ton.NewLagAlarm(ton.LagAlarmConfig{
		Watcher: a.watcher,
		Max:     cfg.TONWatcherLagAlert,
		Alert:   notifier.Alert,
		Logger:  logger.With("component", "ton"),
	})
	if err != nil {
		return nil, err
	}
	if chain.wallet != nil && cfg.TONWalletLowBalance > 0 {
		a.balanceAlarm, err = fulfillment.NewBalanceAlarm(fulfillment.BalanceAlarmConfig{Wallet: chain.wallet, Threshold: cfg.TONWalletLowBalance, Notifier: notifier, Logger: flog})
		if err != nil {
			return nil, err
		}
	}

	logger.Info("components",
		"network", cfg.TONNetwork,
		"db", storeName(cfg),
		"deposit_address", chain.depositAddress,
		"hot_wallet", chain.walletAddress(),
		"api", cfg.HTTPAddr,
		"bot", botComponent(cfg).Detail,
		"fulfillment", cfg.Fulfillment,
		"rate_source", rateSourceName(cfg),
	)
	return a, nil
}

// run runs every component until ctx is done or one fails, and waits for
// all of them to stop.
func (a *app) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	// Every replica serves the API (and, in webhook mode, the bot's
	// webhook), prepares orders for delivery and campaigns. The singletons
	// run only on the leader: one deposit watcher, one fulfillment payer
	// (the wallet's seqno), one sweeper, one
	// webhook dispatcher (no delivery sent twice), one of each alarm, one
	// getUpdates poller. On bbolt the one process always leads.
	//
	// The elector steps down only after the singletons have stopped, so
	// that on a clean stop the next leader starts where they ended (the
	// notifier's cursor saved, nothing told twice); it keeps its lock
	// until then (at most the notifier's grace), as it would have had if
	// the singletons had been slower to see ctx end.
	var singletons sync.WaitGroup
	ectx, stopElector := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElector()
	if a.elector != nil {
		g.Go(func() error { return a.elector.Run(ectx) })
	}
	if a.replicas != nil {
		g.Go(func() error { return a.replicas.Run(ctx) })
	}
	if a.relay != nil {
		g.Go(func() error { return a.listener.Run(ctx) })
		g.Go(func() error { return a.relay.Run(ctx) })
	}
	g.Go(func() error { return a.srv.Run(ctx) })
	lead := func(name string, fn func(context.Context) error) {
		singletons.Add(1)
		g.Go(func() error {
			defer singletons.Done()
			return runWhileLeader(ctx, a.leader, a.logger, name, fn)
		})
	}
	lead("maintenance", func(ctx context.Context) error { return a.svc.RunMaintenance(ctx, maintenanceInterval) })
	lead("deposit watcher", a.watcher.Run)
	if a.worker.Replica != "" {
		// Several replicas: every one prepares orders, with the Fragment
		// sessions it holds; the leader pays them (one wallet, one seqno).
		if a.sessionLocks != nil {
			g.Go(func() error { return a.sessionLocks.Run(ctx) })
		}
		g.Go(func() error { return a.worker.Run(ctx) })
		lead("fulfillment worker", a.worker.Pay) // the payer; named as on bbolt
	} else {
		lead("fulfillment worker", a.worker.Run)
	}
	lead("watcher lag alarm", a.lagAlarm.Run)
	lead("webhook dispatcher", a.webhooks.Run)
	if a.notifier != nil {
		lead("buyer notifier", a.notifier.Run)
	}
	if a.bot != nil {
		// Every replica runs the bot: in webhook mode each answers the
		// updates Telegram posts to it; in long-polling mode only the
		// leader polls (bot.Config.PollGate), stopping when it loses
		// leadership and starting again when it regains it.
		g.Go(func() error { return a.bot.Run(ctx) })
	}
	if a.balanceAlarm != nil {
		lead("wallet balance alarm", a.balanceAlarm.Run)
	}
	if a.backups != nil {
		g.Go(func() error { return a.backups.Run(ctx) })
	}
	g.Go(func() error {
		<-ctx.Done()
		singletons.Wait()
		stopElector()
		return nil
	})
	<-ctx.Done()
	a.logger.Info("stopping")
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	a.logger.Info("stopped")
	return nil
}

// newRelay names this replica (svc.Replica, stamped on its outbox
// events) and makes the relay that brings it the other replicas' events,
// woken by a listener on the outbox channel and placed at the outbox's
// end now, before this replica takes any request.
func (a *app) newRelay(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	a.svc.Replica = shop.NewReplicaID()
	l, err := pgstore.NewListener(cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	r, err := shop.NewRelay(shop.RelayConfig{Shop: a.svc, Wake: l.C(), Logger: logger})
	if err != nil {
		return err
	}
	if err := r.Seek(ctx); err != nil {
		return fmt.Errorf("relay: %w", config.RedactError(err))
	}
	logger.Info("relay: this replica publishes the other replicas' events", "replica", a.svc.Replica)
	a.relay, a.listener = r, l
	return nil
}

// notifyBuyers hands the bot, while this replica leads, the events that
// have no outbox event (shop.InOutbox): unmatched deposits (the admins'
// alert) and webhook alerts, which only the leader's singletons (the
// deposit watcher, the webhook dispatcher) emit, so that they are told
// once; they are lost if the leader dies before the bot sends them. Every
// other event reaches the bot from the outbox, through the notifier.
func (a *app) notifyBuyers(e shop.Event) {
	if shop.InOutbox(e.Type) || (a.elector != nil && !a.elector.Leader()) {
		return
	}
	a.bot.HandleEvent(e)
}

// newShop makes the service with its rate source and loads the price list
// an admin saved, if any.
func newShop(ctx context.Context, cfg *config.Config, db appStore, chain *chainSetup, logger *slog.Logger) (*shop.Service, error) {
	var rates shop.RateSource = shop.StaticRate{TONUSD: cfg.TONUSDRate, Since: time.Now()}
	if cfg.RateURL != "" {
		h, err := rate.NewHTTP(rate.HTTPConfig{
			URL:      cfg.RateURL,
			Path:     cfg.RateJSONPath,
			TTL:      cfg.RateTTL,
			Fallback: rates,
			Logger:   logger.With("component", "rate"),
		})
		if err != nil {
			return nil, err
		}
		rates = h
	}
	svc, err := shop.NewService(db, rates, cfg.Pricing, chain.depositAddress)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	svc.Logger = logger.With("component", "shop")
	svc.MinDeposit = cfg.TONMinDeposit
	svc.USDT = cfg.USDT
	svc.QuoteTTL = cfg.QuoteTTL
	svc.PriceStep = cfg.PriceStep
	svc.WebhookHTTPSOnly = cfg.TONNetwork == config.NetworkMainnet
	svc.WebhookAllowPrivate = cfg.WebhookAllowPrivate
	svc.ReferralPPM = cfg.ReferralPPM
	if saved, err := svc.LoadPricing(ctx); err != nil {
		return nil, fmt.Errorf("saved pricing: %w", err)
	} else if saved {
		logger.Info("an admin's saved price list overrides the configured one")
	}
	return svc, nil
}

// concurrency is how many orders the worker works on at once: the
// configured FRAGMENT_CONCURRENCY for fragment.com, one for the others.
func concurrency(cfg *config.Config) int {
	if cfg.Fulfillment == config.FulfillmentFragment {
		return int(cfg.FragmentConcurrency)
	}
	return 1
}

// newWatcher makes the deposit watcher and registers its metrics.
func newWatcher(cfg *config.Config, chain *chainSetup, svc *shop.Service, metrics *api.Metrics, logger *slog.Logger) (*ton.Watcher, error) {
	skipped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "starsbot_ton_skipped_transactions_total",
		Help: "Transactions of the deposit wallet that were not deposits, by reason.",
	}, []string{"reason"})
	watcher, err := ton.NewWatcher(ton.WatcherConfig{
		Chain:     chain.Chain,
		Shop:      svc,
		Account:   svc.DepositAddress(),
		Interval:  cfg.TONPollInterval,
		FromStart: chain.sim != nil, // the simulated history starts empty with the database
		Logger:    logger,
		OnSkip:    func(reason string) { skipped.WithLabelValues(reason).Inc() },
		// USDT: the liteservers (or the simulated chain) answer the
		// master's get_wallet_address for the deposit address.
		USDTMaster: cfg.USDTMaster,
		Jettons:    chain.jettons,
	})
	if err != nil {
		return nil, err
	}
	metrics.Registerer().MustRegister(skipped, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "starsbot_ton_watcher_lag_seconds",
		Help: "Now minus the time of the block the deposit watcher last read completely.",
	}, func() float64 { lag, _ := watcher.Lag(); return lag.Seconds() }))
	return watcher, nil
}

// newBot makes the Telegram bot. It reads a.worker, which wire makes
// after the bot, only when an admin asks for the provider's health.
func newBot(cfg *config.Config, db appStore, bolt *store.DB, chain *chainSetup, a *app, logger *slog.Logger) (*bot.Bot, error) {
	bcfg := bot.Config{
		USDTMaster:       cfg.USDTMaster,
		Shop:             a.svc,
		State:            db,
		Token:            cfg.TelegramToken,
		APIURL:           cfg.TelegramAPIURL,
		WebhookURL:       cfg.TelegramWebhookURL,
		PollGate:         pollGate(a),
		WebhookSecret:    cfg.TelegramWebhookSecret,
		PublicURL:        cfg.PublicURL,
		Logger:           logger,
		Admins:           cfg.AdminIDs,
		WatcherLag:       a.watcher.Lag,
		ProviderHealth:   func() (bool, string) { return a.worker.Health() },
		ProviderNotice:   func() string { return a.worker.Notice() },
		ProviderQueue:    func() (int, time.Duration) { return a.worker.QueueStats() },
		BackupDir:        cfg.DataDir, // writable wherever the database is, also on a read-only root
		ScheduledBackup:  func() bot.ScheduledBackup { return scheduledBackup(a.backups)() },
		DefaultPricing:   cfg.Pricing,
		AlertBatchWindow: cfg.AlertBatchWindow,
		SupportContact:   cfg.SupportContact,
	}
	switch cfg.TONNetwork {
	case config.NetworkMainnet:
		bcfg.Explorer = bot.ExplorerMainnet
	case config.NetworkTestnet:
		bcfg.Explorer = bot.ExplorerTestnet
	}
	if chain.wallet != nil {
		bcfg.WalletBalance = chain.wallet.Balance
		if lite, ok := chain.jettons.(*ton.Lite); ok && cfg.USDTMaster != "" {
			hot := chain.wallet.Address()
			bcfg.WalletUSDT = func(ctx context.Context) (int64, error) { return lite.JettonBalance(ctx, cfg.USDTMaster, hot) }
		}
	}
	var err error
	if bcfg.Backup, bcfg.BackupRecipients, err = chatBackup(cfg, bolt); err != nil { // backups.go
		return nil, err
	}
	return bot.New(bcfg)
}

func rateSourceName(cfg *config.Config) string {
	if cfg.RateURL != "" {
		return "http, static fallback"
	}
	return "static"
}

// newBotProbe is the bot's health probe; b is nil without a token.
func newBotProbe(cfg *config.Config, b *bot.Bot) api.Probe {
	if b == nil {
		return botProbe(cfg, nil, 0, time.Now)
	}
	if _, webhook := b.Webhook(); webhook {
		return webhookProbe(cfg, b, time.Now)
	}
	return botProbe(cfg, b, b.PollTimeout+pollSlack, time.Now)
}

// newWebhooks makes the partner webhook dispatcher, rendering bodies with
// the API's views, counting attempts in /metrics, and woken by every shop
// event (each follows an outbox write).
func newWebhooks(svc *shop.Service, metrics *api.Metrics, logger *slog.Logger) (*webhook.Dispatcher, error) {
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "starsbot_webhook_attempts_total",
		Help: "Webhook delivery attempts by outcome: delivered (2xx), retry (failed, tried again later), failed (the last retry failed).",
	}, []string{"outcome"})
	for _, o := range []string{webhook.OutcomeDelivered, webhook.OutcomeRetry, webhook.OutcomeFailed} {
		attempts.WithLabelValues(o)
	}
	metrics.Registerer().MustRegister(attempts)
	d, err := webhook.New(webhook.Config{
		Shop:      svc,
		Render:    api.WebhookBody,
		OnAttempt: func(outcome string) { attempts.WithLabelValues(outcome).Inc() },
		Logger:    logger,
	})
	if err != nil {
		return nil, err
	}
	svc.Subscribe(func(shop.Event) { d.Poke() })
	return d, nil
}

// pollGate is the bot's PollGate: with replicas, only the leader polls;
// nil on bbolt, whose one process always polls.
func pollGate(a *app) func(context.Context) (context.Context, error) {
	if a.elector == nil {
		return nil
	}
	return a.leader.Wait
}
