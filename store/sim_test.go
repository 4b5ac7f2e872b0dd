package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store"
	"starsbot/store/storetest"
)

func TestDB_SimChain(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t)
	at := time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC)
	tr := func(i int) shop.Transfer {
		return shop.Transfer{Hash: fmt.Sprintf("%064X", i), Time: at, From: "sandbox", Amount: shop.NanoTON(i), Memo: fmt.Sprintf("AP%09d", i)}
	}
	for i := 1; i <= 5; i++ {
		got, appended, err := db.AppendSimTransfer(ctx, "acc", tr(i))
		if err != nil || !appended || got.LT != uint64(i*1000) || got.Hash != fmt.Sprintf("%064x", i) {
			t.Fatalf("append %d: %+v %v %v", i, got, appended, err)
		}
	}
	// Another account's chain is separate.
	if got, _, err := db.AppendSimTransfer(ctx, "acc2", tr(9)); err != nil || got.LT != 1000 {
		t.Fatalf("other account: %+v %v", got, err)
	}
	// A repeated hash is the same transaction.
	got, appended, err := db.AppendSimTransfer(ctx, "acc", tr(2))
	if err != nil || appended || got.LT != 2000 {
		t.Fatalf("repeat: %+v %v %v", got, appended, err)
	}

	list := func(maxLT uint64, limit int) string {
		ts, err := db.SimTransfers(ctx, "acc", maxLT, limit)
		if err != nil {
			t.Fatal(err)
		}
		var lts []uint64
		for _, x := range ts {
			lts = append(lts, x.LT)
		}
		return fmt.Sprint(lts)
	}
	for _, tt := range []struct {
		maxLT uint64
		limit int
		want  string
	}{
		{0, 10, "[5000 4000 3000 2000 1000]"},
		{0, 2, "[5000 4000]"},
		{3000, 2, "[3000 2000]"},
		{3500, 10, "[3000 2000 1000]"},
		{999, 10, "[]"},
	} {
		if got := list(tt.maxLT, tt.limit); got != tt.want {
			t.Errorf("SimTransfers(%d, %d) = %s, want %s", tt.maxLT, tt.limit, got, tt.want)
		}
	}
	ts, _ := db.SimTransfers(ctx, "acc", 1000, 1)
	if want := (shop.Transfer{Hash: fmt.Sprintf("%064x", 1), LT: 1000, Time: at, From: "sandbox", Amount: 1, Memo: "AP000000001"}); ts[0] != want {
		t.Errorf("transfer %+v, want %+v", ts[0], want)
	}
}

func TestDB_SimChain_SurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.AppendSimTransfer(ctx, "acc", shop.Transfer{Hash: "ab", Amount: 1}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = store.Open(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, appended, err := db.AppendSimTransfer(ctx, "acc", shop.Transfer{Hash: "cd", Amount: 1})
	if err != nil || !appended || got.LT != 2000 {
		t.Errorf("after restart: %+v %v %v", got, appended, err)
	}
}
