package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"starsbot/store"
)

// TestRun_SandboxUSDT is issue 19 end to end through the API of a pure
// sandbox: a fake-jetton "USDT" top-up is rejected, a USDT top-up is
// credited in TON at the rate less the fee, the balance buys an order, and
// an order priced in USDT is paid by a USDT transfer with its memo. The
// simulated chain builds real transfer_notification cells that the watcher
// parses; the store passes store.Check afterwards.
func TestRun_SandboxUSDT(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0", "TON_USD_RATE": "4", "USDT_FEE_PERCENT": "1"})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stdout, &stderr) }()
	base := waitListening(t, &stderr, done)

	osk := regexp.MustCompile(`osk_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	memo := regexp.MustCompile(`AP[0-9]{9}`).FindString(stdout.String())
	if osk == "" || memo == "" {
		t.Fatalf("no key or memo printed:\n%s", stdout.String())
	}
	call := func(method, path, key, body string) (int, string) {
		t.Helper()
		return apiCall(t, base, method, path, key, body)
	}
	deposit := func(body string) {
		t.Helper()
		if code, resp := call("POST", "/sandbox/v1/deposits", "", body); code != 200 {
			t.Fatalf("deposit %s: %d %s", body, code, resp)
		}
	}
	balance := func(want string) {
		t.Helper()
		if code, body := call("GET", "/api/v1/balance", osk, ""); code != 200 || !strings.Contains(body, `"balance_ton":`+want+`,`) {
			t.Fatalf("balance: %d %s; want %s", code, body, want)
		}
	}
	for _, bad := range []string{
		`{"asset":"USDT","memo":"` + memo + `"}`,
		`{"asset":"USDT","memo":"` + memo + `","amount_usdt":"1.0000001"}`,
		`{"asset":"USDT","amount_usdt":"1","jetton_wallet":"nope"}`,
		`{"asset":"BTC","amount_ton":"1"}`,
		`{"amount_ton":"1","amount_usdt":"1"}`,
	} {
		if code, body := call("POST", "/sandbox/v1/deposits", "", bad); code != 400 || !strings.Contains(body, "VALIDATION_ERROR") {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}

	// A fake "USDT" from a jetton wallet that is not ours: rejected.
	deposit(`{"asset":"USDT","memo":"` + memo + `","amount_usdt":"1000","jetton_wallet":"EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N"}`)
	stderr.wait(t, regexp.MustCompile(`msg="deposit booked" .*status=rejected asset=JETTON jetton_amount=1000000000`), 10*time.Second, done)
	balance("0")

	// 10 USDT at 4 USD/TON = 2.5 TON, less 1% = 2.475, plus the 1
	// nanoTON the notification carried.
	deposit(`{"asset":"USDT","memo":"` + memo + `","amount_usdt":"10"}`)
	stderr.wait(t, regexp.MustCompile(`msg="deposit booked" .*amount=2.475000001 status=credited asset=USDT jetton_amount=10000000`), 10*time.Second, done)
	balance("2.475000001")

	// The balance buys: 100 stars = 1.5 USD = 0.375 TON.
	code, body := call("POST", "/api/v1/orders/stars", osk, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`)
	if code != 200 || !strings.Contains(body, `"status":"paid"`) || !strings.Contains(body, `"price_ton":0.375,`) || !strings.Contains(body, `"payment_currency":"TON"`) {
		t.Fatalf("balance order: %d %s", code, body)
	}
	balance("2.100000001")

	// Estimates give both prices; an order priced in USDT is paid by a
	// USDT transfer of price_usdt with its memo.
	if code, body := call("GET", "/api/v1/pricing/estimate/stars?quantity=100", osk, ""); code != 200 || !strings.Contains(body, `"price_ton":0.375,`) || !strings.Contains(body, `"price_usdt":1.52`) {
		t.Errorf("estimate: %d %s", code, body)
	}
	code, body = call("POST", "/api/v1/orders/stars", osk, `{"recipient_username":"pandus","quantity":100,"payment_method":"ton_memo","payment_currency":"USDT"}`)
	if code != 200 || !strings.Contains(body, `"payment_currency":"USDT","price_usdt":1.52`) || !strings.Contains(body, `"price_ton":0.375,`) {
		t.Fatalf("USDT order: %d %s", code, body)
	}
	orderMemo := regexp.MustCompile(`"payment_memo":"([^"]+)"`).FindStringSubmatch(body)[1]
	id := regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(body)[1]
	deposit(`{"asset":"USDT","memo":"` + orderMemo + `","amount_usdt":"1.52"}`)
	stderr.wait(t, regexp.MustCompile(`msg="deposit booked" .*status=order_paid asset=USDT jetton_amount=1520000`), 10*time.Second, done)
	if code, body := call("GET", "/api/v1/orders/"+id, osk, ""); code != 200 || strings.Contains(body, `"status":"pending_payment"`) {
		t.Errorf("USDT order after payment: %d %s", code, body)
	}
	balance("2.100000002") // the notification's 1 nanoTON is surplus

	// The ledger and the event feed name the USDT beside its value in TON.
	if code, body := call("GET", "/api/v1/balance/transactions", osk, ""); code != 200 || !strings.Contains(body, `"amount_ton":2.475000001,`) || !strings.Contains(body, `"asset":"USDT","amount_usdt":10}`) {
		t.Errorf("transactions: %d %s", code, body)
	}
	if code, body := call("GET", "/api/v1/events", osk, ""); code != 200 || !strings.Contains(body, `"reason":"deposit","asset":"USDT","amount_usdt":10}`) {
		t.Errorf("events: %d %s", code, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	db, err := store.Open(filepath.Join(dir, "starsbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(context.Background()); err != nil {
		t.Error(err)
	}
}
