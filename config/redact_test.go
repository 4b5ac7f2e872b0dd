package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// secretConfig loads a Config with every secret set, including credentials
// in the rate URL.
func secretConfig(t *testing.T) *Config {
	t.Helper()
	return mustLoad(t, env{
		"TELEGRAM_TOKEN":          testToken,
		"TELEGRAM_WEBHOOK_SECRET": "whSecretVALUE_123",
		"TON_WALLET_MNEMONIC":     testMnemonic,
		"FRAGMENT_COOKIES":        testCookies,
		"RATE_URL":                "https://rateuser:hunter2pass@rates.example.com/price?ids=the-open-network&x_cg_pro_api_key=APIKEYSECRET",
		"ADMIN_IDS":               "42",
	})
}

// secrets are strings that must never be printed.
var secrets = []string{
	testToken, "AAFakeTokenForTests", testMnemonic, "abandon ability", "actress actual",
	testCookies, "whSecretVALUE_123", "cookiesecret1", "cookiesecret2", "hunter2pass", "rateuser", "APIKEYSECRET",
}

func assertNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%s leaks %q:\n%s", what, s, out)
		}
	}
	if !strings.Contains(out, redacted) {
		t.Errorf("%s shows no %q:\n%s", what, redacted, out)
	}
}

func TestRedaction_Slog(t *testing.T) {
	c := secretConfig(t)
	tests := []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(tt.new(&buf))
			log.Info("pointer", "config", c)
			log.Info("value", "config", *c)
			log.Info("attr", slog.Any("config", c))
			log.With("config", c).Info("with")
			assertNoSecrets(t, tt.name+" log", buf.String())
			if !strings.Contains(buf.String(), "rates.example.com") {
				t.Errorf("log lost the non-secret part of RATE_URL:\n%s", buf.String())
			}
		})
	}
}

func TestRedaction_SlogJSONFields(t *testing.T) {
	c := secretConfig(t)
	c.FragmentCookies = "" // an unset secret shows as ""
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "config", c)
	var line struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	want := map[string]any{
		"telegram_token":      redacted,
		"ton_wallet_mnemonic": redacted,
		"fragment_cookies":    "",
		"ton_network":         "sandbox",
		"http_addr":           "127.0.0.1:8080",
		"usd_per_star":        "0.015",
		"premium_usd_12":      "28.99",
		"fee_percent":         "0",
		"ton_usd_rate":        "3.6",
		"log_level":           "INFO",
		"admin_ids":           []any{42.0},
	}
	for k, v := range want {
		if got := line.Config[k]; fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("config.%s = %v, want %v", k, got, v)
		}
	}
	if n := len(line.Config); n != len(c.attrs()) {
		t.Errorf("%d keys logged, want %d", n, len(c.attrs()))
	}
}

func TestRedaction_Fmt(t *testing.T) {
	c := secretConfig(t)
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		for _, arg := range []any{c, *c, []*Config{c}, struct{ C Config }{*c}} {
			out := fmt.Sprintf(format, arg)
			assertNoSecrets(t, fmt.Sprintf("Sprintf(%q, %T)", format, arg), out)
		}
	}
	assertNoSecrets(t, "String()", c.String())
	assertNoSecrets(t, "GoString()", c.GoString())
	if s := c.String(); strings.ContainsAny(s, "\n") || !strings.HasPrefix(s, "Config{") {
		t.Errorf("String() = %q, want one line starting Config{", s)
	}
	if s := fmt.Sprintf("%#v", c); !strings.HasPrefix(s, "config.Config{") {
		t.Errorf("%%#v = %q, want config.Config{…}", s)
	}
}

func TestRedaction_EmptySecrets(t *testing.T) {
	s := mustLoad(t, env{}).String()
	for _, want := range []string{`telegram_token=""`, `ton_wallet_mnemonic=""`, `fragment_cookies=""`} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %s\nwant it to contain %s", s, want)
		}
	}
	if strings.Contains(s, redacted) {
		t.Errorf("String() redacts an unset secret: %s", s)
	}
}

func TestRedaction_JSON(t *testing.T) {
	b, err := json.Marshal(secretConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{testToken, testMnemonic, testCookies} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("json.Marshal leaks a secret: %s", b)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "https://ton.org/global.config.json", "https://ton.org/global.config.json"},
		{"empty", "", ""},
		{"harmless query", "https://a.example/p?ids=ton&vs=usd", "https://a.example/p?ids=ton&vs=usd"},
		{"api key", "https://a.example/p?ids=ton&api_key=S3CRET", "https://a.example/p?api_key=redacted&ids=ton"},
		{"token", "https://a.example/p?Token=S3CRET", "https://a.example/p?Token=redacted"},
		{"user info", "https://u:S3CRET@a.example/p", "https://redacted@a.example/p"},
		{"unparseable with credentials", "https://u:%zz@a.example/", redacted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedaction_URLInError(t *testing.T) {
	_, err := Load(env{"TELEGRAM_API_URL": "ftp://u:S3CRET@a.example/"}.get)
	checkValidationError(t, err, "TELEGRAM_API_URL", nil)
	if err != nil && strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("error %q leaks the URL password", err)
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no URL", "dial tcp 127.0.0.1:1: refused", "dial tcp 127.0.0.1:1: refused"},
		{"plain URL", "GET https://ton.org/global.config.json: 404", "GET https://ton.org/global.config.json: 404"},
		{"user info and token, then a colon",
			"read the config http://u:S3CRET@h.example/c.json?token=T0KEN: Get \"http://u:***@h.example/c.json?token=T0KEN\": refused",
			"read the config http://redacted@h.example/c.json?token=redacted: Get \"http://redacted@h.example/c.json?token=redacted\": refused"},
		{"two URLs", "a https://x.example/?key=K1 b https://u:p@y.example/", "a https://x.example/?key=redacted b https://redacted@y.example/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURLs(tt.in); got != tt.want {
				t.Errorf("RedactURLs(%q)\n = %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactError(t *testing.T) {
	if RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}
	plain := errors.New("no URL here")
	if RedactError(plain) != plain {
		t.Error("an error without URLs is wrapped")
	}
	inner := errors.New("Get \"https://u:S3CRET@h.example/\": refused")
	err := RedactError(fmt.Errorf("TON_CONFIG_URL: %w", inner))
	if strings.Contains(err.Error(), "S3CRET") || !errors.Is(err, inner) {
		t.Errorf("RedactError = %q (unwraps to inner: %t)", err, errors.Is(err, inner))
	}
}

func TestRedactAttr(t *testing.T) {
	var b strings.Builder
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: RedactAttr}))
	u, _ := url.Parse("https://u:S3CRET@h.example/?access_token=T0KEN")
	log.Info("connecting to https://u:S3CRET@h.example/",
		"url", "https://u:S3CRET@h.example/?token=T0KEN",
		"error", errors.New("Get \"https://u:***@h.example/?token=T0KEN\": refused"),
		"parsed", u,
		slog.Group("g", "url", "https://u:S3CRET@h.example/"),
		"count", 3)
	out := b.String()
	for _, secret := range []string{"S3CRET", "T0KEN", "u:"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "count=3") || !strings.Contains(out, "https://redacted@h.example/") {
		t.Errorf("log lost its other content: %s", out)
	}
}
