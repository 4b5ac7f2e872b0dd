package ton

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
	"starsbot/ton/tontest/walletchain"
)

// Wallet satisfies fulfillment.Wallet (not imported: adapters do not
// import each other).
var _ interface {
	Info() shop.WalletInfo
	Send(ctx context.Context, p shop.Payout, record func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error)
	Resume(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error)
	Balance(ctx context.Context) (shop.NanoTON, error)
} = (*Wallet)(nil)

// walletTestMnemonic was made once with wallet.NewSeed(); it holds no funds.
const walletTestMnemonic = "orphan close bulk misery later setup skate develop inspire pole item ring climb puzzle quote roof orphan olympic guitar field word slender exit mirror"

const walletTestDest = "UQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqEBI"

// walletT0 is the tests' fixed clock. It lies in the future because
// tonutils signs valid_until from the wall clock plus a TTL that must be
// positive (see Wallet.sign); any time up to 2106 (uint32 seconds) works.
var walletT0 = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

// The fake liteserver is walletchain's Chain (it was defined here); these
// names keep the tests as they were written.
type (
	fakeWalletAPI = walletchain.Chain
	walletClock   = walletchain.Clock
	fakeDest      = walletchain.Dest
)

const (
	execOK      = walletchain.ExecOK
	execNoFunds = walletchain.ExecNoFunds
	execSkipped = walletchain.ExecSkipped
	execNever   = walletchain.ExecNever
	execAltered = walletchain.ExecAltered
)

var (
	newFakeWalletAPI    = walletchain.New
	classicBounce       = walletchain.ClassicBounce
	decodeWalletActions = walletchain.DecodeWalletActions
	decodeWalletBody    = walletchain.DecodeWalletBody
	decodePack          = walletchain.DecodePack
)

// TestWalletChain_Agrees: the constants walletchain repeats (it cannot
// import this package) are ours.
func TestWalletChain_Agrees(t *testing.T) {
	if walletchain.V4R2 != WalletV4R2 || walletchain.V5R1 != WalletV5R1 || walletchain.HighloadV3 != WalletHighloadV3 ||
		walletchain.HighloadV3Timeout != HighloadV3Timeout || walletchain.PayoutMode != payoutMode {
		t.Fatal("walletchain's wallet versions, highload timeout or payout mode differ from package ton's")
	}
}

// parseBOCExternal parses a broadcast BOC as a message and checks it is an
// inbound external one.
func parseBOCExternal(t *testing.T, boc []byte) *tlb.ExternalMessage {
	t.Helper()
	c, err := cell.FromBOC(boc)
	if err != nil {
		t.Fatalf("FromBOC: %v", err)
	}
	var m tlb.Message
	if err := tlb.Parse(&m, c); err != nil {
		t.Fatalf("Parse message: %v", err)
	}
	if m.MsgType != tlb.MsgTypeExternalIn {
		t.Fatalf("MsgType = %s, want %s", m.MsgType, tlb.MsgTypeExternalIn)
	}
	return m.AsExternalIn()
}

var walletVersions = []string{WalletV4R2, WalletV5R1}

// walletTestKey is the key of walletTestMnemonic, derived once: the
// derivation (100,000 rounds of PBKDF2) is most of a NewWallet.
var walletTestKey = sync.OnceValue(func() ed25519.PrivateKey {
	key, err := wallet.SeedToPrivateKeyWithOptions(strings.Fields(walletTestMnemonic))
	if err != nil {
		panic(err)
	}
	return key
})

