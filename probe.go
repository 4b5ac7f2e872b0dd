package main

import (
	"context"
	"time"

	"starsbot/api"
	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/ton"
)

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
