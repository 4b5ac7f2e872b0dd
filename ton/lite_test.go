package ton

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonapi "github.com/xssnick/tonutils-go/ton"

	"starsbot/shop"
)

// fakeLiteserver is the remote end of Lite: an account history of real,
// hash-chained tonutils-go transactions (serialized to cells and parsed
// back), served the way a liteserver does. It embeds the interface and
// overrides only the methods Lite calls; any other call panics.
type fakeLiteserver struct {
	tonapi.APIClientWrapped

	mu        sync.Mutex
	txs       []*tlb.Transaction // oldest first
	seqno     uint32
	blockTime uint32
	failNext  int                                         // fail this many calls with a retryable liteserver error
	failList  int                                         // fail this many ListTransactions calls
	tamper    func([]*tlb.Transaction) []*tlb.Transaction // changes a ListTransactions answer
	lists     int                                         // ListTransactions calls
	maxNum    uint32                                      // largest num asked for
}

func newFakeLiteserver() *fakeLiteserver {
	return &fakeLiteserver{seqno: 1000, blockTime: testNow}
}

// add appends a transaction carrying in (nil: none) to the history.
func (f *fakeLiteserver) add(t *testing.T, in *tlb.Message, outMsgs uint16) *tlb.Transaction {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	tx := baseTx(in)
	tx.LT = uint64(testLT + len(f.txs)*1000)
	tx.Now = f.blockTime
	tx.OutMsgCount = outMsgs
	tx.PrevTxLT, tx.PrevTxHash = 0, make([]byte, 32)
	if n := len(f.txs); n > 0 {
		tx.PrevTxLT, tx.PrevTxHash = f.txs[n-1].LT, f.txs[n-1].Hash
	}
	parsed := chainTx(t, tx)
	f.txs = append(f.txs, parsed)
	f.seqno++
	f.blockTime++
	return parsed
}

func (f *fakeLiteserver) deposit(t *testing.T, memo string, amount string) *tlb.Transaction {
	t.Helper()
	return f.add(t, &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: internal(tlb.MustFromTON(amount), commentCell(t, memo))}, 0)
}

func (f *fakeLiteserver) failing() error {
	if f.failNext > 0 {
		f.failNext--
		return tonapi.LSError{Code: 651, Text: "too big masterchain block seqno"}
	}
	return nil
}

func (f *fakeLiteserver) CurrentMasterchainInfo(ctx context.Context) (*tonapi.BlockIDExt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing(); err != nil {
		return nil, err
	}
	return &tonapi.BlockIDExt{Workchain: -1, Shard: math.MinInt64, SeqNo: f.seqno, RootHash: make([]byte, 32), FileHash: make([]byte, 32)}, nil
}

func (f *fakeLiteserver) WaitForBlock(seqno uint32) tonapi.APIClientWrapped { return f }

func (f *fakeLiteserver) GetBlockHeader(ctx context.Context, b *tonapi.BlockIDExt) (*tlb.BlockHeader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &tlb.BlockHeader{}
	h.SeqNo = b.SeqNo
	h.GenUtime = f.blockTime
	return h, nil
}

func (f *fakeLiteserver) GetAccount(ctx context.Context, b *tonapi.BlockIDExt, addr *address.Address) (*tlb.Account, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing(); err != nil {
		return nil, err
	}
	if !addr.Equals(address.MustParseAddr(testService)) {
		return &tlb.Account{}, nil
	}
	if len(f.txs) == 0 {
		return &tlb.Account{IsActive: false}, nil
	}
	last := f.txs[len(f.txs)-1]
	return &tlb.Account{IsActive: true, LastTxLT: last.LT, LastTxHash: last.Hash}, nil
}

// ListTransactions answers like the liteserver: up to num (capped at 16)
// transactions ending at (lt, hash) inclusive, oldest first.
func (f *fakeLiteserver) ListTransactions(ctx context.Context, addr *address.Address, num uint32, lt uint64, hash []byte) ([]*tlb.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	f.maxNum = max(f.maxNum, num)
	if f.failList > 0 {
		f.failList--
		return nil, tonapi.LSError{Code: 651, Text: "too big masterchain block seqno"}
	}
	num = min(num, 16)
	for i, tx := range f.txs {
		if tx.LT != lt {
			continue
		}
		if !bytes.Equal(tx.Hash, hash) {
			return nil, tonapi.LSError{Code: -400, Text: "cannot compute block with specified transaction: lt not in db"}
		}
		start := max(0, i+1-int(num))
		page := append([]*tlb.Transaction(nil), f.txs[start:i+1]...)
		if f.tamper != nil {
			page = f.tamper(page)
		}
		return page, nil
	}
	return nil, tonapi.LSError{Code: -400, Text: "cannot compute block with specified transaction: lt not in db"}
}