// newTestWallet makes the test wallet of version on f (whose address it
// sets) with f's clock and a short poll interval.
func newTestWallet(t *testing.T, f *fakeWalletAPI, version string) *Wallet {
	t.Helper()
	w, err := walletFromKey(f, walletTestKey(), WalletConfig{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	w.Now = f.Clock.Now
	w.PollInterval = time.Millisecond
	w.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Set(func(f *fakeWalletAPI) { f.Addr = w.addr })
	return w
}

func testPayout(t *testing.T) shop.Payout {
	t.Helper()
	body, err := wallet.CreateCommentCell("Telegram Premium for 3 months Ref#7F3K2Q")
	if err != nil {
		t.Fatal(err)
	}
	return shop.Payout{To: walletTestDest, Amount: 1_234_567_891, Payload: body.ToBOC(), Bounce: true}
}

// capture is a record func that keeps the signed payout and returns err.
func capture(sp **shop.SignedPayout, err error) func(context.Context, *shop.SignedPayout) error {
	return func(_ context.Context, p *shop.SignedPayout) error {
		*sp = p
		return err
	}
}

func TestNewWallet_Addresses(t *testing.T) {
	golden := map[string]string{
		"v4r2/mainnet": "UQAehhe3j4eZKvCrqlyBD1QmHiEKytfqR2CVPbK2V-0ruQ1n",
		"v4r2/testnet": "0QAehhe3j4eZKvCrqlyBD1QmHiEKytfqR2CVPbK2V-0rubbt",
		"v5r1/mainnet": "UQCCdTIt9bGcAH0MIcCRYCEE9K7wgYmBB6OusKYNoq0gbOXe",
		"v5r1/testnet": "0QBt__loRd5HfQ4OPYWgdVAgJDy8k-QjrjanCbUQIXKOg-Vh",
	}
	raw := map[string]string{}
	var pub string
	for _, version := range walletVersions {
		for _, testnet := range []bool{false, true} {
			name := version + "/mainnet"
			if testnet {
				name = version + "/testnet"
			}
			t.Run(name, func(t *testing.T) {
				w, err := NewWallet(newFakeWalletAPI(&walletClock{}, version), WalletConfig{Mnemonic: walletTestMnemonic, Version: version, Testnet: testnet})
				if err != nil {
					t.Fatal(err)
				}
				info := w.Info()
				if info.Address != golden[name] || w.Address() != info.Address {
					t.Errorf("Address = %q (Address() %q), want %q", info.Address, w.Address(), golden[name])
				}
				wantPrefix, wantChain := "UQ", "-239"
				if testnet {
					wantPrefix, wantChain = "0Q", "-3"
				}
				if !strings.HasPrefix(info.Address, wantPrefix) || info.Chain != wantChain {
					t.Errorf("Address %q, Chain %q: want prefix %s and chain %s", info.Address, info.Chain, wantPrefix, wantChain)
				}
				a, err := address.ParseAddr(info.Address)
				if err != nil || a.IsBounceable() || a.IsTestnetOnly() != testnet || a.StringRaw() != info.RawAddress {
					t.Errorf("Address %q parses to %v (err %v), raw %q", info.Address, a, err, info.RawAddress)
				}
				if !strings.HasPrefix(info.RawAddress, "0:") || len(info.RawAddress) != 66 {
					t.Errorf("RawAddress = %q", info.RawAddress)
				}
				if len(info.PublicKey) != 64 || (pub != "" && info.PublicKey != pub) {
					t.Errorf("PublicKey = %q, want 64 hex chars, the same for all", info.PublicKey)
				}
				pub = info.PublicKey
				if info.Version != version {
					t.Errorf("Version = %q", info.Version)
				}
				// The address is the hash of the StateInit.
				c, err := cell.FromBOC(info.StateInitBOC)
				if err != nil {
					t.Fatal(err)
				}
				var si tlb.StateInit
				if err := tlb.Parse(&si, c); err != nil || si.Code == nil || si.Data == nil {
					t.Fatalf("StateInit: %v", err)
				}
				if got := "0:" + hex.EncodeToString(c.Hash()); got != info.RawAddress {
					t.Errorf("StateInit hashes to %s, address is %s", got, info.RawAddress)
				}
				raw[name] = info.RawAddress
			})
		}
	}
	if raw["v4r2/mainnet"] != raw["v4r2/testnet"] {
		t.Errorf("v4r2 account differs between networks: %s, %s", raw["v4r2/mainnet"], raw["v4r2/testnet"])
	}
	if raw["v5r1/mainnet"] == raw["v5r1/testnet"] {
		t.Errorf("v5r1 account is the same on both networks: %s", raw["v5r1/mainnet"])
	}
	if raw["v4r2/mainnet"] == raw["v5r1/mainnet"] {
		t.Errorf("v4r2 and v5r1 share an address")
	}
}

func TestWallet_SignStable(t *testing.T) {
	golden := map[string]string{
		WalletV4R2: "0d3a2bc138fe79da2314184561bbf72c1141a11f636c7cc07d4bf684b6daab16",
		WalletV5R1: "4510d1466de1527368e1f48a676743a5b8b2ba05553950356c3c6ce8a31a438c",
	}
	for _, version := range walletVersions {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0}, version).Deployed(7, 10e9)
			w := newTestWallet(t, f, version)
			stop := errors.New("stop here")
			var sp1, sp2 *shop.SignedPayout
			if _, err := w.Send(t.Context(), testPayout(t), capture(&sp1, stop)); !errors.Is(err, stop) {
				t.Fatalf("Send: %v", err)
			}
			if _, err := w.Send(t.Context(), testPayout(t), capture(&sp2, stop)); !errors.Is(err, stop) {
				t.Fatalf("Send: %v", err)
			}
			if sp1.Hash != sp2.Hash || !bytes.Equal(sp1.BOC, sp2.BOC) {
				t.Errorf("signing twice differs: %s vs %s", sp1.Hash, sp2.Hash)
			}
			if sp1.Hash != golden[version] {
				t.Errorf("Hash = %s, want %s", sp1.Hash, golden[version])
			}
			if want := walletT0.Add(120 * time.Second); !sp1.ValidUntil.Equal(want) || !sp1.SignedAt.Equal(walletT0) {
				t.Errorf("ValidUntil %v SignedAt %v, want %v and %v", sp1.ValidUntil, sp1.SignedAt, want, walletT0)
			}
			if sp1.Seqno != 7 || sp1.Wallet != w.Address() {
				t.Errorf("Seqno %d Wallet %s", sp1.Seqno, sp1.Wallet)
			}
			ext := parseBOCExternal(t, sp1.BOC)
			if !ext.DstAddr.Equals(w.addr) || hex.EncodeToString(ext.NormalizedHash()) != sp1.Hash || ext.StateInit != nil {
				t.Errorf("BOC: to %v, hash %x, state init %v", ext.DstAddr, ext.NormalizedHash(), ext.StateInit != nil)
			}
			seqno, validUntil, _, _, err := decodeWalletBody(version, ext.Body)
			if err != nil || seqno != 7 || int64(validUntil) != sp1.ValidUntil.Unix() {
				t.Errorf("signed body: seqno %d valid_until %d, err %v", seqno, validUntil, err)
			}
		})
	}
}

