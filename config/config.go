package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"starsbot/shop"
)

// TON networks, the values of TON_NETWORK.
const (
	NetworkSandbox = "sandbox" // simulated chain, no real money
	NetworkTestnet = "testnet"
	NetworkMainnet = "mainnet"
)

// Fulfillment providers, the values of FULFILLMENT.
const (
	FulfillmentSandbox  = "sandbox"  // completes orders without delivering; sandbox network only
	FulfillmentManual   = "manual"   // admins deliver by hand
	FulfillmentFragment = "fragment" // buys on fragment.com and pays from the hot wallet
)

// Wallet versions, the values of TON_WALLET_VERSION.
const (
	WalletV4R2       = "v4r2"
	WalletV5R1       = "v5r1"
	WalletHighloadV3 = "highload_v3"
)

// Log formats, the values of LOG_FORMAT.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

const (
	defaultTelegramAPIURL = "https://api.telegram.org"
	defaultDataDir        = "./data"
	defaultHTTPAddr       = "127.0.0.1:8080"
	mainnetConfigURL      = "https://ton.org/global.config.json"
	testnetConfigURL      = "https://ton.org/testnet-global.config.json"
	defaultTONUSDRate     = shop.MicroUSD(3_600_000) // 3.6 USD per TON
	defaultRateJSONPath   = "the-open-network.usd"
	defaultRateTTL        = 60 * time.Second
	minRateTTL            = 5 * time.Second
	maxRateTTL            = time.Hour
	mnemonicWords         = 24
	defaultTONPoll        = 3 * time.Second
	minTONPoll            = time.Second
	maxTONPoll            = 5 * time.Minute
	defaultWatcherLag     = 5 * time.Minute
	minWatcherLag         = 30 * time.Second
	maxWatcherLag         = 24 * time.Hour
	defaultLeaderTTL      = 10 * time.Second
	minLeaderTTL          = 2 * time.Second
	maxLeaderTTL          = 5 * time.Minute
	maxBatchPartitions    = 8
	defaultFragmentMargin = shop.NanoTON(10_000_000) // 0.01 TON, about twice a wallet transfer's fees
	maxFragmentMargin     = 100 * shop.TON
	defaultWalletLow      = 5 * shop.TON
	defaultMinDeposit     = shop.NanoTON(10_000_000) // 0.01 TON: 1-nanoTON spam is far below, real top-ups far above
	// MainnetUSDTMaster is Tether's USDT jetton master on mainnet
	// (tonutils-go v1.18.0 example/accept-payments/main.go; the TON docs'
	// Tonkeeper link), USDT_MASTER's default: ton.MainnetUSDTMaster.
	MainnetUSDTMaster   = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"
	maxMinDeposit       = shop.TON
	defaultAlertBatch   = time.Minute
	minAlertBatch       = time.Second
	maxAlertBatch       = time.Hour
	defaultMaxAttempts  = 6
	maxMaxAttempts      = 100
	defaultConcurrency  = 4
	maxConcurrency      = 32
	maxFragmentSessions = 16 // as shop's bound of saved sessions
	defaultAPIRateLimit = 20
	defaultAPIRateBurst = 40
	maxAPIRateLimit     = 10000
	maxAPIRateBurst     = 100000
	dbFileName          = "starsbot.db"
	defaultBackupKeep   = 7
	maxBackupKeep       = 1000
	minBackupInterval   = time.Minute
	maxBackupInterval   = 30 * 24 * time.Hour
)

