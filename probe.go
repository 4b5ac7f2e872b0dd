package main

import (
	"context"
	"fmt"
	"time"

	"starsbot/api"
	"starsbot/bot"
	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/ton"
)

// providerProbe reports whether the fulfillment provider works, and its
// queue: depth and how long the oldest order has waited since paid.
func providerProbe(name string, w *fulfillment.Worker) api.Probe {
	return func(context.Context) api.Component {
		queue := ""
		if depth, oldest := w.QueueStats(); depth > 0 {
			queue = fmt.Sprintf("; queue %d, oldest waiting %s", depth, oldest.Round(time.Second))
		}
		// A reason or notice may quote a provider's error, and /health
		// needs no key: no credentials in URLs.
		if ok, reason := w.Health(); !ok {
			return api.Component{Status: api.ComponentDegraded, Detail: name + " paused: " + config.RedactURLs(reason) + queue}
		}
		if n := w.Notice(); n != "" {
			return api.Component{Status: api.ComponentOK, Detail: name + queue + "; note: " + config.RedactURLs(n)}
		}
		return api.Component{Status: api.ComponentOK, Detail: name + queue}
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

// pollSlack is how much longer than a long poll the bot may go without a
// successful one before /health calls it degraded.
const pollSlack = 30 * time.Second

// poller is the bot's view of Telegram (bot.Bot.LastPoll).
type poller interface {
	LastPoll() (last time.Time, failing bool)
}

// botProbe reports the bot as it really is: ok after a successful poll
// within maxSilence, degraded before the first, while the Bot API fails,
// or when polls stopped succeeding. Without a token it is disabled.
func botProbe(cfg *config.Config, b poller, maxSilence time.Duration, now func() time.Time) api.Probe {
	c := botComponent(cfg)
	if c.Status == api.ComponentDisabled || b == nil {
		return api.StaticProbe(c)
	}
	return func(context.Context) api.Component {
		last, failing := b.LastPoll()
		ago := now().Sub(last).Round(time.Second)
		switch {
		case last.IsZero():
			c.Status, c.Detail = api.ComponentDegraded, c.Detail+"; Telegram not reached yet"
		case failing:
			c.Status, c.Detail = api.ComponentDegraded, fmt.Sprintf("%s; Telegram unreachable; last successful poll %s ago", c.Detail, ago)
		case ago > maxSilence:
			c.Status, c.Detail = api.ComponentDegraded, fmt.Sprintf("%s; no successful poll for %s", c.Detail, ago)
		default:
			c.Detail = fmt.Sprintf("%s; last successful poll %s ago", c.Detail, ago)
		}
		return c
	}
}

// webhookErrorWindow is how long after Telegram's last failed delivery
// (getWebhookInfo's last_error_date) /health calls the bot degraded, unless
// an update arrived since.
const webhookErrorWindow = 10 * time.Minute

// webhookStatus is the bot's webhook mode (bot.Bot.Webhook).
type webhookStatus interface {
	Webhook() (bot.WebhookStatus, bool)
}

// webhookProbe reports webhook mode as it is: degraded until setWebhook
// succeeded, while the Bot API fails, when the webhook is no longer
// ours, and for webhookErrorWindow after a failed delivery that no
// update followed; else ok with the time of the last update received.
func webhookProbe(cfg *config.Config, b webhookStatus, now func() time.Time) api.Probe {
	c := botComponent(cfg)
	return func(context.Context) api.Component {
		st, _ := b.Webhook()
		ago := func(t time.Time) time.Duration { return now().Sub(t).Round(time.Second) }
		last := "no update received yet"
		if !st.LastUpdate.IsZero() {
			last = fmt.Sprintf("last update received %s ago", ago(st.LastUpdate))
		}
		out := c
		switch {
		case !st.Ready && st.Failing:
			out.Status, out.Detail = api.ComponentDegraded, c.Detail+"; setWebhook failing, retrying"
		case !st.Ready:
			out.Status, out.Detail = api.ComponentDegraded, c.Detail+"; webhook not set yet"
		case st.Failing:
			out.Status, out.Detail = api.ComponentDegraded, c.Detail+"; Telegram unreachable (getWebhookInfo failing); "+last
		case st.NotOurs:
			out.Status, out.Detail = api.ComponentDegraded, c.Detail+"; the webhook was changed or deleted by another process; "+last
		case !st.LastErrorDate.IsZero() && st.LastErrorDate.After(st.LastUpdate) && ago(st.LastErrorDate) < webhookErrorWindow:
			// Telegram's message may quote the URL: no credentials in /health.
			out.Status, out.Detail = api.ComponentDegraded, fmt.Sprintf("%s; Telegram's last delivery failed %s ago: %s; %s",
				c.Detail, ago(st.LastErrorDate), config.RedactURLs(st.LastErrorMessage), last)
		default:
			out.Detail = c.Detail + "; " + last
		}
		return out
	}
}

// botComponent is the configured bot: disabled, or enabled on its Bot
// API server (credentials redacted).
func botComponent(cfg *config.Config) api.Component {
	if cfg.TelegramToken == "" {
		return api.Component{Status: api.ComponentDisabled, Detail: "disabled: TELEGRAM_TOKEN is empty"}
	}
	if cfg.TelegramWebhookURL != "" {
		// The URL's path may be a secret of its own: not shown.
		return api.Component{Status: api.ComponentOK, Detail: "enabled: webhook mode, " + config.RedactURL(cfg.TelegramAPIURL)}
	}
	return api.Component{Status: api.ComponentOK, Detail: "enabled: long polling " + config.RedactURL(cfg.TelegramAPIURL)}
}