func TestWallet_SendRecordFails(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{T: walletT0}, WalletV4R2).Deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV4R2)
	diskFull := errors.New("disk full")
	var sp *shop.SignedPayout
	res, err := w.Send(t.Context(), testPayout(t), capture(&sp, diskFull))
	if !errors.Is(err, diskFull) || res != nil {
		t.Fatalf("Send = %v, %v; want the record error", res, err)
	}
	if sp == nil {
		t.Fatal("record not called")
	}
	if sent, _, txs, _, _ := f.Snapshot(); len(sent) != 0 || len(txs) != 0 {
		t.Errorf("broadcast %d messages after record failed", len(sent))
	}
}

func TestWallet_SendConfirmed(t *testing.T) {
	tests := []struct {
		name     string
		version  string
		deployed bool
		bounce   bool
		payload  bool
	}{
		{"v4r2 deployed", WalletV4R2, true, true, true},
		{"v4r2 first send deploys", WalletV4R2, false, false, true},
		{"v5r1 deployed", WalletV5R1, true, false, true},
		{"v5r1 first send deploys", WalletV5R1, false, true, true},
		{"no payload", WalletV5R1, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, tc.version)
			wantSeqno := uint32(0)
			if tc.deployed {
				f.Deployed(7, 10e9)
				wantSeqno = 7
			} else {
				f.Exists, f.Balance = true, 10e9 // funded, uninit
			}
			w := newTestWallet(t, f, tc.version)
			p := testPayout(t)
			p.Bounce = tc.bounce
			if !tc.payload {
				p.Payload = nil
			}
			var sp *shop.SignedPayout
			res, err := w.Send(t.Context(), p, capture(&sp, nil))
			if err != nil {
				t.Fatal(err)
			}
			sent, _, txs, seqno, seqnoCalls := f.Snapshot()
			if len(txs) != 1 || seqno != wantSeqno+1 {
				t.Fatalf("%d transactions, seqno %d", len(txs), seqno)
			}
			want := shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: hex.EncodeToString(txs[0].Hash), TxLT: txs[0].LT}
			if *res != want {
				t.Errorf("result %+v, want %+v", *res, want)
			}
			if tc.deployed != (seqnoCalls == 1) {
				t.Errorf("seqno get-method called %d times (deployed %t)", seqnoCalls, tc.deployed)
			}
			if len(sent) != 1 || !bytes.Equal(sent[0], sp.BOC) {
				t.Fatalf("broadcast %d messages; first is the recorded BOC: %t", len(sent), len(sent) > 0 && bytes.Equal(sent[0], sp.BOC))
			}
			ext := parseBOCExternal(t, sent[0])
			if (ext.StateInit != nil) == tc.deployed {
				t.Errorf("StateInit present %t, wallet deployed %t", ext.StateInit != nil, tc.deployed)
			}
			gotSeqno, _, mode, msg, err := decodeWalletBody(tc.version, ext.Body)
			if err != nil {
				t.Fatal(err)
			}
			if gotSeqno != wantSeqno || sp.Seqno != wantSeqno || mode != 3 {
				t.Errorf("seqno %d (recorded %d), mode %d; want %d and mode 3", gotSeqno, sp.Seqno, mode, wantSeqno)
			}
			if msg.Amount.Nano().Int64() != int64(p.Amount) || msg.Bounce != tc.bounce || !msg.DstAddr.Equals(address.MustParseAddr(walletTestDest)) {
				t.Errorf("message: %s nanoTON to %s bounce %t", msg.Amount.Nano(), msg.DstAddr, msg.Bounce)
			}
			switch {
			case tc.payload && (msg.Body == nil || !bytes.Equal(msg.Body.ToBOC(), p.Payload)):
				t.Errorf("body changed: %v", msg.Body)
			case !tc.payload && msg.Body != nil && (msg.Body.BitsSize() != 0 || msg.Body.RefsNum() != 0):
				t.Errorf("body %v, want none", msg.Body)
			}
			// The transaction's in-message is ours.
			in := txs[0].IO.In
			if in.MsgType != tlb.MsgTypeExternalIn || hex.EncodeToString(in.AsExternalIn().NormalizedHash()) != sp.Hash {
				t.Errorf("transaction in-message is not the payout")
			}
		})
	}
}