// Config is starsbot's validated configuration. Load fills every field,
// defaults included; a Config built by hand should pass Validate before use.
//
// The secret fields (TelegramToken, TelegramWebhookSecret, TONWalletMnemonic,
// FragmentCookies) are
// redacted by LogValue, String, GoString and Format, and skipped by
// encoding/json.
type Config struct {
	// TelegramToken is the Bot API token (TELEGRAM_TOKEN, secret). Default
	// empty: the bot is disabled and the REST API still runs.
	TelegramToken string `json:"-"`
	// TelegramAPIURL is the Bot API server (TELEGRAM_API_URL), without a
	// trailing slash. Default https://api.telegram.org.
	TelegramAPIURL string
	// TelegramWebhookURL is where Telegram sends updates in webhook mode
	// (TELEGRAM_WEBHOOK_URL): an https URL whose path this service serves
	// on HTTP_ADDR (behind a TLS-terminating load balancer). Default
	// empty: long polling.
	TelegramWebhookURL string
	// TelegramWebhookSecret is the secret_token Telegram sends with every
	// webhook request (TELEGRAM_WEBHOOK_SECRET, secret): 1-256 of A-Z a-z
	// 0-9 _ -. Default empty: derived from the bot token (package bot), so
	// that every replica agrees without configuration.
	TelegramWebhookSecret string `json:"-"`
	// AdminIDs are the Telegram user ids of admins (ADMIN_IDS, comma
	// separated), positive and without duplicates. Default none.
	AdminIDs []int64

	// DataDir holds the bbolt file (DATA_DIR). Default ./data.
	DataDir string
	// DatabaseURL is a PostgreSQL database to run on instead of the bbolt
	// file (DATABASE_URL, postgres://user:password@host:port/db?…; it may
	// hold a password, so it is only ever shown redacted). Default empty:
	// bbolt in DataDir. The bbolt-only features (BACKUP_INTERVAL, the
	// backup, restore and check commands, /backup) are not available with
	// it: PostgreSQL has its own backups.
	DatabaseURL string `json:"-"`
	// LeaderTTL bounds how long replicas on one PostgreSQL database go
	// without a leader to run the singletons (LEADER_TTL), 2s to 5m.
	// Default 10s. Unused on bbolt, where the one process always leads.
	LeaderTTL time.Duration
	// BatchPartitions is into how many partitions of the payers the
	// PostgreSQL store's group commit splits orders, whose batches run side
	// by side (DATABASE_BATCH_PARTITIONS), 1 to 8. Default 1. Unused on
	// bbolt.
	BatchPartitions int
	// HTTPAddr is the partner REST API listen address (HTTP_ADDR), host:port
	// with a numeric port. Default 127.0.0.1:8080.
	HTTPAddr string
	// PublicURL is the base URL shown to partners (PUBLIC_URL), without a
	// trailing slash. Default http://HTTP_ADDR, with an empty or unspecified
	// host (0.0.0.0, ::) replaced by localhost.
	PublicURL string

	// TONNetwork is NetworkSandbox, NetworkTestnet or NetworkMainnet
	// (TON_NETWORK). Default sandbox.
	TONNetwork string
	// TONConfigURL is the liteserver global config URL (TON_CONFIG_URL).
	// Default https://ton.org/global.config.json on mainnet,
	// https://ton.org/testnet-global.config.json on testnet, empty on sandbox.
	TONConfigURL string
	// TONDepositAddress is the service wallet that receives deposits
	// (TON_DEPOSIT_ADDRESS), friendly (48 characters) or raw (0:<64 hex>).
	// Only its shape is checked here; package ton parses it. Default empty:
	// derived from the wallet. Required on testnet/mainnet unless
	// TONWalletMnemonic is set.
	TONDepositAddress string
	// TONWalletMnemonic is the hot wallet's 24 lowercase words, separated by
	// single spaces (TON_WALLET_MNEMONIC, or the file named by
	// TON_WALLET_MNEMONIC_FILE; secret). Default empty.
	TONWalletMnemonic string `json:"-"`
	// TONWalletVersion is WalletV4R2, WalletV5R1 or WalletHighloadV3
	// (TON_WALLET_VERSION). Default v5r1.
	TONWalletVersion string
	// TONPollInterval is how often the deposit watcher asks the chain for
	// new transactions (TON_POLL_INTERVAL), 1s to 5m. Default 3s.
	TONPollInterval time.Duration
	// TONWatcherLagAlert is how far the deposit watcher may fall behind the
	// chain, or go without completing its first poll, before admins are
	// alerted (TON_WATCHER_LAG_ALERT), 30s to 24h. Default 5m.
	TONWatcherLagAlert time.Duration
	// TONWalletLowBalance is the hot-wallet balance under which admins are
	// alerted (TON_WALLET_LOW_BALANCE, in TON, 0 = never). Default 5.
	TONWalletLowBalance shop.NanoTON
	// TONMinDeposit is the smallest transfer that is booked
	// (TON_MIN_DEPOSIT, in TON, 0 to 1; 0 = every positive amount): a smaller
	// one, whatever its memo, is recorded as ignored dust, never credited
	// and never alerted. Default 0.01.
	TONMinDeposit shop.NanoTON
	// USDTMaster is the USDT jetton master whose transfers to the deposit
	// address are credited (USDT_MASTER; "none" turns USDT off). Default
	// the mainnet USDT master on mainnet and in the sandbox, none on
	// testnet (Tether has no testnet USDT).
	USDTMaster string
	// USDT is USDT_USD (the USD value of one USDT, 0.5 to 2; default 1)
	// and USDT_FEE_PERCENT (kept from every USDT credit, 0 to 20, up to
	// 4 decimals; default 0).
	USDT shop.USDTConfig
	// AlertBatchWindow is how often, at most, admins get a message about
	// unmatched deposits (ALERT_BATCH_WINDOW), 1s to 1h. Default 1m.
	AlertBatchWindow time.Duration

	// Fulfillment is FulfillmentSandbox, FulfillmentManual or
	// FulfillmentFragment (FULFILLMENT). Default sandbox on the sandbox
	// network, manual otherwise. Sandbox is allowed only on the sandbox
	// network; fragment needs FragmentCookies, TONWalletMnemonic and a real
	// network.
	Fulfillment string
	// FragmentCookies are the fragment.com session cookies (FRAGMENT_COOKIES,
	// or the file named by FRAGMENT_COOKIES_FILE; secret): one Cookie line
	// per session, several lines for several browser logins of the same
	// account (FragmentSessions). Default empty.
	FragmentCookies string `json:"-"`
	// FulfillmentMaxAttempts is how many times a delivery is tried after
	// temporary errors, with exponential backoff, before the order goes to
	// manual delivery (FULFILLMENT_MAX_ATTEMPTS, 1 to 100). Default 6.
	FulfillmentMaxAttempts int64
	// FragmentConcurrency is how many orders go through fragment.com's
	// steps (search, request, link) at once; their payments are batched
	// (FRAGMENT_CONCURRENCY, 1 to 32). Default 4.
	FragmentConcurrency int64
	// FragmentMargin is what must be left of the buyer's payment after
	// paying Fragment, for network fees (FRAGMENT_MARGIN_TON, 0 to 100 TON):
	// an order whose Fragment price exceeds its price minus this goes to
	// manual delivery instead of being sold at a loss. Default 0.01.
	FragmentMargin shop.NanoTON

	// Pricing is the price list and order limits: USD_PER_STAR (0.015),
	// PREMIUM_USD_3 (11.99), PREMIUM_USD_6 (15.99), PREMIUM_USD_12 (28.99),
	// FEE_PERCENT (0, up to 4 decimals), STARS_MIN (50), STARS_MAX (1000000)
	// and ORDER_TTL (15m).
	Pricing shop.Pricing
	// QuoteTTL is how long a locked quote holds its price (QUOTE_TTL), for
	// POST /api/v1/quotes and the bot's Confirm button, 10s to 10m. Default
	// 60s.
	QuoteTTL time.Duration
	// WebhookAllowPrivate lets partner webhooks go to loopback, private,
	// link-local and other non-public addresses
	// (WEBHOOK_ALLOW_PRIVATE, true or false). Default true on the sandbox
	// network only. On mainnet webhook URLs must also be https.
	WebhookAllowPrivate bool
	// PriceStep is what every price in TON is rounded up to a whole
	// multiple of, so that a person can read and type it (PRICE_STEP_TON,
	// in TON, 0.000000001 to 1; 0.000000001 = exact to the nanoTON).
	// Default 0.001.
	PriceStep shop.NanoTON
	// ReferralPPM is the share of each completed purchase credited to the
	// buyer's referrer (REFERRAL_PERCENT, a percent from 0 to 50 with up to
	// 4 decimals), in parts per million. Default 0: referral rewards off.
	ReferralPPM int64
	// SupportContact is whom buyers ask for help (SUPPORT_CONTACT): a
	// Telegram @username or an https URL, shown in the bot's help, errors
	// and manual-delivery notices. Default empty: none shown.
	SupportContact string

	// TONUSDRate is the static TON/USD rate, the fallback when RateURL is set
	// (TON_USD_RATE). Default 3.6; on testnet/mainnet it must be given
	// explicitly unless RATE_URL is set.
	TONUSDRate shop.MicroUSD
	// TONUSDRateSet reports whether TON_USD_RATE was given explicitly.
	TONUSDRateSet bool
	// RateURL is an HTTP JSON source of the TON/USD rate (RATE_URL). Default
	// empty: only the static rate is used.
	RateURL string
	// RateJSONPath is the dot-separated path of the rate in RateURL's JSON
	// (RATE_JSON_PATH). Default the-open-network.usd (CoinGecko simple price).
	RateJSONPath string
	// RateTTL is how long a fetched rate is cached (RATE_TTL), 5s to 1h.
	// Default 60s.
	RateTTL time.Duration

	// APIRateLimit is the partner API's sustained rate per key, in requests
	// per second (API_RATE_LIMIT), more than 0 and at most 10000. Default 20.
	APIRateLimit float64
	// APIRateBurst is how many requests a key may send at once
	// (API_RATE_BURST), 1 to 100000. Default 40.
	APIRateBurst int64

	// BackupInterval is how often a compressed backup of the database is
	// written to BackupDir (BACKUP_INTERVAL), 1m to 720h; 0 = no
	// scheduled backups. Default 0.
	BackupInterval time.Duration
	// BackupDir is where scheduled backups are written (BACKUP_DIR).
	// Default DATA_DIR/backups.
	BackupDir string
	// BackupKeep is how many scheduled backups BackupDir keeps, the oldest
	// removed first (BACKUP_KEEP, 1 to 1000). Default 7.
	BackupKeep int64
	// BackupS3URL is where each scheduled backup is also uploaded
	// (BACKUP_S3_URL): s3://bucket/prefix with optional ?region=,
	// &endpoint=https://… (an S3-compatible server) and &path_style=
	// true|false (default true with an endpoint). Default empty: no
	// upload. Needs BackupInterval.
	BackupS3URL string
	// BackupS3AccessKeyID and BackupS3SecretAccessKey are the S3
	// credentials (BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY or
	// _FILE; secret). Both or neither: without them the AWS SDK's default
	// chain is used (AWS_ACCESS_KEY_ID, …). Default empty.
	BackupS3AccessKeyID     string `json:"-"`
	BackupS3SecretAccessKey string `json:"-"`
	// BackupAgeRecipients are the age public keys (age1…, from
	// age-keygen) that /backup's chat copy is encrypted to
	// (BACKUP_AGE_RECIPIENT, several separated by commas). Default none:
	// /backup sends no database to chat, only where the scheduled backups
	// are, because the database may hold secrets (partners' webhook
	// signing secrets) and does hold customer data.
	BackupAgeRecipients []string

	// LogLevel is the slog level (LOG_LEVEL: debug, info, warn or error).
	// Default info.
	LogLevel slog.Level
	// LogFormat is LogFormatText or LogFormatJSON (LOG_FORMAT). Default text.
	LogFormat string

	// Variables the secrets were read from, for error messages: the plain
	// variable or its _FILE variant.
	mnemonicVar, cookiesVar, s3SecretVar string
}

