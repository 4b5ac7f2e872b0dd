package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store"
)

// TestKill_OutboxMatchesCommits builds the binary, runs it in sandbox mode
// and kills it with SIGKILL at random moments while partners create orders
// through the API, then restarts it. Afterwards every acknowledged order
// exists, every order has exactly one order.created and one order.paid
// event in the outbox (a crash neither loses an event nor leaves one of a
// change that did not commit), and store.Check is clean.
func TestKill_OutboxMatchesCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr

	var printed sync.Mutex // key and memo come from the first start's stdout
	var key, memo string
	start := func() *exec.Cmd {
		t.Helper()
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "DATA_DIR="+dir, "HTTP_ADDR="+addr, "TELEGRAM_TOKEN=", "DATABASE_URL=", "API_RATE_LIMIT=10000", "API_RATE_BURST=100000")
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				printed.Lock()
				if k := regexp.MustCompile(`osk_[A-Za-z0-9_-]{43}`).FindString(sc.Text()); k != "" && key == "" {
					key = k
				}
				if m := regexp.MustCompile(`AP[0-9]{9}`).FindString(sc.Text()); m != "" && memo == "" {
					memo = m
				}
				printed.Unlock()
			}
		}()
		deadline := time.Now().Add(20 * time.Second)
		for {
			if resp, err := http.Get(base + "/api/v1/health"); err == nil {
				resp.Body.Close()
				return cmd
			}
			if time.Now().After(deadline) {
				t.Fatal("the service did not answer within 20 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	call := func(method, path, body, idem string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}

	cmd := start()
	for i := 0; ; i++ {
		printed.Lock()
		ok := key != "" && memo != ""
		printed.Unlock()
		if ok {
			break
		}
		if i > 100 {
			t.Fatal("no sandbox key or memo printed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	dep := `{"memo":"` + memo + `","amount_ton":"1000"}`
	if code, m := call("POST", "/sandbox/v1/deposits", dep, ""); code != 200 {
		t.Fatalf("deposit: %d %v", code, m)
	}
	for i := 0; ; i++ { // the watcher books it
		if _, m := call("GET", "/api/v1/balance", "", ""); m != nil && !strings.Contains(fmt.Sprint(m["data"]), "balance_ton:0 ") {
			break
		}
		if i > 200 {
			t.Fatal("deposit not credited")
		}
		time.Sleep(50 * time.Millisecond)
	}

	var mu sync.Mutex
	acked := map[int64]bool{}
	const cycles = 5
	for c := 0; c < cycles; c++ {
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					code, m := call("POST", "/api/v1/orders/stars", `{"recipient_username":"pandus","quantity":50,"payment_method":"balance"}`, "")
					if code == 200 {
						data, _ := m["data"].(map[string]any)
						if id, ok := data["id"].(float64); ok {
							mu.Lock()
							acked[int64(id)] = true
							mu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(200+rand.IntN(600)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()
		stop()
		wg.Wait()
		cmd = start()
	}
	// Let the sandbox deliver what is queued, then stop gracefully.
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()

	db, err := store.Open(filepath.Join(dir, "starsbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_600_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	orders := map[int64]*shop.Order{}
	var owner int64
	for id := range acked {
		o, err := svc.FindOrder(ctx, 0, id)
		if err != nil {
			t.Fatalf("acknowledged order %d lost: %v", id, err)
		}
		owner = o.UserID
	}
	if owner == 0 {
		t.Fatal("no order was acknowledged")
	}
	for before := int64(0); ; {
		page, _, err := svc.FindOrders(ctx, shop.OrderFilter{UserID: owner, Limit: 100, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			orders[o.ID] = o
			before = o.ID
		}
		if len(page) < 100 {
			break
		}
	}
	created, paid := map[int64]int{}, map[int64]int{}
	for after := uint64(0); ; {
		evs, more, err := svc.Events(ctx, owner, after, shop.MaxEventPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			after = e.Seq
			if e.Order == nil {
				continue
			}
			if orders[e.Order.ID] == nil {
				t.Errorf("event %d (%s) names order %d, which was never committed", e.Seq, e.Type, e.Order.ID)
			}
			switch e.Type {
			case shop.PartnerOrderCreated:
				created[e.Order.ID]++
			case shop.PartnerOrderPaid:
				paid[e.Order.ID]++
			}
		}
		if !more {
			break
		}
	}
	for id := range orders {
		if created[id] != 1 || paid[id] != 1 {
			t.Errorf("order %d: %d order.created and %d order.paid events, want 1 and 1", id, created[id], paid[id])
		}
	}
	t.Logf("%d kills: %d orders acknowledged, %d committed (an order in flight at a kill may commit unacknowledged); each has exactly its events", cycles, len(acked), len(orders))
}

// buildBinary builds the program into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "starsbot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeAddr returns a local TCP address nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
