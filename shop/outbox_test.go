package shop_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

// allEvents returns every event of user in the feed, following cursors.
func allEvents(t *testing.T, svc *shop.Service, user int64) []*shop.OutboxEvent {
	t.Helper()
	var out []*shop.OutboxEvent
	var after uint64
	for {
		evs, more, err := svc.Events(context.Background(), user, after, 3) // small pages: the cursor is exercised
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
		if len(evs) > 0 {
			after = evs[len(evs)-1].Seq
		}
		if !more {
			return out
		}
	}
}

func types(evs []*shop.OutboxEvent) []string {
	var out []string
	for _, e := range evs {
		s := string(e.Type)
		if e.Order != nil {
			s += ":" + string(e.Order.Status)
		}
		if e.Balance != nil {
			s += ":" + e.Balance.Reason
		}
		out = append(out, s)
	}
	return out
}

// TestOutbox_EveryChangeOnce drives every partner-visible change with every
// Update run twice (the first rolled back, shoptest.Options.Retry) and with
// failing operations in between, and checks that the outbox holds exactly
// one event per committed change, in commit order, each matching what was
// committed: the order as stored at that moment, the ledger entry of each
// balance change.
func TestOutbox_EveryChangeOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t) // Retry: true
	e.user(alice, "alice", 0)
	if _, err := e.svc.AdminCredit(ctx, admin, alice, 2*shop.TON, "funding"); err != nil {
		t.Fatal(err)
	}
	paid, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
	if err != nil {
		t.Fatal(err)
	}
	// Refused changes write nothing.
	if _, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{UserID: alice, Type: shop.OrderStars, Stars: 50000, Recipient: "@pandus", PaymentMethod: shop.PayBalance, Source: "api"}); err == nil {
		t.Fatal("an order above the balance was accepted")
	}
	if _, err := e.svc.AdminDebit(ctx, admin, alice, 100*shop.TON, "too much"); err == nil {
		t.Fatal("a debit below zero was accepted")
	}
	memo1, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("1", 64), LT: 1, Time: e.clock.Now(), Amount: memo1.PriceTON + shop.TON/10, Memo: memo1.PaymentMemo}, nil); err != nil {
		t.Fatal(err)
	}
	memo2, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CancelOrder(ctx, alice, memo2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CancelOrder(ctx, alice, memo2.ID); err != nil { // a retried cancel changes nothing
		t.Fatal(err)
	}
	if _, err := e.svc.CancelOrder(ctx, alice, paid.ID); err == nil {
		t.Fatal("a paid order was cancelled")
	}
	memo3, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil {
		t.Fatal(err)
	}
	e.advance(shop.DefaultOrderTTL + 1)
	if _, err := e.svc.ExpireOrders(ctx); err != nil {
		t.Fatal(err)
	}
	// Late payment of the expired order (sent after its TTL): to the balance.
	if _, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("2", 64), LT: 2, Time: e.clock.Now(), Amount: shop.TON / 100, Memo: memo3.PaymentMemo}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteOrder(ctx, shop.SystemActor, paid.ID, "ref-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CompleteOrder(ctx, shop.SystemActor, paid.ID, "ref-1"); err != nil { // again: unchanged
		t.Fatal(err)
	}
	if _, err := e.svc.MoveToManual(ctx, memo1.ID, "provider down"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Refund(ctx, admin, memo1.ID, "cannot deliver"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AdminDebit(ctx, admin, alice, shop.TON/10, "correction"); err != nil {
		t.Fatal(err)
	}
	u, err := e.svc.FindUser(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("3", 64), LT: 3, Time: e.clock.Now(), Amount: shop.TON, Memo: u.Memo}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("3", 64), LT: 3, Time: e.clock.Now(), Amount: shop.TON, Memo: u.Memo}, nil); err != nil { // seen: nothing
		t.Fatal(err)
	}

	evs := allEvents(t, e.svc, alice)
	want := []string{
		"balance.credited:admin_credit",
		"order.created:pending_payment", "order.paid:paid",
		"order.created:pending_payment",
		"order.paid:paid", "balance.credited:order_surplus",
		"order.created:pending_payment", "order.cancelled:cancelled",
		"order.created:pending_payment",
		"order.expired:expired",
		"balance.credited:late_payment",
		"order.completed:completed",
		"order.manual:manual",
		"order.refunded:refunded",
		"balance.debited:admin_debit",
		"balance.credited:deposit",
	}
	if got := types(evs); !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox:\n got %q\nwant %q", got, want)
	}
	// Commit order, unique ids.
	ids := map[string]bool{}
	for i, ev := range evs {
		if i > 0 && ev.Seq <= evs[i-1].Seq {
			t.Errorf("event %d: seq %d after %d", i, ev.Seq, evs[i-1].Seq)
		}
		if ids[ev.ID] || !strings.HasPrefix(ev.ID, "evt_") || len(ev.ID) != 30 {
			t.Errorf("event %d: id %q repeated or malformed", i, ev.ID)
		}
		ids[ev.ID] = true
	}
	// Every balance event is a ledger entry, with the balance after it;
	// every ledger entry but order debits and refunds is a balance event.
	entries, _, err := e.svc.Ledger(ctx, shop.LedgerFilter{UserID: alice, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ledger, balanceEvents []string
	for i := len(entries) - 1; i >= 0; i-- {
		le := entries[i]
		if le.Type == shop.LedgerOrder || le.Type == shop.LedgerRefund {
			continue
		}
		amount := le.Amount
		if amount < 0 {
			amount = -amount
		}
		ledger = append(ledger, amount.String()+"→"+le.BalanceAfter.String()+" "+le.TxHash)
	}
	for _, ev := range evs {
		if b := ev.Balance; b != nil {
			balanceEvents = append(balanceEvents, b.Amount.String()+"→"+b.Balance.String()+" "+b.TxHash)
		}
	}
	if !reflect.DeepEqual(ledger, balanceEvents) {
		t.Errorf("balance events vs ledger:\nevents %q\nledger %q", balanceEvents, ledger)
	}
	// The last order event of each order shows it as stored now.
	last := map[int64]*shop.Order{}
	for _, ev := range evs {
		if ev.Order != nil {
			last[ev.Order.ID] = ev.Order
		}
	}
	for id, snap := range last {
		o, err := e.svc.FindOrder(ctx, alice, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(o, snap) {
			t.Errorf("order %d: last event\n%+v\nvs stored\n%+v", id, snap, o)
		}
	}
	e.check()
}

// failAfter is a store whose Update runs fn and then fails, as a commit
// that fails after fn wrote its outbox event would.
type failAfter struct{ *store.DB }

var errCommit = errors.New("forced failure after fn")

func (s failAfter) Update(ctx context.Context, fn func(shop.Tx) error) error {
	return s.DB.Update(ctx, func(tx shop.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCommit
	})
}

// TestOutbox_RolledBackAndRestart checks that a change rolled back after
// its event was appended leaves no event, and that committed events
// survive closing and reopening the store (a restart).
func TestOutbox_RolledBackAndRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "starsbot.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s := shoptest.New(t, &shoptest.Options{DB: db, Retry: true})
	if _, err := s.Service.EnsureUser(ctx, shop.UserUpdate{ID: alice, Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.AdminCredit(ctx, admin, alice, shop.TON, "funding"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.CreateOrder(ctx, starsReq(alice, shop.PayBalance)); err != nil {
		t.Fatal(err)
	}
	before := allEvents(t, s.Service, alice)

	// The same service over a store whose commits fail after fn ran.
	real := s.Service.Store
	s.Service.Store = failAfter{db}
	if _, err := s.Service.CreateOrder(ctx, starsReq(alice, shop.PayBalance)); !errors.Is(err, errCommit) {
		t.Fatalf("CreateOrder = %v, want the forced failure", err)
	}
	if _, err := s.Service.AdminCredit(ctx, admin, alice, shop.TON, "rolled back"); !errors.Is(err, errCommit) {
		t.Fatalf("AdminCredit = %v, want the forced failure", err)
	}
	s.Service.Store = real
	if got := allEvents(t, s.Service, alice); !sameEvents(before, got) {
		t.Fatalf("rolled-back changes left events: before %v, after %v", types(before), types(got))
	}

	// Restart: close, reopen, read again.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	s2 := shoptest.New(t, &shoptest.Options{DB: db2})
	if got := allEvents(t, s2.Service, alice); !sameEvents(before, got) {
		t.Fatalf("events after a restart: before %v, after %v", types(before), types(got))
	}
	if err := db2.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 {
		t.Fatalf("got %d events, want 3 (credit, created, paid)", len(before))
	}
}

// TestPruneOutbox deletes what is older than the retention, in chunks.
func TestPruneOutbox(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice", 0)
	for range 3 {
		if _, err := e.svc.AdminCredit(ctx, admin, alice, shop.TON, "x"); err != nil {
			t.Fatal(err)
		}
	}
	e.advance(shop.OutboxRetention / 2)
	if _, err := e.svc.AdminCredit(ctx, admin, alice, shop.TON, "y"); err != nil {
		t.Fatal(err)
	}
	e.advance(shop.OutboxRetention/2 + 1)
	n, err := e.svc.PruneOutbox(ctx)
	if err != nil || n != 3 {
		t.Fatalf("PruneOutbox = %d, %v; want 3", n, err)
	}
	if evs := allEvents(t, e.svc, alice); len(evs) != 1 || evs[0].Balance.Amount != shop.TON {
		t.Fatalf("after pruning: %v", types(evs))
	}
	e.check()
}

// sameEvents compares events field by field.
func sameEvents(a, b []*shop.OutboxEvent) bool {
	return fmt.Sprintf("%+v", deref(a)) == fmt.Sprintf("%+v", deref(b))
}

func deref(evs []*shop.OutboxEvent) []string {
	var out []string
	for _, e := range evs {
		c := *e
		c.Order, c.Balance = nil, nil
		out = append(out, fmt.Sprintf("%+v %+v %+v", c, e.Order, e.Balance))
	}
	return out
}

// A USDT transfer to a personal memo is a balance.credited event that
// names the asset and the USDT received beside its value in TON.
func TestOutbox_USDTCredit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := e.user(alice, "alice", 0)
	d, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("7", 64), LT: 1, Time: e.clock.Now(),
		Asset: shop.AssetUSDT, JettonAmount: 10_000_000, Amount: 1, Memo: u.Memo}, nil) // a notification carries some TON (forward_ton_amount)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != shop.DepositCredited || d.Amount <= 0 {
		t.Fatalf("deposit %+v", d)
	}
	evs := allEvents(t, e.svc, alice)
	if len(evs) != 1 || evs[0].Type != shop.PartnerBalanceCredited {
		t.Fatalf("events %v", types(evs))
	}
	if b := evs[0].Balance; b.Asset != shop.AssetUSDT || b.JettonAmount != 10_000_000 || b.Amount != d.Amount || b.Reason != shop.CreditDeposit {
		t.Fatalf("balance change %+v, deposit value %d", b, d.Amount)
	}
}
