package ton_test

// Tests of issue 13 (items 8 and 9) on real transactions: testdata/ holds
// copies of the workspace's shared/fixtures/ton/transactions.json and
// bodies.json (see testdata/README.md for their public sources), decoded
// by package tontest from their BOCs.

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/ton"
	"starsbot/ton/tontest"
)

// minDeposit is TON_MIN_DEPOSIT's default, 0.01 TON.
const minDeposit = shop.NanoTON(10_000_000)

// expected is what should become of a transaction, derived from the hand
// parser's facts alone (not from our parser).
type expected struct {
	skip   string
	amount shop.NanoTON
	memo   string
	reason string             // NoMemoReason
	status shop.DepositStatus // after the shop, with minDeposit; "" when skipped
	// jetton notifications: their jetton amount and sender; status is
	// rejected (no fixture comes from our USDT jetton wallet).
	jetton       bool
	jettonAmount int64
	jettonFrom   string
}

func expect(t *testing.T, f tontest.Fixture) expected {
	t.Helper()
	ff := f.Facts
	switch {
	case ff.Direction == "external":
		return expected{skip: ton.SkipExternal}
	case ff.Bounced:
		return expected{skip: ton.SkipBounced}
	case ff.Direction == "out":
		return expected{skip: ton.SkipOutgoing}
	case ff.Direction != "in":
		t.Fatalf("%s: direction %q", f.Name, ff.Direction)
	case ff.ValueNano(t) == 0:
		return expected{skip: ton.SkipZeroValue}
	}
	e := expected{amount: ff.ValueNano(t), status: shop.DepositUnmatched}
	switch ff.Body {
	case "text_comment":
		if len(ff.Comment) > 512 {
			t.Fatalf("%s: a comment over the memo limit needs its own expectation", f.Name)
		}
		if e.memo = strings.TrimSpace(ff.Comment); e.memo == "" {
			e.reason = shop.NoMemoEmpty
		}
	case "empty":
		e.reason = shop.NoMemoNone
	case "encrypted_comment":
		e.reason = shop.NoMemoEncrypted
	case "binary_comment":
		e.reason = shop.NoMemoBinary
	case "jetton_notification":
		j := ff.Jetton
		if j == nil {
			t.Fatalf("%s: a jetton notification without its facts", f.Name)
		}
		e.jetton, e.status, e.jettonFrom = true, shop.DepositRejected, j.Sender
		n, err := strconv.ParseInt(j.Amount, 10, 64)
		if err != nil {
			t.Fatalf("%s: jetton amount %q", f.Name, j.Amount)
		}
		e.jettonAmount = n
		switch j.ForwardPayload {
		case "text_comment":
			e.memo = strings.TrimSpace(j.ForwardComment)
		case "empty":
			e.reason = shop.NoMemoNone
		case "other_op":
			e.reason = shop.NoMemoOther
		default:
			t.Fatalf("%s: forward payload %q", f.Name, j.ForwardPayload)
		}
		return e // rejected whatever its TON value
	case "other_op":
		e.reason = shop.NoMemoOther
	default:
		t.Fatalf("%s: body %q", f.Name, ff.Body)
	}
	if e.amount < minDeposit {
		e.status = shop.DepositIgnored
	}
	return e
}

// TestFixtures_ParseTransfer: ParseTransfer agrees with the hand parser on
// every real transaction.
func TestFixtures_ParseTransfer(t *testing.T) {
	fs := tontest.Transactions(t, "testdata/transactions.json")
	if len(fs) != 27 {
		t.Fatalf("%d fixtures, want 27", len(fs))
	}
	for _, f := range fs {
		t.Run(f.Name, func(t *testing.T) {
			want := expect(t, f)
			got, skip := ton.ParseTransfer(f.Tx)
			if skip != want.skip {
				t.Fatalf("skip = %q, want %q (transfer %+v)", skip, want.skip, got)
			}
			if skip != "" {
				return
			}
			if got.Amount != want.amount || got.Memo != want.memo || got.NoMemoReason != want.reason {
				t.Errorf("amount %d memo %q reason %q; want %d %q %q", got.Amount, got.Memo, got.NoMemoReason, want.amount, want.memo, want.reason)
			}
			if got.Hash != f.HashHex || got.LT != f.Tx.LT || got.Time.Unix() != f.Now {
				t.Errorf("hash %s lt %d time %v; want %s %s %d", got.Hash, got.LT, got.Time, f.HashHex, f.LT, f.Now)
			}
			// Flags are not on the chain: the sender reads back bounceable.
			from := address.MustParseRawAddr(f.Facts.Sender).String()
			if want.jetton {
				// The message's source is the jetton wallet; From is
				// the notification's sender.
				if got.Asset != shop.AssetJetton || got.JettonAmount != want.jettonAmount || got.JettonWallet != from {
					t.Errorf("jetton %q %d from wallet %q; want %q %d %q", got.Asset, got.JettonAmount, got.JettonWallet, shop.AssetJetton, want.jettonAmount, from)
				}
				from = address.MustParseRawAddr(want.jettonFrom).String()
			} else if got.Asset != "" || got.JettonAmount != 0 || got.JettonWallet != "" {
				t.Errorf("not a jetton, yet %q %d %q", got.Asset, got.JettonAmount, got.JettonWallet)
			}
			if got.From != from {
				t.Errorf("From = %q, want %q", got.From, from)
			}
		})
	}
}

