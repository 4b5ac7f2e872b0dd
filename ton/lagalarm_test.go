package ton

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"starsbot/shop"
)

// fakeLag is a Lag source set by the test; ok false means no poll yet.
// When looks is set (before the alarm runs), each call to Lag first waits
// to send on looks, until stop is closed, so that a test counts them.
type fakeLag struct {
	mu  sync.Mutex
	lag time.Duration
	ok  bool

	looks chan struct{}
	stop  chan struct{}
}

func (f *fakeLag) set(lag time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lag, f.ok = lag, true
}

func (f *fakeLag) Lag() (time.Duration, bool) {
	if f.looks != nil {
		select {
		case f.looks <- struct{}{}:
		case <-f.stop:
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lag, f.ok
}

// lagAlarmEnv is a LagAlarm over a fake lag and clock, recording alerts.
type lagAlarmEnv struct {
	lag    *fakeLag
	a      *LagAlarm
	mu     sync.Mutex
	now    time.Time
	alerts []shop.Alert
}

func newLagAlarmEnv() *lagAlarmEnv {
	e := &lagAlarmEnv{lag: &fakeLag{}, now: t0}
	a, err := NewLagAlarm(LagAlarmConfig{
		Watcher: e.lag,
		Max:     5 * time.Minute,
		Alert: func(_ context.Context, a shop.Alert) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.alerts = append(e.alerts, a)
		},
		Now: func() time.Time {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.now
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	e.a = a
	return e
}

func (e *lagAlarmEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// check runs one Check and returns the alerts it sent.
func (e *lagAlarmEnv) check(t *testing.T) []shop.Alert {
	t.Helper()
	e.mu.Lock()
	n := len(e.alerts)
	e.mu.Unlock()
	e.a.Check(context.Background())
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]shop.Alert(nil), e.alerts[n:]...)
}

func wantAlert(t *testing.T, got []shop.Alert, kind shop.AlertKind, msg string) {
	t.Helper()
	if len(got) != 1 || got[0].Kind != kind || got[0].Message != msg {
		t.Fatalf("alerts = %+v, want one %s: %q", got, kind, msg)
	}
}

func wantNone(t *testing.T, got []shop.Alert) {
	t.Helper()
	if len(got) != 0 {
		t.Fatalf("alerts = %+v, want none", got)
	}
}

func TestLagAlarm(t *testing.T) {
	e := newLagAlarmEnv()
	e.lag.set(3 * time.Second)
	wantNone(t, e.check(t))
	e.lag.set(5 * time.Minute) // at the threshold is not over it
	wantNone(t, e.check(t))

	e.lag.set(7*time.Minute + 30*time.Second + 400*time.Millisecond)
	wantAlert(t, e.check(t), shop.AlertWatcherLag,
		"The deposit watcher is 7m30s behind the chain (alert threshold 5m): deposits are credited late.")
	// Still behind, further or less: no repeat.
	for _, lag := range []time.Duration{8 * time.Minute, time.Hour, 6 * time.Minute} {
		e.lag.set(lag)
		wantNone(t, e.check(t))
	}

	e.lag.set(2600 * time.Millisecond)
	wantAlert(t, e.check(t), shop.AlertWatcherCaughtUp, "The deposit watcher caught up (lag 3s).")
	e.lag.set(time.Second)
	wantNone(t, e.check(t))

	// A new excursion alerts again.
	e.lag.set(2 * time.Hour)
	wantAlert(t, e.check(t), shop.AlertWatcherLag,
		"The deposit watcher is 2h behind the chain (alert threshold 5m): deposits are credited late.")
	wantNone(t, e.check(t))
	e.lag.set(0)
	wantAlert(t, e.check(t), shop.AlertWatcherCaughtUp, "The deposit watcher caught up (lag 0s).")
}

func TestLagAlarm_NeverPolled(t *testing.T) {
	e := newLagAlarmEnv()
	wantNone(t, e.check(t)) // the clock starts here
	e.advance(5 * time.Minute)
	wantNone(t, e.check(t))
	e.advance(time.Minute)
	wantAlert(t, e.check(t), shop.AlertWatcherLag,
		"The deposit watcher has not completed a poll since it started 6m ago (alert threshold 5m): deposits are not credited.")
	e.advance(time.Hour)
	wantNone(t, e.check(t))

	// The first poll completes, still behind: already reported.
	e.lag.set(10 * time.Minute)
	wantNone(t, e.check(t))
	e.lag.set(4 * time.Second)
	wantAlert(t, e.check(t), shop.AlertWatcherCaughtUp, "The deposit watcher caught up (lag 4s).")
}

func TestLagAlarm_FirstPollInTime(t *testing.T) {
	e := newLagAlarmEnv()
	wantNone(t, e.check(t))
	e.advance(4 * time.Minute)
	e.lag.set(2 * time.Second)
	wantNone(t, e.check(t))
	e.advance(time.Hour) // long after the start, but polls complete
	wantNone(t, e.check(t))
}

// TestLagAlarm_Run checks that Run looks at the lag every Interval and
// alerts once however many times it finds the watcher behind.
func TestLagAlarm_Run(t *testing.T) {
	e := newLagAlarmEnv()
	e.lag.set(time.Hour)
	e.lag.looks, e.lag.stop = make(chan struct{}), make(chan struct{})
	e.a.Interval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.a.Run(ctx) }()

	// The first look alerts; the next 20 must not.
	const looks = 21
	deadline := time.After(5 * time.Second)
	for i := range looks {
		select {
		case <-e.lag.looks:
		case <-deadline:
			t.Fatalf("Run looked at the lag %d times in 5s, want %d", i, looks)
		}
	}
	close(e.lag.stop)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on cancel")
	}
	// Run has returned: every check it made is over.
	if len(e.alerts) != 1 || e.alerts[0].Kind != shop.AlertWatcherLag {
		t.Errorf("alerts = %+v, want one watcher_lag", e.alerts)
	}
}

func TestNewLagAlarm_Misconfigured(t *testing.T) {
	for name, cfg := range map[string]LagAlarmConfig{
		"no watcher": {Max: time.Minute, Alert: func(context.Context, shop.Alert) {}},
		"no alert":   {Watcher: &fakeLag{}, Max: time.Minute},
		"no max":     {Watcher: &fakeLag{}, Alert: func(context.Context, shop.Alert) {}},
	} {
		if _, err := NewLagAlarm(cfg); err == nil {
			t.Errorf("%s: NewLagAlarm succeeded, want an error", name)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		400 * time.Millisecond:                "0s",
		3 * time.Second:                       "3s",
		5 * time.Minute:                       "5m",
		10 * time.Minute:                      "10m",
		7*time.Minute + 30*time.Second:        "7m30s",
		time.Hour:                             "1h",
		time.Hour + 30*time.Minute:            "1h30m",
		time.Hour + 5*time.Second:             "1h0m5s",
		24 * time.Hour:                        "24h",
		90*time.Minute + 499*time.Millisecond: "1h30m",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
