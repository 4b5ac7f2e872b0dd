package ton

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"starsbot/shop"
)

// DefaultLagCheckInterval is how often LagAlarm looks at the watcher's lag.
const DefaultLagCheckInterval = 15 * time.Second

var _ interface{ Lag() (time.Duration, bool) } = (*Watcher)(nil)

// LagAlarmConfig is what NewLagAlarm needs; zero optional fields take
// their defaults.
type LagAlarmConfig struct {
	Watcher  interface{ Lag() (time.Duration, bool) } // required; *Watcher
	Max      time.Duration                            // required, > 0
	Interval time.Duration                            // how often to look; default 15s
	Alert    func(ctx context.Context, a shop.Alert)  // required
	Now      func() time.Time                         // default time.Now
	Logger   *slog.Logger                             // default slog.Default()
}

// LagAlarm alerts admins when the deposit watcher falls more than Max behind the
// chain (or has not completed a poll within Max of starting), once, and again
// only after it caught up; catching up is reported too.
type LagAlarm struct {
	LagAlarmConfig // as NewLagAlarm completed it; read-only

	mu      sync.Mutex
	started time.Time // the first look: the "no poll yet" rule counts from it
	behind  bool      // alerted, and not caught up since
}

// NewLagAlarm returns an alarm over cfg.Watcher. It fails if Watcher or
// Alert is missing or Max is not positive.
func NewLagAlarm(cfg LagAlarmConfig) (*LagAlarm, error) {
	if cfg.Watcher == nil || cfg.Alert == nil || cfg.Max <= 0 {
		return nil, errors.New("ton: LagAlarm needs Watcher, Alert and Max > 0")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultLagCheckInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &LagAlarm{LagAlarmConfig: cfg}, nil
}

// Run checks every Interval until ctx is done and returns nil.
func (a *LagAlarm) Run(ctx context.Context) error {
	t := time.NewTicker(a.Interval)
	defer t.Stop()
	for {
		a.Check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Check looks at the lag once and alerts if the watcher just fell behind or
// just caught up. It is safe for concurrent use; alerts go out in order.
func (a *LagAlarm) Check(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.Now()
	if a.started.IsZero() {
		a.started = now
	}
	lag, ok := a.Watcher.Lag()
	switch {
	case !ok:
		since := now.Sub(a.started)
		if since <= a.Max || a.behind {
			return
		}
		a.behind = true
		a.Logger.Warn("deposit watcher has not completed a poll", "since_start", since, "max_lag", a.Max)
		a.Alert(ctx, shop.Alert{
			Kind: shop.AlertWatcherLag,
			Message: fmt.Sprintf("The deposit watcher has not completed a poll since it started %s ago (alert threshold %s): deposits are not credited.",
				shortDuration(since), shortDuration(a.Max)),
		})
	case lag > a.Max && !a.behind:
		a.behind = true
		a.Logger.Warn("deposit watcher behind the chain", "lag", lag, "max_lag", a.Max)
		a.Alert(ctx, shop.Alert{
			Kind: shop.AlertWatcherLag,
			Message: fmt.Sprintf("The deposit watcher is %s behind the chain (alert threshold %s): deposits are credited late.",
				shortDuration(lag), shortDuration(a.Max)),
		})
	case lag <= a.Max && a.behind:
		a.behind = false
		a.Logger.Info("deposit watcher caught up", "lag", lag)
		a.Alert(ctx, shop.Alert{
			Kind:    shop.AlertWatcherCaughtUp,
			Message: fmt.Sprintf("The deposit watcher caught up (lag %s).", shortDuration(lag)),
		})
	}
}

// shortDuration rounds d to the second and drops zero trailing units:
// "7m30s", "5m", "1h", "3s".
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
