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
	w := newProbeWorker(t, noticeProvider{}, "fragment")
	c := providerProbe("fragment", w)(context.Background())
	if c.Status != api.ComponentOK || !strings.Contains(c.Detail, "note: the wallet linked to the Fragment account is 0:ab") {
		t.Errorf("probe = %+v", c)
	}
	w = newProbeWorker(t, fulfillment.Sandbox{}, "sandbox")
	if c := providerProbe("sandbox", w)(context.Background()); c.Status != api.ComponentOK || c.Detail != "sandbox" {
		t.Errorf("probe = %+v", c)
	}
}

// newProbeWorker is a worker that is never run: the probe reads only its
// health and its provider's notice.
func newProbeWorker(t *testing.T, p fulfillment.Provider, name string) *fulfillment.Worker {
	t.Helper()
	w, err := fulfillment.NewWorker(fulfillment.WorkerConfig{Shop: struct{ fulfillment.Shop }{}, Provider: p, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return w
}
