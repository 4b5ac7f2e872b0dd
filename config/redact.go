package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"starsbot/shop"
)

// redacted replaces a secret that is set. An unset secret shows as "".
const redacted = "[redacted]"

var (
	_ slog.LogValuer = Config{}
	_ fmt.Formatter  = Config{}
	_ fmt.Stringer   = Config{}
	_ fmt.GoStringer = Config{}
)

// LogValue implements slog.LogValuer: a group of every setting under
// snake_case keys, with the secrets shown as "[redacted]" when set and ""
// when empty, and credentials in URLs (user info, key-like query
// parameters) redacted too.
func (c Config) LogValue() slog.Value { return slog.GroupValue(c.attrs()...) }

// String returns the redacted settings on one line, as key=value pairs.
func (c Config) String() string { return "Config{" + c.pairs() + "}" }

// GoString returns the redacted settings for %#v; it is not Go syntax.
func (c Config) GoString() string { return "config.Config{" + c.pairs() + "}" }

// Format implements fmt.Formatter so that every verb and flag (%v, %+v,
// %#v, %s, %d, …) prints the redacted form and never a field.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		io.WriteString(f, c.GoString())
		return
	}
	io.WriteString(f, c.String())
}

func (c Config) attrs() []slog.Attr {
	attrs := []slog.Attr{
		slog.String("telegram_token", redact(c.TelegramToken)),
		slog.String("telegram_api_url", RedactURL(c.TelegramAPIURL)),
		slog.String("telegram_webhook_url", RedactURL(c.TelegramWebhookURL)),
		slog.String("telegram_webhook_secret", redact(c.TelegramWebhookSecret)),
		slog.Any("admin_ids", c.AdminIDs),
		slog.String("data_dir", c.DataDir),
		slog.String("database_url", RedactURL(c.DatabaseURL)),
		slog.Duration("leader_ttl", c.LeaderTTL),
		slog.String("http_addr", c.HTTPAddr),
		slog.String("public_url", RedactURL(c.PublicURL)),
		slog.String("ton_network", c.TONNetwork),
		slog.String("ton_config_url", RedactURL(c.TONConfigURL)),
		slog.String("ton_deposit_address", c.TONDepositAddress),
		slog.String("ton_wallet_mnemonic", redact(c.TONWalletMnemonic)),
		slog.String("ton_wallet_version", c.TONWalletVersion),
		slog.Duration("ton_poll_interval", c.TONPollInterval),
		slog.String("ton_wallet_low_balance", c.TONWalletLowBalance.String()),
		slog.Duration("ton_watcher_lag_alert", c.TONWatcherLagAlert),
		slog.String("ton_min_deposit", c.TONMinDeposit.String()),
		slog.String("usdt_master", c.USDTMaster),
		slog.String("usdt_usd", c.USDT.USDUSD.String()),
		slog.String("usdt_fee_percent", shop.FormatFeePercent(c.USDT.FeePPM)),
		slog.Duration("alert_batch_window", c.AlertBatchWindow),
		slog.String("fulfillment", c.Fulfillment),
		slog.Int64("fulfillment_max_attempts", c.FulfillmentMaxAttempts),
		slog.Int64("fragment_concurrency", c.FragmentConcurrency),
		slog.String("fragment_cookies", redact(c.FragmentCookies)),
		slog.String("fragment_margin_ton", c.FragmentMargin.String()),
		slog.String("usd_per_star", c.Pricing.USDPerStar.String()),
	}
	for _, m := range shop.PremiumMonths {
		attrs = append(attrs, slog.String("premium_usd_"+strconv.Itoa(m), c.Pricing.PremiumUSD[m].String()))
	}
	return append(attrs,
		slog.String("fee_percent", shop.FormatFeePercent(c.Pricing.FeePPM)),
		slog.Int64("stars_min", c.Pricing.StarsMin),
		slog.Int64("stars_max", c.Pricing.StarsMax),
		slog.Duration("order_ttl", c.Pricing.OrderTTL),
		slog.Duration("quote_ttl", c.QuoteTTL),
		slog.Bool("webhook_allow_private", c.WebhookAllowPrivate),
		slog.String("price_step_ton", c.PriceStep.String()),
		slog.String("ton_usd_rate", c.TONUSDRate.String()),
		slog.Bool("ton_usd_rate_set", c.TONUSDRateSet),
		slog.String("rate_url", RedactURL(c.RateURL)),
		slog.String("rate_json_path", c.RateJSONPath),
		slog.Duration("rate_ttl", c.RateTTL),
		slog.Float64("api_rate_limit", c.APIRateLimit),
		slog.Int64("api_rate_burst", c.APIRateBurst),
		slog.Duration("backup_interval", c.BackupInterval),
		slog.String("backup_dir", c.BackupDir),
		slog.Int64("backup_keep", c.BackupKeep),
		slog.String("backup_s3_url", RedactURL(c.BackupS3URL)),
		slog.String("backup_s3_access_key_id", redact(c.BackupS3AccessKeyID)),
		slog.String("backup_s3_secret_access_key", redact(c.BackupS3SecretAccessKey)),
		slog.Any("backup_age_recipient", c.BackupAgeRecipients),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
	)
}

// pairs renders attrs as space-separated key=value, quoting values that
// are empty or would be ambiguous.
func (c Config) pairs() string {
	var b strings.Builder
	for i, a := range c.attrs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := a.Value.String()
		if v == "" || strings.ContainsAny(v, " \t\r\n\"=") {
			v = strconv.Quote(v)
		}
		b.WriteString(a.Key + "=" + v)
	}
	return b.String()
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return redacted
}

// RedactURL hides credentials a URL may carry: its user info and the values
// of query parameters whose names look like keys or tokens (a rate API key
// in RATE_URL, say). It is the one rule for URLs shown anywhere: in the
// settings, in /health, in logs (RedactAttr) and in errors (RedactError).
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.ContainsAny(s, "@?") {
			return redacted
		}
		return s
	}
	if u.User == nil && u.RawQuery == "" {
		return s
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "redacted"
		} else {
			changed := false
			for k := range q {
				if secretParam(k) {
					q[k] = []string{"redacted"}
					changed = true
				}
			}
			if changed {
				u.RawQuery = q.Encode()
			}
		}
	}
	return u.String()
}

// secretParam reports whether a query parameter name looks like a credential.
func secretParam(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"key", "token", "secret", "pass", "auth", "sig", "session", "cookie", "cred"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// urlInText finds the URLs in a text: a scheme, "://" and everything up to
// a space or a quote.
var urlInText = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'<>`]+")

// RedactURLs applies RedactURL to every URL in a text (an error message,
// a log line), leaving the rest as it is.
func RedactURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, func(u string) string {
		// Punctuation after a URL ("…/config.json: dial tcp") is the
		// sentence's, not the URL's.
		trimmed := strings.TrimRight(u, ".,:;)]}")
		return RedactURL(trimmed) + u[len(trimmed):]
	})
}

// RedactError returns err with RedactURLs applied to its message; it
// still unwraps to err. A nil err or one without credentials in URLs is
// returned as it is.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactURLs(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RedactAttr is a slog.HandlerOptions.ReplaceAttr that applies RedactURLs
// to every string, error and fmt.Stringer value and to the message, so that
// no log line shows credentials in a URL, whichever package logged it.
func RedactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "://") {
			a.Value = slog.StringValue(RedactURLs(s))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		default:
			return a
		}
		if strings.Contains(s, "://") {
			a.Value = slog.StringValue(RedactURLs(s))
		}
	}
	return a
}