func TestWallet_SendOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		step   time.Duration
		setup  func(f *fakeWalletAPI)
		record func(f *fakeWalletAPI) error
		state  shop.PayoutState
		reason string
		tx     bool // the result names a transaction
	}{
		{
			name:   "action phase failed",
			setup:  func(f *fakeWalletAPI) { f.Mode = execNoFunds },
			state:  shop.PayoutFailed,
			reason: "action phase failed, result code 37: not enough funds",
			tx:     true,
		},
		{
			name:   "action skipped",
			setup:  func(f *fakeWalletAPI) { f.Mode = execSkipped },
			state:  shop.PayoutFailed,
			reason: "no message sent",
			tx:     true,
		},
		{
			name:   "seqno used by another message",
			record: func(f *fakeWalletAPI) error { return f.Foreign() },
			state:  shop.PayoutExpired,
			reason: "seqno 7 used by another message",
		},
		{
			name:   "message expired",
			step:   7 * time.Second,
			setup:  func(f *fakeWalletAPI) { f.Mode = execNever },
			state:  shop.PayoutExpired,
			reason: "message expired",
		},
		{
			name:   "sent message is not the signed payment",
			step:   time.Second,
			setup:  func(f *fakeWalletAPI) { f.Mode = execAltered },
			state:  shop.PayoutFailed,
			reason: "sent no message paying",
			tx:     true,
		},
		{
			name:   "bounced by the destination",
			step:   time.Second,
			setup:  func(f *fakeWalletAPI) { f.Bounce = classicBounce },
			state:  shop.PayoutFailed,
			reason: "bounced back",
			tx:     true,
		},
		{
			name: "a bounce of another payment to the same address",
			step: time.Second,
			setup: func(f *fakeWalletAPI) {
				f.Bounce = func(sent *tlb.InternalMessage) *tlb.InternalMessage {
					other := *sent
					other.Body = cell.BeginCell().MustStoreUInt(0, 32).MustStoreStringSnake("50 Telegram Stars Ref#other").EndCell()
					return classicBounce(&other)
				}
			},
			state: shop.PayoutConfirmed,
			tx:    true,
		},
		{
			name:  "dropped, then lands after a re-broadcast",
			step:  3 * time.Second,
			setup: func(f *fakeWalletAPI) { f.Drop = 2 },
			state: shop.PayoutConfirmed,
			tx:    true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: tc.step}, WalletV4R2).Deployed(7, 10e9)
			w := newTestWallet(t, f, WalletV4R2)
			if tc.setup != nil {
				f.Set(tc.setup)
			}
			var sp *shop.SignedPayout
			record := func(ctx context.Context, p *shop.SignedPayout) error {
				sp = p
				if tc.record != nil {
					return tc.record(f)
				}
				return nil
			}
			res, err := w.Send(t.Context(), testPayout(t), record)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tc.state || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("result %+v, want %s with reason %q", res, tc.state, tc.reason)
			}
			sent, sentAt, txs, _, _ := f.Snapshot()
			var ours *tlb.Transaction
			for _, tx := range txs {
				if ext, ok := tx.IO.In.Msg.(*tlb.ExternalMessage); ok && hex.EncodeToString(ext.NormalizedHash()) == sp.Hash {
					ours = tx
				}
			}
			if tc.tx != (ours != nil) || (ours != nil && (res.TxHash != hex.EncodeToString(ours.Hash) || res.TxLT != ours.LT)) {
				t.Errorf("result names tx %q lt %d; payout transaction %v", res.TxHash, res.TxLT, ours)
			}
			for i, b := range sent {
				if !bytes.Equal(b, sp.BOC) {
					t.Errorf("broadcast %d is not the recorded message", i)
				}
				// The fake notes the clock after the wallet's own reading advanced it.
				if sentAt[i].After(sp.ValidUntil.Add(tc.step)) {
					t.Errorf("broadcast %d at %v, after valid_until %v", i, sentAt[i], sp.ValidUntil)
				}
			}
			if tc.name == "dropped, then lands after a re-broadcast" && len(sent) != 3 {
				t.Errorf("%d broadcasts, want 3", len(sent))
			}
		})
	}
}

