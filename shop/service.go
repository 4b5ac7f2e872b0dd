package shop

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Service is the shop's one set of business operations. The bot and the
// partner API call it for everything; each operation that moves money writes
// the balance and its ledger entry in one store transaction.
type Service struct {
	Store      Store
	Rates      RateSource
	Recipients RecipientChecker // optional: the fulfillment provider's recipient lookup, asked before an order is created
	Now        func() time.Time // default time.Now
	Logger     *slog.Logger     // default slog.Default()

	// MinDeposit is the smallest transfer the shop books (TON_MIN_DEPOSIT).
	// A smaller one, whatever its memo, is recorded as an ignored deposit
	// (dust): never credited, never alerted. 0 (the default) books every
	// positive amount.
	MinDeposit NanoTON

	// QuoteTTL is how long a locked quote holds its price (QUOTE_TTL); 0
	// is DefaultQuoteTTL.
	QuoteTTL time.Duration

	// PriceStep is what every price is rounded up to a whole multiple of
	// (PRICE_STEP_TON), 1 nanoTON to MaxPriceStep; 0 is DefaultPriceStep
	// (0.001 TON). Set 1 for prices exact to the nanoTON.
	PriceStep NanoTON

	// USDT is how USDT deposits are valued (USDT_USD, USDT_FEE_PERCENT).
	USDT USDTConfig

	// WebhookHTTPSOnly refuses http:// webhook URLs (mainnet).
	WebhookHTTPSOnly bool
	// WebhookAllowPrivate lets webhooks go to loopback, private and other
	// non-public addresses (WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool
	// WebhookResolver resolves a webhook URL's host; nil is the system's.
	WebhookResolver func(ctx context.Context, host string) ([]netip.Addr, error)

	// ReferralPPM is the share of each completed purchase credited to the
	// buyer's referrer (REFERRAL_PERCENT), in parts per million, 0 to
	// MaxReferralPPM; 0 (the default) turns referral rewards off.
	ReferralPPM int64

	// Replica names this process among the replicas of one shop
	// (NewReplicaID), set before use when several processes share the
	// store (PostgreSQL). Every outbox event records it, so that each
	// replica's Relay publishes the events of the others and never its
	// own. "" (the default) on a store of one process.
	Replica string

	depositAddress string // see DepositAddress
	pricing        atomic.Pointer[Pricing]

	mu          sync.Mutex
	subscribers []func(Event)
}

// NewService returns a Service over store, with rates and a validated
// pricing. depositAddress is shown to users for top-ups and ton_memo orders.
func NewService(store Store, rates RateSource, pricing Pricing, depositAddress string) (*Service, error) {
	s := &Service{Store: store, Rates: rates, depositAddress: depositAddress, Now: time.Now, Logger: slog.Default()}
	if err := s.SetPricing(pricing); err != nil {
		return nil, err
	}
	return s, nil
}

// DepositAddress is the service wallet that receives deposits and ton_memo
// payments: the one address the bot and the API show for top-ups.
func (s *Service) DepositAddress() string { return s.depositAddress }

// Subscribe registers fn to receive every Event after its transaction
// commits. fn must not block.
func (s *Service) Subscribe(fn func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribers = append(s.subscribers, fn)
}

func (s *Service) emit(events ...Event) {
	s.mu.Lock()
	subs := s.subscribers
	s.mu.Unlock()
	for _, e := range events {
		for _, fn := range subs {
			fn(e)
		}
	}
}

// now is the service's clock in UTC: every time the shop stores is UTC.
func (s *Service) now() time.Time { return s.Now().UTC() }
