package shop

import "time"

// Delivery is the fulfillment worker's record of one order's delivery: the
// step it reached and what the provider was told and paid, so that after a
// crash or a retry the delivery resumes from where it stopped and never pays
// twice. It is saved before each step that has an effect outside the shop.
type Delivery struct {
	OrderID       int64
	Provider      string    // "fragment", "manual", "sandbox"
	Step          string    // provider-defined progress; "" = not started
	Attempts      int       // attempts that ended in a retryable error
	NextAttemptAt time.Time // when a retry may start; zero = now
	LastError     string    // the last error, safe to show admins

	// Provider data, each recorded before the step that depends on it.
	RequestID string  // the provider's request id (Fragment req_id)
	PayTo     string  // where the provider asked us to pay
	PayAmount NanoTON // how much it asked
	Payload   []byte  // the message body it asked for (BOC), forwarded unchanged
	// ConfirmMethod and ConfirmParams are the call the provider asked for
	// once paid (Fragment's confirm_method and confirm_params).
	ConfirmMethod string
	ConfirmParams map[string]string
	Payout        *SignedPayout // the signed payment, recorded before its first broadcast
	Paid          *PayoutResult // the payment's outcome on chain, once known
	Confirmed     bool          // the provider acknowledged the payment
	Ref           string        // the delivery reference (tx hash or provider ref)

	UpdatedAt time.Time
}

// PaymentMayBeOut reports whether the delivery recorded a signed payout
// that did not expire: money may have left the hot wallet, so the order
// must not be refunded automatically.
func (d *Delivery) PaymentMayBeOut() bool {
	return d != nil && d.Payout != nil && (d.Paid == nil || d.Paid.State != PayoutExpired)
}

// AlertKind names a situation admins must know about.
type AlertKind string

// Alert kinds.
const (
	AlertManualNeeded      AlertKind = "manual_needed"      // an order waits for an admin to deliver or refund it
	AlertProviderUnhealthy AlertKind = "provider_unhealthy" // the provider cannot deliver (cookies expired, verification needed, blocked)
	AlertProviderHealthy   AlertKind = "provider_healthy"   // the provider works again
	AlertWalletLow         AlertKind = "wallet_low"         // the hot wallet's balance fell below the threshold
	AlertUnmatchedDeposit  AlertKind = "unmatched_deposit"  // a transfer's memo matched nothing
	AlertWatcherLag        AlertKind = "watcher_lag"        // the deposit watcher is behind the chain
	AlertWatcherCaughtUp   AlertKind = "watcher_caught_up"  // the deposit watcher is current again
)

// Alert is a message for the shop's admins. Message is plain text, safe to
// show (no secrets).
type Alert struct {
	Kind    AlertKind
	OrderID int64   // the order concerned, if any
	Amount  NanoTON // a balance or amount concerned, if any
	Message string
}
