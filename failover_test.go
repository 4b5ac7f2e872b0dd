package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
)

// TestFailover_Postgres: two service processes (the built binary, sandbox
// chain) on one PostgreSQL database, under load — orders through both
// APIs, deposits through the simulated chain — and the leader killed with
// SIGKILL ten times at random moments, each time restarted as a follower.
// Afterwards every acknowledged order exists and was debited once, no
// chain transfer was credited twice, the invariant check is clean, and the
// takeover time (kill → the survivor's worker starts) is printed; the
// issue's target is 15 s.
func TestFailover_Postgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two services")
	}
	bin := buildBinary(t)
	dbURL := pgtest.NewSchema(t)
	ctx := context.Background()

	// A partner of our own (the sandbox's printed keys are re-issued at
	// every start): key, memo.
	db, err := pgstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_600_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	const partner = 7_000_001
	u, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: partner, Username: "failover_partner", LanguageCode: "en"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := svc.IssueKey(ctx, partner, shop.KeyPrefixOrders)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	type proc struct {
		addr   string
		cmd    *exec.Cmd
		stderr *syncBuffer
	}
	gained := regexp.MustCompile(`msg="leader: gained; starting" component="fulfillment worker"`)
	start := func(p *proc) {
		t.Helper()
		p.stderr = &syncBuffer{}
		p.cmd = exec.Command(bin)
		p.cmd.Env = append(os.Environ(), "DATA_DIR="+t.TempDir(), "HTTP_ADDR="+p.addr, "DATABASE_URL="+dbURL,
			"LEADER_TTL=2s", "TELEGRAM_TOKEN=", "API_RATE_LIMIT=10000", "API_RATE_BURST=100000")
		p.cmd.Stderr = p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; {
			if resp, err := http.Get("http://" + p.addr + "/api/v1/health"); err == nil {
				resp.Body.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not answer within 30 s:\n%s", p.addr, p.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	procs := []*proc{{addr: freeAddr(t)}, {addr: freeAddr(t)}}
	for _, p := range procs {
		start(p)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	terms := func(p *proc) int { return len(gained.FindAllString(p.stderr.String(), -1)) }
	leader := func() int { // the process whose latest term is open: the survivor of the last kill or the first to lead
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			for i, p := range procs {
				if terms(p) > 0 && !strings.Contains(p.stderr.String()[strings.LastIndex(p.stderr.String(), "leader: gained"):], "leader: lost") {
					return i
				}
			}
		}
		t.Fatal("no leader within 20 s")
		return -1
	}

	post := func(p *proc, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", "http://"+p.addr+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	// Funds first, through the chain: the leader books them.
	if code, m := post(procs[0], "/sandbox/v1/deposits", `{"memo":"`+u.Memo+`","amount_ton":"1000"}`); code != 200 {
		t.Fatalf("deposit: %d %v", code, m)
	}

	var mu sync.Mutex
	acked := map[int64]bool{}
	deposits := 1
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				p := procs[(w+i)%2]
				if w == 0 && i%10 == 0 { // a deposit now and then, through either replica
					if code, _ := post(p, "/sandbox/v1/deposits", `{"memo":"`+u.Memo+`","amount_ton":"1"}`); code == 200 {
						mu.Lock()
						deposits++
						mu.Unlock()
					}
					continue
				}
				code, m := post(p, "/api/v1/orders/stars", `{"recipient_username":"pandus","quantity":50,"payment_method":"balance"}`)
				if code == 200 {
					data, _ := m["data"].(map[string]any)
					if id, ok := data["id"].(float64); ok {
						mu.Lock()
						acked[int64(id)] = true
						mu.Unlock()
					}
				} else if code == 0 {
					time.Sleep(20 * time.Millisecond) // that replica is down
				}
			}
		}()
	}

	var takeovers []time.Duration
	for k := 0; k < 10; k++ {
		l := leader()
		time.Sleep(time.Duration(300+rand.IntN(1200)) * time.Millisecond)
		other := procs[1-l]
		before := terms(other)
		killed := time.Now()
		_ = procs[l].cmd.Process.Kill() // SIGKILL
		_ = procs[l].cmd.Wait()
		for terms(other) == before {
			if time.Since(killed) > 60*time.Second {
				t.Fatalf("kill %d: no takeover within 60 s:\n%s", k+1, other.stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		takeovers = append(takeovers, time.Since(killed))
		start(procs[l]) // back as a follower
	}
	stopLoad()
	wg.Wait()
	time.Sleep(3 * time.Second) // the leader delivers what is queued
	for _, p := range procs {
		_ = p.cmd.Process.Signal(os.Interrupt)
		_ = p.cmd.Wait()
	}

	db, err = pgstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(ctx); err != nil {
		t.Fatal(err)
	}
	svc, err = shop.NewService(db, shop.StaticRate{TONUSD: 3_600_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if _, err := svc.FindOrder(ctx, partner, id); err != nil {
			t.Errorf("acknowledged order %d lost: %v", id, err)
		}
	}
	debits, credits := map[int64]int{}, map[string]int{}
	for before := uint64(0); ; {
		page, next, err := svc.Ledger(ctx, shop.LedgerFilter{UserID: partner, Before: before, Limit: shop.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			switch {
			case e.Type == shop.LedgerDeposit:
				credits[e.TxHash]++
			case e.Amount < 0 && e.OrderID != 0:
				debits[e.OrderID]++
			}
		}
		if next == 0 {
			break
		}
		before = next
	}
	for id, n := range debits {
		if n != 1 {
			t.Errorf("order %d debited %d times", id, n)
		}
	}
	for hash, n := range credits {
		if n != 1 {
			t.Errorf("transfer %s credited %d times", hash, n)
		}
	}
	stats, err := svc.OrderStats(ctx, partner)
	if err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	for _, d := range takeovers {
		worst = max(worst, d)
	}
	if worst > 15*time.Second {
		t.Errorf("takeover took up to %s, over the 15 s target", worst)
	}
	t.Logf("10 leader kills: takeover %v (worst %s, LEADER_TTL 2s); %d orders acknowledged, %d debited once each; %d deposits sent, %d credited once each; orders by status at the end %v",
		fmtDurations(takeovers), worst, len(acked), len(debits), deposits, len(credits), stats.ByStatus)
}

func fmtDurations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, d.Round(10*time.Millisecond).String())
	}
	return fmt.Sprint(parts)
}
