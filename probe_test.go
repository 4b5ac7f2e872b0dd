package main

import (
	"context"
	"strings"
	"testing"

	"starsbot/api"
	"starsbot/fulfillment"
)

// noticeProvider is a working provider with something admins should know.
type noticeProvider struct{ fulfillment.Sandbox }

func (noticeProvider) Notice() string {
	return "the wallet linked to the Fragment account is 0:ab, not the hot wallet"
}

// TestProviderProbe: /api/v1/health's provider entry carries the
// provider's notice while it works.
func TestProviderProbe(t *testing.T) {
	w := &fulfillment.Worker{Provider: noticeProvider{}, Name: "fragment"}
	c := providerProbe("fragment", w)(context.Background())
	if c.Status != api.ComponentOK || !strings.Contains(c.Detail, "note: the wallet linked to the Fragment account is 0:ab") {
		t.Errorf("probe = %+v", c)
	}
	w = &fulfillment.Worker{Provider: fulfillment.Sandbox{}, Name: "sandbox"}
	if c := providerProbe("sandbox", w)(context.Background()); c.Status != api.ComponentOK || c.Detail != "sandbox" {
		t.Errorf("probe = %+v", c)
	}
}
