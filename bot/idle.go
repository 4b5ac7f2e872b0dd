package bot

import (
	"context"
	"fmt"
	"sync"
)

// Idle waits until the bot has nothing in flight, and is meant for tests:
// "nothing more is sent" is "Idle, then nothing more was sent", instead
// of listening for a while.
//
// In flight is every event HandleEvent accepted and routeEvents has not
// sorted into a chat yet, every job in a chat's queue or running (an
// update taken from getUpdates, a notification, an alert's message to one
// admin, each with its limiter delay, flood waits and send), and an
// unmatched-deposit batch waiting for its timer: while one is pending,
// Idle waits until it fires (a test with Config.AfterFunc fires it). Each
// of these counts the work it causes before it ends, so the count never
// reaches zero halfway through a chain. Updates still on the Bot API
// server are not covered: wait until the bot has fetched them (a
// getUpdates whose offset is past them) before calling Idle.
//
// Idle returns nil once nothing is in flight, or once Run has returned
// (the bot sends nothing more; events it had not sorted are dropped). It
// returns an error, saying what is still in flight, if ctx is done first.
func (b *Bot) Idle(ctx context.Context) error {
	select {
	case <-b.work.idle():
		return nil
	case <-b.stopped:
		return nil
	case <-ctx.Done():
		b.unmatchedMu.Lock()
		batch := b.unmatched.armed != nil
		b.unmatchedMu.Unlock()
		return fmt.Errorf("bot: not idle: %d in flight (unmatched-deposit batch waiting for its timer: %v): %w", b.work.count(), batch, ctx.Err())
	}
}

// inflight counts the work Idle waits for. Whatever accepts work adds one
// before it returns; whatever finishes it adds -1 after it has counted
// the work it handed on.
type inflight struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n is 0; replaced when n leaves 0
}

func newInflight() *inflight {
	zero := make(chan struct{})
	close(zero)
	return &inflight{zero: zero}
}

func (w *inflight) add(d int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == 0 && d > 0 {
		w.zero = make(chan struct{})
	}
	w.n += d
	switch {
	case w.n < 0:
		panic("bot: in-flight count below zero")
	case w.n == 0 && d < 0:
		close(w.zero)
	}
}

// idle returns a channel closed when nothing is in flight.
func (w *inflight) idle() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.zero
}

func (w *inflight) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}
