package shop_test

import (
	"bytes"
	"context"
	"testing"
)

func TestFragmentSession(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if b, err := e.svc.LoadFragmentSession(ctx); b != nil || err != nil {
		t.Fatalf("LoadFragmentSession on a new store = %q, %v; want nil, nil", b, err)
	}
	blob := []byte{1, 2, 3, 0, 255}
	if err := e.svc.SaveFragmentSession(ctx, blob); err != nil {
		t.Fatal(err)
	}
	if b, err := e.svc.LoadFragmentSession(ctx); !bytes.Equal(b, blob) || err != nil {
		t.Fatalf("LoadFragmentSession = %x, %v; want %x", b, err, blob)
	}
	if err := e.svc.SaveFragmentSession(ctx, make([]byte, 64<<10)); err == nil {
		t.Error("an oversize blob was saved")
	}
	if err := e.svc.SaveFragmentSession(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if b, err := e.svc.LoadFragmentSession(ctx); b != nil || err != nil {
		t.Fatalf("after forgetting: %x, %v", b, err)
	}
}