// ValidationError is a configuration problem: the variable and what is wrong
// with it. It never contains a secret's value.
type ValidationError struct {
	Var     string // the environment variable, e.g. "TON_NETWORK"
	Problem string // e.g. `must be sandbox, testnet or mainnet (got "foo")`
}

// Error returns one line: `config: VAR: problem`.
func (e *ValidationError) Error() string {
	msg := "config: " + e.Var + ": " + e.Problem
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
}

// Postgres reports whether the shop runs on PostgreSQL (DATABASE_URL).
func (c Config) Postgres() bool { return c.DatabaseURL != "" }

// DBPath is the bbolt file inside DataDir.
func (c Config) DBPath() string { return filepath.Join(c.DataDir, dbFileName) }

// Sandbox reports whether the TON network is the simulated one.
func (c Config) Sandbox() bool { return c.TONNetwork == NetworkSandbox }

// Load reads the configuration from getenv (os.Getenv in production; nil
// means os.Getenv) and, if CONFIG_FILE is set, from that file of KEY=VALUE
// lines (# comments, blank lines, optional surrounding quotes on values;
// environment variables override the file). An empty variable counts as
// unset. Values are trimmed of surrounding whitespace.
//
// It validates everything and returns the first problem as a
// *ValidationError: unreadable files and unparsable values first, then
// Validate's checks of the values and the rules between them, each in the
// order of the SPEC's table.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	src, err := newSource(getenv)
	if err != nil {
		return nil, err
	}
	c, err := parse(src)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parser reads typed values from a source and keeps the first problem.
type parser struct {
	src *source
	err error
}

func (p *parser) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = &ValidationError{Var: name, Problem: fmt.Sprintf(format, args...)}
	}
}

// str returns the variable's value, or def when it is unset.
func (p *parser) str(name, def string) string {
	if v := p.src.get(name); v != "" {
		return v
	}
	return def
}

// word returns the lowercased value, or def when it is unset.
func (p *parser) word(name, def string) string {
	return strings.ToLower(p.str(name, def))
}

// baseURL returns the value without trailing slashes, or def.
func (p *parser) baseURL(name, def string) string {
	if v := p.src.get(name); v != "" {
		return strings.TrimRight(v, "/")
	}
	return def
}

// ton parses an amount of TON; example is shown in the error.
func (p *parser) ton(name string, def shop.NanoTON, example string) shop.NanoTON {
	v := p.src.get(name)
	if v == "" {
		return def
	}
	n, err := shop.ParseTON(v)
	if err != nil {
		p.fail(name, "must be an amount of TON such as %s (got %s)", example, quote(v))
	}
	return n
}

func (p *parser) int(name string, def int64) int64 {
	v := p.src.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		p.fail(name, "must be a whole number (got %s)", quote(v))
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.src.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		p.fail(name, "must be a duration such as 90s, 15m or 1h (got %s)", quote(v))
	}
	return d
}

func (p *parser) secret(name string) (value, from string) {
	v, from, err := p.src.secret(name)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v, from
}

