package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
)

// manualLeader is a leadership the test grants and revokes.
type manualLeader struct {
	mu      sync.Mutex
	cur     context.Context
	cancel  context.CancelFunc
	changed chan struct{}
}

func newManualLeader() *manualLeader { return &manualLeader{changed: make(chan struct{})} }

func (m *manualLeader) Wait(ctx context.Context) (context.Context, error) {
	for {
		m.mu.Lock()
		cur, ch := m.cur, m.changed
		m.mu.Unlock()
		if cur != nil && cur.Err() == nil {
			return cur, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (m *manualLeader) gain() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cur, m.cancel = context.WithCancel(context.Background())
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *manualLeader) lose() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cancel()
}

// TestRunWhileLeader: fn starts on gain, is cancelled on loss, starts
// again on regain; the run ends without error when ctx ends.
func TestRunWhileLeader(t *testing.T) {
	l := newManualLeader()
	started := make(chan struct{})
	stopped := make(chan error)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runWhileLeader(ctx, l, slog.New(slog.DiscardHandler), "test", func(ctx context.Context) error {
			started <- struct{}{}
			<-ctx.Done()
			stopped <- ctx.Err()
			return ctx.Err()
		})
	}()
	for i := range 3 {
		l.gain()
		<-started
		l.lose()
		if err := <-stopped; !errors.Is(err, context.Canceled) {
			t.Fatalf("term %d: fn's context ended with %v", i, err)
		}
	}
	l.gain()
	<-started
	cancel()
	<-stopped
	if err := <-done; err != nil {
		t.Fatalf("runWhileLeader = %v, want nil", err)
	}
}

// An error from fn while still leading ends the run with it.
func TestRunWhileLeader_Error(t *testing.T) {
	boom := errors.New("boom")
	err := runWhileLeader(context.Background(), alwaysLeader{}, slog.New(slog.DiscardHandler), "test", func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("runWhileLeader = %v, want %v", err, boom)
	}
}
