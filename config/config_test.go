package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"starsbot/shop"
)

const (
	testToken    = "123456789:AAFakeTokenForTests_abcdefgh-XYZ"
	testMnemonic = "abandon ability able about above absent absorb abstract absurd abuse access accident " +
		"account accuse achieve acid acoustic acquire across act action actor actress actual"
	testCookies  = "stel_ssid=cookiesecret1; stel_token=cookiesecret2"
	testFriendly = "EQDtFpEwcFAEcRe5mLVh2N6C0x-_hJEM7W61_JLnSF74p4q2"
	testTestnet  = "kQDtFpEwcFAEcRe5mLVh2N6C0x-_hJEM7W61_JLnSF74pzE8" // the same address, testnet-flagged
)

var testRaw = "0:" + strings.Repeat("ab", 32)

// env is a fake environment.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// with returns a copy of e with kv (name, value, name, value …) added.
func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// testnet is a minimal valid testnet environment.
var testnet = env{"TON_NETWORK": "testnet", "TON_USD_RATE": "3.5", "TON_DEPOSIT_ADDRESS": testTestnet}

func mustLoad(t *testing.T, e env) *Config {
	t.Helper()
	c, err := Load(e.get)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// checkValidationError asserts err is a one-line *ValidationError naming
// wantVar that echoes none of the secrets in e.
func checkValidationError(t *testing.T, err error, wantVar string, e env) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load: no error, want one on %s", wantVar)
	}
	ve, ok := errors.AsType[*ValidationError](err)
	if !ok {
		t.Fatalf("Load: error %T %q, want *ValidationError", err, err)
	}
	if ve.Var != wantVar {
		t.Errorf("Var = %q, want %q (error %q)", ve.Var, wantVar, err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, "config: "+wantVar+": ") {
		t.Errorf("error %q does not start with %q", msg, "config: "+wantVar+": ")
	}
	for _, name := range []string{"TELEGRAM_TOKEN", "TON_WALLET_MNEMONIC", "FRAGMENT_COOKIES"} {
		if v := e[name]; v != "" && strings.Contains(msg, v) {
			t.Errorf("error %q echoes the secret %s", msg, name)
		}
	}
}

func TestLoad_Defaults(t *testing.T) {
	c := mustLoad(t, env{})
	want := &Config{
		TelegramAPIURL:         "https://api.telegram.org",
		DataDir:                "./data",
		HTTPAddr:               "127.0.0.1:8080",
		PublicURL:              "http://127.0.0.1:8080",
		TONNetwork:             NetworkSandbox,
		TONWalletVersion:       WalletV5R1,
		TONPollInterval:        3 * time.Second,
		TONWatcherLagAlert:     5 * time.Minute,
		LeaderTTL:              10 * time.Second,
		BatchPartitions:        1,
		TONWalletLowBalance:    5_000_000_000,
		TONMinDeposit:          10_000_000,
		USDTMaster:             MainnetUSDTMaster,
		USDT:                   shop.USDTConfig{USDUSD: shop.USD},
		AlertBatchWindow:       time.Minute,
		Fulfillment:            FulfillmentSandbox,
		FragmentMargin:         10_000_000,
		FulfillmentMaxAttempts: 6,
		FragmentConcurrency:    4,
		Pricing:                shop.DefaultPricing(),
		TONUSDRate:             3_600_000,
		RateJSONPath:           "the-open-network.usd",
		RateTTL:                time.Minute,
		QuoteTTL:               time.Minute,
		WebhookAllowPrivate:    true,
		PriceStep:              1_000_000,
		APIRateLimit:           20,
		APIRateBurst:           40,
		BackupDir:              filepath.Join("data", "backups"),
		BackupKeep:             7,
		LogLevel:               slog.LevelInfo,
		LogFormat:              LogFormatText,
		mnemonicVar:            "TON_WALLET_MNEMONIC",
		cookiesVar:             "FRAGMENT_COOKIES",
		s3SecretVar:            "BACKUP_S3_SECRET_ACCESS_KEY",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(empty) =\n%#v\nwant\n%#v", c, want)
	}
	if !c.Sandbox() {
		t.Error("Sandbox() = false, want true")
	}
	if got, want := c.DBPath(), filepath.Join("data", "starsbot.db"); got != want {
		t.Errorf("DBPath() = %q, want %q", got, want)
	}
	if c.TelegramToken != "" || c.TONWalletMnemonic != "" || c.FragmentCookies != "" || c.AdminIDs != nil {
		t.Error("secrets or admins set by default")
	}
	if c.TONUSDRateSet {
		t.Error("TONUSDRateSet = true with no TON_USD_RATE")
	}
}

func TestLoad_Nil(t *testing.T) {
	// A nil getenv means os.Getenv. Blank every variable of the test's
	// environment (an empty value is unset), set two, and check that Load
	// reads exactly what Load over the same fake environment reads.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name != "" {
			t.Setenv(name, "")
		}
	}
	e := env{"HTTP_ADDR": "127.0.0.1:9999", "TON_USD_RATE": "3.5"}
	for k, v := range e {
		t.Setenv(k, v)
	}
	got, err := Load(nil)
	if err != nil {
		t.Fatalf("Load(nil): %v", err)
	}
	if want := mustLoad(t, e); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(nil) =\n%#v\nwant Load(fake env) =\n%#v", got, want)
	}
	if got.HTTPAddr != "127.0.0.1:9999" || got.TONUSDRate != 3_500_000 {
		t.Errorf("Load(nil) did not read the environment: HTTPAddr %q, TONUSDRate %d", got.HTTPAddr, got.TONUSDRate)
	}
}

