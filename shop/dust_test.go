package shop_test

import (
	"context"
	"fmt"
	"testing"

	"starsbot/shop"
)

// TestService_CreditDeposit_Dust covers TON_MIN_DEPOSIT (issue 13, item 8)
// and transfers without a text comment (item 9) in the shop: the one place
// of the rule. The same cases through the chain parser and the watcher, on
// real transactions, are in package ton (TestFixtures_Watcher).
func TestService_CreditDeposit_Dust(t *testing.T) { testCreditDepositDust(t, newEnv) }

func testCreditDepositDust(t *testing.T, newEnv func(*testing.T) *env) {
	ctx := context.Background()
	hash := func(i int) string { return fmt.Sprintf("%064x", i) }
	const minDeposit = 10_000_000 // 0.01 TON, TON_MIN_DEPOSIT's default

	e := newEnv(t)
	e.svc.MinDeposit = minDeposit
	u := e.user(alice, "alice_1", 0)
	order, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	if err != nil {
		t.Fatal(err)
	}
	e.svc.MinDeposit = order.PriceTON + 1 // an order paid in full, yet below the limit
	paidBelow, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: hash(100), Time: e.clock.Now(), Amount: order.PriceTON, Memo: order.PaymentMemo}, nil)
	if err != nil || paidBelow.Status != shop.DepositIgnored {
		t.Fatalf("order paid below the limit = %+v, %v; want ignored", paidBelow, err)
	}
	e.svc.MinDeposit = minDeposit
	e.takeEvents()

	tests := []struct {
		name       string
		tr         shop.Transfer
		wantStatus shop.DepositStatus
		wantReason string
		wantEvent  shop.EventType
		wantCredit shop.NanoTON
	}{
		{"1 nanoTON with a personal memo", shop.Transfer{Amount: 1, Memo: u.Memo},
			shop.DepositIgnored, shop.ReasonDust, shop.EventDepositIgnored, 0},
		{"just below the limit with a personal memo", shop.Transfer{Amount: minDeposit - 1, Memo: u.Memo},
			shop.DepositIgnored, shop.ReasonDust, shop.EventDepositIgnored, 0},
		{"1 nanoTON with the order's memo", shop.Transfer{Amount: 1, Memo: order.PaymentMemo},
			shop.DepositIgnored, shop.ReasonDust, shop.EventDepositIgnored, 0},
		{"spam comment", shop.Transfer{Amount: 1, Memo: "TG: @LiveFeed – Fragment Tracker"},
			shop.DepositIgnored, shop.ReasonDust, shop.EventDepositIgnored, 0},
		{"dust without a comment", shop.Transfer{Amount: 1, NoMemoReason: shop.NoMemoJetton},
			shop.DepositIgnored, shop.ReasonDust, shop.EventDepositIgnored, 0},
		{"exactly the limit with a personal memo", shop.Transfer{Amount: minDeposit, Memo: u.Memo},
			shop.DepositCredited, "", shop.EventDepositCredited, minDeposit},
		{"unknown memo above the limit", shop.Transfer{Amount: shop.TON, Memo: "hello"},
			shop.DepositUnmatched, "", shop.EventUnmatchedDeposit, 0},
		{"encrypted comment above the limit", shop.Transfer{Amount: shop.TON, NoMemoReason: shop.NoMemoEncrypted},
			shop.DepositUnmatched, shop.NoMemoEncrypted, shop.EventUnmatchedDeposit, 0},
		{"jetton notification above the limit", shop.Transfer{Amount: 149 * shop.TON, NoMemoReason: shop.NoMemoJetton},
			shop.DepositUnmatched, shop.NoMemoJetton, shop.EventUnmatchedDeposit, 0},
		{"no reason given", shop.Transfer{Amount: shop.TON},
			shop.DepositUnmatched, "", shop.EventUnmatchedDeposit, 0},
		{"unknown reason is not stored verbatim", shop.Transfer{Amount: shop.TON, NoMemoReason: "<b>free money</b>"},
			shop.DepositUnmatched, shop.NoMemoOther, shop.EventUnmatchedDeposit, 0},
		{"a memo wins over a reason", shop.Transfer{Amount: shop.TON, Memo: "hello", NoMemoReason: shop.NoMemoBinary},
			shop.DepositUnmatched, "", shop.EventUnmatchedDeposit, 0},
		{"a blank memo keeps its reason", shop.Transfer{Amount: shop.TON, Memo: "  ", NoMemoReason: shop.NoMemoEmpty},
			shop.DepositUnmatched, shop.NoMemoEmpty, shop.EventUnmatchedDeposit, 0},
	}
	var dust shop.DepositTotals
	dust.Count, dust.Amount = 1, order.PriceTON
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.tr
			tr.Hash, tr.LT, tr.Time, tr.From = hash(i+1), uint64(i+1), e.clock.Now(), "UQsender"
			before := e.balance(alice)
			dep, err := e.svc.CreditDeposit(ctx, tr, &shop.Cursor{Account: depositAddr, LT: tr.LT, Hash: tr.Hash})
			if err != nil {
				t.Fatal(err)
			}
			if dep.Status != tt.wantStatus || dep.Reason != tt.wantReason {
				t.Errorf("deposit %s (%q), want %s (%q)", dep.Status, dep.Reason, tt.wantStatus, tt.wantReason)
			}
			if got := e.balance(alice) - before; got != tt.wantCredit {
				t.Errorf("credited %s, want %s", got, tt.wantCredit)
			}
			evs := e.takeEvents()
			if len(evs) != 1 || evs[0].Type != tt.wantEvent || evs[0].DepositID != dep.ID || evs[0].Amount != tr.Amount {
				t.Errorf("events %+v, want one %s of deposit %d", evs, tt.wantEvent, dep.ID)
			}
			if dep.Status == shop.DepositIgnored {
				dust.Count++
				dust.Amount += tr.Amount
				if dep.UserID != 0 || dep.OrderID != 0 {
					t.Errorf("dust names user %d, order %d", dep.UserID, dep.OrderID)
				}
				// The same hash again, now with a real amount: still the
				// dust it was, nothing credited.
				tr.Amount = shop.TON
				again, err := e.svc.CreditDeposit(ctx, tr, nil)
				if err != nil || again.ID != dep.ID || again.Status != shop.DepositIgnored {
					t.Errorf("replay = %+v, %v", again, err)
				}
				if e.balance(alice) != before || len(e.takeEvents()) != 0 {
					t.Errorf("replay of dust changed something")
				}
				// Dust cannot be assigned by an admin.
				_, err = e.svc.AssignDeposit(ctx, admin, dep.ID, alice)
				wantCode(t, err, shop.EINVALIDSTATE)
			}
			e.check()
		})
	}

	if o, _ := e.svc.FindOrder(ctx, 0, order.ID); o.Status != shop.StatusPendingPayment {
		t.Errorf("order %s after dust with its memo, want pending_payment", o.Status)
	}
	ignored, err := e.svc.FindDeposits(ctx, shop.DepositIgnored, 0, 0)
	if err != nil || len(ignored) != dust.Count {
		t.Errorf("ignored deposits: %d, %v; want %d", len(ignored), err, dust.Count)
	}
	st, err := e.svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dust != dust {
		t.Errorf("Stats.Dust = %+v, want %+v", st.Dust, dust)
	}
	// The deposit totals leave dust out.
	if want := len(tests) + 1 - dust.Count; st.DepositsAll.Count != want {
		t.Errorf("Stats.DepositsAll.Count = %d, want %d", st.DepositsAll.Count, want)
	}
	if st.Unmatched.Count != 7 || st.Unmatched.Amount != 6*shop.TON+149*shop.TON {
		t.Errorf("Stats.Unmatched = %+v", st.Unmatched)
	}
}

// TestService_MinDepositZero: without a limit (the Service's default, or
// TON_MIN_DEPOSIT=0) every positive amount is booked as before.
func TestService_MinDepositZero(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := e.user(alice, "alice_1", 0)
	dep, err := e.svc.CreditDeposit(ctx, shop.Transfer{Hash: "ab", Amount: 1, Memo: u.Memo}, nil)
	if err != nil || dep.Status != shop.DepositCredited || e.balance(alice) != 1 {
		t.Fatalf("1 nanoTON without a limit = %+v, %v, balance %s", dep, err, e.balance(alice))
	}
}
