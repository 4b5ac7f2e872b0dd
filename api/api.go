package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"starsbot/shop"
)

// Shop is the part of *shop.Service the API calls.
type Shop interface {
	Authenticate(ctx context.Context, plaintext string) (*shop.User, *shop.APIKey, error)
	DepositAddress() string
	Pricing() shop.Pricing
	Rate(ctx context.Context) (shop.Rate, error)
	Quote(ctx context.Context, req shop.QuoteRequest) (*shop.Quote, error)
	LockQuote(ctx context.Context, userID int64, req shop.QuoteRequest) (*shop.LockedQuote, error)
	CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error)
	CreateOrder(ctx context.Context, req shop.CreateOrderRequest) (*shop.Order, error)
	CancelOrder(ctx context.Context, userID, orderID int64) (*shop.Order, error)
	FindOrder(ctx context.Context, userID, orderID int64) (*shop.Order, error)
	FindOrderByMemo(ctx context.Context, userID int64, memo string) (*shop.Order, error)
	FindOrdersByReference(ctx context.Context, userID int64, ref string) ([]*shop.Order, error)
	FindOrders(ctx context.Context, f shop.OrderFilter) ([]*shop.Order, int64, error)
	OrderStats(ctx context.Context, userID int64) (*shop.OrderStats, error)
	Ledger(ctx context.Context, f shop.LedgerFilter) ([]*shop.LedgerEntry, uint64, error)
	Subscribe(fn func(shop.Event))

	// The partner platform: the event feed and webhook endpoints.
	Events(ctx context.Context, userID int64, after uint64, limit int) ([]*shop.OutboxEvent, bool, error)
	CreateWebhook(ctx context.Context, userID int64, url string, types []shop.PartnerEventType) (*shop.Webhook, error)
	Webhooks(ctx context.Context, userID int64) ([]*shop.Webhook, error)
	FindWebhook(ctx context.Context, userID int64, id string) (*shop.Webhook, error)
	DeleteWebhook(ctx context.Context, userID int64, id string) error
	RotateWebhookSecret(ctx context.Context, userID int64, id string) (*shop.Webhook, error)
	EnableWebhook(ctx context.Context, userID int64, id string) (*shop.Webhook, error)
	TestWebhook(ctx context.Context, userID int64, id string) (*shop.WebhookDelivery, error)
	WebhookDeliveries(ctx context.Context, userID int64, id string, before uint64, limit int) ([]*shop.WebhookDelivery, uint64, error)
	ReplayWebhookDelivery(ctx context.Context, userID int64, id string, deliveryID uint64) (*shop.WebhookDelivery, error)
	ReplayWebhook(ctx context.Context, userID int64, id string, since time.Time) (int, error)
}

var _ Shop = (*shop.Service)(nil)

// SandboxChain appends a simulated incoming transfer to the sandbox chain.
// txHash is optional (lowercase hex); the returned hash is the transfer's.
// A repeated hash is the same transaction and credits nothing twice.
type SandboxChain interface {
	Deposit(ctx context.Context, memo string, amount shop.NanoTON, txHash string) (string, error)
}

// Probe reports one component's health for GET /api/v1/health.
type Probe func(ctx context.Context) Component

// Component is one part of the service as /health reports it.
type Component struct {
	Status     string   `json:"status"`                // ComponentOK, ComponentDegraded, ComponentDown or ComponentDisabled
	Detail     string   `json:"detail,omitempty"`      // a short, safe explanation
	LagSeconds *float64 `json:"lag_seconds,omitempty"` // the chain watcher's lag, when it has one
}

// Component states. Only "down" makes /health answer 503.
const (
	ComponentOK       = "ok"
	ComponentDegraded = "degraded"
	ComponentDown     = "down"
	ComponentDisabled = "disabled"
)

// Defaults for ServerConfig's zero fields.
const (
	DefaultRateLimit = 20 // requests per second per key
	DefaultRateBurst = 40
	// Failed authentications per client address: 10 a minute, bursts of
	// 20; beyond it the address gets 429 RATE_LIMITED on every
	// authenticated route until its bucket refills.
	DefaultAuthFailRate  = 10.0 / 60
	DefaultAuthFailBurst = 20
	DefaultBuyWait       = 25 * time.Second
	maxBodyBytes         = 64 << 10
	// ShutdownTimeout is how long Run lets requests in flight finish
	// after its ctx ends: within Docker's default 10 s stop timeout.
	ShutdownTimeout = 8 * time.Second
)

// ServerConfig is what NewServer needs; zero optional fields take their
// defaults.
type ServerConfig struct {
	Shop      Shop             // required
	Addr      string           // listen address for Run, e.g. "127.0.0.1:8080"
	Sandbox   SandboxChain     // nil: POST /sandbox/v1/deposits is not served
	Probes    map[string]Probe // components for /health; "store" should be one
	Metrics   *Metrics         // nil: no /metrics and no recording
	RateLimit float64          // requests per second per key; 0 = DefaultRateLimit
	RateBurst int              // 0 = DefaultRateBurst
	// Failed authentications per second per client address (RemoteAddr;
	// an IPv6 address by its /64) and their burst; 0 = the defaults.
	AuthFailRate  float64
	AuthFailBurst int
	BuyWait       time.Duration    // how long POST /buy waits for delivery; 0 = DefaultBuyWait
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger     // default slog.Default()

	// OnListen, if set, is called by Run with the bound address.
	OnListen func(addr net.Addr)

	// Mounts are handlers of other components served on the same server
	// by exact path (the Telegram bot's webhook), before the API's routes
	// and outside them: no key, rate limit, metrics or OpenAPI entry; each
	// does its own checks. A path the API serves is refused.
	Mounts map[string]http.Handler
}

// Server serves the partner API. Make it with NewServer, then call Handler
// or Run.
type Server struct {
	ServerConfig // as NewServer completed it; read-only

	handler  http.Handler
	limiters *limiters
	failures *authFailures // failed authentications per client address
	stopping chan struct{} // closed when Run's context ends
	waiters  orderWaiters  // POST /buy requests waiting for a delivery
}

// NewServer returns the API server, subscribed to cfg.Shop's events. It
// fails if Shop is missing.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Shop == nil {
		return nil, errors.New("api: Server needs a Shop")
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.AuthFailRate <= 0 {
		cfg.AuthFailRate = DefaultAuthFailRate
	}
	if cfg.AuthFailBurst <= 0 {
		cfg.AuthFailBurst = DefaultAuthFailBurst
	}
	if cfg.BuyWait <= 0 {
		cfg.BuyWait = DefaultBuyWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for path := range cfg.Mounts {
		if !strings.HasPrefix(path, "/") || path == "/" || strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/sandbox/") || path == "/metrics" {
			return nil, fmt.Errorf("api: cannot mount a handler at %q: it must be a path of its own, outside /api/, /sandbox/ and /metrics", path)
		}
	}
	s := &Server{ServerConfig: cfg, stopping: make(chan struct{})}
	s.Shop.Subscribe(s.waiters.observe)
	s.handler = s.buildHandler()
	return s, nil
}

// Handler returns the API's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on Addr and serves until ctx is done, then shuts down,
// giving in-flight requests up to ShutdownTimeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      s.BuyWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if s.OnListen != nil {
		s.OnListen(ln.Addr())
	}
	s.Logger.Info("listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	close(s.stopping)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
