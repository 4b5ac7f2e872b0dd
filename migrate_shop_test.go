package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"starsbot/pgstore"
	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

// TestMigrate_EveryRecord builds a bbolt database through shop.Service with
// users, API keys, orders in every stored status, deposits (TON, USDT,
// dust, a rejected jetton, an unmatched one assigned by an admin), ledger
// entries, idempotency records, quotes, outbox events and webhooks with
// deliveries; migrates it; and asks the same questions of a Service on
// each store: the answers must be identical.
func TestMigrate_EveryRecord(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bolt, err := store.Open(filepath.Join(dir, "starsbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := shoptest.New(t, &shoptest.Options{DB: bolt})
	svc := s.Service
	svc.MinDeposit = shop.TON / 100
	svc.WebhookAllowPrivate = true
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const admin, alice, bob = 9, 1001, 1002
	for _, u := range []shop.UserUpdate{{ID: alice, Username: "alice", LanguageCode: "en"}, {ID: bob, Username: "Bob", LanguageCode: "ru", StartPayload: "ref_x"}} {
		_, err := svc.EnsureUser(ctx, u)
		must(err)
	}
	_, err = svc.AdminCredit(ctx, admin, alice, 20*shop.TON, "funding")
	must(err)
	_, _, err = svc.IssueKey(ctx, alice, shop.KeyPrefixOrders)
	must(err)
	_, _, err = svc.IssueKey(ctx, bob, shop.KeyPrefixSimple)
	must(err)
	_, err = svc.RevokeKey(ctx, bob, shop.KeyPrefixSimple)
	must(err)
	_, err = svc.CreateWebhook(ctx, alice, "http://127.0.0.1:9/hook", nil)
	must(err)

	req := func(method shop.PaymentMethod, key string) shop.CreateOrderRequest {
		return shop.CreateOrderRequest{UserID: alice, Type: shop.OrderStars, Stars: 100, Recipient: "@pandus", PaymentMethod: method,
			Source: "api", IdempotencyKey: key, ClientReference: "ref-" + key}
	}
	order := func(method shop.PaymentMethod, key string) *shop.Order {
		t.Helper()
		o, err := svc.CreateOrder(ctx, req(method, key))
		must(err)
		return o
	}
	// paid (balance), processing, completed, manual, refunded, cancelled,
	// expired, pending_payment, paid by a TON transfer.
	order(shop.PayBalance, "paid")
	processing := order(shop.PayBalance, "processing")
	_, _, err = svc.ClaimOrder(ctx, processing.ID, "manual")
	must(err)
	completed := order(shop.PayBalance, "completed")
	_, err = svc.MoveToManual(ctx, completed.ID, "by hand")
	must(err)
	_, err = svc.CompleteOrder(ctx, admin, completed.ID, "ref")
	must(err)
	manual := order(shop.PayBalance, "manual")
	_, err = svc.MoveToManual(ctx, manual.ID, "stuck")
	must(err)
	refunded := order(shop.PayBalance, "refunded")
	_, err = svc.MoveToManual(ctx, refunded.ID, "by hand")
	must(err)
	_, err = svc.Refund(ctx, admin, refunded.ID, "changed mind")
	must(err)
	cancelled := order(shop.PayTONMemo, "cancelled")
	_, err = svc.CancelOrder(ctx, alice, cancelled.ID)
	must(err)
	expired := order(shop.PayTONMemo, "expired")
	s.Clock.Advance(time.Hour)
	_, err = svc.ExpireOrders(ctx)
	must(err)
	order(shop.PayTONMemo, "pending")
	byTransfer := order(shop.PayTONMemo, "by-transfer")
	_, err = svc.LockQuote(ctx, alice, shop.QuoteRequest{Type: shop.OrderStars, Stars: 500})
	must(err)

	hash := func(i int) string { return fmt.Sprintf("%064x", i) }
	au, err := svc.FindUser(ctx, alice)
	must(err)
	now := s.Clock.Now()
	for i, tr := range []shop.Transfer{
		{Amount: 2 * shop.TON, Memo: au.Memo},                                        // credited
		{Amount: byTransfer.PriceTON, Memo: byTransfer.PaymentMemo},                  // pays an order
		{Amount: shop.TON / 1000, Memo: au.Memo},                                     // dust
		{Amount: 3 * shop.TON, Memo: "who knows"},                                    // unmatched, then assigned
		{Amount: 1, Asset: shop.AssetUSDT, JettonAmount: 10_000_000, Memo: au.Memo},  // USDT
		{Amount: 1, Asset: shop.AssetJetton, JettonAmount: 5_000_000, Memo: au.Memo}, // a fake jetton: rejected
		{Amount: shop.TON, Memo: expired.PaymentMemo},                                // a late payment: credited
	} {
		tr.Hash, tr.LT, tr.Time, tr.From = hash(i+1), uint64(i+1), now, "UQsender"
		_, err := svc.CreditDeposit(ctx, tr, &shop.Cursor{Account: svc.DepositAddress(), LT: tr.LT, Hash: tr.Hash, Time: now})
		must(err)
	}
	unmatched, err := svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 10)
	must(err)
	if len(unmatched) != 1 {
		t.Fatalf("%d unmatched deposits", len(unmatched))
	}
	_, err = svc.AssignDeposit(ctx, admin, unmatched[0].ID, bob)
	must(err)
	_, err = svc.FanOutWebhooks(ctx, 100)
	must(err)
	_, err = svc.Audit(ctx, shop.AuditEntry{AdminID: admin, Action: "credit", Args: "1001 20", Result: "ok"})
	must(err)
	must(bolt.Close())

	url := pgURL(t)
	out, err := command(dir, "migrate", "--to", url)
	if err != nil {
		t.Fatalf("migrate = %v\n%s", err, out)
	}
	pg, err := pgstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pg.Close() }()
	bolt, err = store.OpenReadOnly(filepath.Join(dir, "starsbot.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = bolt.Close() }()

	answers := func(st shop.Store) map[string]string {
		t.Helper()
		sv, err := shop.NewService(st, shop.StaticRate{TONUSD: shoptest.Rate, Since: shoptest.Start}, shop.DefaultPricing(), shoptest.DepositAddress)
		must(err)
		sv.Now = s.Clock.Now
		got := map[string]string{}
		ask := func(q string, v any, err error) {
			t.Helper()
			b, merr := json.Marshal(v)
			if err != nil || merr != nil {
				t.Fatalf("%s: %v %v", q, err, merr)
			}
			got[q] = string(b)
		}
		for _, id := range []int64{alice, bob} {
			u, err := sv.FindUser(ctx, id)
			ask(fmt.Sprint("user ", id), u, err)
			var all []*shop.LedgerEntry
			f := shop.LedgerFilter{UserID: id, Limit: 3}
			for {
				es, next, err := sv.Ledger(ctx, f)
				must(err)
				all = append(all, es...)
				if next == 0 {
					break
				}
				f.Before = next
			}
			ask(fmt.Sprint("ledger ", id), all, nil)
			os, _, err := sv.FindOrders(ctx, shop.OrderFilter{UserID: id, Limit: shop.MaxPageSize})
			ask(fmt.Sprint("orders ", id), os, err)
			stats, err := sv.OrderStats(ctx, id)
			ask(fmt.Sprint("order stats ", id), stats, err)
			keys, err := sv.Keys(ctx, id)
			ask(fmt.Sprint("keys ", id), keys, err)
			evs, more, err := sv.Events(ctx, id, 0, 100)
			ask(fmt.Sprint("events ", id), []any{evs, more}, err)
			hooks, err := sv.Webhooks(ctx, id)
			ask(fmt.Sprint("webhooks ", id), hooks, err)
			for _, h := range hooks {
				ds, next, err := sv.WebhookDeliveries(ctx, id, h.ID, 0, 100)
				ask("deliveries "+h.ID, []any{ds, next}, err)
			}
		}
		for _, status := range []shop.DepositStatus{"", shop.DepositCredited, shop.DepositOrderPaid, shop.DepositAssigned, shop.DepositIgnored, shop.DepositRejected} {
			ds, err := sv.FindDeposits(ctx, status, 0, 100)
			ask("deposits "+string(status), ds, err)
		}
		stats, err := sv.Stats(ctx)
		ask("stats", stats, err)
		os, _, err := sv.FindOrders(ctx, shop.OrderFilter{Limit: shop.MaxPageSize})
		ask("all orders", os, err)
		ref, err := sv.FindOrdersByReference(ctx, alice, "ref-paid")
		ask("by reference", ref, err)
		q, err := sv.Queue(ctx, 100)
		ask("queue", q, err)
		audit, err := sv.AuditLog(ctx, 100)
		ask("audit", audit, err)
		cur, err := sv.Cursor(ctx, shoptest.DepositAddress)
		ask("cursor", cur, err)
		return got
	}
	want, got := answers(bolt), answers(pg)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s:\nbbolt      %s\nPostgreSQL %s", k, v, got[k])
		}
	}
	for _, k := range []string{"deposits ignored", "deposits rejected", "deposits assigned", "deposits order_paid"} {
		if want[k] == "null" || want[k] == "[]" {
			t.Errorf("the scenario made no %s", k)
		}
	}
	if !strings.Contains(want["all orders"], "manual") || !strings.Contains(want["all orders"], "refunded") {
		t.Errorf("the scenario lacks statuses: %s", want["all orders"])
	}
	t.Logf("%d answers compared", len(want))
}
