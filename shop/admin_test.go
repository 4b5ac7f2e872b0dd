package shop_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/shop/shoptest"
)

func TestService_Stats(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", 2*shop.TON)
	e.user(bob, "bob_b1", 0)
	if _, _, err := e.svc.IssueKey(ctx, alice, shop.KeyPrefixOrders); err != nil {
		t.Fatal(err)
	}
	done, _ := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
	e.svc.CompleteOrder(ctx, 0, done.ID, "ref")
	e.svc.CreateOrder(ctx, starsReq(alice, shop.PayTONMemo))
	e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("a", 64), LT: 1, Time: e.clock.Now(), From: "EQx", Amount: 3 * shop.TON, Memo: "nobody"}, nil)
	e.advance(8 * 24 * time.Hour)
	e.svc.CreditDeposit(ctx, shop.Transfer{Hash: strings.Repeat("b", 64), LT: 2, Time: e.clock.Now(), From: "EQx", Amount: shop.TON, Memo: "nobody"}, nil)

	st, err := e.svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != 2 || st.Partners != 1 {
		t.Errorf("users %d partners %d", st.Users, st.Partners)
	}
	if st.OrdersByStatus[shop.StatusCompleted] != 1 || st.OrdersByStatus[shop.StatusPendingPayment] != 1 {
		t.Errorf("orders = %v", st.OrdersByStatus)
	}
	if st.Revenue != done.PriceTON || st.FeeIncome != done.FeeTON {
		t.Errorf("revenue %s fee %s", st.Revenue, st.FeeIncome)
	}
	if st.Liability != 2*shop.TON-done.PriceTON {
		t.Errorf("liability = %s", st.Liability)
	}
	want := shop.DepositTotals{Count: 1, Amount: shop.TON}
	if st.DepositsToday != want || st.Deposits7Days != want || st.DepositsAll != (shop.DepositTotals{Count: 2, Amount: 4 * shop.TON}) || st.Unmatched.Count != 2 {
		t.Errorf("deposits: today %+v, 7d %+v, all %+v, unmatched %+v", st.DepositsToday, st.Deposits7Days, st.DepositsAll, st.Unmatched)
	}
}

func TestService_Audit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, err := e.svc.Audit(ctx, shop.AuditEntry{Action: "credit"})
	wantCode(t, err, shop.EVALIDATION)
	for i, a := range []string{"credit", "ban", "fees"} {
		got, err := e.svc.Audit(ctx, shop.AuditEntry{AdminID: admin, Action: a, Args: strings.Repeat("x", 600) + "\xff", Result: "ok"})
		if err != nil || got.ID != uint64(i+1) || got.Time.IsZero() || len(got.Args) > 512 {
			t.Fatalf("Audit = %+v, %v", got, err)
		}
	}
	log, err := e.svc.AuditLog(ctx, 2)
	if err != nil || len(log) != 2 || log[0].Action != "fees" || log[1].Action != "ban" || log[0].AdminID != admin {
		t.Fatalf("AuditLog = %+v, %v", log, err)
	}
}

func TestService_SavePricing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.svc.Pricing()
	p.FeePPM = 25_000
	p.StarsMin = 100
	if err := e.svc.SavePricing(ctx, p); err != nil {
		t.Fatal(err)
	}
	bad := p
	bad.StarsMax = 10
	wantCode(t, e.svc.SavePricing(ctx, bad), shop.EVALIDATION)
	if e.svc.Pricing().StarsMax == 10 {
		t.Fatal("an invalid price list was put in force")
	}
	if saved, err := e.svc.PricingSaved(ctx); !saved || err != nil {
		t.Fatalf("PricingSaved = %v, %v", saved, err)
	}
	// A restarted service starts from the defaults and loads the saved list.
	fresh := shoptest.New(t, &shoptest.Options{DB: e.db, Retry: true}).Service
	if ok, err := fresh.LoadPricing(ctx); !ok || err != nil {
		t.Fatalf("LoadPricing = %v, %v", ok, err)
	}
	if got := fresh.Pricing(); got.FeePPM != 25_000 || got.StarsMin != 100 || got.PremiumUSD[12] != p.PremiumUSD[12] {
		t.Fatalf("loaded pricing = %+v", got)
	}
	if err := fresh.ResetPricing(ctx, shop.DefaultPricing()); err != nil {
		t.Fatal(err)
	}
	if saved, err := fresh.PricingSaved(ctx); saved || err != nil {
		t.Fatalf("PricingSaved after reset = %v, %v", saved, err)
	}
	if ok, _ := fresh.LoadPricing(ctx); ok || fresh.Pricing().FeePPM != 0 {
		t.Fatal("reset did not forget the saved list")
	}
}
