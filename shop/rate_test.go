package shop_test

import (
	"context"
	"testing"
	"time"

	"starsbot/shop"
)

func TestStaticRate(t *testing.T) {
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := shop.StaticRate{TONUSD: 2_000_000, Since: since}.Rate(context.Background())
	if err != nil || got.TONUSD != 2_000_000 || got.Source != "static" || !got.UpdatedAt.Equal(since) {
		t.Fatalf("Rate = %+v, %v; want {2000000 static %v}", got, err, since)
	}
	if _, err := (shop.StaticRate{}).Rate(context.Background()); err == nil {
		t.Fatal("zero StaticRate: want error")
	}
}
