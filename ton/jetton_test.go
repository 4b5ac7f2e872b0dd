package ton_test

// USDT deposits (issue 19) on real cells: jetton transfer_notifications
// (TEP-74) built with tonutils-go, wrapped in transactions serialized and
// read back as a liteserver's answer (tontest.Deliver), through
// ParseTransfer, the watcher and the shop on bbolt (store.Check at the end
// of every test).

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/jetton"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/ton"
	"starsbot/ton/tontest"
)

// Addresses of the tests: our deposit wallet, our jetton wallet for the
// USDT master (what the master's get_wallet_address answers), a fake
// jetton wallet, and a buyer.
var (
	usdtMaster  = ton.MainnetUSDTMaster
	depositAddr = "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N"
	ourJW       = address.NewAddress(0, 0, fill(0x11)).String()
	fakeJW      = address.NewAddress(0, 0, fill(0x22)).String()
	buyer       = address.NewAddress(0, 0, fill(0x33))
)

func fill(b byte) []byte {
	out := make([]byte, 32)
	for i := range out {
		out[i] = b
	}
	return out
}

// usdtRate is the TON/USD rate of these tests: 4 USD per TON, so 1 USDT
// (at USDT_USD 1) is 0.25 TON before the fee.
const usdtRate = shop.MicroUSD(4_000_000)

// notify is a USDT notification of units from buyer, sent by jw, carrying
// ton nanoTON, with payload inline or in a ref, delivered in a new
// transaction at lt.
func notify(t *testing.T, jw string, units uint64, ton_ shop.NanoTON, payload *cell.Cell, inRef bool, lt uint64) *tlb.Transaction {
	t.Helper()
	body, err := ton.JettonNotification(lt, units, buyer, payload, inRef)
	if err != nil {
		t.Fatal(err)
	}
	msg := tontest.Message(t, ton_, body)
	msg.SrcAddr = address.MustParseAddr(jw)
	return tontest.Deliver(t, msg, lt, time.Unix(1_767_225_600, 0))
}