// TestFixtures_EncryptedComment: a real encrypted comment (op 0x2167da4b)
// as the body of an inbound transfer is kept with its reason, above and
// below the dust limit alike (the shop decides on the amount).
func TestFixtures_EncryptedComment(t *testing.T) {
	bodies := tontest.Bodies(t, "testdata/bodies.json")
	if len(bodies) != 1 || bodies[0].Facts.Body != "encrypted_comment" || bodies[0].Facts.Op != "0x2167da4b" {
		t.Fatalf("bodies: %+v", bodies)
	}
	for i, amount := range []shop.NanoTON{shop.TON, 1} {
		tx := tontest.Deliver(t, tontest.Message(t, amount, bodies[0].Cell), uint64(1000+i), time.Unix(1_767_225_600, 0))
		got, skip := ton.ParseTransfer(tx)
		if skip != "" || got.Amount != amount || got.Memo != "" || got.NoMemoReason != shop.NoMemoEncrypted {
			t.Errorf("%d nanoTON: %+v, skip %q", amount, got, skip)
		}
	}
}

// watcherEnv is the deposit watcher over a tontest.Chain and a real shop
// on bbolt (storetest.Open runs store.Check when the test ends).
type watcherEnv struct {
	svc     *shop.Service
	chain   *tontest.Chain
	w       *ton.Watcher
	alice   *shop.User
	mu      sync.Mutex
	events  map[shop.EventType]int
	skipped map[string]int
}

