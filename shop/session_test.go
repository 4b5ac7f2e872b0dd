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

// TestFragmentSessionSlots: each line of FRAGMENT_COOKIES keeps its own
// blob; the first is the one a single session has always used.
func TestFragmentSessionSlots(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := range 3 {
		if err := e.svc.FragmentSession(i).SaveFragmentSession(ctx, []byte{byte(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := e.svc.LoadFragmentSession(ctx); !bytes.Equal(b, []byte{1}) || err != nil {
		t.Fatalf("slot 0 is not the single session's: %x, %v", b, err)
	}
	for i := range 3 {
		if b, err := e.svc.FragmentSession(i).LoadFragmentSession(ctx); !bytes.Equal(b, []byte{byte(i + 1)}) || err != nil {
			t.Errorf("slot %d = %x, %v", i, b, err)
		}
	}
	if b, _ := e.svc.FragmentSession(3).LoadFragmentSession(ctx); b != nil {
		t.Errorf("an unused slot holds %x", b)
	}
	if err := e.svc.FragmentSession(1).SaveFragmentSession(ctx, make([]byte, 64<<10)); err == nil {
		t.Error("an oversize blob was saved")
	}
}
