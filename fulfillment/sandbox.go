package fulfillment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"starsbot/shop"
)

// Scripted sandbox recipients. Any other valid username can receive.
const (
	SandboxNotFound = "sandbox_notfound" // does not exist
	SandboxFail     = "sandbox_fail"     // delivery fails permanently; the order is refunded
	SandboxManual   = "sandbox_manual"   // delivery needs an admin
	SandboxSlow     = "sandbox_slow"     // delivery fails twice with a retryable error, then succeeds
)

// DefaultSandboxDelay is how long a sandbox delivery takes.
const DefaultSandboxDelay = 2 * time.Second

// Sandbox is the provider of sandbox mode: no real delivery, scripted
// outcomes for integration tests. The zero value waits
// DefaultSandboxDelay per delivery.
type Sandbox struct {
	Delay time.Duration // per delivery; 0 = DefaultSandboxDelay, negative = none
}

var _ Provider = Sandbox{}

// CheckRecipient says every username can receive except SandboxNotFound.
func (Sandbox) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	if strings.EqualFold(username, SandboxNotFound) {
		return &shop.RecipientCheck{Username: username, Reason: "user not found"}, nil
	}
	return &shop.RecipientCheck{Username: username, CanReceive: true}, nil
}

// Deliver completes after Delay, except for the scripted recipients.
func (s Sandbox) Deliver(ctx context.Context, job *Job) (string, error) {
	delay := s.Delay
	if delay == 0 {
		delay = DefaultSandboxDelay
	}
	if delay > 0 {
		select {
		case <-ctx.Done():
			return "", Wrap(Retryable, "interrupted", ctx.Err())
		case <-time.After(delay):
		}
	}
	switch strings.ToLower(job.Order.Recipient) {
	case SandboxNotFound:
		return "", Errorf(Permanent, "recipient @%s was not found", job.Order.Recipient)
	case SandboxFail:
		return "", Errorf(Permanent, "the sandbox provider refused this order")
	case SandboxManual:
		return "", Errorf(Manual, "the sandbox provider asks for manual delivery")
	case SandboxSlow:
		if job.Delivery.Attempts < 2 {
			return "", Errorf(Retryable, "the sandbox provider is slow (attempt %d)", job.Delivery.Attempts+1)
		}
	}
	return fmt.Sprintf("sandbox-%d", job.Order.ID), nil
}

// ManualProvider is the provider that delivers nothing itself: every order goes to
// the admins, who deliver by hand and mark it with /deliver or /refund.
type ManualProvider struct{}

var _ Provider = ManualProvider{}

// ErrNoLookup is ManualProvider's answer to a recipient lookup: it cannot tell, so
// the shop takes the order and an admin checks the recipient.
var ErrNoLookup = fmt.Errorf("the manual provider cannot look up recipients")

// CheckRecipient returns ErrNoLookup.
func (ManualProvider) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	return nil, ErrNoLookup
}

// Deliver hands the order to the admins.
func (ManualProvider) Deliver(ctx context.Context, job *Job) (string, error) {
	return "", Errorf(Manual, "manual delivery is configured")
}