func TestLoad_NetworkDefaults(t *testing.T) {
	tests := []struct {
		name            string
		env             env
		wantFulfillment string
		wantConfigURL   string
		wantSandbox     bool
	}{
		{"sandbox", env{}, FulfillmentSandbox, "", true},
		{"sandbox manual", env{"FULFILLMENT": "manual"}, FulfillmentManual, "", true},
		{"testnet", testnet, FulfillmentManual, "https://ton.org/testnet-global.config.json", false},
		{"mainnet", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly), FulfillmentManual, "https://ton.org/global.config.json", false},
		{"mainnet upper case", testnet.with("TON_NETWORK", "MAINNET", "TON_DEPOSIT_ADDRESS", testFriendly), FulfillmentManual, "https://ton.org/global.config.json", false},
		{"config url override", testnet.with("TON_CONFIG_URL", "https://example.com/ton.json"), FulfillmentManual, "https://example.com/ton.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.env)
			if c.Fulfillment != tt.wantFulfillment {
				t.Errorf("Fulfillment = %q, want %q", c.Fulfillment, tt.wantFulfillment)
			}
			if c.TONConfigURL != tt.wantConfigURL {
				t.Errorf("TONConfigURL = %q, want %q", c.TONConfigURL, tt.wantConfigURL)
			}
			if c.Sandbox() != tt.wantSandbox {
				t.Errorf("Sandbox() = %v, want %v", c.Sandbox(), tt.wantSandbox)
			}
		})
	}
}