// parse turns the source's strings into a Config with defaults applied. It
// reports syntax problems; Validate checks the values and the rules.
func parse(src *source) (*Config, error) {
	p := &parser{src: src}
	c := &Config{}

	c.TelegramToken = p.str("TELEGRAM_TOKEN", "")
	c.TelegramAPIURL = p.baseURL("TELEGRAM_API_URL", defaultTelegramAPIURL)
	c.TelegramWebhookURL = p.str("TELEGRAM_WEBHOOK_URL", "")
	c.TelegramWebhookSecret = p.str("TELEGRAM_WEBHOOK_SECRET", "")
	c.AdminIDs = p.adminIDs("ADMIN_IDS")

	c.DataDir = p.str("DATA_DIR", defaultDataDir)
	c.DatabaseURL = p.str("DATABASE_URL", "")
	c.LeaderTTL = p.duration("LEADER_TTL", defaultLeaderTTL)
	c.BatchPartitions = int(p.int("DATABASE_BATCH_PARTITIONS", 1))
	c.HTTPAddr = p.str("HTTP_ADDR", defaultHTTPAddr)
	c.PublicURL = p.baseURL("PUBLIC_URL", derivePublicURL(c.HTTPAddr))

	c.TONNetwork = p.word("TON_NETWORK", NetworkSandbox)
	defConfigURL := ""
	switch c.TONNetwork {
	case NetworkMainnet:
		defConfigURL = mainnetConfigURL
	case NetworkTestnet:
		defConfigURL = testnetConfigURL
	}
	c.TONConfigURL = p.str("TON_CONFIG_URL", defConfigURL)
	c.TONDepositAddress = p.str("TON_DEPOSIT_ADDRESS", "")
	mnemonic, from := p.secret("TON_WALLET_MNEMONIC")
	c.TONWalletMnemonic, c.mnemonicVar = strings.Join(strings.Fields(mnemonic), " "), from
	c.TONWalletVersion = p.word("TON_WALLET_VERSION", WalletV5R1)
	c.TONPollInterval = p.duration("TON_POLL_INTERVAL", defaultTONPoll)
	c.TONWatcherLagAlert = p.duration("TON_WATCHER_LAG_ALERT", defaultWatcherLag)
	c.TONWalletLowBalance = p.ton("TON_WALLET_LOW_BALANCE", defaultWalletLow, "5")
	c.TONMinDeposit = p.ton("TON_MIN_DEPOSIT", defaultMinDeposit, "0.01")
	c.AlertBatchWindow = p.duration("ALERT_BATCH_WINDOW", defaultAlertBatch)
	defUSDTMaster := MainnetUSDTMaster
	if c.TONNetwork == NetworkTestnet {
		defUSDTMaster = ""
	}
	c.USDTMaster = p.str("USDT_MASTER", defUSDTMaster)
	if strings.EqualFold(c.USDTMaster, "none") {
		c.USDTMaster = ""
	}
	c.USDT.Off = c.USDTMaster == ""
	c.USDT.USDUSD = shop.DefaultUSDTUSD
	if v := src.get("USDT_USD"); v != "" {
		usd, err := shop.ParseUSD(v)
		if err != nil {
			p.fail("USDT_USD", "must be the USD value of one USDT such as 1 or 0.999 (got %s)", quote(v))
		}
		c.USDT.USDUSD = usd
	}
	if v := src.get("USDT_FEE_PERCENT"); v != "" {
		fee, err := shop.ParseFeePercent(v)
		if err != nil {
			p.fail("USDT_FEE_PERCENT", "must be a percentage such as 1.5, at most 4 decimal places (got %s)", quote(v))
		}
		c.USDT.FeePPM = fee
	}

	defFulfillment := FulfillmentManual
	if c.TONNetwork == NetworkSandbox {
		defFulfillment = FulfillmentSandbox
	}
	c.Fulfillment = p.word("FULFILLMENT", defFulfillment)
	c.FulfillmentMaxAttempts = p.int("FULFILLMENT_MAX_ATTEMPTS", defaultMaxAttempts)
	c.FragmentConcurrency = p.int("FRAGMENT_CONCURRENCY", defaultConcurrency)
	c.FragmentCookies, c.cookiesVar = p.secret("FRAGMENT_COOKIES")
	c.FragmentMargin = p.ton("FRAGMENT_MARGIN_TON", defaultFragmentMargin, "0.01")

	c.Pricing = shop.DefaultPricing()
	for _, name := range shop.PricingFields {
		v := src.get(strings.ToUpper(name))
		if v == "" {
			continue
		}
		pr, err := c.Pricing.With(name, v)
		if err != nil {
			p.fail(strings.ToUpper(name), "%s", err.Error())
			continue
		}
		c.Pricing = pr
	}

	c.QuoteTTL = p.duration("QUOTE_TTL", shop.DefaultQuoteTTL)
	c.WebhookAllowPrivate = c.TONNetwork == NetworkSandbox
	if v := src.get("WEBHOOK_ALLOW_PRIVATE"); v != "" {
		allow, err := strconv.ParseBool(v)
		if err != nil {
			p.fail("WEBHOOK_ALLOW_PRIVATE", "must be true or false (got %s)", quote(v))
		}
		c.WebhookAllowPrivate = allow
	}
	c.PriceStep = p.ton("PRICE_STEP_TON", shop.DefaultPriceStep, "0.001")
	if v := src.get("REFERRAL_PERCENT"); v != "" {
		ppm, err := shop.ParseFeePercent(v)
		if err != nil || ppm > shop.MaxReferralPPM {
			p.fail("REFERRAL_PERCENT", "must be a percent from 0 to 50 such as 5 or 2.5, up to 4 decimals (got %s)", quote(v))
		}
		c.ReferralPPM = ppm
	}
	c.SupportContact = p.str("SUPPORT_CONTACT", "")

	c.TONUSDRate = defaultTONUSDRate
	if v := src.get("TON_USD_RATE"); v != "" {
		rate, err := shop.ParseRate(v)
		if err != nil {
			p.fail("TON_USD_RATE", "must be a positive number of USD per TON such as 3.6 (got %s)", quote(v))
		}
		c.TONUSDRate, c.TONUSDRateSet = rate, true
	}
	c.RateURL = p.str("RATE_URL", "")
	c.RateJSONPath = p.str("RATE_JSON_PATH", defaultRateJSONPath)
	c.RateTTL = p.duration("RATE_TTL", defaultRateTTL)

	c.APIRateLimit = defaultAPIRateLimit
	if v := src.get("API_RATE_LIMIT"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || strings.ContainsAny(v, "eEnNiIxX") {
			p.fail("API_RATE_LIMIT", "must be a number of requests per second such as 20 or 0.5 (got %s)", quote(v))
		}
		c.APIRateLimit = r
	}
	c.APIRateBurst = p.int("API_RATE_BURST", defaultAPIRateBurst)

	c.BackupInterval = p.duration("BACKUP_INTERVAL", 0)
	c.BackupDir = p.str("BACKUP_DIR", filepath.Join(c.DataDir, "backups"))
	c.BackupKeep = p.int("BACKUP_KEEP", defaultBackupKeep)
	c.BackupS3URL = p.str("BACKUP_S3_URL", "")
	c.BackupS3AccessKeyID = p.str("BACKUP_S3_ACCESS_KEY_ID", "")
	c.BackupS3SecretAccessKey, c.s3SecretVar = p.secret("BACKUP_S3_SECRET_ACCESS_KEY")
	for r := range strings.SplitSeq(p.str("BACKUP_AGE_RECIPIENT", ""), ",") {
		if r = strings.TrimSpace(r); r != "" {
			c.BackupAgeRecipients = append(c.BackupAgeRecipients, r)
		}
	}

	c.LogLevel = p.logLevel("LOG_LEVEL")
	c.LogFormat = p.word("LOG_FORMAT", LogFormatText)

	if p.err != nil {
		return nil, p.err
	}
	return c, nil
}

