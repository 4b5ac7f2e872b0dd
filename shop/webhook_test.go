package shop_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"starsbot/shop"
)

// TestWebhookSecret_Redacted: an endpoint printed or logged whole never
// shows its secrets.
func TestWebhookSecret_Redacted(t *testing.T) {
	e := newEnv(t)
	e.user(alice, "alice", 0)
	e.svc.WebhookAllowPrivate = true
	w, err := e.svc.CreateWebhook(context.Background(), alice, "http://127.0.0.1:9/h", nil)
	if err != nil {
		t.Fatal(err)
	}
	if w, err = e.svc.RotateWebhookSecret(context.Background(), alice, w.ID); err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimPrefix(w.Secret.Reveal(), "whsec_")
	old := strings.TrimPrefix(w.PreviousSecret.Reveal(), "whsec_")
	if len(secret) != 44 || len(old) != 44 || secret == old {
		t.Fatalf("secrets %q %q", secret, old)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "webhook", w, "secret", w.Secret)
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", w, w, w, w.Secret), fmt.Sprint(*w), b.String()} {
		if strings.Contains(s, secret) || strings.Contains(s, old) {
			t.Errorf("a secret is shown: %s", s)
		}
	}
}

func TestIsPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::1111": true, "8.8.8.8": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.0.1": false,
		"169.254.169.254": false, "fe80::1": false, "fd12::1": false, "0.0.0.0": false, "::": false,
		"224.0.0.1": false, "ff02::1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"::ffff:8.8.8.8": true, "100.64.1.1": false, "64:ff9b::7f00:1": false, "64:ff9b::808:808": true,
		"255.255.255.255": false, "2002:7f00:1::": false,
	} {
		if got := shop.IsPublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
