package main

import (
	"context"
	"fmt"
	"log/slog"

	"starsbot/config"
	"starsbot/pgstore"
	"starsbot/shop"
	"starsbot/store"
)

// appStore is what the program runs on: the bbolt file (store.DB, the
// default) or PostgreSQL (pgstore.DB, DATABASE_URL). Beside shop.Store it
// keeps the bot's chat state and the sandbox's simulated chain.
type appStore interface {
	shop.Store
	Check(ctx context.Context) error
	LoadChatState(ctx context.Context, chatID int64) ([]byte, error)
	SaveChatState(ctx context.Context, chatID int64, data []byte) error
	TakeChatState(ctx context.Context, chatID int64, want []byte) (bool, error)
	AppendSimTransfer(ctx context.Context, account string, t shop.Transfer) (shop.Transfer, bool, error)
	SimTransfers(ctx context.Context, account string, maxLT uint64, limit int) ([]shop.Transfer, error)
	Close() error
}

var (
	_ appStore = (*store.DB)(nil)
	_ appStore = (*pgstore.DB)(nil)
)

// openStore opens the store the configuration names. bolt is the bbolt
// store, for what only bbolt offers (snapshots: the backup socket,
// scheduled and chat backups); nil on PostgreSQL.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger) (db appStore, bolt *store.DB, err error) {
	if cfg.Postgres() {
		pg, err := pgstore.Open(ctx, cfg.DatabaseURL, pgstore.BatchPartitions(cfg.BatchPartitions))
		if err != nil {
			return nil, nil, config.RedactError(fmt.Errorf("open store (DATABASE_URL): %w", err))
		}
		logger.Info("store: PostgreSQL", "database_url", config.RedactURL(cfg.DatabaseURL),
			"note", "the backup socket, scheduled backups and /backup copy the bbolt file and are off: back PostgreSQL up with its own tools")
		return pg, nil, nil
	}
	b, err := store.Open(cfg.DBPath())
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return b, b, nil
}

// storeName is where the store is, for logs: the bbolt file, or the
// PostgreSQL URL without its credentials.
func storeName(cfg *config.Config) string {
	if cfg.Postgres() {
		return config.RedactURL(cfg.DatabaseURL)
	}
	return cfg.DBPath()
}
