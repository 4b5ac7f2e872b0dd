package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"starsbot/bot/bottest"
	"starsbot/store"
)

// syncBuffer is a bytes.Buffer safe for the logger's and the test's
// goroutines; wait wakes on every write.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced at every write; nil until waited on
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// wait waits until re matches what was written and returns the match,
// woken by each write. It gives up (nil) after d, and fails the test if
// done receives first (run returned).
func (s *syncBuffer) wait(t *testing.T, re *regexp.Regexp, d time.Duration, done <-chan error) []string {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if m := re.FindStringSubmatch(s.b.String()); m != nil {
			s.mu.Unlock()
			return m
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return nil
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, s.String())
		}
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestRun starts the program in sandbox mode with no other configuration
// than a data directory, waits until it is up, stops it and checks the
// store it leaves behind.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	const token = "123456789:AAsecretsecretsecretsecretsecret"
	tg := bottest.New(t, token)
	adminKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0", "TELEGRAM_TOKEN": token, "TELEGRAM_API_URL": tg.URL, "ADMIN_IDS": "77",
		"BACKUP_AGE_RECIPIENT": adminKey.Recipient().String()})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stdout, &stderr) }()
	base := waitListening(t, &stderr, done)
	if r, err := http.Get(base + "/api/v1/health"); err != nil || r.StatusCode != http.StatusOK {
		t.Errorf("health: %v %v", r, err)
	}
	// The bot answers through the configured Bot API server.
	user := bottest.User{ID: 4242, Username: "carol_c", LanguageCode: "en"}
	tg.Send(user, "/start")
	tg.Wait(user.ID, "Stars")
	// The admin's screens read the live components, and alerts reach the
	// admin: a sandbox transfer with an unknown memo.
	admin := bottest.User{ID: 77, Username: "shop_admin", LanguageCode: "en"}
	tg.Send(admin, "/stats")
	stats := tg.Wait(admin.ID, "Shop statistics")
	for _, want := range []string{"Users: 1 ", "Hot wallet: not configured", "Deposit watcher lag: ", "Provider: healthy"} {
		if !strings.Contains(stats.Text, want) {
			t.Errorf("/stats lacks %q:\n%s", want, stats.Text)
		}
	}
	if r, err := http.Post(base+"/sandbox/v1/deposits", "application/json", strings.NewReader(`{"memo":"nobody-here","amount_ton":"2"}`)); err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("sandbox deposit: %v %v", r, err)
	}
	tg.Wait(admin.ID, "Unmatched deposit")
	tg.Send(admin, "/backup")
	tg.Wait(admin.ID, "Database backup, zstd-compressed, encrypted to")
	tg.Send(user, "/stats")
	tg.Send(user, "/help")
	tg.Wait(user.ID, "How it works")
	for _, c := range tg.Calls() {
		if c.ChatID == user.ID && strings.Contains(c.Text, "statistics") {
			t.Errorf("a non-admin got the statistics")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	log := stderr.String()
	for _, want := range []string{"network=sandbox", "msg=stopped", "bot="} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "AAsecret") {
		t.Errorf("log leaks the bot token:\n%s", log)
	}
	if strings.Contains(stdout.String(), "osk_") {
		t.Errorf("a sandbox partner was printed although the bot is configured:\n%s", stdout.String())
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

// TestRun_RedactsURLCredentials: a Bot API URL with user info reaches
// neither the unauthenticated /health, nor the log (the components line,
// "telegram bot started").
func TestRun_RedactsURLCredentials(t *testing.T) {
	const token = "123456789:AAsecretsecretsecretsecretsecret"
	tg := bottest.New(t, token)
	apiURL := strings.Replace(tg.URL, "http://", "http://tguser:Pa55word@", 1)
	env := envOf(map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0", "TELEGRAM_TOKEN": token, "TELEGRAM_API_URL": apiURL})
	body, log := healthOnce(t, env, `msg="telegram bot started"`)
	for _, secret := range []string{"Pa55word", "tguser"} {
		if strings.Contains(body, secret) {
			t.Errorf("/health shows %q: %s", secret, body)
		}
		if strings.Contains(log, secret) {
			t.Errorf("the log shows %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(body, "long polling") {
		t.Errorf("/health lacks the bot: %s", body)
	}
}

// TestRun_BotUnreachable: with Telegram unreachable, /api/v1/health does
// not call the bot ok.
func TestRun_BotUnreachable(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer dead.Close()
	env := envOf(map[string]string{"DATA_DIR": t.TempDir(), "HTTP_ADDR": "127.0.0.1:0", "TELEGRAM_TOKEN": "123456789:AAsecretsecretsecretsecretsecret", "TELEGRAM_API_URL": dead.URL})
	body, _ := healthOnce(t, env, `msg="telegram getMe failed"`)
	if !strings.Contains(body, `"bot":{"status":"degraded"`) || !strings.Contains(body, `"status":"degraded"`) {
		t.Errorf("health with Telegram unreachable: %s", body)
	}
}

// TestRun_SandboxPartner starts a pure sandbox (no bot), takes the keys it
// prints and uses them: a simulated deposit, a balance, an order.
func TestRun_SandboxPartner(t *testing.T) {
	dir := t.TempDir()
	env := envOf(map[string]string{"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0"})
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stdout, &stderr) }()
	base := waitListening(t, &stderr, done)

	osk := regexp.MustCompile(`osk_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	sk := regexp.MustCompile(`\bsk_[A-Za-z0-9_-]{43}`).FindString(stdout.String())
	memo := regexp.MustCompile(`AP[0-9]{9}`).FindString(stdout.String())
	if osk == "" || sk == "" || memo == "" {
		t.Fatalf("no keys or memo printed:\n%s", stdout.String())
	}
	call := func(method, path, key, body string) (int, string) {
		t.Helper()
		return apiCall(t, base, method, path, key, body)
	}
	// Dust first: below TON_MIN_DEPOSIT's default 0.01, it is ignored
	// even with the partner's memo (the balance below stays 10).
	if code, body := call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+memo+`","amount_ton":"0.009999999"}`); code != 200 {
		t.Fatalf("dust deposit: %d %s", code, body)
	}
	if code, body := call("POST", "/sandbox/v1/deposits", "", `{"memo":"`+memo+`","amount_ton":"10"}`); code != 200 {
		t.Fatalf("deposit: %d %s", code, body)
	}
	// The watcher credits the simulated transfer asynchronously, poked by
	// the deposit, and logs it once it is booked.
	stderr.wait(t, regexp.MustCompile(`msg="deposit booked" .*amount=10 status=credited`), 10*time.Second, done)
	if code, body := call("GET", "/api/v1/balance", sk, ""); code != 200 || body != `{"balance_ton":10,"currency":"TON"}`+"\n" {
		t.Fatalf("balance: %d %s", code, body)
	}
	if code, body := call("GET", "/api/v1/health", "", ""); code != 200 || !strings.Contains(body, `"chain":{"status":"ok","lag_seconds":`) {
		t.Errorf("health: %d %s", code, body)
	}
	code, body := call("POST", "/api/v1/orders/stars", osk, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`)
	if code != 200 || !strings.Contains(body, `"status":"paid"`) {
		t.Fatalf("order: %d %s", code, body)
	}
	// The fulfillment worker delivers it through the sandbox provider,
	// and logs it once the order is stored as completed.
	id := regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(body)[1]
	delivered := stderr.wait(t, regexp.MustCompile(`msg="order delivered" component=fulfillment order_id=`+id+` `), 10*time.Second, done)
	if code, body := call("GET", "/api/v1/orders/"+id, osk, ""); delivered == nil || code != 200 || !strings.Contains(body, `"status":"completed"`) {
		t.Fatalf("order not completed (delivery logged: %v): %d %s\n%s", delivered != nil, code, body, stderr.String())
	}
	if code, body := call("GET", "/metrics", "", ""); code != 200 || !strings.Contains(body, `starsbot_shop_events_total{type="deposit_credited"} 1`) ||
		!strings.Contains(body, `starsbot_shop_events_total{type="deposit_ignored"} 1`) {
		t.Errorf("metrics: %d %s", code, body)
	}
	if log := stderr.String(); strings.Contains(log, osk[4:]) || strings.Contains(log, sk[3:]) {
		t.Errorf("a key appears in the log:\n%s", log)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}

// waitListening waits for the API's "listening" log line and returns its
// base URL.
func waitListening(t *testing.T, stderr *syncBuffer, done <-chan error) string {
	t.Helper()
	m := stderr.wait(t, regexp.MustCompile(`msg=listening component=api addr=(\S+)`), 10*time.Second, done)
	if m == nil {
		t.Fatalf("not listening after 10s; log:\n%s", stderr.String())
	}
	return "http://" + m[1]
}

func TestRun_Errors(t *testing.T) {
	// A liteserver config that lists no liteservers, served locally.
	noServers := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"liteservers":[],"validator":{"init_block":{"workchain":-1,"shard":-9223372036854775808,"seqno":0,"root_hash":"","file_hash":""}}}`)
	}))
	defer noServers.Close()
	testnet := func(kv ...string) map[string]string {
		m := map[string]string{"TON_NETWORK": "testnet", "TON_USD_RATE": "3.5", "TON_CONFIG_URL": noServers.URL, "TON_DEPOSIT_ADDRESS": "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC5"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad variable", map[string]string{"TON_NETWORK": "moon"}, nil, "TON_NETWORK"},
		{"bad price", map[string]string{"STARS_MIN": "-5"}, nil, "STARS_MIN"},
		{"no liteservers", testnet(), nil, "TON_CONFIG_URL"},
		{"unreachable liteserver config", testnet("TON_CONFIG_URL", "http://127.0.0.1:1/global.config.json"), nil, "TON_CONFIG_URL"},
		{"deposit address checksum", testnet("TON_DEPOSIT_ADDRESS", "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC6"), nil, "TON_DEPOSIT_ADDRESS"},
		{"mainnet address on testnet", testnet("TON_DEPOSIT_ADDRESS", "UQBFJTkJ5hZdH7i6rWQTnm43zn6h2dPBV9lFZ2e98WvWABy_"), nil, "TON_DEPOSIT_ADDRESS"},
		{"fragment on testnet", testnet("FULFILLMENT", "fragment"), nil, "fragment.com exists only on mainnet"},
		{"arguments", map[string]string{}, []string{"serve"}, "unexpected arguments"},
		{"unwritable data dir", map[string]string{"DATA_DIR": "/proc/starsbot-no"}, nil, "open store"},
		{"liteserver config with credentials", testnet("TON_CONFIG_URL", "http://cfguser:Pa55word@127.0.0.1:1/global.config.json?token=T0KEN&net=test"), nil, "TON_CONFIG_URL"},
		{"liteserver config with credentials, no servers", testnet("TON_CONFIG_URL", strings.Replace(noServers.URL, "http://", "http://cfguser:Pa55word@", 1)+"/c.json?access_token=T0KEN"), nil, "TON_CONFIG_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env["DATA_DIR"] == "" {
				tt.env["DATA_DIR"] = t.TempDir()
			}
			var out syncBuffer
			err := run(context.Background(), tt.args, envOf(tt.env), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("run = %v; want one line naming %s", err, tt.want)
			}
			// Credentials in URLs appear neither in the error nor in the log.
			for _, secret := range []string{"Pa55word", "cfguser", "T0KEN"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(out.String(), secret) {
					t.Errorf("%q leaks:\nerror: %v\nlog: %s", secret, err, out.String())
				}
			}
		})
	}
}

// healthOnce runs the service with env until its log matches logLine, reads
// /api/v1/health once, stops it, and returns the body and the whole log.
func healthOnce(t *testing.T, env func(string) string, logLine string) (body, log string) {
	t.Helper()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stdout, &stderr) }()
	base := waitListening(t, &stderr, done)
	if stderr.wait(t, regexp.MustCompile(logLine), 10*time.Second, done) == nil {
		t.Fatalf("no log line %s:\n%s", logLine, stderr.String())
	}
	r, err := http.Get(base + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	return string(b), stderr.String()
}

// apiCall sends one request to the service at base, with key as a Bearer
// token when not empty, and returns the status and the body.
func apiCall(t *testing.T, base, method, path, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
