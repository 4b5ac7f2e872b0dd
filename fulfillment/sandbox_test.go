package fulfillment

import (
	"context"
	"testing"

	"starsbot/shop"
)

func TestSandbox_CheckRecipient(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{SandboxNotFound, false},
		{"Sandbox_NotFound", false},
		{SandboxFail, true},
		{SandboxManual, true},
		{"pandus", true},
	} {
		rc, err := Sandbox{}.CheckRecipient(context.Background(), shop.OrderStars, tt.name)
		if err != nil || rc.CanReceive != tt.want {
			t.Errorf("%s: got %+v, %v", tt.name, rc, err)
		}
		if !tt.want && rc.Reason == "" {
			t.Errorf("%s: no reason", tt.name)
		}
	}
}