func newLiteEnv(t *testing.T) (*env, *fakeLiteserver) {
	e := newEnv(t)
	fake := newFakeLiteserver()
	e.w.Chain = &Lite{API: fake}
	e.w.Account = testService
	return e, fake
}

func TestLite_WatcherCreditsThroughPages(t *testing.T) {
	e, fake := newLiteEnv(t)
	var skipped []string
	e.w.OnSkip = func(r string) { skipped = append(skipped, r) }

	var want shop.NanoTON
	for i := range 40 {
		switch i {
		case 7: // a bounce of our own payout coming back
			m := internal(tlb.MustFromTON("1"), nil)
			m.Bounced = true
			fake.add(t, &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: m}, 0)
		case 19: // a transfer our wallet bounced back
			fake.add(t, &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: internal(tlb.MustFromTON("2"), commentCell(t, e.alice.Memo))}, 1)
		default:
			fake.deposit(t, " "+strings.ToLower(e.alice.Memo)+" ", "0.5")
			want += 500_000_000
		}
	}
	if n := e.poll(); n != 40 {
		t.Fatalf("Poll processed %d transactions, want 40", n)
	}
	if got := e.balance(); got != want {
		t.Fatalf("balance = %d, want %d", got, want)
	}
	if strings.Join(skipped, ",") != SkipBounced+","+SkipOutgoing {
		t.Fatalf("skipped = %v", skipped)
	}
	if fake.lists < 3 || fake.maxNum > 16 {
		t.Fatalf("ListTransactions: %d calls, largest page %d; want ≥3 pages of ≤16", fake.lists, fake.maxNum)
	}
	cur, err := e.svc.Cursor(context.Background(), testService)
	if err != nil {
		t.Fatal(err)
	}
	last := fake.txs[len(fake.txs)-1]
	if cur.LT != last.LT || cur.Hash != convert(last).ID.Hash {
		t.Fatalf("cursor = %d/%s, want the newest transaction %d", cur.LT, cur.Hash, last.LT)
	}
	if lag, ok := e.w.Lag(); !ok || lag <= 0 {
		t.Fatalf("Lag = %v, %v", lag, ok)
	}

	// Nothing new: one cheap poll, nothing credited again.
	if n := e.poll(); n != 0 {
		t.Fatalf("second Poll processed %d", n)
	}
	fake.deposit(t, e.alice.Memo, "1")
	if n := e.poll(); n != 1 || e.balance() != want+shop.TON {
		t.Fatalf("third Poll processed %d, balance %d", n, e.balance())
	}
}

func TestLite_FirstStartBeginsAtHead(t *testing.T) {
	e, fake := newLiteEnv(t)
	e.w.FromStart = false
	fake.deposit(t, e.alice.Memo, "5") // history before the shop existed
	e.poll()
	if e.balance() != 0 {
		t.Fatalf("old history credited: %d", e.balance())
	}
	fake.deposit(t, e.alice.Memo, "1")
	e.poll()
	if e.balance() != shop.TON {
		t.Fatalf("balance = %d, want 1 TON", e.balance())
	}
}

func TestLite_EmptyAccount(t *testing.T) {
	fake := newFakeLiteserver()
	id, at, err := (&Lite{API: fake}).LastTx(context.Background(), testService)
	if err != nil || !id.IsZero() || at.Unix() != testNow {
		t.Fatalf("LastTx = %v, %v, %v; want zero id at the block time", id, at, err)
	}
}