// TestJetton_ParseTransfer: the notification forms ParseTransfer meets.
func TestJetton_ParseTransfer(t *testing.T) {
	// tonutils-go's own serializer of jetton.TransferNotification (its
	// tlb tags are TEP-74's layout) must read back as ours builds.
	ref, err := tlb.ToCell(jetton.TransferNotification{QueryID: 7, Amount: tlb.FromNanoTONU(5_000_000), Sender: buyer, ForwardPayload: commentCell(t, "MEMO-1")})
	if err != nil {
		t.Fatal(err)
	}
	libMsg := tontest.Message(t, 1, ref)
	libMsg.SrcAddr = address.MustParseAddr(ourJW)

	bounced := tontest.Message(t, shop.TON, mustNotification(t, commentCell(t, "MEMO-1"), false))
	bounced.SrcAddr, bounced.Bounced = address.MustParseAddr(ourJW), true

	binary := cell.BeginCell().MustStoreUInt(0, 32).MustStoreSlice([]byte{0xff, 0x00, 0xfe}, 24).EndCell()
	otherOp := cell.BeginCell().MustStoreUInt(0x5ffe1295, 32).EndCell() // the op of the fixture jetton_notification_with_149_ton

	tests := []struct {
		name   string
		tx     *tlb.Transaction
		skip   string
		amount shop.NanoTON
		units  int64
		memo   string
		reason string
	}{
		{"inline comment", notify(t, ourJW, 10_000_000, 1, commentCell(t, " memo-1 "), false, 1001), "", 1, 10_000_000, "memo-1", ""},
		{"comment in a ref", notify(t, ourJW, 10_000_000, 1, commentCell(t, "MEMO-1"), true, 1002), "", 1, 10_000_000, "MEMO-1", ""},
		{"no comment", notify(t, ourJW, 10_000_000, 1, nil, false, 1003), "", 1, 10_000_000, "", shop.NoMemoNone},
		{"binary comment", notify(t, ourJW, 10_000_000, 1, binary, true, 1004), "", 1, 10_000_000, "", shop.NoMemoBinary},
		{"other forward op", notify(t, ourJW, 10_000_000, 1, otherOp, false, 1005), "", 1, 10_000_000, "", shop.NoMemoOther},
		{"carrying TON as well", notify(t, ourJW, 2_500_000, 2*shop.TON, commentCell(t, "MEMO-1"), true, 1006), "", 2 * shop.TON, 2_500_000, "MEMO-1", ""},
		{"tonutils-go serializer", tontest.Deliver(t, libMsg, 1007, time.Unix(1_767_225_600, 0)), "", 1, 5_000_000, "MEMO-1", ""},
		{"bounced", tontest.Deliver(t, bounced, 1008, time.Unix(1_767_225_600, 0)), ton.SkipBounced, 0, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skip := ton.ParseTransfer(tt.tx)
			if skip != tt.skip {
				t.Fatalf("skip %q, want %q (%+v)", skip, tt.skip, got)
			}
			if skip != "" {
				return
			}
			want := shop.Transfer{Hash: got.Hash, LT: got.LT, Time: got.Time, From: buyer.String(), Amount: tt.amount, Memo: tt.memo, NoMemoReason: tt.reason,
				Asset: shop.AssetJetton, JettonAmount: tt.units, JettonWallet: ourJW}
			if got != want {
				t.Errorf("transfer\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func mustNotification(t *testing.T, payload *cell.Cell, inRef bool) *cell.Cell {
	t.Helper()
	c, err := ton.JettonNotification(1, 1_000_000, buyer, payload, inRef)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stubJettons is get_wallet_address: it answers wallet for (usdtMaster,
// depositAddr), counts the calls and fails while fail > 0.
type stubJettons struct {
	mu     sync.Mutex
	wallet string
	calls  int
	fail   int
}

func (s *stubJettons) JettonWallet(ctx context.Context, master, owner string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail > 0 {
		s.fail--
		return "", errors.New("liteserver: timeout")
	}
	if master != usdtMaster || owner != depositAddr {
		return "", errors.New("unexpected get_wallet_address")
	}
	return s.wallet, nil
}

type usdtEnv struct {
	s       *shoptest.Shop
	chain   *tontest.Chain
	jettons *stubJettons
	w       *ton.Watcher
	alice   *shop.User
}

func newUSDTEnv(t *testing.T, wallet string) *usdtEnv {
	t.Helper()
	s := shoptest.New(t, &shoptest.Options{Start: time.Unix(1_767_225_000, 0).UTC(), Rate: usdtRate, DepositAddress: depositAddr, Retry: true})
	s.Service.MinDeposit = minDeposit
	s.Service.USDT = shop.USDTConfig{USDUSD: shop.USD, FeePPM: 10_000} // 1%
	e := &usdtEnv{s: s, chain: &tontest.Chain{}, jettons: &stubJettons{wallet: wallet}}
	var err error
	e.w, err = ton.NewWatcher(ton.WatcherConfig{Chain: e.chain, Shop: s.Service, Account: depositAddr, FromStart: true,
		USDTMaster: usdtMaster, Jettons: e.jettons})
	if err != nil {
		t.Fatal(err)
	}
	if e.alice, err = s.Service.EnsureUser(context.Background(), shop.UserUpdate{ID: 1001, Username: "alice_1"}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *usdtEnv) poll(t *testing.T) {
	t.Helper()
	if _, err := e.w.Poll(context.Background()); err != nil {
		t.Fatalf("Poll: %v", err)
	}
}

func (e *usdtEnv) balance(t *testing.T) shop.NanoTON {
	t.Helper()
	u, err := e.s.Service.FindUser(context.Background(), e.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u.Balance
}

func (e *usdtEnv) deposit(t *testing.T, tx *tlb.Transaction) *shop.Deposit {
	t.Helper()
	deps, err := e.s.Service.FindDeposits(context.Background(), "", 0, shop.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps {
		if d.TxHash == tontestHash(tx) {
			return d
		}
	}
	t.Fatalf("no deposit for lt %d", tx.LT)
	return nil
}

func tontestHash(tx *tlb.Transaction) string { p, _ := ton.ParseTransfer(tx); return p.Hash }

// TestJetton_Watcher: USDT top-ups credit TON at the rate less the fee; a
// fake jetton wallet's notification, with the same memo, credits nothing
// and is kept as rejected; a bounced one is skipped; a replay credits
// nothing twice; our jetton wallet is derived once.
func TestJetton_Watcher(t *testing.T) {
	ctx := context.Background()
	e := newUSDTEnv(t, ourJW)
	memo := e.alice.Memo

	// 10 USDT = 2.5 TON at 4 USD/TON; 1% fee = 0.025 TON; net 2.475 TON.
	inline := notify(t, ourJW, 10_000_000, 1, commentCell(t, memo), false, 2001)
	// In a ref, carrying 0.5 TON: 1 USDT = 0.25 TON, less 0.0025, plus 0.5.
	withTON := notify(t, ourJW, 1_000_000, shop.TON/2, commentCell(t, memo), true, 2002)
	// A fake "USDT" from another jetton wallet, with alice's memo.
	fake := notify(t, fakeJW, 1_000_000_000, 1, commentCell(t, memo), false, 2003)
	// No comment: unmatched, valued in TON.
	noComment := notify(t, ourJW, 4_000_000, 1, nil, false, 2004)
	// 0.01 USDT ≈ 0.0025 TON: below TON_MIN_DEPOSIT, dust.
	dust := notify(t, ourJW, 10_000, 1, commentCell(t, memo), false, 2005)
	bounced := tontest.Message(t, shop.TON, mustNotification(t, commentCell(t, memo), false))
	bounced.SrcAddr, bounced.Bounced = address.MustParseAddr(ourJW), true
	bouncedTx := tontest.Deliver(t, bounced, 2006, time.Unix(1_767_225_600, 0))
	for _, tx := range []*tlb.Transaction{inline, withTON, fake, noComment, dust, bouncedTx} {
		e.chain.Add(tx)
	}
	e.poll(t)

	want := shop.NanoTON(2_475_000_000) + (250_000_000 - 2_500_000 + 500_000_000) + 1
	if got := e.balance(t); got != want {
		t.Errorf("balance %s, want %s", got, want)
	}
	d := e.deposit(t, inline)
	if d.Status != shop.DepositCredited || d.Asset != shop.AssetUSDT || d.JettonAmount != 10_000_000 || d.Amount != 2_475_000_001 ||
		d.FeeTON != 25_000_000 || d.RateTONUSD != usdtRate || d.RateUSDTUSD != shop.USD || !sameAddr(d.JettonWallet, ourJW) {
		t.Errorf("inline deposit %+v", d)
	}
	if d := e.deposit(t, fake); d.Status != shop.DepositRejected || d.Reason != shop.ReasonFakeJetton || d.UserID != 0 || d.Asset != shop.AssetJetton || d.JettonAmount != 1_000_000_000 || d.Amount != 1 {
		t.Errorf("fake deposit %+v", d)
	}
	if d := e.deposit(t, noComment); d.Status != shop.DepositUnmatched || d.Reason != shop.NoMemoNone || d.Amount != 990_000_001 {
		t.Errorf("no-comment deposit %+v", d)
	}
	if d := e.deposit(t, dust); d.Status != shop.DepositIgnored || d.Reason != shop.ReasonDust {
		t.Errorf("dust deposit %+v", d)
	}
	entries, _, err := e.s.Service.Ledger(ctx, shop.LedgerFilter{UserID: e.alice.ID})
	if err != nil || len(entries) != 2 {
		t.Fatalf("ledger %+v, %v", entries, err)
	}
	if l := entries[1]; l.Asset != shop.AssetUSDT || l.JettonAmount != 10_000_000 || l.RateTONUSD != usdtRate || l.RateUSDTUSD != shop.USD || l.FeeTON != 25_000_000 || l.Amount != 2_475_000_001 {
		t.Errorf("ledger entry %+v", l)
	}

	// A replay of the whole history credits nothing twice.
	before := e.s.Events.Count(shop.EventDepositCredited)
	first := e.chain.Add(notify(t, ourJW, 1, 1, nil, false, 2007)) // something new, to make the watcher read
	_ = first
	if err := e.s.Service.SaveCursor(ctx, &shop.Cursor{Account: depositAddr, LT: 1000, Hash: tontestHash(inline)}); err != nil {
		t.Fatal(err)
	}
	e.poll(t)
	if got := e.balance(t); got != want {
		t.Errorf("after replay: balance %s, want %s", got, want)
	}
	if n := e.s.Events.Count(shop.EventDepositCredited); n != before {
		t.Errorf("replay credited %d more", n-before)
	}
	if e.jettons.calls != 1 {
		t.Errorf("get_wallet_address asked %d times, want once", e.jettons.calls)
	}
	st, err := e.s.Service.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejected.Count != 1 || st.USDTReceived.Count != 3 || st.USDTUnits != 15_000_000 {
		t.Errorf("stats: rejected %+v, USDT %+v %d units", st.Rejected, st.USDTReceived, st.USDTUnits)
	}

	// /assign: the unmatched USDT deposit is credited at its booked value,
	// the fake one cannot be.
	if _, err := e.s.Service.AssignDeposit(ctx, 7, e.deposit(t, fake).ID, e.alice.ID); shop.ErrorCode(err) != shop.EINVALIDSTATE {
		t.Errorf("assigning the fake jetton: %v", err)
	}
	if _, err := e.s.Service.AssignDeposit(ctx, 7, e.deposit(t, noComment).ID, e.alice.ID); err != nil {
		t.Fatal(err)
	}
	entries, _, _ = e.s.Service.Ledger(ctx, shop.LedgerFilter{UserID: e.alice.ID})
	if l := entries[0]; l.Amount != 990_000_001 || l.Asset != shop.AssetUSDT || l.JettonAmount != 4_000_000 || l.AdminID != 7 {
		t.Errorf("assigned entry %+v", l)
	}
}

func sameAddr(a, b string) bool {
	x, err1 := address.ParseAddr(a)
	y, err2 := address.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Equals(y)
}

// TestJetton_WalletUnknown: while get_wallet_address fails, the watcher
// books nothing (the cursor stays, so nothing is lost), then books.
func TestJetton_WalletUnknown(t *testing.T) {
	e := newUSDTEnv(t, ourJW)
	e.jettons.fail = 1
	e.chain.Add(notify(t, ourJW, 10_000_000, 1, commentCell(t, e.alice.Memo), false, 3001))
	if _, err := e.w.Poll(context.Background()); err == nil {
		t.Fatal("Poll succeeded without our jetton wallet")
	}
	if got := e.balance(t); got != 0 {
		t.Fatalf("balance %s before the wallet is known", got)
	}
	e.poll(t)
	if got := e.balance(t); got != 2_475_000_001 {
		t.Errorf("balance %s, want 2.475000001", got)
	}
}

// TestJetton_WalletNotNeeded: TON transfers alone never wait for
// get_wallet_address.
func TestJetton_WalletNotNeeded(t *testing.T) {
	e := newUSDTEnv(t, ourJW)
	e.jettons.fail = 100
	msg := tontest.Message(t, shop.TON, commentCell(t, e.alice.Memo))
	e.chain.Add(tontest.Deliver(t, msg, 3101, time.Unix(1_767_225_600, 0)))
	e.poll(t)
	if got := e.balance(t); got != shop.TON || e.jettons.calls != 0 {
		t.Errorf("balance %s, get_wallet_address asked %d times", got, e.jettons.calls)
	}
}

// TestJetton_OrderInUSDT: a ton_memo order priced in USDT is paid by a USDT
// transfer of price_usdt with its memo, the surplus going to the balance in
// TON; a fake jetton with the memo pays nothing; too little USDT goes to the
// balance.
func TestJetton_OrderInUSDT(t *testing.T) {
	ctx := context.Background()
	e := newUSDTEnv(t, ourJW)
	mk := func() *shop.Order {
		o, err := e.s.Service.CreateOrder(ctx, shop.CreateOrderRequest{UserID: e.alice.ID, Type: shop.OrderStars, Stars: 100, Recipient: "pandus",
			PaymentMethod: shop.PayTONMemo, PaymentCurrency: shop.AssetUSDT})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	o := mk()
	// 100 stars at 0.015 USD = 1.5 USD = 0.375 TON at 4 USD/TON; the price
	// in USDT is the cent of USDT whose credit less 1% covers 0.375 TON:
	// ⌈0.375 × 4 / 0.99⌉ = 1.52 USDT.
	if o.PriceTON != 375_000_000 || o.PaymentCurrency != shop.AssetUSDT || o.PriceUSDT != 1_520_000 {
		t.Fatalf("order priced %s TON, %s %d units", o.PriceTON, o.PaymentCurrency, o.PriceUSDT)
	}
	o2 := mk()

	fake := notify(t, fakeJW, 5_000_000, 1, commentCell(t, o.PaymentMemo), false, 4001)
	paid := notify(t, ourJW, 2_520_000, 1, commentCell(t, o.PaymentMemo), true, 4002)
	short := notify(t, ourJW, 1_510_000, 1, commentCell(t, o2.PaymentMemo), false, 4003)
	for _, tx := range []*tlb.Transaction{fake, paid, short} {
		e.chain.Add(tx)
	}
	e.poll(t)
	got, err := e.s.Service.FindOrder(ctx, e.alice.ID, o.ID)
	if err != nil || got.Status != shop.StatusPaid || got.PaidTxHash != tontestHash(paid) {
		t.Fatalf("order %+v, %v", got, err)
	}
	if got, _ := e.s.Service.FindOrder(ctx, e.alice.ID, o2.ID); got.Status != shop.StatusPendingPayment {
		t.Errorf("underpaid order is %s", got.Status)
	}
	// Surplus: 1 USDT = 0.25 TON less 1% = 0.2475 TON, plus 1 nanoTON;
	// the short payment: 1.51 USDT = 0.3775 less 1% = 0.373725, plus 1.
	if b, want := e.balance(t), shop.NanoTON(247_500_001+373_725_001); b != want {
		t.Errorf("balance %s, want %s", b, want)
	}
	if d := e.deposit(t, paid); d.Status != shop.DepositOrderPaid || d.OrderID != o.ID {
		t.Errorf("paying deposit %+v", d)
	}
	if d := e.deposit(t, fake); d.Status != shop.DepositRejected {
		t.Errorf("fake deposit %+v", d)
	}
}

// TestJetton_FixtureNotifications: the real jetton notifications of the
// fixtures, each taken as if its sending jetton wallet were ours (what
// get_wallet_address would then answer), are valued as USDT and follow the
// memo rules; from any other wallet they are rejected.
func TestJetton_FixtureNotifications(t *testing.T) {
	fs := tontest.Transactions(t, "testdata/transactions.json")
	n := 0
	for _, f := range fs {
		if f.Facts.Body != "jetton_notification" {
			continue
		}
		n++
		t.Run(f.Name, func(t *testing.T) {
			ctx := context.Background()
			jw := address.MustParseRawAddr(f.Facts.Sender).String()
			units, err := strconv.ParseInt(f.Facts.Jetton.Amount, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			for _, ours := range []bool{true, false} {
				wallet := jw
				if !ours {
					wallet = fakeJW
				}
				e := newUSDTEnv(t, wallet)
				e.chain.Add(f.Tx)
				e.poll(t)
				d := e.deposit(t, f.Tx)
				if !ours {
					if d.Status != shop.DepositRejected || d.Reason != shop.ReasonFakeJetton {
						t.Errorf("not ours: %+v", d)
					}
					continue
				}
				net, _, err := shop.USDTToTON(units, shop.USD, usdtRate, 10_000)
				if err != nil {
					t.Fatal(err)
				}
				value := net + f.Facts.ValueNano(t)
				wantStatus := shop.DepositUnmatched // no fixture memo is ours
				if value < minDeposit {
					wantStatus = shop.DepositIgnored
				}
				if d.Asset != shop.AssetUSDT || d.JettonAmount != units || d.Amount != value || d.Status != wantStatus {
					t.Errorf("ours: %+v; want %s %d units, %s TON", d, wantStatus, units, value)
				}
				_ = ctx
			}
		})
	}
	if n != 3 {
		t.Fatalf("%d jetton notifications in the fixtures, want 3", n)
	}
}

// TestJetton_Overflow: a USDT amount whose TON value does not fit int64 is
// rejected, not a stuck watcher.
func TestJetton_Overflow(t *testing.T) {
	e := newUSDTEnv(t, ourJW)
	tx := notify(t, ourJW, 1<<62, 1, commentCell(t, e.alice.Memo), false, 3201)
	e.chain.Add(tx)
	e.poll(t)
	if d := e.deposit(t, tx); d.Status != shop.DepositRejected || d.Reason != shop.ReasonUSDTOverflow || e.balance(t) != 0 {
		t.Errorf("deposit %+v, balance %s", d, e.balance(t))
	}
}
