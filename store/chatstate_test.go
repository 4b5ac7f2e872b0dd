package store_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"starsbot/store"
)

func TestDB_ChatState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(dir + "/s.db")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.LoadChatState(ctx, 5); got != nil || err != nil {
		t.Fatalf("empty = %q, %v", got, err)
	}
	if err := db.SaveChatState(ctx, 5, []byte(`{"step":"username"}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveChatState(ctx, 5, bytes.Repeat([]byte("x"), 17<<10)); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized state: %v", err)
	}
	db.Close()
	if db, err = store.Open(dir + "/s.db"); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, _ := db.LoadChatState(ctx, 5); string(got) != `{"step":"username"}` {
		t.Fatalf("after reopen = %q", got)
	}
	if err := db.SaveChatState(ctx, 5, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LoadChatState(ctx, 5); got != nil {
		t.Fatalf("after delete = %q", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.LoadChatState(cctx, 5); err == nil {
		t.Fatal("cancelled ctx")
	}
}

// TestDB_TakeChatState: a compare-and-delete; of many concurrent takers of
// one state exactly one wins, and a changed state is not taken.
func TestDB_TakeChatState(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(t.TempDir() + "/s.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := []byte(`{"step":"admin_op","op":{"nonce":"n1"}}`)
	if err := db.SaveChatState(ctx, 7, st); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.TakeChatState(ctx, 7, []byte(`{"step":"other"}`)); ok || err != nil {
		t.Fatalf("a different state was taken: %v, %v", ok, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := db.TakeChatState(ctx, 7, st); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d takers won, want 1", wins.Load())
	}
	if got, _ := db.LoadChatState(ctx, 7); got != nil {
		t.Fatalf("state left after take: %q", got)
	}
}
