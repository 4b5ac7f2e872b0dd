package bot_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"starsbot/bot"
	"starsbot/shop"
)

// TestTell_ReturnsOnceTold: Tell returns when its events are told: each
// buyer's notices are in their chat by then, in order, and n counts them
// all.
func TestTell_ReturnsOnceTold(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.startChat(ivan)
	b := e.cur.Load()
	events := []shop.Event{
		{Type: shop.EventAdminCredit, UserID: alice.ID, Amount: shop.TON, Balance: shop.TON},
		{Type: shop.EventAdminCredit, UserID: ivan.ID, Amount: 3 * shop.TON, Balance: 3 * shop.TON},
		{Type: shop.EventAdminCredit, UserID: alice.ID, Amount: 2 * shop.TON, Balance: 3 * shop.TON},
		{Type: shop.EventUnmatchedDeposit, Amount: shop.TON}, // nobody's: nothing to tell
	}
	n, err := b.Tell(context.Background(), events)
	if n != len(events) || err != nil {
		t.Fatalf("Tell = %d, %v; want %d, nil", n, err, len(events))
	}
	var got []string
	for _, m := range e.fake.Messages(alice.ID) {
		if strings.Contains(m.Text, "credited") {
			got = append(got, m.Text)
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], "+1 TON") || !strings.Contains(got[1], "+2 TON") {
		t.Errorf("alice's notices when Tell returned: %q; want +1 then +2", got)
	}
	if ms := e.fake.Messages(ivan.ID); len(ms) == 0 || !strings.Contains(ms[len(ms)-1].Text, "+3 TON") {
		t.Errorf("ivan was not told before Tell returned: %+v", ms)
	}
}

// TestTell_EndedContext: with its context ended, Tell sends nothing and
// says so: nothing is counted told, and nothing reaches the chat after.
func TestTell_EndedContext(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	b := e.cur.Load()
	before := len(e.fake.Messages(alice.ID))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := b.Tell(ctx, []shop.Event{{Type: shop.EventAdminCredit, UserID: alice.ID, Amount: shop.TON}})
	if n != 0 || err == nil {
		t.Errorf("Tell = %d, %v; want 0 and an error", n, err)
	}
	if got := e.quiet(alice.ID); len(got) != 0 || len(e.fake.Messages(alice.ID)) != before {
		t.Errorf("sent after an ended Tell: %+v", got)
	}
}

// failingUsers makes FindUser fail (an internal error, as a store that
// cannot be reached) for one user.
type failingUsers struct {
	bot.Shop
	mu   sync.Mutex
	user int64
}

func (s *failingUsers) FindUser(ctx context.Context, id int64) (*shop.User, error) {
	s.mu.Lock()
	fail := s.user == id
	s.mu.Unlock()
	if fail {
		return nil, shop.Errorf(shop.EINTERNAL, "the store is unreachable")
	}
	return s.Shop.FindUser(ctx, id)
}

// TestTell_StoreFailure: an event whose notice cannot be made because the
// store fails is not told: n stops before it, and that buyer's later
// events are not sent either (told again later, in order). A user who
// does not exist is done with (there is nobody to tell).
func TestTell_StoreFailure(t *testing.T) {
	f := &failingUsers{}
	e := newEnv(t, func(s bot.Shop) bot.Shop { f.Shop = s; return f })
	e.startChat(alice)
	e.startChat(ivan)
	b := e.cur.Load()
	f.mu.Lock()
	f.user = ivan.ID
	f.mu.Unlock()
	events := []shop.Event{
		{Type: shop.EventAdminCredit, UserID: 424242, Amount: shop.TON}, // no such user
		{Type: shop.EventAdminCredit, UserID: alice.ID, Amount: shop.TON},
		{Type: shop.EventAdminCredit, UserID: ivan.ID, Amount: shop.TON},
		{Type: shop.EventAdminCredit, UserID: ivan.ID, Amount: 2 * shop.TON},
	}
	before := len(e.fake.Messages(ivan.ID))
	n, err := b.Tell(context.Background(), events)
	if n != 2 || err == nil {
		t.Errorf("Tell = %d, %v; want 2 and an error", n, err)
	}
	if got := e.quiet(ivan.ID); len(got) != 0 || len(e.fake.Messages(ivan.ID)) != before {
		t.Errorf("ivan was sent %+v", got)
	}
}