func TestWallet_Resume(t *testing.T) {
	// A crash right after record: nothing broadcast.
	crash := func(t *testing.T, version string) (*fakeWalletAPI, *shop.SignedPayout) {
		f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version).Deployed(7, 10e9)
		w := newTestWallet(t, f, version)
		var sp *shop.SignedPayout
		if _, err := w.Send(t.Context(), testPayout(t), capture(&sp, errors.New("crash"))); err == nil {
			t.Fatal("Send succeeded")
		}
		return f, sp
	}

	t.Run("after a crash", func(t *testing.T) {
		for _, version := range walletVersions {
			t.Run(version, func(t *testing.T) {
				f, sp := crash(t, version)
				w := newTestWallet(t, f, version) // after the restart
				res, err := w.Resume(t.Context(), sp)
				if err != nil {
					t.Fatal(err)
				}
				sent, _, txs, _, seqnoCalls := f.Snapshot()
				if res.State != shop.PayoutConfirmed || len(txs) != 1 || res.TxHash != hex.EncodeToString(txs[0].Hash) {
					t.Errorf("result %+v", res)
				}
				if len(sent) != 1 || !bytes.Equal(sent[0], sp.BOC) {
					t.Errorf("re-broadcast %d messages, identical to the record: %t", len(sent), len(sent) == 1 && bytes.Equal(sent[0], sp.BOC))
				}
				if seqnoCalls != 1 { // the one of the first Send
					t.Errorf("seqno get-method called %d times", seqnoCalls)
				}
				// Resuming again finds it, without broadcasting.
				res2, err := w.Resume(t.Context(), sp)
				if err != nil || *res2 != *res {
					t.Errorf("second Resume = %+v, %v", res2, err)
				}
				if sent, _, _, _, _ := f.Snapshot(); len(sent) != 1 {
					t.Errorf("second Resume broadcast again")
				}
			})
		}
	})

	t.Run("rejects", func(t *testing.T) {
		f, sp := crash(t, WalletV4R2)
		_, other := crash(t, WalletV5R1)
		w := newTestWallet(t, f, WalletV4R2)
		bad := func(change func(sp *shop.SignedPayout)) *shop.SignedPayout {
			c := *sp
			change(&c)
			return &c
		}
		tests := []struct {
			name string
			sp   *shop.SignedPayout
			want string
		}{
			{"nil", nil, "nil signed payout"},
			{"another wallet's message", other, "not this wallet"},
			{"hash mismatch", bad(func(sp *shop.SignedPayout) { sp.Hash = other.Hash }), "hashes to"},
			{"seqno mismatch", bad(func(sp *shop.SignedPayout) { sp.Seqno++ }), "seqno"},
			{"valid until mismatch", bad(func(sp *shop.SignedPayout) { sp.ValidUntil = sp.ValidUntil.Add(time.Hour) }), "valid until"},
			{"garbage BOC", bad(func(sp *shop.SignedPayout) { sp.BOC = []byte("garbage") }), "BOC"},
			{"not an external message", bad(func(sp *shop.SignedPayout) { sp.BOC = cell.BeginCell().MustStoreUInt(0, 32).EndCell().ToBOC() }), "not an external message"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res, err := w.Resume(t.Context(), tc.sp)
				if err == nil || !strings.Contains(err.Error(), tc.want) || res != nil {
					t.Errorf("Resume = %v, %v; want an error about %q", res, err, tc.want)
				}
				if _, err := w.Check(t.Context(), tc.sp); err == nil {
					t.Errorf("Check accepted it")
				}
			})
		}
		if sent, _, _, _, _ := f.Snapshot(); len(sent) != 0 {
			t.Errorf("broadcast %d messages", len(sent))
		}
	})
}

