package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"starsbot/shop"
)

// DefaultBalanceInterval is how often BalanceAlarm reads the balance.
const DefaultBalanceInterval = 5 * time.Minute

// BalanceAlarmConfig is what NewBalanceAlarm needs; zero optional fields
// take their defaults.
type BalanceAlarmConfig struct {
	Wallet interface {
		Balance(context.Context) (shop.NanoTON, error)
	} // required
	Threshold shop.NanoTON  // required, > 0
	Interval  time.Duration // default DefaultBalanceInterval
	Notifier  Notifier      // default LogNotifier
	Logger    *slog.Logger  // default slog.Default()
}

// BalanceAlarm alerts admins when the hot wallet's balance falls below
// Threshold: once when it crosses, again only after it rose back above
// and fell again.
type BalanceAlarm struct {
	BalanceAlarmConfig // as NewBalanceAlarm completed it; read-only

	low bool
}

// NewBalanceAlarm returns an alarm over cfg.Wallet. It fails if Wallet is
// missing or Threshold is not positive.
func NewBalanceAlarm(cfg BalanceAlarmConfig) (*BalanceAlarm, error) {
	if cfg.Wallet == nil || cfg.Threshold <= 0 {
		return nil, errors.New("fulfillment: BalanceAlarm needs a Wallet and a Threshold > 0")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultBalanceInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notifier == nil {
		cfg.Notifier = LogNotifier{Logger: cfg.Logger}
	}
	return &BalanceAlarm{BalanceAlarmConfig: cfg}, nil
}

// Run checks the balance every Interval until ctx is done.
func (a *BalanceAlarm) Run(ctx context.Context) error {
	for {
		if err := a.Check(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Warn("hot wallet balance unknown", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.Interval):
		}
	}
}

// Check reads the balance once and alerts if it just fell below the
// threshold.
func (a *BalanceAlarm) Check(ctx context.Context) error {
	b, err := a.Wallet.Balance(ctx)
	if err != nil {
		return err
	}
	switch {
	case b < a.Threshold && !a.low:
		a.low = true
		a.Notifier.Alert(ctx, shop.Alert{
			Kind:    shop.AlertWalletLow,
			Amount:  b,
			Message: fmt.Sprintf("The hot wallet has %s TON, below the %s TON threshold: top it up or Fragment payments will fail.", b, a.Threshold),
		})
	case b >= a.Threshold && a.low:
		a.low = false
		a.Logger.Info("hot wallet balance back above the threshold", "balance", b.String())
	}
	return nil
}
