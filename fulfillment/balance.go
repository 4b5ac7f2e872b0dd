package fulfillment

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"starsbot/shop"
)

// DefaultBalanceInterval is how often BalanceAlarm reads the balance.
const DefaultBalanceInterval = 5 * time.Minute

// BalanceAlarm alerts admins when the hot wallet's balance falls below
// Threshold: once when it crosses, again only after it rose back above
// and fell again.
type BalanceAlarm struct {
	Wallet interface {
		Balance(context.Context) (shop.NanoTON, error)
	} // required
	Threshold shop.NanoTON  // required, > 0
	Interval  time.Duration // default DefaultBalanceInterval
	Notifier  Notifier      // default LogNotifier
	Logger    *slog.Logger  // default slog.Default()

	low bool
}

// Run checks the balance every Interval until ctx is done.
func (a *BalanceAlarm) Run(ctx context.Context) error {
	interval := a.Interval
	if interval <= 0 {
		interval = DefaultBalanceInterval
	}
	for {
		if err := a.Check(ctx); err != nil && ctx.Err() == nil {
			a.logger().Warn("hot wallet balance unknown", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
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
		n := a.Notifier
		if n == nil {
			n = LogNotifier{Logger: a.logger()}
		}
		n.Alert(ctx, shop.Alert{
			Kind:    shop.AlertWalletLow,
			Amount:  b,
			Message: fmt.Sprintf("The hot wallet has %s TON, below the %s TON threshold: top it up or Fragment payments will fail.", b, a.Threshold),
		})
	case b >= a.Threshold && a.low:
		a.low = false
		a.logger().Info("hot wallet balance back above the threshold", "balance", b.String())
	}
	return nil
}

func (a *BalanceAlarm) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	return slog.Default()
}