func TestWallet_PendingUntilCancelled(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{T: walletT0}, WalletV4R2).Deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV4R2)
	f.Set(func(f *fakeWalletAPI) { f.Mode = execNever })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.Set(func(f *fakeWalletAPI) {
		f.OnAccount = func(n int) {
			if n == 5 { // Send's read, then a few checks
				cancel()
			}
		}
	})
	var sp *shop.SignedPayout
	res, err := w.Send(ctx, testPayout(t), capture(&sp, nil))
	if !errors.Is(err, context.Canceled) || res == nil || res.State != shop.PayoutPending {
		t.Fatalf("Send = %+v, %v; want pending and context.Canceled", res, err)
	}

	// Check looks without broadcasting.
	f.Set(func(f *fakeWalletAPI) { f.OnAccount = nil })
	sent, _, _, _, _ := f.Snapshot()
	res, err = w.Check(t.Context(), sp)
	if err != nil || res.State != shop.PayoutPending {
		t.Fatalf("Check = %+v, %v", res, err)
	}
	if again, _, _, _, _ := f.Snapshot(); len(again) != len(sent) {
		t.Errorf("Check broadcast")
	}
	// The message lands (another node had it): Check sees it.
	f.Set(func(f *fakeWalletAPI) {
		f.Mode = execOK
		if err := f.Execute(parseBOCExternal(t, sp.BOC)); err != nil {
			t.Fatal(err)
		}
	})
	// Within the bounce window it is pending with its transaction known;
	// after it, confirmed.
	res, err = w.Check(t.Context(), sp)
	if err != nil || res.State != shop.PayoutPending || res.TxHash == "" {
		t.Fatalf("Check in the bounce window = %+v, %v", res, err)
	}
	f.Clock.Advance(defaultBounceWindow)
	res, err = w.Check(t.Context(), sp)
	if err != nil || res.State != shop.PayoutConfirmed {
		t.Fatalf("Check = %+v, %v", res, err)
	}
}

// TestWallet_ExpiryNeedsChainTime: past valid_until by our clock is not
// enough while the liteserver's newest block is older: the message may
// have landed in a block it has not seen yet.
func TestWallet_ExpiryNeedsChainTime(t *testing.T) {
	clock := &walletClock{T: walletT0}
	f := newFakeWalletAPI(clock, WalletV4R2).Deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV4R2)
	var sp *shop.SignedPayout
	if _, err := w.Send(t.Context(), testPayout(t), capture(&sp, errors.New("crash"))); sp == nil {
		t.Fatalf("Send: %v", err)
	}
	clock.Advance(sp.ValidUntil.Add(2 * time.Minute).Sub(clock.Peek()))
	f.Set(func(f *fakeWalletAPI) { f.Lag = 10 * time.Minute })
	if res, err := w.Check(t.Context(), sp); err != nil || res.State != shop.PayoutPending {
		t.Fatalf("Check with a lagging liteserver = %+v, %v; want pending", res, err)
	}
	f.Set(func(f *fakeWalletAPI) { f.Lag = 0 })
	if res, err := w.Check(t.Context(), sp); err != nil || res.State != shop.PayoutExpired {
		t.Fatalf("Check = %+v, %v; want expired", res, err)
	}
}

func TestWallet_ConcurrentSendsSerialized(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletV5R1).Deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV5R1)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		seqnos  []uint32
		results []*shop.PayoutResult
	)
	for range 2 {
		wg.Go(func() {
			record := func(_ context.Context, sp *shop.SignedPayout) error {
				// The previous payout has landed before this one was signed.
				if _, _, _, seqno, _ := f.Snapshot(); seqno != sp.Seqno {
					t.Errorf("signed for seqno %d while the wallet is at %d", sp.Seqno, seqno)
				}
				mu.Lock()
				seqnos = append(seqnos, sp.Seqno)
				mu.Unlock()
				return nil
			}
			res, err := w.Send(t.Context(), testPayout(t), record)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(seqnos)
	if !slices.Equal(seqnos, []uint32{7, 8}) {
		t.Errorf("seqnos %v, want [7 8]", seqnos)
	}
	for _, res := range results {
		if res.State != shop.PayoutConfirmed {
			t.Errorf("result %+v", res)
		}
	}
	if _, _, txs, seqno, _ := f.Snapshot(); len(txs) != 2 || seqno != 9 {
		t.Errorf("%d transactions, seqno %d", len(txs), seqno)
	}
}

func TestNewWallet_BadInputs(t *testing.T) {
	words := strings.Fields(walletTestMnemonic)
	unknown := slices.Clone(words)
	unknown[5] = "zqxjv"
	tests := []struct {
		name string
		cfg  WalletConfig
		want string
	}{
		{"23 words", WalletConfig{Mnemonic: strings.Join(words[:23], " "), Version: WalletV4R2}, "has 23 words"},
		{"25 words", WalletConfig{Mnemonic: walletTestMnemonic + " abandon", Version: WalletV4R2}, "has 25 words"},
		{"unknown word", WalletConfig{Mnemonic: strings.Join(unknown, " "), Version: WalletV4R2}, "not a valid TON mnemonic"},
		{"bad checksum", WalletConfig{Mnemonic: strings.Repeat("abandon ", 24), Version: WalletV5R1}, "not a valid TON mnemonic"},
		{"unknown version", WalletConfig{Mnemonic: walletTestMnemonic, Version: "v3r2"}, `unknown wallet version "v3r2"`},
		{"no version", WalletConfig{Mnemonic: walletTestMnemonic}, "unknown wallet version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWallet(newFakeWalletAPI(&walletClock{}, tc.cfg.Version), tc.cfg)
			if err == nil || w != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewWallet = %v, %v; want an error about %q", w, err, tc.want)
			}
			leaked(t, err.Error(), tc.cfg.Mnemonic+" zqxjv")
		})
	}
	if _, err := NewWallet(nil, WalletConfig{Mnemonic: walletTestMnemonic, Version: WalletV4R2}); err == nil {
		t.Error("nil API accepted")
	}
	cfg := WalletConfig{Mnemonic: walletTestMnemonic, Version: WalletV4R2}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "wallet", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		leaked(t, s, walletTestMnemonic)
		if !strings.Contains(s, "v4r2") {
			t.Errorf("config renders as %q", s)
		}
	}
}