func newWatcherEnv(t *testing.T) *watcherEnv {
	t.Helper()
	now := time.Date(2026, 5, 14, 0, 0, 0, 0, time.UTC)
	svc := shoptest.New(t, &shoptest.Options{Start: now, DepositAddress: "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"}).Service
	svc.MinDeposit = minDeposit
	e := &watcherEnv{svc: svc, chain: &tontest.Chain{}, events: map[shop.EventType]int{}, skipped: map[string]int{}}
	svc.Subscribe(func(ev shop.Event) { e.mu.Lock(); e.events[ev.Type]++; e.mu.Unlock() })
	var err error
	e.w, err = ton.NewWatcher(ton.WatcherConfig{Chain: e.chain, Shop: svc, Account: "fixtures", FromStart: true, Now: func() time.Time { return now },
		OnSkip: func(r string) { e.mu.Lock(); e.skipped[r]++; e.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	if e.alice, err = svc.EnsureUser(context.Background(), shop.UserUpdate{ID: 1001, Username: "alice_1"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *watcherEnv) poll(t *testing.T) int {
	t.Helper()
	n, err := e.w.Poll(context.Background())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return n
}

// TestFixtures_Watcher books all 27 real transactions through the watcher
// and the shop: dust is ignored (recorded, never alerted), value without a
// text comment is unmatched with its reason, the rest as before.
func TestFixtures_Watcher(t *testing.T) {
	ctx := context.Background()
	e := newWatcherEnv(t)
	fs := tontest.Transactions(t, "testdata/transactions.json")
	for _, f := range fs {
		e.chain.Add(f.Tx)
	}
	if n := e.poll(t); n != len(fs) {
		t.Fatalf("polled %d, want %d", n, len(fs))
	}

	counts := map[shop.DepositStatus]int{}
	skips := map[string]int{}
	var dust, rejected shop.DepositTotals
	for _, f := range fs {
		want := expect(t, f)
		var dep *shop.Deposit
		all, err := e.svc.FindDeposits(ctx, "", 0, shop.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range all {
			if d.TxHash == f.HashHex {
				dep = d
			}
		}
		if want.skip != "" {
			skips[want.skip]++
			if dep != nil {
				t.Errorf("%s: skipped (%s) yet deposit %+v", f.Name, want.skip, dep)
			}
			continue
		}
		if dep == nil {
			t.Errorf("%s: no deposit", f.Name)
			continue
		}
		counts[want.status]++
		wantReason := want.reason
		if want.status == shop.DepositRejected {
			wantReason = shop.ReasonFakeJetton
			rejected.Count++
			rejected.Amount += want.amount
		}
		if want.status == shop.DepositIgnored {
			wantReason = shop.ReasonDust
			dust.Count++
			dust.Amount += want.amount
		}
		if dep.Status != want.status || dep.Reason != wantReason || dep.Amount != want.amount || dep.Memo != want.memo {
			t.Errorf("%s: deposit %s %q %d %q; want %s %q %d %q", f.Name, dep.Status, dep.Reason, dep.Amount, dep.Memo, want.status, wantReason, want.amount, want.memo)
		}
		if dep.UserID != 0 || dep.OrderID != 0 {
			t.Errorf("%s: deposit names user %d order %d", f.Name, dep.UserID, dep.OrderID)
		}
	}
	// What the fixtures README and the facts say: 5 transfers below 0.01
	// TON (four 1- or 10-nanoTON spams, a 0.001 TON spam), 3 jetton
	// notifications none of which comes from our USDT jetton wallet
	// (rejected, whatever TON they carry), 12 unmatched, 7 not deposits.
	if counts[shop.DepositIgnored] != 5 || counts[shop.DepositUnmatched] != 12 || counts[shop.DepositRejected] != 3 {
		t.Errorf("deposits by status %v, want 5 ignored, 12 unmatched, 3 rejected", counts)
	}
	e.mu.Lock()
	if e.events[shop.EventUnmatchedDeposit] != 12 || e.events[shop.EventDepositIgnored] != 5 || len(e.events) != 2 {
		t.Errorf("events %v, want 12 unmatched_deposit and 5 deposit_ignored only", e.events)
	}
	for r, n := range skips {
		if e.skipped[r] != n {
			t.Errorf("OnSkip(%q) %d times, want %d (all: %v)", r, e.skipped[r], n, e.skipped)
		}
	}
	e.mu.Unlock()
	st, err := e.svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dust != dust || st.Rejected != rejected || st.Unmatched.Count != 12 || st.DepositsAll.Count != 12 {
		t.Errorf("stats: dust %+v (want %+v), rejected %+v (want %+v), unmatched %+v, all %+v", st.Dust, dust, st.Rejected, rejected, st.Unmatched, st.DepositsAll)
	}
	if u, _ := e.svc.FindUser(ctx, e.alice.ID); u.Balance != 0 {
		t.Errorf("alice's balance %s", u.Balance)
	}

	// The same history again (a replay from an older cursor): nothing new.
	if err := e.svc.SaveCursor(ctx, &shop.Cursor{Account: "fixtures", LT: 1000, Hash: fs[0].HashHex}); err != nil {
		t.Fatal(err)
	}
	e.poll(t)
	e.mu.Lock()
	if e.events[shop.EventUnmatchedDeposit] != 12 || e.events[shop.EventDepositIgnored] != 5 {
		t.Errorf("replay emitted events: %v", e.events)
	}
	e.mu.Unlock()
}

// TestFixtures_DustFlood is the mainnet block of the issue: 200 copies of
// the real 1-nanoTON "TG: @LiveFeed" spam message and of the real 0.001 TON
// "validator" spam, in new transactions, among real payments. None is
// credited or alerted; the payments are booked as before.
func TestFixtures_DustFlood(t *testing.T) {
	ctx := context.Background()
	e := newWatcherEnv(t)
	fs := tontest.Transactions(t, "testdata/transactions.json")
	spamA := tontest.Find(t, fs, "dust_1_nanoton_spam_a").In(t)
	spamB := tontest.Find(t, fs, "long_comment_two_cells_spam").In(t)
	stars := tontest.Find(t, fs, "fragment_stars_payment_100")
	boss := tontest.Find(t, fs, "comment_boss_1001_ton")

	// alice tops up with her personal memo, in the body of the real 1001.99
	// TON payment (only the text differs from the real one), and with 1
	// nanoTON.
	top := *boss.In(t)
	top.Body = commentCell(t, e.alice.Memo)
	tiny := *spamA
	tiny.Body = commentCell(t, e.alice.Memo)

	lt := uint64(100_000)
	at := time.Unix(boss.Now, 0)
	for i := range 200 {
		spam := spamA
		if i%2 == 1 {
			spam = spamB
		}
		lt++
		e.chain.Add(tontest.Deliver(t, spam, lt, at))
		if i == 50 {
			e.chain.Add(stars.Tx)
		}
		if i == 100 {
			lt++
			e.chain.Add(tontest.Deliver(t, &top, lt, at))
			lt++
			e.chain.Add(tontest.Deliver(t, &tiny, lt, at))
		}
	}
	if n := e.poll(t); n != 203 {
		t.Fatalf("polled %d, want 203", n)
	}
	e.mu.Lock()
	if e.events[shop.EventUnmatchedDeposit] != 1 || e.events[shop.EventDepositIgnored] != 201 || e.events[shop.EventDepositCredited] != 1 {
		t.Errorf("events %v; want 1 unmatched (the stars payment), 201 ignored, 1 credited", e.events)
	}
	e.mu.Unlock()
	u, _ := e.svc.FindUser(ctx, e.alice.ID)
	if want := boss.Facts.ValueNano(t); u.Balance != want {
		t.Errorf("alice's balance %s, want %s", u.Balance, want)
	}
	st, err := e.svc.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (shop.DepositTotals{Count: 201, Amount: 100*1 + 100*1_000_000 + 1}); st.Dust != want {
		t.Errorf("dust %+v, want %+v", st.Dust, want)
	}
	unmatched, err := e.svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 0)
	if err != nil || len(unmatched) != 1 || unmatched[0].TxHash != hex.EncodeToString(stars.Tx.Hash) {
		t.Errorf("unmatched %+v, %v", unmatched, err)
	}
}

func commentCell(t *testing.T, text string) *cell.Cell {
	t.Helper()
	c, err := wallet.CreateCommentCell(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
