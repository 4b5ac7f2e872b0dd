package store_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"starsbot/store"
	"starsbot/store/storecontract"
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

// TestDB_TakeChatState runs the contract's compare-and-delete of a chat's state.
func TestDB_TakeChatState(t *testing.T) {
	db, err := store.Open(t.TempDir() + "/s.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storecontract.RunTakeChatState(t, db)
}