// leaked fails t if s contains a word of mnemonic as a word of its own.
func leaked(t *testing.T, s, mnemonic string) {
	t.Helper()
	tokens := strings.FieldsFunc(s, func(r rune) bool { return r < 'a' || r > 'z' })
	for _, word := range strings.Fields(mnemonic) {
		if slices.Contains(tokens, word) {
			t.Errorf("%q contains the mnemonic word %q", s, word)
		}
	}
}

func TestWallet_SendBadInputs(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *shop.Payout)
		want   string
	}{
		{"bad address", func(p *shop.Payout) { p.To = "UQ-not-an-address" }, "invalid TON address"},
		{"bad raw address", func(p *shop.Payout) { p.To = "0:xyz" }, "invalid raw TON address"},
		{"empty address", func(p *shop.Payout) { p.To = "" }, "invalid TON address"},
		{"zero amount", func(p *shop.Payout) { p.Amount = 0 }, "not positive"},
		{"negative amount", func(p *shop.Payout) { p.Amount = -1 }, "not positive"},
		{"garbage payload", func(p *shop.Payout) { p.Payload = []byte("te6cc garbage") }, "payload is not a valid BOC"},
		{"payee deadline too close", func(p *shop.Payout) { p.ValidUntil = walletT0.Add(5 * time.Second) }, "too soon to sign"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0}, WalletV4R2).Deployed(7, 10e9)
			w := newTestWallet(t, f, WalletV4R2)
			p := testPayout(t)
			tc.change(&p)
			called := false
			res, err := w.Send(t.Context(), p, func(context.Context, *shop.SignedPayout) error { called = true; return nil })
			if err == nil || res != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, %v; want an error about %q", res, err, tc.want)
			}
			if sent, _, _, _, seqnoCalls := f.Snapshot(); called || len(sent) != 0 || seqnoCalls != 0 {
				t.Errorf("signed or sent something")
			}
			leaked(t, err.Error(), walletTestMnemonic)
		})
	}
	t.Run("raw address accepted", func(t *testing.T) {
		f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletV4R2).Deployed(7, 10e9)
		w := newTestWallet(t, f, WalletV4R2)
		p := testPayout(t)
		p.To = address.MustParseAddr(walletTestDest).StringRaw()
		res, err := w.Send(t.Context(), p, func(context.Context, *shop.SignedPayout) error { return nil })
		if err != nil || res.State != shop.PayoutConfirmed {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	})
}

// TestWallet_SendPayeeDeadline: a payee's deadline earlier than the
// wallet's TTL is the message's valid_until (Fragment's validUntil).
func TestWallet_SendPayeeDeadline(t *testing.T) {
	for _, version := range []string{WalletV4R2, WalletV5R1} {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version).Deployed(7, 10e9)
			w := newTestWallet(t, f, version)
			p := testPayout(t)
			p.ValidUntil = walletT0.Add(45 * time.Second)
			var sp *shop.SignedPayout
			res, err := w.Send(t.Context(), p, capture(&sp, nil))
			if err != nil || res.State != shop.PayoutConfirmed {
				t.Fatalf("Send = %+v, %v", res, err)
			}
			_, validUntil, _, _, err := decodeWalletBody(version, parseBOCExternal(t, sp.BOC).Body)
			if err != nil || int64(validUntil) != p.ValidUntil.Unix() || !sp.ValidUntil.Equal(p.ValidUntil) {
				t.Errorf("signed valid until %d (recorded %v), want %v", validUntil, sp.ValidUntil, p.ValidUntil)
			}
			// A later deadline than the TTL leaves the TTL.
			p.ValidUntil = f.Clock.Peek().Add(time.Hour)
			if _, err := w.Send(t.Context(), p, capture(&sp, nil)); err != nil {
				t.Fatal(err)
			}
			if !sp.ValidUntil.Before(p.ValidUntil.Add(-time.Minute)) {
				t.Errorf("signed valid until %v, want the wallet's TTL", sp.ValidUntil)
			}
		})
	}
}

