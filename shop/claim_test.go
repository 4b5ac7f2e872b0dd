package shop_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"starsbot/shop"
)

func TestService_ClaimLeases(t *testing.T)  { testClaimLeases(t, newEnv) }
func TestPostgres_ClaimLeases(t *testing.T) { testClaimLeases(t, newPGEnv) }

// testClaimLeases: the rules of leased claims (shop/claim.go). One claim
// at a time wins an order; a claim whose lease ran out and was taken has
// its saves refused; a preparer never claims, records or overwrites a
// payment; the payer's does, and a payer takes another payer's lease over
// at once; a released order is claimed at once.
func testClaimLeases(t *testing.T, newEnv func(*testing.T) *env) {
	ctx := context.Background()
	e := newEnv(t)
	e.user(alice, "alice_1", shop.TON)
	o, err := e.svc.CreateOrder(ctx, starsReq(alice, shop.PayBalance))
	if err != nil {
		t.Fatal(err)
	}
	prepA := shop.Claim{Replica: "a", Lease: time.Minute}
	prepB := shop.Claim{Replica: "b", Lease: time.Minute}
	payer := shop.Claim{Replica: "c", Lease: time.Minute, Pays: true}
	claim := func(c shop.Claim, want bool) (*shop.Delivery, *shop.Lease) {
		t.Helper()
		got, d, l, err := e.svc.ClaimOrderLeased(ctx, o.ID, "fragment", c)
		if err != nil {
			t.Fatalf("claim by %s: %v", c.Replica, err)
		}
		if (l != nil) != want {
			t.Fatalf("claim by %s won: %v, want %v", c.Replica, l != nil, want)
		}
		if l != nil && (got.Status != shop.StatusProcessing || d.OrderID != o.ID) {
			t.Fatalf("claim by %s: %+v %+v", c.Replica, got, d)
		}
		return d, l
	}

	d, la := claim(prepA, true)
	claim(prepB, false)
	claim(payer, false)
	d.Step, d.RequestID = "initiated", "req1"
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{d}, []*shop.Lease{la}); err != nil {
		t.Fatalf("save by the holder: %v", err)
	}
	// A preparer records no payment.
	paid := *d
	paid.Payout = &shop.SignedPayout{Hash: "ab", BOC: []byte{1}}
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{&paid}, []*shop.Lease{la}); !errors.Is(err, shop.ErrPayerOnly) {
		t.Fatalf("preparer's payment save = %v, want ErrPayerOnly", err)
	}

	// a's lease runs out (its saves renewed it to now + 1 min); b takes the
	// order, and a's saves are refused from then on.
	e.advance(time.Minute)
	db, lb := claim(prepB, true)
	if db.RequestID != "req1" {
		t.Fatalf("b sees %+v, want a's record", db)
	}
	d.Step = "linked"
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{d}, []*shop.Lease{la}); !errors.Is(err, shop.ErrLeaseLost) {
		t.Fatalf("lapsed save = %v, want ErrLeaseLost", err)
	}
	if held, err := e.svc.HoldsOrder(ctx, o.ID, la); err != nil || held {
		t.Fatalf("HoldsOrder(a) = %v %v, want false", held, err)
	}
	if held, err := e.svc.HoldsOrder(ctx, o.ID, lb); err != nil || !held {
		t.Fatalf("HoldsOrder(b) = %v %v, want true", held, err)
	}
	db.Step, db.RequestID, db.PayTo = "linked", "req2", "EQpay"
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{db}, []*shop.Lease{lb}); err != nil {
		t.Fatal(err)
	}
	// a, claiming again, is a new claim: it cannot take b's live lease, and
	// a's old lease stays lost once b releases.
	claim(prepA, false)
	if err := e.svc.ReleaseOrder(ctx, o.ID, la); err != nil { // not a's: nothing
		t.Fatal(err)
	}
	claim(payer, false)
	if err := e.svc.ReleaseOrder(ctx, o.ID, lb); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{db}, []*shop.Lease{lb}); !errors.Is(err, shop.ErrLeaseLost) {
		t.Fatalf("save after release = %v, want ErrLeaseLost", err)
	}

	// The payer takes the released order at once and records its payment.
	dp, lp := claim(payer, true)
	if dp.RequestID != "req2" || dp.Step != "linked" {
		t.Fatalf("payer sees %+v, want b's record", dp)
	}
	dp.Payout, dp.Step = &shop.SignedPayout{Hash: "cd", BOC: []byte{2}}, "signed"
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{dp}, []*shop.Lease{lp}); err != nil {
		t.Fatalf("payer's payment save: %v", err)
	}
	// A new payer (a new leader: the old one is deposed, its writes
	// fenced) takes the order over at once; the old payer's saves are
	// refused.
	_, le := claim(shop.Claim{Replica: "e", Lease: time.Minute, Pays: true}, true)
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{dp}, []*shop.Lease{lp}); !errors.Is(err, shop.ErrLeaseLost) {
		t.Fatalf("the taken-over payer's save = %v, want ErrLeaseLost", err)
	}
	lp = le
	// The payer's lease runs out: a preparer still neither claims the order
	// nor overwrites its payment, whatever its lease.
	e.advance(2 * time.Minute)
	claim(prepA, false)
	claim(prepB, false)
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{db}, []*shop.Lease{lb}); err == nil {
		t.Fatal("a lapsed preparer overwrote the recorded payment")
	}
	// A new payer (a new leader) resumes the payment.
	dn, ln := claim(shop.Claim{Replica: "d", Lease: time.Minute, Pays: true}, true)
	if dn.Payout == nil || dn.Payout.Hash != "cd" {
		t.Fatalf("new payer sees %+v, want the recorded payment", dn)
	}
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{dp}, []*shop.Lease{lp}); !errors.Is(err, shop.ErrLeaseLost) {
		t.Fatalf("old payer's save = %v, want ErrLeaseLost", err)
	}
	if _, err := e.svc.CompleteOrder(ctx, shop.SystemActor, o.ID, "tx"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SaveDeliveriesLeased(ctx, []*shop.Delivery{dn}, []*shop.Lease{ln}); !errors.Is(err, shop.ErrLeaseLost) {
		t.Fatalf("save after completion = %v, want ErrLeaseLost", err)
	}
	if _, _, l, err := e.svc.ClaimOrderLeased(ctx, o.ID, "fragment", payer); err != nil || l != nil {
		t.Fatalf("claim of a completed order = %v %v, want nothing", l, err)
	}
	if err := e.st.Check(ctx); err != nil {
		t.Fatal(err)
	}
}