func TestLoad_PublicURL(t *testing.T) {
	tests := []struct {
		name string
		env  env
		want string
	}{
		{"default", env{}, "http://127.0.0.1:8080"},
		{"from HTTP_ADDR", env{"HTTP_ADDR": "10.0.0.5:9000"}, "http://10.0.0.5:9000"},
		{"empty host", env{"HTTP_ADDR": ":9000"}, "http://localhost:9000"},
		{"unspecified v4", env{"HTTP_ADDR": "0.0.0.0:80"}, "http://localhost:80"},
		{"unspecified v6", env{"HTTP_ADDR": "[::]:8080"}, "http://localhost:8080"},
		{"v6 loopback", env{"HTTP_ADDR": "[::1]:8080"}, "http://[::1]:8080"},
		{"port zero", env{"HTTP_ADDR": "127.0.0.1:0"}, "http://127.0.0.1:0"},
		{"explicit", env{"PUBLIC_URL": "https://bot.example.com"}, "https://bot.example.com"},
		{"trailing slash", env{"PUBLIC_URL": "https://bot.example.com/"}, "https://bot.example.com"},
		{"path and slashes", env{"PUBLIC_URL": "https://example.com/stars//"}, "https://example.com/stars"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.env).PublicURL; got != tt.want {
				t.Errorf("PublicURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoad_Values(t *testing.T) {
	c := mustLoad(t, env{
		"TELEGRAM_TOKEN":        " " + testToken + " ",
		"TELEGRAM_API_URL":      "http://127.0.0.1:8081/",
		"ADMIN_IDS":             " 5, 3 ,5,,7 ",
		"DATA_DIR":              "/var/lib/starsbot",
		"HTTP_ADDR":             ":8080",
		"TON_WALLET_VERSION":    "V4R2",
		"TON_WATCHER_LAG_ALERT": "90s",
		"TON_MIN_DEPOSIT":       "0.05",
		"ALERT_BATCH_WINDOW":    "5m",
		"FRAGMENT_CONCURRENCY":  "8",
		"USD_PER_STAR":          "0.02",
		"PREMIUM_USD_12":        "30",
		"FEE_PERCENT":           "2.5",
		"STARS_MIN":             "100",
		"STARS_MAX":             "5000",
		"ORDER_TTL":             "30m",
		"TON_USD_RATE":          "3.1234567",
		"RATE_URL":              "https://api.example.com/price?ids=the-open-network&vs=usd",
		"RATE_JSON_PATH":        "data.ton.usd",
		"RATE_TTL":              "5m",
		"QUOTE_TTL":             "90s",
		"PRICE_STEP_TON":        "0.01",
		"REFERRAL_PERCENT":      "2.5",
		"SUPPORT_CONTACT":       "@shop_support",
		"API_RATE_LIMIT":        "0.5",
		"API_RATE_BURST":        "3",
		"LOG_LEVEL":             "DEBUG",
		"LOG_FORMAT":            "json",
	})
	check := func(field string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	check("TelegramToken", c.TelegramToken, testToken)
	check("TelegramAPIURL", c.TelegramAPIURL, "http://127.0.0.1:8081")
	check("AdminIDs", c.AdminIDs, []int64{5, 3, 7})
	check("DBPath", c.DBPath(), "/var/lib/starsbot/starsbot.db")
	check("PublicURL", c.PublicURL, "http://localhost:8080")
	check("TONWalletVersion", c.TONWalletVersion, WalletV4R2)
	check("TONWatcherLagAlert", c.TONWatcherLagAlert, 90*time.Second)
	check("TONMinDeposit", c.TONMinDeposit, shop.NanoTON(50_000_000))
	check("AlertBatchWindow", c.AlertBatchWindow, 5*time.Minute)
	check("Pricing", c.Pricing, shop.Pricing{
		USDPerStar: 20_000,
		PremiumUSD: map[int]shop.MicroUSD{3: 11_990_000, 6: 15_990_000, 12: 30_000_000},
		FeePPM:     25_000,
		StarsMin:   100,
		StarsMax:   5000,
		OrderTTL:   30 * time.Minute,
	})
	check("TONUSDRate", c.TONUSDRate, shop.MicroUSD(3_123_456))
	check("TONUSDRateSet", c.TONUSDRateSet, true)
	check("RateURL", c.RateURL, "https://api.example.com/price?ids=the-open-network&vs=usd")
	check("RateJSONPath", c.RateJSONPath, "data.ton.usd")
	check("RateTTL", c.RateTTL, 5*time.Minute)
	check("QuoteTTL", c.QuoteTTL, 90*time.Second)
	check("PriceStep", c.PriceStep, shop.NanoTON(10_000_000))
	check("ReferralPPM", c.ReferralPPM, int64(25_000))
	check("SupportContact", c.SupportContact, "@shop_support")
	check("APIRateLimit", c.APIRateLimit, 0.5)
	check("APIRateBurst", c.APIRateBurst, int64(3))
	check("LogLevel", c.LogLevel, slog.LevelDebug)
	check("LogFormat", c.LogFormat, LogFormatJSON)
}

func TestLoad_LogLevels(t *testing.T) {
	for in, want := range map[string]slog.Level{
		"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"warning": slog.LevelWarn, "error": slog.LevelError, "Error": slog.LevelError,
	} {
		if got := mustLoad(t, env{"LOG_LEVEL": in}).LogLevel; got != want {
			t.Errorf("LOG_LEVEL=%s: LogLevel = %v, want %v", in, got, want)
		}
	}
}

func TestLoad_Errors(t *testing.T) {
	hex64 := strings.Repeat("0f", 32)
	tests := []struct {
		name    string
		env     env
		wantVar string
	}{
		{"token without colon", env{"TELEGRAM_TOKEN": "justsomesecretvalue1234567890"}, "TELEGRAM_TOKEN"},
		{"token too short", env{"TELEGRAM_TOKEN": "123:shortsecret"}, "TELEGRAM_TOKEN"},
		{"token bad chars", env{"TELEGRAM_TOKEN": "123:AAAAAAAAAAAAAAAAAAAAAAA!"}, "TELEGRAM_TOKEN"},
		{"token with space", env{"TELEGRAM_TOKEN": "123:AAAAAAAAAAAA AAAAAAAAAAAA"}, "TELEGRAM_TOKEN"},
		{"api url no scheme", env{"TELEGRAM_API_URL": "api.telegram.org"}, "TELEGRAM_API_URL"},
		{"api url ftp", env{"TELEGRAM_API_URL": "ftp://api.telegram.org"}, "TELEGRAM_API_URL"},
		{"api url no host", env{"TELEGRAM_API_URL": "https://"}, "TELEGRAM_API_URL"},
		{"api url query", env{"TELEGRAM_API_URL": "https://h.example/?a=1"}, "TELEGRAM_API_URL"},
		{"api url newline", env{"TELEGRAM_API_URL": "https://h.example/\nx"}, "TELEGRAM_API_URL"},
		{"admin ids word", env{"ADMIN_IDS": "abc"}, "ADMIN_IDS"},
		{"database url mysql", env{"DATABASE_URL": "mysql://u:dbpw-secret@h/db"}, "DATABASE_URL"},
		{"database url no host", env{"DATABASE_URL": "postgres:///db"}, "DATABASE_URL"},
		{"database url word", env{"DATABASE_URL": "starsbot"}, "DATABASE_URL"},
		{"backups on postgres", env{"DATABASE_URL": "postgres://u:dbpw-secret@h/db", "BACKUP_INTERVAL": "6h"}, "BACKUP_INTERVAL"},
		{"rate limit word", env{"API_RATE_LIMIT": "fast"}, "API_RATE_LIMIT"},
		{"rate limit zero", env{"API_RATE_LIMIT": "0"}, "API_RATE_LIMIT"},
		{"rate limit negative", env{"API_RATE_LIMIT": "-1"}, "API_RATE_LIMIT"},
		{"rate limit nan", env{"API_RATE_LIMIT": "NaN"}, "API_RATE_LIMIT"},
		{"rate limit inf", env{"API_RATE_LIMIT": "Inf"}, "API_RATE_LIMIT"},
		{"rate limit exponent", env{"API_RATE_LIMIT": "1e3"}, "API_RATE_LIMIT"},
		{"rate limit huge", env{"API_RATE_LIMIT": "10001"}, "API_RATE_LIMIT"},
		{"rate burst zero", env{"API_RATE_BURST": "0"}, "API_RATE_BURST"},
		{"rate burst huge", env{"API_RATE_BURST": "100001"}, "API_RATE_BURST"},
		{"rate burst fraction", env{"API_RATE_BURST": "1.5"}, "API_RATE_BURST"},
		{"admin ids zero", env{"ADMIN_IDS": "0"}, "ADMIN_IDS"},
		{"admin ids negative", env{"ADMIN_IDS": "1,-5"}, "ADMIN_IDS"},
		{"admin ids plus", env{"ADMIN_IDS": "+5"}, "ADMIN_IDS"},
		{"admin ids junk", env{"ADMIN_IDS": "1, 2x"}, "ADMIN_IDS"},
		{"admin ids overflow", env{"ADMIN_IDS": "99999999999999999999"}, "ADMIN_IDS"},
		{"http addr no port", env{"HTTP_ADDR": "8080"}, "HTTP_ADDR"},
		{"http addr named port", env{"HTTP_ADDR": "localhost:http"}, "HTTP_ADDR"},
		{"http addr port too big", env{"HTTP_ADDR": "localhost:70000"}, "HTTP_ADDR"},
		{"http addr empty port", env{"HTTP_ADDR": "localhost:"}, "HTTP_ADDR"},
		{"http addr signed port", env{"HTTP_ADDR": "localhost:+80"}, "HTTP_ADDR"},
		{"public url relative", env{"PUBLIC_URL": "example.com"}, "PUBLIC_URL"},
		{"public url scheme", env{"PUBLIC_URL": "ws://example.com"}, "PUBLIC_URL"},
		{"public url fragment", env{"PUBLIC_URL": "https://example.com/#x"}, "PUBLIC_URL"},
		{"network", env{"TON_NETWORK": "foo"}, "TON_NETWORK"},
		{"config url", testnet.with("TON_CONFIG_URL", "nope"), "TON_CONFIG_URL"},
		{"address whitespace", env{"TON_DEPOSIT_ADDRESS": "EQDtFpEwcFAEcRe5mLVh2N6C0x _hJEM7W61_JLnSF74p4q2"}, "TON_DEPOSIT_ADDRESS"},
		{"address length", env{"TON_DEPOSIT_ADDRESS": "EQDtFpEwcFAEcRe5mLVh2N6C0x"}, "TON_DEPOSIT_ADDRESS"},
		{"address bad chars", env{"TON_DEPOSIT_ADDRESS": strings.Repeat("!", 48)}, "TON_DEPOSIT_ADDRESS"},
		{"address raw short", env{"TON_DEPOSIT_ADDRESS": "0:abcd"}, "TON_DEPOSIT_ADDRESS"},
		{"address raw not hex", env{"TON_DEPOSIT_ADDRESS": "0:" + strings.Repeat("zz", 32)}, "TON_DEPOSIT_ADDRESS"},
		{"address raw workchain", env{"TON_DEPOSIT_ADDRESS": "1:" + hex64}, "TON_DEPOSIT_ADDRESS"},
		{"mnemonic 12 words", env{"TON_WALLET_MNEMONIC": strings.Join(strings.Fields(testMnemonic)[:12], " ")}, "TON_WALLET_MNEMONIC"},
		{"mnemonic 25 words", env{"TON_WALLET_MNEMONIC": testMnemonic + " extra"}, "TON_WALLET_MNEMONIC"},
		{"mnemonic upper case", env{"TON_WALLET_MNEMONIC": strings.Replace(testMnemonic, "absurd", "Absurd", 1)}, "TON_WALLET_MNEMONIC"},
		{"mnemonic digits", env{"TON_WALLET_MNEMONIC": strings.Replace(testMnemonic, "absurd", "absurd1", 1)}, "TON_WALLET_MNEMONIC"},
		{"wallet version", env{"TON_WALLET_VERSION": "v3r2"}, "TON_WALLET_VERSION"},
		{"fulfillment unknown", env{"FULFILLMENT": "auto"}, "FULFILLMENT"},
		{"usd per star word", env{"USD_PER_STAR": "abc"}, "USD_PER_STAR"},
		{"usd per star negative", env{"USD_PER_STAR": "-1"}, "USD_PER_STAR"},
		{"usd per star zero", env{"USD_PER_STAR": "0"}, "USD_PER_STAR"},
		{"usd per star precision", env{"USD_PER_STAR": "0.0000001"}, "USD_PER_STAR"},
		{"premium 3 zero", env{"PREMIUM_USD_3": "0"}, "PREMIUM_USD_3"},
		{"premium 6 word", env{"PREMIUM_USD_6": "x"}, "PREMIUM_USD_6"},
		{"premium 12 zero", env{"PREMIUM_USD_12": "0.000"}, "PREMIUM_USD_12"},
		{"fee over 100", env{"FEE_PERCENT": "101"}, "FEE_PERCENT"},
		{"fee negative", env{"FEE_PERCENT": "-1"}, "FEE_PERCENT"},
		{"fee precision", env{"FEE_PERCENT": "1.23456"}, "FEE_PERCENT"},
		{"fee word", env{"FEE_PERCENT": "five"}, "FEE_PERCENT"},
		{"usdt master bad", env{"USDT_MASTER": "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sD"}, "USDT_MASTER"},
		{"usdt usd word", env{"USDT_USD": "one"}, "USDT_USD"},
		{"usdt usd too low", env{"USDT_USD": "0.4"}, "USDT_USD"},
		{"usdt usd too high", env{"USDT_USD": "2.01"}, "USDT_USD"},
		{"usdt fee word", env{"USDT_FEE_PERCENT": "one"}, "USDT_FEE_PERCENT"},
		{"usdt fee over 20", env{"USDT_FEE_PERCENT": "20.0001"}, "USDT_FEE_PERCENT"},
		{"usdt fee negative", env{"USDT_FEE_PERCENT": "-1"}, "USDT_FEE_PERCENT"},
		{"stars min zero", env{"STARS_MIN": "0"}, "STARS_MIN"},
		{"stars min negative", env{"STARS_MIN": "-1"}, "STARS_MIN"},
		{"stars min word", env{"STARS_MIN": "fifty"}, "STARS_MIN"},
		{"stars max below min", env{"STARS_MAX": "10"}, "STARS_MAX"},
		{"stars max too big", env{"STARS_MAX": "200000000"}, "STARS_MAX"},
		{"stars max float", env{"STARS_MAX": "1e6"}, "STARS_MAX"},
		{"order ttl short", env{"ORDER_TTL": "30s"}, "ORDER_TTL"},
		{"order ttl long", env{"ORDER_TTL": "200h"}, "ORDER_TTL"},
		{"order ttl days", env{"ORDER_TTL": "8d"}, "ORDER_TTL"},
		{"rate zero", env{"TON_USD_RATE": "0"}, "TON_USD_RATE"},
		{"rate negative", env{"TON_USD_RATE": "-3"}, "TON_USD_RATE"},
		{"rate word", env{"TON_USD_RATE": "high"}, "TON_USD_RATE"},
		{"rate absurdly low", env{"TON_USD_RATE": "0.001"}, "TON_USD_RATE"},
		{"rate absurdly high", env{"TON_USD_RATE": "1000000"}, "TON_USD_RATE"},
		{"star price absurd", env{"USD_PER_STAR": "11"}, "USD_PER_STAR"},
		{"rate url", env{"RATE_URL": "not a url"}, "RATE_URL"},
		{"rate url scheme", env{"RATE_URL": "file:///etc/passwd"}, "RATE_URL"},
		{"json path empty segment", env{"RATE_JSON_PATH": "a..b"}, "RATE_JSON_PATH"},
		{"json path leading dot", env{"RATE_JSON_PATH": ".a"}, "RATE_JSON_PATH"},
		{"json path trailing dot", env{"RATE_JSON_PATH": "a."}, "RATE_JSON_PATH"},
		{"rate ttl short", env{"RATE_TTL": "1s"}, "RATE_TTL"},
		{"rate ttl long", env{"RATE_TTL": "2h"}, "RATE_TTL"},
		{"rate ttl word", env{"RATE_TTL": "often"}, "RATE_TTL"},
		{"log level", env{"LOG_LEVEL": "verbose"}, "LOG_LEVEL"},
		{"log level offset", env{"LOG_LEVEL": "INFO+2"}, "LOG_LEVEL"},
		{"log format", env{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env.get)
			checkValidationError(t, err, tt.wantVar, tt.env)
		})
	}
}

func TestLoad_Rules(t *testing.T) {
	fragment := testnet.with("FULFILLMENT", "fragment", "FRAGMENT_COOKIES", testCookies, "TON_WALLET_MNEMONIC", testMnemonic, "TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly)
	tests := []struct {
		name    string
		env     env
		wantVar string // "" means valid
	}{
		{"sandbox fulfillment on sandbox", env{"FULFILLMENT": "sandbox"}, ""},
		{"sandbox fulfillment on testnet", testnet.with("FULFILLMENT", "sandbox"), "FULFILLMENT"},
		{"sandbox fulfillment on mainnet", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly, "FULFILLMENT", "sandbox"), "FULFILLMENT"},
		{"manual on sandbox", env{"FULFILLMENT": "manual"}, ""},
		{"manual on mainnet", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly, "FULFILLMENT", "manual"), ""},
		{"fragment on mainnet", fragment, ""},
		{"fragment on testnet", fragment.with("TON_NETWORK", "testnet", "TON_DEPOSIT_ADDRESS", ""), "FULFILLMENT"},
		{"fragment on sandbox", fragment.with("TON_NETWORK", "sandbox"), "FULFILLMENT"},
		{"fragment without cookies", fragment.with("FRAGMENT_COOKIES", ""), "FRAGMENT_COOKIES"},
		{"fragment without mnemonic", fragment.with("TON_WALLET_MNEMONIC", ""), "TON_WALLET_MNEMONIC"},
		{"fragment with three sessions", fragment.with("FRAGMENT_COOKIES", testCookies+"\n\nstel_ssid=s2; stel_token=t2\r\nstel_ssid=s3; stel_token=t3\n"), ""},
		{"fragment with one session twice", fragment.with("FRAGMENT_COOKIES", testCookies+"\nstel_token=other; stel_ssid=cookiesecret1"), "FRAGMENT_COOKIES"},
		{"fragment with 16 sessions", fragment.with("FRAGMENT_COOKIES", sessionLines(16)), ""},
		{"fragment with 17 sessions", fragment.with("FRAGMENT_COOKIES", sessionLines(17)), "FRAGMENT_COOKIES"},
		{"testnet without rate", testnet.with("TON_USD_RATE", ""), "TON_USD_RATE"},
		{"mainnet without rate", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly, "TON_USD_RATE", ""), "TON_USD_RATE"},
		{"testnet with rate url only", testnet.with("TON_USD_RATE", "", "RATE_URL", "https://api.example.com/price"), ""},
		{"testnet with rate url and rate", testnet.with("RATE_URL", "https://api.example.com/price"), ""},
		{"sandbox without rate", env{}, ""},
		{"testnet without address", testnet.with("TON_DEPOSIT_ADDRESS", ""), "TON_DEPOSIT_ADDRESS"},
		{"mainnet without address", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", ""), "TON_DEPOSIT_ADDRESS"},
		{"testnet mnemonic instead of address", testnet.with("TON_DEPOSIT_ADDRESS", "", "TON_WALLET_MNEMONIC", testMnemonic), ""},
		{"testnet raw address", testnet.with("TON_DEPOSIT_ADDRESS", testRaw), ""},
		{"masterchain raw address", testnet.with("TON_DEPOSIT_ADDRESS", "-1:"+strings.Repeat("AB", 32)), ""},
		// A testnet-flagged friendly address on mainnet is package ton's to reject.
		{"mainnet address on mainnet", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testFriendly), ""},
		{"non-bounceable testnet address", testnet.with("TON_DEPOSIT_ADDRESS", "0QDtFpEwcFAEcRe5mLVh2N6C0x-_hJEM7W61_JLnSF74p2z5"), ""},
		{"raw address on mainnet", testnet.with("TON_NETWORK", "mainnet", "TON_DEPOSIT_ADDRESS", testRaw), ""},
		{"testnet address on mainnet", testnet.with("TON_NETWORK", "mainnet"), "TON_DEPOSIT_ADDRESS"},
		{"mainnet address on testnet", testnet.with("TON_DEPOSIT_ADDRESS", testFriendly), "TON_DEPOSIT_ADDRESS"},
		{"poll interval too short", env{"TON_POLL_INTERVAL": "100ms"}, "TON_POLL_INTERVAL"},
		{"poll interval too long", env{"TON_POLL_INTERVAL": "1h"}, "TON_POLL_INTERVAL"},
		{"watcher lag alert too small", env{"TON_WATCHER_LAG_ALERT": "29s"}, "TON_WATCHER_LAG_ALERT"},
		{"watcher lag alert too large", env{"TON_WATCHER_LAG_ALERT": "24h1s"}, "TON_WATCHER_LAG_ALERT"},
		{"watcher lag alert negative", env{"TON_WATCHER_LAG_ALERT": "-5m"}, "TON_WATCHER_LAG_ALERT"},
		{"watcher lag alert word", env{"TON_WATCHER_LAG_ALERT": "soon"}, "TON_WATCHER_LAG_ALERT"},
		{"watcher lag alert days", env{"TON_WATCHER_LAG_ALERT": "1d"}, "TON_WATCHER_LAG_ALERT"},
		{"watcher lag alert bounds low", env{"TON_WATCHER_LAG_ALERT": "30s"}, ""},
		{"watcher lag alert bounds high", env{"TON_WATCHER_LAG_ALERT": "24h"}, ""},
		{"leader ttl too small", env{"LEADER_TTL": "1s"}, "LEADER_TTL"},
		{"leader ttl too large", env{"LEADER_TTL": "5m1s"}, "LEADER_TTL"},
		{"leader ttl word", env{"LEADER_TTL": "soon"}, "LEADER_TTL"},
		{"leader ttl bounds low", env{"LEADER_TTL": "2s"}, ""},
		{"leader ttl bounds high", env{"LEADER_TTL": "5m"}, ""},
		{"batch partitions zero", env{"DATABASE_BATCH_PARTITIONS": "0"}, "DATABASE_BATCH_PARTITIONS"},
		{"batch partitions too many", env{"DATABASE_BATCH_PARTITIONS": "9"}, "DATABASE_BATCH_PARTITIONS"},
		{"batch partitions word", env{"DATABASE_BATCH_PARTITIONS": "two"}, "DATABASE_BATCH_PARTITIONS"},
		{"batch partitions huge", env{"DATABASE_BATCH_PARTITIONS": "4294967297"}, "DATABASE_BATCH_PARTITIONS"},
		{"batch partitions bounds", env{"DATABASE_BATCH_PARTITIONS": "8"}, ""},
		{"min deposit negative", env{"TON_MIN_DEPOSIT": "-0.01"}, "TON_MIN_DEPOSIT"},
		{"min deposit too large", env{"TON_MIN_DEPOSIT": "1.000000001"}, "TON_MIN_DEPOSIT"},
		{"min deposit word", env{"TON_MIN_DEPOSIT": "dust"}, "TON_MIN_DEPOSIT"},
		{"min deposit too precise", env{"TON_MIN_DEPOSIT": "0.0000000001"}, "TON_MIN_DEPOSIT"},
		{"min deposit zero disables", env{"TON_MIN_DEPOSIT": "0"}, ""},
		{"min deposit bounds high", env{"TON_MIN_DEPOSIT": "1"}, ""},
		{"min deposit one nanoton", env{"TON_MIN_DEPOSIT": "0.000000001"}, ""},
		{"alert batch window too small", env{"ALERT_BATCH_WINDOW": "999ms"}, "ALERT_BATCH_WINDOW"},
		{"alert batch window too large", env{"ALERT_BATCH_WINDOW": "1h1s"}, "ALERT_BATCH_WINDOW"},
		{"alert batch window zero", env{"ALERT_BATCH_WINDOW": "0"}, "ALERT_BATCH_WINDOW"},
		{"alert batch window word", env{"ALERT_BATCH_WINDOW": "minute"}, "ALERT_BATCH_WINDOW"},
		{"alert batch window bounds low", env{"ALERT_BATCH_WINDOW": "1s"}, ""},
		{"alert batch window bounds high", env{"ALERT_BATCH_WINDOW": "1h"}, ""},
		{"fragment margin negative", env{"FRAGMENT_MARGIN_TON": "-1"}, "FRAGMENT_MARGIN_TON"},
		{"fragment margin too large", env{"FRAGMENT_MARGIN_TON": "101"}, "FRAGMENT_MARGIN_TON"},
		{"fragment margin zero", env{"FRAGMENT_MARGIN_TON": "0"}, ""},
		{"low balance negative", env{"TON_WALLET_LOW_BALANCE": "-1"}, "TON_WALLET_LOW_BALANCE"},
		{"low balance word", env{"TON_WALLET_LOW_BALANCE": "five"}, "TON_WALLET_LOW_BALANCE"},
		{"low balance off", env{"TON_WALLET_LOW_BALANCE": "0"}, ""},
		{"max attempts zero", env{"FULFILLMENT_MAX_ATTEMPTS": "0"}, "FULFILLMENT_MAX_ATTEMPTS"},
		{"max attempts huge", env{"FULFILLMENT_MAX_ATTEMPTS": "1000"}, "FULFILLMENT_MAX_ATTEMPTS"},
		{"max attempts one", env{"FULFILLMENT_MAX_ATTEMPTS": "1"}, ""},
		{"concurrency zero", env{"FRAGMENT_CONCURRENCY": "0"}, "FRAGMENT_CONCURRENCY"},
		{"concurrency too high", env{"FRAGMENT_CONCURRENCY": "33"}, "FRAGMENT_CONCURRENCY"},
		{"concurrency bounds", env{"FRAGMENT_CONCURRENCY": "32"}, ""},
		{"sandbox with address", env{"TON_DEPOSIT_ADDRESS": testFriendly}, ""},
		{"sandbox with mnemonic", env{"TON_WALLET_MNEMONIC": testMnemonic}, ""},
		{"stars min equals max", env{"STARS_MIN": "100", "STARS_MAX": "100"}, ""},
		{"fee 100", env{"FEE_PERCENT": "100"}, ""},
		{"usdt fee 20", env{"USDT_FEE_PERCENT": "20"}, ""},
		{"usdt usd 0.999", env{"USDT_USD": "0.999"}, ""},
		{"usdt off", env{"USDT_MASTER": "none"}, ""},
		{"rate ttl bounds low", env{"RATE_TTL": "5s"}, ""},
		{"rate ttl bounds high", env{"RATE_TTL": "1h"}, ""},
		{"quote ttl too short", env{"QUOTE_TTL": "9s"}, "QUOTE_TTL"},
		{"quote ttl too long", env{"QUOTE_TTL": "10m1s"}, "QUOTE_TTL"},
		{"quote ttl zero", env{"QUOTE_TTL": "0"}, "QUOTE_TTL"},
		{"quote ttl negative", env{"QUOTE_TTL": "-1m"}, "QUOTE_TTL"},
		{"quote ttl word", env{"QUOTE_TTL": "minute"}, "QUOTE_TTL"},
		{"quote ttl bounds low", env{"QUOTE_TTL": "10s"}, ""},
		{"quote ttl bounds high", env{"QUOTE_TTL": "10m"}, ""},
		{"webhook allow private word", env{"WEBHOOK_ALLOW_PRIVATE": "sometimes"}, "WEBHOOK_ALLOW_PRIVATE"},
		{"webhook allow private false", env{"WEBHOOK_ALLOW_PRIVATE": "false"}, ""},
		{"price step zero", env{"PRICE_STEP_TON": "0"}, "PRICE_STEP_TON"},
		{"price step too large", env{"PRICE_STEP_TON": "1.000000001"}, "PRICE_STEP_TON"},
		{"price step negative", env{"PRICE_STEP_TON": "-0.001"}, "PRICE_STEP_TON"},
		{"price step too precise", env{"PRICE_STEP_TON": "0.0000000001"}, "PRICE_STEP_TON"},
		{"price step word", env{"PRICE_STEP_TON": "cent"}, "PRICE_STEP_TON"},
		{"price step bounds low", env{"PRICE_STEP_TON": "0.000000001"}, ""},
		{"price step bounds high", env{"PRICE_STEP_TON": "1"}, ""},
		{"referral percent over 50", env{"REFERRAL_PERCENT": "50.0001"}, "REFERRAL_PERCENT"},
		{"referral percent negative", env{"REFERRAL_PERCENT": "-1"}, "REFERRAL_PERCENT"},
		{"referral percent word", env{"REFERRAL_PERCENT": "five"}, "REFERRAL_PERCENT"},
		{"referral percent sign", env{"REFERRAL_PERCENT": "5%"}, "REFERRAL_PERCENT"},
		{"referral percent bounds low", env{"REFERRAL_PERCENT": "0"}, ""},
		{"referral percent bounds high", env{"REFERRAL_PERCENT": "50"}, ""},
		{"support username", env{"SUPPORT_CONTACT": "@shop_help"}, ""},
		{"support url", env{"SUPPORT_CONTACT": "https://t.me/shop_help"}, ""},
		{"support username short", env{"SUPPORT_CONTACT": "@abc"}, "SUPPORT_CONTACT"},
		{"support username bad chars", env{"SUPPORT_CONTACT": "@shop-help"}, "SUPPORT_CONTACT"},
		{"support bare name", env{"SUPPORT_CONTACT": "shop_help"}, "SUPPORT_CONTACT"},
		{"support http", env{"SUPPORT_CONTACT": "http://example.com/help"}, "SUPPORT_CONTACT"},
		{"support javascript", env{"SUPPORT_CONTACT": "javascript:alert(1)"}, "SUPPORT_CONTACT"},
		{"support credentials", env{"SUPPORT_CONTACT": "https://u:p@example.com/"}, "SUPPORT_CONTACT"},
		{"support quote", env{"SUPPORT_CONTACT": "https://example.com/\"x"}, "SUPPORT_CONTACT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.env.get)
			if tt.wantVar == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if c == nil {
					t.Fatal("Load returned a nil Config")
				}
				return
			}
			checkValidationError(t, err, tt.wantVar, tt.env)
		})
	}
}

