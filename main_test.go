package main

import (
	"bytes"
	"context"

	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/store"
)

// syncBuffer is a bytes.Buffer safe for the logger's and the test's
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestRun starts the program in sandbox mode with no other configuration
// than a data directory, waits until it is up, stops it and checks the
// store it leaves behind.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	const token = "123456789:AAsecretsecretsecretsecretsecret"
	env := envOf(map[string]string{"DATA_DIR": dir, "HTTP_ADDR": "127.0.0.1:0", "TELEGRAM_TOKEN": token})
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, env, &stderr, &stderr) }()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "msg=components") {
		if time.Now().After(deadline) {
			t.Fatalf("not started after 10s; log:\n%s", stderr.String())
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
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
	db, err := store.Open(filepath.Join(dir, "starsbot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestRun_Errors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad variable", map[string]string{"TON_NETWORK": "moon"}, nil, "TON_NETWORK"},
		{"bad price", map[string]string{"STARS_MIN": "-5"}, nil, "STARS_MIN"},
		{"live network without watcher", map[string]string{"TON_NETWORK": "testnet", "TON_USD_RATE": "3.5", "TON_DEPOSIT_ADDRESS": "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC5"}, nil, "TON_NETWORK"},
		{"arguments", map[string]string{}, []string{"serve"}, "unexpected arguments"},
		{"unwritable data dir", map[string]string{"DATA_DIR": "/proc/starsbot-no"}, nil, "open store"},
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
		})
	}
}
