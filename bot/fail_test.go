package bot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/shop"
)

// failing makes Ledger (the balance screen) fail with a chosen error.
type failing struct {
	bot.Shop
	mu  sync.Mutex
	err error
}

func (s *failing) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *failing) Ledger(ctx context.Context, f shop.LedgerFilter) ([]*shop.LedgerEntry, uint64, error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	return s.Shop.Ledger(ctx, f)
}

// TestFail_SentenceByCode checks the sentence a user sees for each shop
// error code, in their language, with the menu button; only errors that
// are not the user's (internal, and codes the bot has no sentence for)
// are logged, once, without the token.
func TestFail_SentenceByCode(t *testing.T) {
	f := &failing{}
	e := newEnv(t, func(s bot.Shop) bot.Shop { f.Shop = s; return f })
	e.startChat(alice)
	e.startChat(ivan)
	cases := []struct {
		user   bottest.User
		err    error
		want   string
		logged bool
	}{
		{alice, shop.Errorf(shop.EINSUFFICIENT, "x"), "Not enough balance for this order.", false},
		{alice, shop.Errorf(shop.ERECIPIENT, "x"), "This recipient cannot receive it.", false},
		{alice, shop.Errorf(shop.ENOTFOUND, "x"), "Not found.", false},
		{alice, shop.Errorf(shop.EUNAUTHORIZED, "x"), "Your account is blocked.", false},
		{alice, shop.Errorf(shop.ENOTCANCELLABLE, "x"), "This order can no longer be cancelled.", false},
		{alice, shop.Errorf(shop.ECONFLICT, "x"), "This offer was already used.", false},
		{alice, shop.Errorf(shop.ERATELIMITED, "x"), "Too many requests. Please wait a moment.", false},
		{alice, shop.Errorf(shop.EVALIDATION, "x"), "That doesn't look right.", false},
		{alice, fmt.Errorf("saving: %w", shop.Errorf(shop.EVALIDATION, "x")), "That doesn't look right.", false},
		{alice, shop.Errorf(shop.EINVALIDSTATE, "x"), "Something went wrong on our side.", true},
		{alice, shop.Errorf(shop.EINTERNAL, "x"), "Something went wrong on our side.", true},
		{alice, errors.New("disk on fire at /bot" + token + "/x"), "Something went wrong on our side.", true},
		{ivan, shop.Errorf(shop.EINSUFFICIENT, "x"), "Недостаточно средств на балансе", false},
		{ivan, errors.New("disk on fire"), "У нас что-то пошло не так.", true},
	}
	for _, c := range cases {
		before := strings.Count(e.logText(), "telegram handler failed")
		f.set(c.err)
		e.fake.Send(c.user, "/balance")
		got := e.fake.Wait(c.user.ID, c.want)
		if len(got.Keyboard) != 1 || len(got.Keyboard[0]) != 1 || got.Keyboard[0][0].Data != "\fm" {
			t.Errorf("%v: keyboard %v, want the menu button", c.err, got.Keyboard)
		}
		// The reply is sent after the log line, if any.
		if n := strings.Count(e.logText(), "telegram handler failed") - before; n != map[bool]int{true: 1, false: 0}[c.logged] {
			t.Errorf("%v: logged %d times", c.err, n)
		}
	}
	f.set(nil)
	e.fake.Send(alice, "/balance")
	e.fake.Wait(alice.ID, "Balance: 0 TON")
	if !strings.Contains(e.logText(), "disk on fire at /bot<token>/x") {
		t.Errorf("internal error not logged redacted:\n%s", e.logText())
	}
}