// adminIDs parses comma-separated positive ids, ignoring empty items and
// dropping duplicates.
func (p *parser) adminIDs(name string) []int64 {
	var ids []int64
	seen := map[int64]bool{}
	for item := range strings.SplitSeq(p.str(name, ""), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, err := strconv.ParseInt(item, 10, 64)
		if err != nil || id <= 0 || !allDigits(item) {
			p.fail(name, "must be comma-separated positive Telegram user ids (got %s)", quote(item))
			return nil
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

func (p *parser) logLevel(name string) slog.Level {
	switch v := p.word(name, "info"); v {
	case "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		p.fail(name, "must be debug, info, warn or error (got %s)", quote(v))
		return slog.LevelInfo
	}
}

// derivePublicURL is PUBLIC_URL's default: http://HTTP_ADDR, with a host that
// only makes sense to listen on replaced by localhost.
func derivePublicURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr // HTTP_ADDR is reported first by Validate
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

var telegramTokenRE = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]{20,}$`)

// ageRecipientRE is an age X25519 recipient: Bech32 with the age1 prefix,
// 32 bytes of key and a checksum (age's spec); package main parses it.
var ageRecipientRE = regexp.MustCompile(`^age1[02-9ac-hj-np-z]{58}$`)

// Validate reports the first problem with c as a *ValidationError naming the
// variable. Load calls it; a hand-built Config should too.
func (c Config) Validate() error {
	fail := func(name, format string, args ...any) error {
		return &ValidationError{Var: name, Problem: fmt.Sprintf(format, args...)}
	}
	live := c.TONNetwork == NetworkTestnet || c.TONNetwork == NetworkMainnet

	if c.TelegramToken != "" && !telegramTokenRE.MatchString(c.TelegramToken) {
		return fail("TELEGRAM_TOKEN", "must look like 123456789:AA... (digits, a colon, then at least 20 letters, digits, _ or -)")
	}
	if problem := checkURL(c.TelegramAPIURL, true); problem != "" {
		return fail("TELEGRAM_API_URL", "%s", problem)
	}
	if c.TelegramWebhookURL != "" {
		if problem := checkWebhookURL(c.TelegramWebhookURL); problem != "" {
			return fail("TELEGRAM_WEBHOOK_URL", "%s", problem)
		}
		if c.TelegramToken == "" {
			return fail("TELEGRAM_WEBHOOK_URL", "needs TELEGRAM_TOKEN: without a bot there is no webhook")
		}
		// Telegram's own servers deliver only to these ports (setWebhook's
		// notes; tdlib/telegram-bot-api WebhookActor.cpp refuses others
		// unless the server runs in --local mode, hence only for the
		// default TELEGRAM_API_URL).
		if u, _ := url.Parse(c.TelegramWebhookURL); c.TelegramAPIURL == defaultTelegramAPIURL && u.Port() != "" &&
			!slices.Contains([]string{"443", "80", "88", "8443"}, u.Port()) {
			return fail("TELEGRAM_WEBHOOK_URL", "Telegram delivers webhooks only to ports 443, 80, 88 or 8443 (got port %s)", u.Port())
		}
	}
	if c.TelegramWebhookSecret != "" && !webhookSecretRE.MatchString(c.TelegramWebhookSecret) {
		// Not echoed: it is a secret.
		return fail("TELEGRAM_WEBHOOK_SECRET", "must be 1-256 characters, only A-Z, a-z, 0-9, _ and - (the Bot API's rule for secret_token)")
	}
	for _, id := range c.AdminIDs {
		if id <= 0 {
			return fail("ADMIN_IDS", "must be positive Telegram user ids (got %d)", id)
		}
	}

	if strings.TrimSpace(c.DataDir) == "" {
		return fail("DATA_DIR", "must not be empty")
	}
	if c.LeaderTTL < minLeaderTTL || c.LeaderTTL > maxLeaderTTL {
		return fail("LEADER_TTL", "must be between 2s and 5m (got %s)", c.LeaderTTL)
	}
	if c.BatchPartitions < 1 || c.BatchPartitions > maxBatchPartitions {
		return fail("DATABASE_BATCH_PARTITIONS", "must be between 1 and %d (got %d)", maxBatchPartitions, c.BatchPartitions)
	}
	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return fail("DATABASE_URL", "must be empty (bbolt in DATA_DIR) or a PostgreSQL URL such as postgres://user:password@host:5432/starsbot (got %s)", quote(RedactURL(c.DatabaseURL)))
		}
		if c.BackupInterval != 0 {
			return fail("BACKUP_INTERVAL", "scheduled backups copy the bbolt file and are not available with DATABASE_URL: back PostgreSQL up with its own tools (pg_dump, your provider's snapshots); set BACKUP_INTERVAL=0")
		}
	}
	if problem := checkListenAddr(c.HTTPAddr); problem != "" {
		return fail("HTTP_ADDR", "%s", problem)
	}
	if problem := checkURL(c.PublicURL, true); problem != "" {
		return fail("PUBLIC_URL", "%s", problem)
	}

	switch c.TONNetwork {
	case NetworkSandbox, NetworkTestnet, NetworkMainnet:
	default:
		return fail("TON_NETWORK", "must be sandbox, testnet or mainnet (got %s)", quote(c.TONNetwork))
	}
	if c.TONConfigURL != "" {
		if problem := checkURL(c.TONConfigURL, false); problem != "" {
			return fail("TON_CONFIG_URL", "%s", problem)
		}
	} else if live {
		return fail("TON_CONFIG_URL", "must be set on %s", c.TONNetwork)
	}
	if c.TONDepositAddress != "" {
		if problem := checkAddress(c.TONDepositAddress); problem != "" {
			return fail("TON_DEPOSIT_ADDRESS", "%s", problem)
		}
		if problem := checkAddressNetwork(c.TONDepositAddress, c.TONNetwork); problem != "" {
			return fail("TON_DEPOSIT_ADDRESS", "%s", problem)
		}
	}
	if c.TONWalletMnemonic != "" {
		if problem := checkMnemonic(c.TONWalletMnemonic); problem != "" {
			return fail(orDefault(c.mnemonicVar, "TON_WALLET_MNEMONIC"), "%s", problem)
		}
	}
	switch c.TONWalletVersion {
	case WalletV4R2, WalletV5R1, WalletHighloadV3:
	default:
		return fail("TON_WALLET_VERSION", "must be v4r2, v5r1 or highload_v3 (got %s)", quote(c.TONWalletVersion))
	}

	if c.TONPollInterval < minTONPoll || c.TONPollInterval > maxTONPoll {
		return fail("TON_POLL_INTERVAL", "must be between 1s and 5m (got %s)", c.TONPollInterval)
	}
	if c.TONWatcherLagAlert < minWatcherLag || c.TONWatcherLagAlert > maxWatcherLag {
		return fail("TON_WATCHER_LAG_ALERT", "must be between 30s and 24h (got %s)", c.TONWatcherLagAlert)
	}

	switch c.Fulfillment {
	case FulfillmentSandbox:
		if c.TONNetwork != NetworkSandbox {
			return fail("FULFILLMENT", "sandbox is only allowed with TON_NETWORK=sandbox (it would mark real paid orders delivered without delivering them)")
		}
	case FulfillmentManual:
	case FulfillmentFragment:
		sessions := checkFragmentSessions(c.FragmentSessions())
		switch {
		case c.TONNetwork != NetworkMainnet:
			// Every public client hard-codes chain -239 (notes/fragment.md §1.3).
			return fail("FULFILLMENT", "fragment needs TON_NETWORK=mainnet: fragment.com exists only on mainnet, it cannot be paid from %s", c.TONNetwork)
		case c.FragmentCookies == "":
			return fail("FRAGMENT_COOKIES", "must be set when FULFILLMENT=fragment")
		case sessions != "":
			return fail(c.cookiesVar, "%s", sessions)
		case c.TONWalletMnemonic == "":
			return fail("TON_WALLET_MNEMONIC", "must be set when FULFILLMENT=fragment (it pays Fragment)")
		}
	default:
		return fail("FULFILLMENT", "must be sandbox, manual or fragment (got %s)", quote(c.Fulfillment))
	}

	if c.TONWalletLowBalance < 0 {
		return fail("TON_WALLET_LOW_BALANCE", "must not be negative (got %s)", c.TONWalletLowBalance)
	}
	if c.USDTMaster != "" {
		if problem := checkAddress(c.USDTMaster); problem != "" {
			return fail("USDT_MASTER", "%s", problem)
		}
		if problem := checkAddressNetwork(c.USDTMaster, c.TONNetwork); problem != "" {
			return fail("USDT_MASTER", "%s", problem)
		}
	}
	if c.USDT.USDUSD < shop.MinUSDTUSD || c.USDT.USDUSD > shop.MaxUSDTUSD {
		return fail("USDT_USD", "must be between %s and %s (got %s)", shop.MinUSDTUSD, shop.MaxUSDTUSD, c.USDT.USDUSD)
	}
	if c.USDT.FeePPM < 0 || c.USDT.FeePPM > shop.MaxUSDTFeePPM {
		return fail("USDT_FEE_PERCENT", "must be from 0 to %s (got %s)", shop.FormatFeePercent(shop.MaxUSDTFeePPM), shop.FormatFeePercent(c.USDT.FeePPM))
	}
	if c.TONMinDeposit < 0 || c.TONMinDeposit > maxMinDeposit {
		return fail("TON_MIN_DEPOSIT", "must be from 0 to %s TON (got %s)", maxMinDeposit, c.TONMinDeposit)
	}
	if c.AlertBatchWindow < minAlertBatch || c.AlertBatchWindow > maxAlertBatch {
		return fail("ALERT_BATCH_WINDOW", "must be between 1s and 1h (got %s)", c.AlertBatchWindow)
	}
	if c.FragmentConcurrency < 1 || c.FragmentConcurrency > maxConcurrency {
		return fail("FRAGMENT_CONCURRENCY", "must be from 1 to %d (got %d)", maxConcurrency, c.FragmentConcurrency)
	}
	if c.FulfillmentMaxAttempts < 1 || c.FulfillmentMaxAttempts > maxMaxAttempts {
		return fail("FULFILLMENT_MAX_ATTEMPTS", "must be from 1 to %d (got %d)", maxMaxAttempts, c.FulfillmentMaxAttempts)
	}
	if c.FragmentMargin < 0 || c.FragmentMargin > maxFragmentMargin {
		return fail("FRAGMENT_MARGIN_TON", "must be from 0 to %s TON (got %s)", maxFragmentMargin, c.FragmentMargin)
	}

	if err := c.Pricing.Validate(); err != nil {
		return pricingError(err)
	}
	if c.QuoteTTL < shop.MinQuoteTTL || c.QuoteTTL > shop.MaxQuoteTTL {
		return fail("QUOTE_TTL", "must be between 10s and 10m (got %s)", c.QuoteTTL)
	}
	if c.PriceStep < 1 || c.PriceStep > shop.MaxPriceStep {
		return fail("PRICE_STEP_TON", "must be from 0.000000001 to %s TON (got %s)", shop.MaxPriceStep, c.PriceStep)
	}
	if c.ReferralPPM < 0 || c.ReferralPPM > shop.MaxReferralPPM {
		return fail("REFERRAL_PERCENT", "must be from 0 to 50 (got %s)", shop.FormatFeePercent(c.ReferralPPM))
	}
	if c.SupportContact != "" {
		if problem := checkSupportContact(c.SupportContact); problem != "" {
			return fail("SUPPORT_CONTACT", "%s", problem)
		}
	}

	if err := shop.ValidateRate(c.TONUSDRate); err != nil {
		return fail("TON_USD_RATE", "must be between %s and %s USD per TON (got %s)", shop.MinTONUSD, shop.MaxTONUSD, c.TONUSDRate)
	}
	if c.RateURL != "" {
		if problem := checkURL(c.RateURL, false); problem != "" {
			return fail("RATE_URL", "%s", problem)
		}
	}
	if c.RateJSONPath == "" || slices.Contains(strings.Split(c.RateJSONPath, "."), "") {
		return fail("RATE_JSON_PATH", "must be dot-separated non-empty keys such as the-open-network.usd (got %s)", quote(c.RateJSONPath))
	}
	if c.RateTTL < minRateTTL || c.RateTTL > maxRateTTL {
		return fail("RATE_TTL", "must be between 5s and 1h (got %s)", c.RateTTL)
	}
	if live && c.RateURL == "" && !c.TONUSDRateSet {
		return fail("TON_USD_RATE", "must be set on testnet/mainnet when RATE_URL is empty")
	}
	if live && c.TONDepositAddress == "" && c.TONWalletMnemonic == "" {
		return fail("TON_DEPOSIT_ADDRESS", "must be set on testnet/mainnet (or set TON_WALLET_MNEMONIC to derive it from the wallet)")
	}

	if !(c.APIRateLimit > 0 && c.APIRateLimit <= maxAPIRateLimit) {
		return fail("API_RATE_LIMIT", "must be more than 0 and at most %d requests per second (got %v)", maxAPIRateLimit, c.APIRateLimit)
	}
	if c.APIRateBurst < 1 || c.APIRateBurst > maxAPIRateBurst {
		return fail("API_RATE_BURST", "must be from 1 to %d (got %d)", maxAPIRateBurst, c.APIRateBurst)
	}

	if c.BackupInterval != 0 && (c.BackupInterval < minBackupInterval || c.BackupInterval > maxBackupInterval) {
		return fail("BACKUP_INTERVAL", "must be 0 (off) or between 1m and 720h, such as 6h (got %s)", c.BackupInterval)
	}
	if strings.TrimSpace(c.BackupDir) == "" {
		return fail("BACKUP_DIR", "must not be empty")
	}
	if c.BackupKeep < 1 || c.BackupKeep > maxBackupKeep {
		return fail("BACKUP_KEEP", "must be from 1 to %d (got %d)", maxBackupKeep, c.BackupKeep)
	}
	if c.BackupS3URL != "" {
		if _, err := ParseS3URL(c.BackupS3URL); err != nil {
			return fail("BACKUP_S3_URL", "%s", err.Error())
		}
		if c.BackupInterval == 0 {
			return fail("BACKUP_S3_URL", "needs BACKUP_INTERVAL: only scheduled backups are uploaded")
		}
	}
	s3Secret := orDefault(c.s3SecretVar, "BACKUP_S3_SECRET_ACCESS_KEY")
	switch {
	case (c.BackupS3AccessKeyID != "" || c.BackupS3SecretAccessKey != "") && c.BackupS3URL == "":
		return fail("BACKUP_S3_URL", "must be set when S3 credentials are given")
	case c.BackupS3AccessKeyID != "" && c.BackupS3SecretAccessKey == "":
		return fail(s3Secret, "must be set together with BACKUP_S3_ACCESS_KEY_ID")
	case c.BackupS3AccessKeyID == "" && c.BackupS3SecretAccessKey != "":
		return fail("BACKUP_S3_ACCESS_KEY_ID", "must be set together with %s", s3Secret)
	}

	for i, r := range c.BackupAgeRecipients {
		switch {
		case strings.HasPrefix(strings.ToUpper(r), "AGE-SECRET-KEY-"):
			// Never echoed: a secret key pasted by mistake.
			return fail("BACKUP_AGE_RECIPIENT", "item %d is an age secret key: give its public key (age1…, age-keygen -y) and keep the secret key off this server", i+1)
		case !ageRecipientRE.MatchString(r):
			return fail("BACKUP_AGE_RECIPIENT", "item %d must be an age public key (age1 and 58 more characters, as age-keygen prints); several are separated by commas", i+1)
		}
	}

	switch c.LogLevel {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
	default:
		return fail("LOG_LEVEL", "must be debug, info, warn or error (got %s)", c.LogLevel)
	}
	switch c.LogFormat {
	case LogFormatText, LogFormatJSON:
	default:
		return fail("LOG_FORMAT", "must be text or json (got %s)", quote(c.LogFormat))
	}
	return nil
}

// pricingError maps a Pricing.Validate message such as "stars_max must not
// be below stars_min" to STARS_MAX: "must not be below STARS_MIN".
func pricingError(err error) error {
	field, problem, _ := strings.Cut(err.Error(), " ")
	for _, v := range shop.PricingFields {
		problem = strings.ReplaceAll(problem, v, strings.ToUpper(v))
	}
	return &ValidationError{Var: strings.ToUpper(field), Problem: problem}
}

// checkURL returns what is wrong with an absolute http(s) URL, or "". A base
// URL, to which paths are appended, may not have a query or fragment.
func checkURL(s string, base bool) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "":
		return "must be an absolute http or https URL (got " + quote(RedactURL(s)) + ")"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must be an absolute http or https URL (got " + quote(RedactURL(s)) + ")"
	case u.Host == "" || u.Hostname() == "":
		return "must be an absolute http or https URL with a host (got " + quote(RedactURL(s)) + ")"
	case base && (u.RawQuery != "" || u.Fragment != "" || u.ForceQuery):
		return "must be a base URL without ?query or #fragment (got " + quote(RedactURL(s)) + ")"
	}
	return ""
}

// webhookSecretRE is the Bot API's rule for setWebhook's secret_token:
// "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed"
// (https://core.telegram.org/bots/api#setwebhook).
var webhookSecretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// checkWebhookURL returns what is wrong with a TELEGRAM_WEBHOOK_URL: it
// must be an https URL ("HTTPS URL to send updates to",
// https://core.telegram.org/bots/api#setwebhook) with a host, without
// credentials or a #fragment. Its path is what the service serves.
func checkWebhookURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Opaque != "" || u.Scheme != "https" || u.Hostname() == "":
		return "must be an absolute https URL such as https://bot.example.com/telegram/webhook (got " + quote(RedactURL(s)) + ")"
	case u.User != nil:
		return "must not carry credentials (got " + quote(RedactURL(s)) + ")"
	case u.Fragment != "" || u.RawQuery != "" || u.ForceQuery:
		return "must not have a ?query or #fragment (got " + quote(RedactURL(s)) + ")"
	case u.Path == "" || u.Path == "/" || strings.HasPrefix(u.Path, "/api/") || strings.HasPrefix(u.Path, "/sandbox/") || u.Path == "/metrics":
		return "needs a path of its own, outside /api/, /sandbox/ and /metrics, such as /telegram/webhook: the service serves it on HTTP_ADDR (got " + quote(RedactURL(s)) + ")"
	}
	return ""
}

// checkListenAddr returns what is wrong with a host:port listen address.
func checkListenAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "must be host:port, such as 127.0.0.1:8080 or :8080 (got " + quote(addr) + ")"
	}
	if n, err := strconv.Atoi(port); err != nil || !allDigits(port) || n > 65535 {
		return "must have a numeric port from 0 to 65535 (got " + quote(addr) + ")"
	}
	return ""
}

// checkAddress checks only the shape of a TON address: package ton parses
// it (checksum, network flag) later.
func checkAddress(a string) string {
	if strings.IndexFunc(a, unicode.IsSpace) >= 0 {
		return "must not contain whitespace"
	}
	if len(a) == 48 && strings.Trim(a, base64Chars) == "" {
		return ""
	}
	for _, wc := range []string{"0:", "-1:"} {
		if hex, ok := strings.CutPrefix(a, wc); ok && len(hex) == 64 && strings.Trim(hex, hexChars) == "" {
			return ""
		}
	}
	return "must be a 48-character friendly address or a raw 0:<64 hex> or -1:<64 hex> address (got " + quote(a) + ")"
}

// checkAddressNetwork returns what is wrong when a friendly address is
// flagged for the other network: a testnet-only address (kQ…, 0Q…) on
// mainnet, or a mainnet one (EQ…, UQ…) on testnet. Raw addresses carry no
// flag.
func checkAddressNetwork(a, network string) string {
	if len(a) != 48 || network == NetworkSandbox {
		return ""
	}
	b, err := base64.URLEncoding.DecodeString(strings.NewReplacer("+", "-", "/", "_").Replace(a))
	if err != nil || len(b) != 36 {
		return "must be a valid friendly address (got " + quote(a) + ")"
	}
	testnet := b[0]&0x80 != 0
	switch {
	case network == NetworkMainnet && testnet:
		return "is a testnet address (kQ…/0Q…) but TON_NETWORK is mainnet"
	case network == NetworkTestnet && !testnet:
		return "is a mainnet address (EQ…/UQ…) but TON_NETWORK is testnet; use its testnet form (kQ…/0Q…)"
	}
	return ""
}

const (
	base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
	hexChars    = "0123456789abcdefABCDEF"
)

// checkMnemonic checks a normalised mnemonic without ever echoing a word.
func checkMnemonic(m string) string {
	words := strings.Fields(m)
	if len(words) != mnemonicWords {
		return fmt.Sprintf("must be %d words (got %d)", mnemonicWords, len(words))
	}
	for i, w := range words {
		if strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			return fmt.Sprintf("must be lowercase words of letters a-z (word %d is not)", i+1)
		}
	}
	return ""
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// quote renders a non-secret value for an error message: quoted (so it stays
// on one line) and cut to a readable length.
func quote(s string) string {
	const maxRunes = 80
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "..."
	}
	return strconv.Quote(s)
}

// supportUsernameRE is a Telegram public username with its "@": 5 to 32
// letters, digits and underscores, starting with a letter
// (https://core.telegram.org/method/account.checkUsername, USERNAME_INVALID).
var supportUsernameRE = regexp.MustCompile(`^@[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$`)

// checkSupportContact returns what is wrong with a SUPPORT_CONTACT value,
// or "": an @username, or an https URL with a host and no credentials.
func checkSupportContact(v string) string {
	if strings.HasPrefix(v, "@") {
		if !supportUsernameRE.MatchString(v) {
			return fmt.Sprintf("must be a Telegram @username (5-32 letters, digits or _) or an https URL (got %s)", quote(v))
		}
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("must be a Telegram @username or an https URL such as https://t.me/shop_support (got %s)", quote(RedactURL(v)))
	case u.User != nil:
		return "must not carry credentials"
	case strings.ContainsAny(v, " \t\r\n<>\"'"):
		return fmt.Sprintf("must not contain spaces, quotes or angle brackets (got %s)", quote(RedactURL(v)))
	}
	return ""
}

// FragmentSessions returns the Fragment sessions of FragmentCookies: its
// non-blank lines, trimmed, in order.
func (c *Config) FragmentSessions() []string {
	var out []string
	for line := range strings.Lines(c.FragmentCookies) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// checkFragmentSessions refuses more than maxFragmentSessions sessions
// and a session given twice (the same stel_ssid on two lines): its state
// update + init pairs would meet, which one session never allows
// (fulfillment.FragmentPool). Values are never shown.
func checkFragmentSessions(lines []string) (problem string) {
	if len(lines) > maxFragmentSessions {
		return fmt.Sprintf("holds %d sessions (lines); at most %d", len(lines), maxFragmentSessions)
	}
	seen := map[string]int{}
	for i, line := range lines {
		cs, err := http.ParseCookie(line)
		if err != nil {
			continue // the provider says so at its first call, with the steps
		}
		for _, c := range cs {
			if c.Name != "stel_ssid" {
				continue
			}
			if j, dup := seen[c.Value]; dup {
				return fmt.Sprintf("line %d repeats the stel_ssid of line %d: each line must be its own browser login", i+1, j+1)
			}
			seen[c.Value] = i
		}
	}
	return ""
}
