package shop

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
	AlertBackupFailed      AlertKind = "backup_failed"      // a scheduled backup or its upload failed
	AlertSessionDown       AlertKind = "session_down"       // one of several Fragment sessions failed and is left out; the others go on
)

// Alert is a message for the shop's admins. Message is plain text, safe to
// show (no secrets).
type Alert struct {
	Kind    AlertKind
	OrderID int64   // the order concerned, if any
	Amount  NanoTON // a balance or amount concerned, if any
	Message string
}