func TestWallet_Balance(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeWalletAPI)
		want  shop.NanoTON
	}{
		{"active", func(f *fakeWalletAPI) { f.Deployed(3, 3_500_000_001) }, 3_500_000_001},
		{"absent", func(f *fakeWalletAPI) {}, 0},
		{"funded, not deployed", func(f *fakeWalletAPI) { f.Exists, f.Balance = true, 2e9 }, 2e9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0}, WalletV5R1)
			tc.setup(f)
			w := newTestWallet(t, f, WalletV5R1)
			got, err := w.Balance(t.Context())
			if err != nil || got != tc.want {
				t.Errorf("Balance = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestWallet_DestinationDecides: where the payee's transaction of the
// payment is readable it decides at once (no bounce window): processed →
// confirmed, aborted → bounced, not yet processed → pending. Past what the
// search reads, the bounce window decides.
func TestWallet_DestinationDecides(t *testing.T) {
	dest := address.MustParseAddr(walletTestDest)
	tests := []struct {
		name   string
		dest   fakeDest
		state  shop.PayoutState
		bounce bool
		window bool // decided only after the bounce window
	}{
		{"processed", fakeDest{Traffic: 3}, shop.PayoutConfirmed, false, false},
		{"aborted", fakeDest{Abort: true}, shop.PayoutFailed, true, false},
		{"too busy to read", fakeDest{Traffic: 16*maxDestPages + 5}, shop.PayoutConfirmed, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletV4R2).Deployed(7, 10e9)
			w := newTestWallet(t, f, WalletV4R2)
			d := tc.dest
			d.Addr = dest
			f.Set(func(f *fakeWalletAPI) {
				f.Dest = &d
				// The destination is an active account with history.
				if err := d.Receive(&tlb.InternalMessage{SrcAddr: address.NewAddress(0, 0, make([]byte, 32)), DstAddr: dest, Amount: tlb.FromNanoTONU(1), CreatedLT: 1000, CreatedAt: uint32(walletT0.Unix())}, false); err != nil {
					t.Fatal(err)
				}
			})
			res, err := w.Send(t.Context(), testPayout(t), func(context.Context, *shop.SignedPayout) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tc.state || res.Bounced != tc.bounce || res.TxHash == "" {
				t.Fatalf("result %+v, want %s bounced %t", res, tc.state, tc.bounce)
			}
			t.Logf("decided after %v of simulated chain time", f.Clock.Peek().Sub(walletT0))
			if waited := f.Clock.Peek().Sub(walletT0); (waited >= defaultBounceWindow) != tc.window {
				t.Errorf("decided after %v of chain time; bounce window used %t, want %t", waited, waited >= defaultBounceWindow, tc.window)
			}
		})
	}
	t.Run("in transit", func(t *testing.T) {
		f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletV4R2).Deployed(7, 10e9)
		w := newTestWallet(t, f, WalletV4R2)
		d := &fakeDest{Addr: dest, Hold: true}
		f.Set(func(f *fakeWalletAPI) {
			f.Dest = d
			if err := d.Receive(&tlb.InternalMessage{SrcAddr: address.NewAddress(0, 0, make([]byte, 32)), DstAddr: dest, Amount: tlb.FromNanoTONU(1), CreatedLT: 1000, CreatedAt: uint32(walletT0.Unix())}, false); err != nil {
				t.Fatal(err)
			}
		})
		var sp *shop.SignedPayout
		ctx, cancel := context.WithCancel(t.Context())
		f.Set(func(f *fakeWalletAPI) {
			f.OnAccount = func(n int) {
				if n == 80 { // well past the bounce window
					cancel()
				}
			}
		})
		res, err := w.Send(ctx, testPayout(t), capture(&sp, nil))
		if !errors.Is(err, context.Canceled) || res.State != shop.PayoutPending {
			t.Fatalf("Send = %+v, %v; want pending while in transit", res, err)
		}
		// Past maxTransit the bounce window decides: no bounce came.
		f.Set(func(f *fakeWalletAPI) { f.OnAccount = nil })
		f.Clock.Advance(maxTransit)
		res, err = w.Check(t.Context(), sp)
		if err != nil || res.State != shop.PayoutConfirmed {
			t.Fatalf("Check = %+v, %v", res, err)
		}
	})
}
