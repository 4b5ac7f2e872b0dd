package pgstore_test

import (
	"bytes"
	"testing"
	"time"

	"starsbot/pgstore/pgtest"
	"starsbot/shop"
	"starsbot/store/storecontract"
)

func TestChatState(t *testing.T) {
	db := pgtest.Open(t)
	if v, err := db.LoadChatState(ctx, 5); v != nil || err != nil {
		t.Fatalf("unsaved state = %q, %v", v, err)
	}
	for _, want := range [][]byte{[]byte(`{"step":1}`), []byte(`{"step":2}`)} {
		if err := db.SaveChatState(ctx, 5, want); err != nil {
			t.Fatal(err)
		}
		if v, err := db.LoadChatState(ctx, 5); !bytes.Equal(v, want) || err != nil {
			t.Errorf("state = %q, %v; want %q", v, err, want)
		}
	}
	if err := db.SaveChatState(ctx, 5, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.LoadChatState(ctx, 5); v != nil {
		t.Errorf("deleted state = %q", v)
	}
	if err := db.SaveChatState(ctx, 5, make([]byte, 17<<10)); err == nil {
		t.Error("an oversized state was saved")
	}
}

// TestTakeChatState runs the contract's compare-and-delete of a chat's state.
func TestTakeChatState(t *testing.T) {
	db := pgtest.Open(t)
	storecontract.RunTakeChatState(t, db)
}

func TestSimTransfers(t *testing.T) {
	db := pgtest.Open(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var lts []uint64
	for i, h := range []string{"AA", "bb", "cc"} {
		tr, appended, err := db.AppendSimTransfer(ctx, "acct", shop.Transfer{Hash: h, Time: at, From: "f", Amount: shop.NanoTON(i + 1), Memo: "m"})
		if err != nil || !appended {
			t.Fatalf("append %s = %v, %v", h, appended, err)
		}
		lts = append(lts, tr.LT)
	}
	if lts[0] != 1000 || lts[1] != 2000 || lts[2] != 3000 {
		t.Errorf("logical times %v, want 1000 apart from 1000", lts)
	}
	again, appended, err := db.AppendSimTransfer(ctx, "acct", shop.Transfer{Hash: "aa", Amount: 99})
	if err != nil || appended || again.LT != 1000 || again.Amount != 1 {
		t.Errorf("repeated hash = %+v, %v, %v; want the first transfer", again, appended, err)
	}
	got, err := db.SimTransfers(ctx, "acct", 2000, 10)
	if err != nil || len(got) != 2 || got[0].LT != 2000 || got[1].LT != 1000 || !got[0].Time.Equal(at) {
		t.Errorf("SimTransfers(≤2000) = %+v, %v", got, err)
	}
	if got, _ := db.SimTransfers(ctx, "acct", 0, 1); len(got) != 1 || got[0].LT != 3000 {
		t.Errorf("SimTransfers(newest, 1) = %+v", got)
	}
	if got, _ := db.SimTransfers(ctx, "other", 0, 10); len(got) != 0 {
		t.Errorf("another account's chain = %+v", got)
	}
}
