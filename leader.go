package main

import (
	"context"
	"fmt"
	"log/slog"

	"starsbot/api"
)

// leadership is what the singletons wait on: Wait blocks until this
// process leads and returns a context cancelled when it stops leading.
// pgstore.Elector on PostgreSQL; alwaysLeader on bbolt.
type leadership interface {
	Wait(ctx context.Context) (context.Context, error)
}

// alwaysLeader is the leadership of a process on bbolt: the file's lock
// (flock) already makes it the only process on its store, so it always
// leads.
type alwaysLeader struct{}

func (alwaysLeader) Wait(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ctx, nil
}

// runWhileLeader runs fn while this process leads: starts it when
// leadership is gained, cancels it when lost, starts it again when
// regained, until ctx ends. fn's return after its context was cancelled
// is not an error; an error while still leading ends the run with it, as
// it would without election.
func runWhileLeader(ctx context.Context, l leadership, logger *slog.Logger, name string, fn func(context.Context) error) error {
	for {
		lctx, err := l.Wait(ctx)
		if err != nil {
			return nil // ctx ended
		}
		logger.Info("leader: gained; starting", "component", name)
		fctx, stop := both(ctx, lctx)
		err = fn(fctx)
		stop()
		switch {
		case ctx.Err() != nil:
			return nil
		case lctx.Err() != nil:
			logger.Info("leader: lost; stopped", "component", name)
		case err != nil:
			return fmt.Errorf("%s: %w", name, err)
		default:
			return nil // fn finished on its own while leading
		}
	}
}

// both returns a context that ends when either ctx or lctx ends.
func both(ctx, lctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(lctx)
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }
}

// leaderOnly wraps the health probe of a component that runs only on the
// leader (when leaderOnly is true): on a follower replica, where the
// component is idle by design, it reports OK with detail instead of the
// component's idle state, so that a load balancer keeps the follower.
func (a *app) leaderOnly(p api.Probe, leaderOnly bool, detail string) api.Probe {
	if a.elector == nil || !leaderOnly {
		return p
	}
	return func(ctx context.Context) api.Component {
		if a.elector.Leader() {
			return p(ctx)
		}
		return api.Component{Status: api.ComponentOK, Detail: "follower: " + detail}
	}
}
