package fulfillment

import (
	"context"
	"errors"
	"fmt"

	"starsbot/shop"
)

// Provider delivers paid orders: Stars or Premium to order.Recipient.
type Provider interface {
	shop.RecipientChecker

	// Deliver delivers job.Order and returns the delivery reference (a tx
	// hash or the provider's id). It records its progress in job.Delivery
	// and calls job.Save before every step with an effect outside the shop
	// (a request that reserves something, a payment), so that when it is
	// called again for the same order — after a retryable error or a crash
	// — it resumes from job.Delivery and never pays twice. A failure is an
	// *Error saying whether to retry, refund, or hand the order to admins;
	// any other error is treated as retryable.
	Deliver(ctx context.Context, job *Job) (ref string, err error)
}

// Job is one delivery attempt of an order.
type Job struct {
	Order    *shop.Order    // the order, as claimed; read only
	Delivery *shop.Delivery // the delivery record; the provider updates it, then calls Save
	// SaveFunc persists Delivery durably. Required.
	SaveFunc func(ctx context.Context, d *shop.Delivery) error

	lease *shop.Lease // the worker's claim, with several replicas
}

// Save persists j.Delivery. A provider must not take the next step if Save
// fails.
func (j *Job) Save(ctx context.Context) error {
	if err := j.SaveFunc(ctx, j.Delivery); err != nil {
		return fmt.Errorf("save delivery of order %d: %w", j.Order.ID, err)
	}
	return nil
}

// Kind classifies a delivery failure.
type Kind int

// Failure kinds.
const (
	// Retryable: try again later (network, rate limit, price changed). After
	// the worker's retry limit the order goes manual.
	Retryable Kind = iota
	// Permanent: the order cannot be delivered (recipient not found or
	// cannot receive, already has Premium) and nothing was paid: the order
	// fails and the buyer is refunded.
	Permanent
	// Manual: an admin must decide (margin check failed, payment made but
	// not acknowledged). The order goes manual; it is never refunded
	// automatically.
	Manual
	// Unhealthy: the provider cannot work at all (session expired,
	// verification needed, blocked, wallet empty). The order goes manual,
	// the provider is paused and admins are alerted once.
	Unhealthy
)

func (k Kind) String() string {
	switch k {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Manual:
		return "manual"
	case Unhealthy:
		return "unhealthy"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a delivery failure. Reason is a short sentence safe to show the
// buyer and admins (no secrets, no raw provider HTML); Err is the cause, for
// logs.
type Error struct {
	Kind   Kind
	Reason string
	Err    error
	// Overload: the provider as a whole asked us to slow down (HTTP 429,
	// 5xx); the worker holds every delivery back, not just this one.
	Overload bool
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind with a formatted Reason.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Reason: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of kind with reason, caused by err.
func Wrap(kind Kind, reason string, err error) *Error {
	return &Error{Kind: kind, Reason: reason, Err: err}
}

// KindOf returns err's Kind: that of the first *Error in its chain, else
// Retryable.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Retryable
}

// Overloaded reports whether err says the provider is overloaded.
func Overloaded(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Overload
}

// ReasonOf returns err's safe Reason, or a generic sentence for errors that
// are not *Error.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Reason != "" {
		return e.Reason
	}
	return "temporary delivery error"
}

// Wallet is the hot wallet that pays providers; package ton implements it.
type Wallet interface {
	// Info describes the wallet (address, public key, StateInit).
	Info() shop.WalletInfo
	// Send signs p, calls record with the signed message and broadcasts
	// it only if record succeeded, then waits until the chain shows the
	// outcome or ctx ends (result Pending). Sends are serialized per wallet.
	Send(ctx context.Context, p shop.Payout, record func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error)
	// Resume finds the outcome of a recorded message, re-broadcasting it
	// while it is still valid; it never signs anything.
	Resume(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error)
	// Balance returns the wallet's balance.
	Balance(ctx context.Context) (shop.NanoTON, error)
}

// Notifier tells admins what needs them. The bot implements it; LogNotifier
// stands in without one. Buyers learn of status changes through the shop's
// events.
type Notifier interface {
	Alert(ctx context.Context, a shop.Alert)
}