func TestLoad_RuleMessages(t *testing.T) {
	tests := []struct {
		name string
		env  env
		want string
	}{
		{"network", env{"TON_NETWORK": "foo"}, `config: TON_NETWORK: must be sandbox, testnet or mainnet (got "foo")`},
		{"rate", testnet.with("TON_USD_RATE", ""), "config: TON_USD_RATE: must be set on testnet/mainnet when RATE_URL is empty"},
		{"mnemonic count", env{"TON_WALLET_MNEMONIC": "abandon ability able"}, "config: TON_WALLET_MNEMONIC: must be 24 words (got 3)"},
		{"stars max", env{"STARS_MAX": "10"}, "config: STARS_MAX: must not be below STARS_MIN"},
		{"watcher lag small", env{"TON_WATCHER_LAG_ALERT": "10s"}, "config: TON_WATCHER_LAG_ALERT: must be between 30s and 24h (got 10s)"},
		{"watcher lag syntax", env{"TON_WATCHER_LAG_ALERT": "5 min"}, `config: TON_WATCHER_LAG_ALERT: must be a duration such as 90s, 15m or 1h (got "5 min")`},
		{"min deposit range", env{"TON_MIN_DEPOSIT": "2"}, "config: TON_MIN_DEPOSIT: must be from 0 to 1 TON (got 2)"},
		{"min deposit syntax", env{"TON_MIN_DEPOSIT": "1 nano"}, `config: TON_MIN_DEPOSIT: must be an amount of TON such as 0.01 (got "1 nano")`},
		{"alert batch range", env{"ALERT_BATCH_WINDOW": "2h"}, "config: ALERT_BATCH_WINDOW: must be between 1s and 1h (got 2h0m0s)"},
		{"quote ttl range", env{"QUOTE_TTL": "1h"}, "config: QUOTE_TTL: must be between 10s and 10m (got 1h0m0s)"},
		{"quote ttl syntax", env{"QUOTE_TTL": "60"}, `config: QUOTE_TTL: must be a duration such as 90s, 15m or 1h (got "60")`},
		{"price step range", env{"PRICE_STEP_TON": "2"}, "config: PRICE_STEP_TON: must be from 0.000000001 to 1 TON (got 2)"},
		{"price step syntax", env{"PRICE_STEP_TON": "1e-3"}, `config: PRICE_STEP_TON: must be an amount of TON such as 0.001 (got "1e-3")`},
		{"premium", env{"PREMIUM_USD_6": "0"}, "config: PREMIUM_USD_6: must be positive and at most 10000"},
		{"usd syntax", env{"USD_PER_STAR": "abc"}, `config: USD_PER_STAR: must be an amount in USD such as 0.015, at most 6 decimal places (got "abc")`},
		{"premium syntax", env{"PREMIUM_USD_12": "1.0000001"}, `config: PREMIUM_USD_12: must be an amount in USD such as 0.015, at most 6 decimal places (got "1.0000001")`},
		{"fee syntax", env{"FEE_PERCENT": "five"}, `config: FEE_PERCENT: must be a percentage from 0 to 100 with at most 4 decimal places, such as 2.5 (got "five")`},
		{"stars syntax", env{"STARS_MIN": "fifty"}, `config: STARS_MIN: must be a whole number (got "fifty")`},
		{"ttl syntax", env{"ORDER_TTL": "8d"}, `config: ORDER_TTL: must be a duration such as 90s, 15m or 1h (got "8d")`},
		{"first pricing error", env{"ORDER_TTL": "x", "STARS_MAX": "y"}, `config: STARS_MAX: must be a whole number (got "y")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.env.get)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load: error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	c := mustLoad(t, env{})
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate(loaded config): %v", err)
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantVar string
	}{
		{"empty", func(c *Config) { *c = Config{} }, "TELEGRAM_API_URL"},
		{"data dir", func(c *Config) { c.DataDir = " " }, "DATA_DIR"},
		{"admin id", func(c *Config) { c.AdminIDs = []int64{1, 0} }, "ADMIN_IDS"},
		{"config url on mainnet", func(c *Config) {
			c.TONNetwork, c.Fulfillment, c.TONUSDRateSet, c.TONDepositAddress = NetworkMainnet, FulfillmentManual, true, testRaw
		}, "TON_CONFIG_URL"},
		{"rate", func(c *Config) { c.TONUSDRate = 0 }, "TON_USD_RATE"},
		{"log level", func(c *Config) { c.LogLevel = slog.LevelInfo + 2 }, "LOG_LEVEL"},
		{"pricing map", func(c *Config) { c.Pricing.PremiumUSD = nil }, "PREMIUM_USD_3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *mustLoad(t, env{})
			tt.edit(&c)
			checkValidationError(t, c.Validate(), tt.wantVar, nil)
		})
	}
}

func TestValidationError_Error(t *testing.T) {
	e := &ValidationError{Var: "X", Problem: "bad\nvalue\r"}
	if got, want := e.Error(), `config: X: bad\nvalue\r`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// Every variable Pricing.Validate can name maps back to a real variable.
func TestPricingVars(t *testing.T) {
	for _, v := range shop.PricingFields {
		if !slices.Contains(variables, strings.ToUpper(v)) {
			t.Errorf("pricing field %s is not a known variable", v)
		}
	}
}

func TestLoad_WalletVersions(t *testing.T) {
	for in, want := range map[string]string{"v4r2": WalletV4R2, "V5R1": WalletV5R1, "highload_v3": WalletHighloadV3, "HIGHLOAD_V3": WalletHighloadV3} {
		if got := mustLoad(t, env{"TON_WALLET_VERSION": in}).TONWalletVersion; got != want {
			t.Errorf("TON_WALLET_VERSION=%s: %q, want %q", in, got, want)
		}
	}
}

// TELEGRAM_WEBHOOK_URL must be an https URL without credentials, query
// or fragment and needs a token; TELEGRAM_WEBHOOK_SECRET follows the Bot
// API's secret_token rule and is never echoed.
func TestLoad_TelegramWebhook(t *testing.T) {
	bot := env{"TELEGRAM_TOKEN": testToken}
	c := mustLoad(t, bot.with("TELEGRAM_WEBHOOK_URL", "https://bot.example.com/tg/hook", "TELEGRAM_WEBHOOK_SECRET", "Abc_-09"))
	if c.TelegramWebhookURL != "https://bot.example.com/tg/hook" || c.TelegramWebhookSecret != "Abc_-09" {
		t.Errorf("got %q %q", c.TelegramWebhookURL, c.TelegramWebhookSecret)
	}
	mustLoad(t, bot.with("TELEGRAM_WEBHOOK_URL", "https://bot.example.com:8443/hook"))
	mustLoad(t, bot.with("TELEGRAM_WEBHOOK_URL", "https://bot.example.com:9000/hook", "TELEGRAM_API_URL", "http://127.0.0.1:8081")) // a local Bot API server allows any port
	if c := mustLoad(t, bot.with("TELEGRAM_WEBHOOK_SECRET", strings.Repeat("x", 256))); len(c.TelegramWebhookSecret) != 256 {
		t.Error("a 256-character secret was not kept")
	}
	for name, tt := range map[string]struct {
		env     env
		wantVar string
	}{
		"http":            {bot.with("TELEGRAM_WEBHOOK_URL", "http://bot.example.com/hook"), "TELEGRAM_WEBHOOK_URL"},
		"no host":         {bot.with("TELEGRAM_WEBHOOK_URL", "https:///hook"), "TELEGRAM_WEBHOOK_URL"},
		"relative":        {bot.with("TELEGRAM_WEBHOOK_URL", "/hook"), "TELEGRAM_WEBHOOK_URL"},
		"credentials":     {bot.with("TELEGRAM_WEBHOOK_URL", "https://u:p@bot.example.com/hook"), "TELEGRAM_WEBHOOK_URL"},
		"query":           {bot.with("TELEGRAM_WEBHOOK_URL", "https://bot.example.com/hook?a=1"), "TELEGRAM_WEBHOOK_URL"},
		"no token":        {env{"TELEGRAM_WEBHOOK_URL": "https://bot.example.com/hook"}, "TELEGRAM_WEBHOOK_URL"},
		"secret chars":    {bot.with("TELEGRAM_WEBHOOK_SECRET", "not allowed!"), "TELEGRAM_WEBHOOK_SECRET"},
		"secret too long": {bot.with("TELEGRAM_WEBHOOK_SECRET", strings.Repeat("x", 257)), "TELEGRAM_WEBHOOK_SECRET"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tt.env.get)
			checkValidationError(t, err, tt.wantVar, tt.env)
			if s := tt.env["TELEGRAM_WEBHOOK_SECRET"]; s != "" && err != nil && strings.Contains(err.Error(), s) {
				t.Errorf("error %q echoes the webhook secret", err)
			}
		})
	}
	// The secret is redacted wherever a Config is printed.
	out := c.String() + c.GoString()
	if strings.Contains(out, "Abc_-09") {
		t.Errorf("printed config leaks the webhook secret: %s", out)
	}
}

// TestLoad_DatabaseURL: a PostgreSQL URL selects pgstore, and its password
// shows nowhere: not in errors, not in the logged configuration.
func TestLoad_DatabaseURL(t *testing.T) {
	c, err := Load(env{"DATABASE_URL": "postgres://shop:dbpw-secret@db.internal:5432/starsbot?sslmode=require"}.get)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Postgres() {
		t.Error("Postgres() = false with DATABASE_URL")
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "dbpw-secret") {
			t.Errorf("configuration shows the database password: %s", s)
		}
	}
	_, err = Load(env{"DATABASE_URL": "mysql://shop:dbpw-secret@db.internal/starsbot"}.get)
	if err == nil || strings.Contains(err.Error(), "dbpw-secret") {
		t.Errorf("error %v", err)
	}
	if c, _ := Load(env{}.get); c.Postgres() {
		t.Error("Postgres() = true by default")
	}
}

// sessionLines is FRAGMENT_COOKIES with n sessions.
func sessionLines(n int) string {
	var lines []string
	for i := range n {
		lines = append(lines, fmt.Sprintf("stel_ssid=s%d; stel_token=t%d", i, i))
	}
	return strings.Join(lines, "\n")
}

func TestFragmentSessions(t *testing.T) {
	c := &Config{FragmentCookies: " a=1; b=2 \r\n\n  \nc=3\n"}
	if got, want := c.FragmentSessions(), []string{"a=1; b=2", "c=3"}; !slices.Equal(got, want) {
		t.Errorf("FragmentSessions = %q, want %q", got, want)
	}
	if got := (&Config{}).FragmentSessions(); len(got) != 0 {
		t.Errorf("no cookies: %q", got)
	}
	// A repeated session is refused without showing its value.
	problem := checkFragmentSessions([]string{"stel_ssid=topsecret; x=1", "y=2", "stel_ssid=topsecret"})
	if !strings.Contains(problem, "line 3 repeats the stel_ssid of line 1") || strings.Contains(problem, "topsecret") {
		t.Errorf("problem = %q", problem)
	}
}