func TestLite_LiteserverErrorThenRecovery(t *testing.T) {
	e, fake := newLiteEnv(t)
	fake.deposit(t, e.alice.Memo, "1")
	fake.failNext = 1
	if _, err := e.w.Poll(context.Background()); !errors.Is(err, tonapi.LSError{Code: 651}) {
		t.Fatalf("Poll error = %v, want the liteserver's", err)
	}
	e.poll()
	if e.balance() != shop.TON {
		t.Fatalf("balance = %d after recovery", e.balance())
	}
	// Failing while paging leaves the cursor where it was.
	fake.deposit(t, e.alice.Memo, "2")
	fake.failList = 1
	if _, err := e.w.Poll(context.Background()); !errors.Is(err, tonapi.LSError{Code: 651}) {
		t.Fatalf("Poll error = %v, want the liteserver's", err)
	}
	if e.balance() != shop.TON {
		t.Fatalf("balance = %d after a failed page", e.balance())
	}
	e.poll()
	if e.balance() != 3*shop.TON {
		t.Fatalf("balance = %d after recovery", e.balance())
	}
}

func TestLite_Transactions(t *testing.T) {
	fake := newFakeLiteserver()
	var txs []*tlb.Transaction
	for range 20 {
		txs = append(txs, fake.deposit(t, "M", "1"))
	}
	lite := &Lite{API: fake}
	ctx := context.Background()
	head := convert(txs[19]).ID

	page, err := lite.Transactions(ctx, testService, head, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 16 || page[0].ID != head || page[15].ID != convert(txs[4]).ID || page[15].Prev != convert(txs[3]).ID {
		t.Fatalf("page of %d: first %v last %v", len(page), page[0].ID, page[len(page)-1].ID)
	}
	first, err := lite.Transactions(ctx, testService, convert(txs[0]).ID, 16)
	if err != nil || len(first) != 1 || !first[0].Prev.IsZero() || first[0].Transfer == nil || first[0].Transfer.Amount != shop.TON {
		t.Fatalf("first transaction: %+v, %v", first, err)
	}

	t.Run("Unknown", func(t *testing.T) {
		_, err := lite.Transactions(ctx, testService, TxID{LT: head.LT, Hash: strings.Repeat("ab", 32)}, 16)
		if err == nil || !strings.Contains(err.Error(), "archive") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("BadID", func(t *testing.T) {
		for _, id := range []TxID{{}, {LT: 1, Hash: "xyz"}, {LT: 1, Hash: "abcd"}} {
			if _, err := lite.Transactions(ctx, testService, id, 16); err == nil {
				t.Fatalf("%v: no error", id)
			}
		}
	})
	t.Run("BadAccount", func(t *testing.T) {
		if _, err := lite.Transactions(ctx, "not-an-address", head, 16); err == nil {
			t.Fatal("no error")
		}
		if _, _, err := lite.LastTx(ctx, "0:zz"); err == nil {
			t.Fatal("no error")
		}
	})
	// A liteserver that answers with transactions that are not the
	// account's history is caught by the hash links.
	tampers := map[string]func([]*tlb.Transaction) []*tlb.Transaction{
		"Dropped": func(p []*tlb.Transaction) []*tlb.Transaction { return append(p[:3:3], p[4:]...) },
		"Swapped": func(p []*tlb.Transaction) []*tlb.Transaction { p[2], p[3] = p[3], p[2]; return p },
		"OtherHead": func(p []*tlb.Transaction) []*tlb.Transaction {
			return p[:len(p)-1]
		},
		"ForgedLT": func(p []*tlb.Transaction) []*tlb.Transaction {
			c := *p[5]
			c.LT++
			p[5] = &c
			return p
		},
		"Empty": func(p []*tlb.Transaction) []*tlb.Transaction { return nil },
	}
	for name, tamper := range tampers {
		t.Run(name, func(t *testing.T) {
			fake.tamper = tamper
			defer func() { fake.tamper = nil }()
			if _, err := lite.Transactions(ctx, testService, head, 16); err == nil {
				t.Fatal("tampered page accepted")
			}
		})
	}
}

func TestParseAddress(t *testing.T) {
	for _, s := range []string{testService, testSenderUQ, " " + testSenderEQ + " ", "0:" + strings.Repeat("ab", 32), "-1:" + strings.Repeat("00", 32)} {
		if _, err := ParseAddress(s); err != nil {
			t.Errorf("ParseAddress(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "EQ", "0:abc", testService[:47] + "x", strings.ReplaceAll(testService, "_", "/")} {
		if _, err := ParseAddress(s); err == nil {
			t.Errorf("ParseAddress(%q) accepted", s)
		}
	}
}
