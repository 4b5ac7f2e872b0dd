package shop_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"starsbot/shop"
)

// scriptedRecipients answers from a table; names not in it can receive.
type scriptedRecipients struct {
	no    map[string]string // username → reason
	err   error
	calls int
}

func (s *scriptedRecipients) CheckRecipient(_ context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	if reason, ok := s.no[username]; ok {
		return &shop.RecipientCheck{Username: username, Reason: reason}, nil
	}
	return &shop.RecipientCheck{Username: username, CanReceive: true}, nil
}

func TestService_CheckRecipient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)

	t.Run("NoLookup", func(t *testing.T) {
		rc, err := e.svc.CheckRecipient(ctx, shop.OrderStars, "@Pandus")
		if err != nil || !rc.CanReceive || rc.Username != "Pandus" {
			t.Fatalf("got %+v, %v", rc, err)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		_, err := e.svc.CheckRecipient(ctx, shop.OrderStars, "ab")
		wantCode(t, err, shop.EVALIDATION)
		_, err = e.svc.CheckRecipient(ctx, "gift", "pandus")
		wantCode(t, err, shop.EVALIDATION)
	})
	t.Run("Provider", func(t *testing.T) {
		e.svc.Recipients = &scriptedRecipients{no: map[string]string{"ghost_user": "user not found"}}
		defer func() { e.svc.Recipients = nil }()
		rc, err := e.svc.CheckRecipient(ctx, shop.OrderPremium, "t.me/ghost_user")
		if err != nil || rc.CanReceive || rc.Reason != "user not found" || rc.Username != "ghost_user" {
			t.Fatalf("got %+v, %v", rc, err)
		}
	})
	t.Run("ErrInternal", func(t *testing.T) {
		e.svc.Recipients = &scriptedRecipients{err: errors.New("fragment: 403")}
		defer func() { e.svc.Recipients = nil }()
		_, err := e.svc.CheckRecipient(ctx, shop.OrderStars, "pandus")
		wantCode(t, err, shop.EINTERNAL)
	})
}

func TestService_CreateOrder_Recipient(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 10*shop.TON)
	rec := &scriptedRecipients{no: map[string]string{"ghost_user": "user not found"}}
	e.svc.Recipients = rec

	t.Run("ErrRecipientNotFound", func(t *testing.T) {
		req := starsReq(alice, shop.PayBalance)
		req.Recipient = "@ghost_user"
		_, err := e.svc.CreateOrder(ctx, req)
		wantCode(t, err, shop.ERECIPIENT)
		if got := shop.ErrorMessage(err); got != "@ghost_user cannot receive stars: user not found" {
			t.Errorf("message %q", got)
		}
		if b := e.balance(alice); b != 10*shop.TON {
			t.Errorf("balance changed to %s", b)
		}
	})
	t.Run("LookupDownStillCreates", func(t *testing.T) {
		rec.err = errors.New("unreachable")
		defer func() { rec.err = nil }()
		if _, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("IdempotentReplaySkipsLookup", func(t *testing.T) {
		req := starsReq(alice, shop.PayTONMemo)
		req.IdempotencyKey = "k-1"
		first, err := e.svc.CreateOrder(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		calls := rec.calls
		// The recipient became unreachable meanwhile: the replay still
		// returns the order, without asking.
		rec.no["pandus"] = "gone"
		again, err := e.svc.CreateOrder(ctx, req)
		if err != nil || again.ID != first.ID {
			t.Fatalf("replay: %v, %v", again, err)
		}
		if rec.calls != calls {
			t.Errorf("lookup asked on replay")
		}
	})
	e.check()
}

func TestParseSimpleRef(t *testing.T) {
	o := &shop.Order{ID: 10421, Stars: 100, CreatedAt: time.Unix(1700000000, 0)}
	if got := o.SimpleRef(); got != "api_buy_10421_100_1700000000" {
		t.Fatalf("SimpleRef = %q", got)
	}
	for _, tt := range []struct {
		in   string
		id   int64
		want bool
	}{
		{"api_buy_10421_100_1700000000", 10421, true},
		{"api_buy_1_50_0", 1, true},
		{"api_buy_0_50_0", 0, false},
		{"api_buy_10421_100", 0, false},
		{"api_buy_-1_100_1", 0, false},
		{"api_buy_1_1_1_1", 0, false},
		{"api_buy_99999999999999999999_1_1", 0, false},
		{"buy_1_1_1", 0, false},
		{"api_buy_1__1", 0, false},
	} {
		id, ok := shop.ParseSimpleRef(tt.in)
		if ok != tt.want || id != tt.id {
			t.Errorf("ParseSimpleRef(%q) = %d, %v", tt.in, id, ok)
		}
	}
}
