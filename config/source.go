package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// variables lists every variable Load reads, in SPEC order. A CONFIG_FILE
// may set any of them except CONFIG_FILE itself.
var variables = []string{
	"TELEGRAM_TOKEN", "TELEGRAM_API_URL", "TELEGRAM_WEBHOOK_URL", "TELEGRAM_WEBHOOK_SECRET", "ADMIN_IDS",
	"DATA_DIR", "DATABASE_URL", "DATABASE_BATCH_PARTITIONS", "LEADER_TTL", "HTTP_ADDR", "PUBLIC_URL",
	"TON_NETWORK", "TON_CONFIG_URL", "TON_DEPOSIT_ADDRESS",
	"TON_WALLET_MNEMONIC", "TON_WALLET_MNEMONIC_FILE", "TON_WALLET_VERSION",
	"TON_POLL_INTERVAL", "TON_WALLET_LOW_BALANCE", "TON_WATCHER_LAG_ALERT",
	"TON_MIN_DEPOSIT", "ALERT_BATCH_WINDOW",
	"USDT_MASTER", "USDT_USD", "USDT_FEE_PERCENT",
	"FULFILLMENT", "FULFILLMENT_MAX_ATTEMPTS", "FRAGMENT_CONCURRENCY", "FRAGMENT_COOKIES", "FRAGMENT_COOKIES_FILE", "FRAGMENT_MARGIN_TON",
	"USD_PER_STAR", "PREMIUM_USD_3", "PREMIUM_USD_6", "PREMIUM_USD_12",
	"FEE_PERCENT", "STARS_MIN", "STARS_MAX", "ORDER_TTL", "QUOTE_TTL", "PRICE_STEP_TON", "WEBHOOK_ALLOW_PRIVATE",
	"REFERRAL_PERCENT", "SUPPORT_CONTACT",
	"TON_USD_RATE", "RATE_URL", "RATE_JSON_PATH", "RATE_TTL",
	"API_RATE_LIMIT", "API_RATE_BURST",
	"BACKUP_INTERVAL", "BACKUP_DIR", "BACKUP_KEEP",
	"BACKUP_S3_URL", "BACKUP_S3_ACCESS_KEY_ID", "BACKUP_S3_SECRET_ACCESS_KEY", "BACKUP_S3_SECRET_ACCESS_KEY_FILE",
	"BACKUP_AGE_RECIPIENT",
	"LOG_LEVEL", "LOG_FORMAT",
}

// source is the environment layered over the optional CONFIG_FILE.
type source struct {
	env  func(string) string
	file map[string]string // from CONFIG_FILE; nil without one
}

func newSource(getenv func(string) string) (*source, error) {
	s := &source{env: getenv}
	if path := strings.TrimSpace(getenv("CONFIG_FILE")); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, &ValidationError{Var: "CONFIG_FILE", Problem: fmt.Sprintf("cannot read %s: %s", quote(path), fileError(err))}
		}
		if s.file, err = parseFile(string(b)); err != nil {
			return nil, &ValidationError{Var: "CONFIG_FILE", Problem: fmt.Sprintf("%s: %s", quote(path), err)}
		}
	}
	return s, nil
}

// get returns the trimmed value of name from the environment, else from the
// file; "" means unset.
func (s *source) get(name string) string {
	if v := strings.TrimSpace(s.env(name)); v != "" {
		return v
	}
	return s.file[name]
}

// secret returns the value of name, or the trimmed contents of the file
// named by name_FILE, and the variable it came from. The pair is taken from
// the environment if either is set there, else from CONFIG_FILE, so that the
// environment overrides the file as a whole. Setting both is an error. Read
// errors never include the file's contents.
func (s *source) secret(name string) (value, from string, err error) {
	fileVar := name + "_FILE"
	v, path := strings.TrimSpace(s.env(name)), strings.TrimSpace(s.env(fileVar))
	if v == "" && path == "" {
		v, path = s.file[name], s.file[fileVar]
	}
	switch {
	case v != "" && path != "":
		return "", "", &ValidationError{Var: fileVar, Problem: "must not be set together with " + name}
	case path == "":
		return v, name, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", &ValidationError{Var: fileVar, Problem: fmt.Sprintf("cannot read %s: %s", quote(path), fileError(err))}
	}
	v = strings.TrimSpace(string(b))
	if v == "" {
		return "", "", &ValidationError{Var: fileVar, Problem: fmt.Sprintf("file %s is empty", quote(path))}
	}
	return v, fileVar, nil
}

// fileError describes a read error without repeating the path.
func fileError(err error) string {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// parseFile parses KEY=VALUE lines. Blank lines and lines starting with #
// are skipped; an "export " prefix is allowed; a value may be wrapped in
// matching single or double quotes, which are removed (no escapes are
// interpreted, and # inside a value is part of it). Unknown, malformed or
// repeated keys are errors that name the line, never echo a value.
func parseFile(text string) (map[string]string, error) {
	vars := map[string]string{}
	lineOf := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected KEY=VALUE", n)
		}
		key = strings.TrimSpace(key)
		switch {
		case !isVarName(key):
			return nil, fmt.Errorf("line %d: invalid variable name", n)
		case key == "CONFIG_FILE":
			return nil, fmt.Errorf("line %d: CONFIG_FILE cannot be set in the config file", n)
		case !slices.Contains(variables, key):
			return nil, fmt.Errorf("line %d: unknown variable %s", n, key)
		case lineOf[key] != 0:
			return nil, fmt.Errorf("line %d: %s already set on line %d", n, key, lineOf[key])
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = strings.TrimSpace(value[1 : len(value)-1])
		}
		vars[key], lineOf[key] = value, n
	}
	return vars, nil
}

// isVarName reports whether s looks like an environment variable name.
func isVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == ""
}
