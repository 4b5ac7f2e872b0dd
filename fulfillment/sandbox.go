package fulfillment

import (
	"context"
	"strings"

	"starsbot/shop"
)

// Scripted sandbox recipients. Any other valid username can receive.
const (
	SandboxNotFound = "sandbox_notfound" // does not exist
	SandboxFail     = "sandbox_fail"     // delivery fails permanently; the order is refunded
	SandboxManual   = "sandbox_manual"   // delivery needs an admin
	SandboxSlow     = "sandbox_slow"     // delivery fails twice with a retryable error, then succeeds
)

// Sandbox is the provider of sandbox mode: no real delivery, scripted
// outcomes for integration tests.
type Sandbox struct{}

var _ shop.RecipientChecker = Sandbox{}

// CheckRecipient says every username can receive except SandboxNotFound.
func (Sandbox) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	if strings.EqualFold(username, SandboxNotFound) {
		return &shop.RecipientCheck{Username: username, Reason: "user not found"}, nil
	}
	return &shop.RecipientCheck{Username: username, CanReceive: true}, nil
}
