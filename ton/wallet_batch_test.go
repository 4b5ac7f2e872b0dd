package ton

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

var allWalletVersions = []string{WalletV4R2, WalletV5R1, WalletHighloadV3}

// batchPayouts makes n payouts to dest, each with its own amount and
// Fragment-like payload.
func batchPayouts(t *testing.T, n int, dest string) []shop.Payout {
	t.Helper()
	ps := make([]shop.Payout, n)
	for i := range ps {
		body := cell.BeginCell().MustStoreUInt(0, 32).MustStoreStringSnake(fmt.Sprintf("50 Telegram Stars Ref#%06d", i)).EndCell()
		ps[i] = shop.Payout{To: dest, Amount: shop.NanoTON(100_000_000 + i), Payload: body.ToBOC(), Bounce: true}
	}
	return ps
}

// batchDest makes f's payee account readable (active, with history).
func batchDest(t *testing.T, f *fakeWalletAPI) *fakeDest {
	t.Helper()
	d := &fakeDest{Addr: address.MustParseAddr(walletTestDest)}
	f.Set(func(f *fakeWalletAPI) {
		f.Dest = d
		if err := d.Receive(&tlb.InternalMessage{SrcAddr: address.NewAddress(0, 0, make([]byte, 32)), DstAddr: d.Addr, Amount: tlb.FromNanoTONU(1), CreatedLT: 1000, CreatedAt: uint32(walletT0.Unix())}, false); err != nil {
			t.Fatal(err)
		}
	})
	return d
}

func captureBatch(sps *[]*shop.SignedPayout, err error) func(context.Context, []*shop.SignedPayout) error {
	return func(_ context.Context, got []*shop.SignedPayout) error {
		*sps = got
		return err
	}
}

// batchSize is the batch the tests send with version: its limit, or 50
// where the limit would make a test slow to read.
func batchSize(version string, full bool) int {
	if version == WalletV4R2 || full {
		return map[string]int{WalletV4R2: 4, WalletV5R1: 255, WalletHighloadV3: 253}[version]
	}
	return 50
}

// checkSigned decodes the recorded message as the contract would and
// checks it pays exactly ps, in order, and that the records describe it.
func checkSigned(t *testing.T, f *fakeWalletAPI, version string, sps []*shop.SignedPayout, ps []shop.Payout) {
	t.Helper()
	if len(sps) != len(ps) {
		t.Fatalf("%d records for %d payouts", len(sps), len(ps))
	}
	ext := parseBOCExternal(t, sps[0].BOC)
	fb, err := decodeWalletActions(version, ext.Body)
	if err != nil {
		t.Fatal(err)
	}
	actions := fb.Actions
	if version == WalletHighloadV3 && len(ps) > 1 {
		if len(actions) != 1 || !actions[0].Msg.DstAddr.Equals(f.Addr) {
			t.Fatalf("highload batch does not go through the wallet itself")
		}
		if actions, err = decodePack(actions[0].Msg, fb.QueryID); err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for _, a := range actions {
			sum += a.Msg.Amount.Nano().Uint64()
		}
		if got := fb.Actions[0].Msg.Amount.Nano().Uint64(); got < sum {
			t.Errorf("pack carries %d nanoTON for %d of payments", got, sum)
		}
	}
	if len(actions) != len(ps) {
		t.Fatalf("signed body has %d payments, want %d", len(actions), len(ps))
	}
	for i, a := range actions {
		p := ps[i]
		if a.Mode != 3 || !a.Msg.DstAddr.Equals(address.MustParseAddr(p.To)) || a.Msg.Amount.Nano().Int64() != int64(p.Amount) ||
			!bytes.Equal(a.Msg.Body.ToBOC(), p.Payload) || a.Msg.Bounce != p.Bounce {
			t.Errorf("payment %d: mode %d, %s nanoTON to %s, bounce %t; want %+v", i, a.Mode, a.Msg.Amount.Nano(), a.Msg.DstAddr, a.Msg.Bounce, p)
		}
	}
	for i, sp := range sps {
		if sp.Hash != sps[0].Hash || !bytes.Equal(sp.BOC, sps[0].BOC) || sp.Seqno != sps[0].Seqno || !sp.ValidUntil.Equal(sps[0].ValidUntil) ||
			sp.QueryID != sps[0].QueryID || !sp.CreatedAt.Equal(sps[0].CreatedAt) || !sp.SignedAt.Equal(sps[0].SignedAt) {
			t.Errorf("record %d is not of the same message", i)
		}
		if sp.Index != i || sp.To != ps[i].To || sp.Amount != ps[i].Amount || sp.BodyHash != bodyHash(actions[i].Msg.Body) {
			t.Errorf("record %d: index %d, %s to %s body %s", i, sp.Index, sp.Amount, sp.To, sp.BodyHash)
		}
	}
	switch version {
	case WalletHighloadV3:
		if sps[0].Seqno != 0 || sps[0].QueryID != fb.QueryID || sps[0].CreatedAt.Unix() != int64(fb.CreatedAt) ||
			!sps[0].ValidUntil.Equal(sps[0].CreatedAt.Add(HighloadV3Timeout)) {
			t.Errorf("record: seqno %d, query id %d created %v valid until %v; body: query id %d created %d", sps[0].Seqno, sps[0].QueryID, sps[0].CreatedAt, sps[0].ValidUntil, fb.QueryID, fb.CreatedAt)
		}
	default:
		if sps[0].Seqno != fb.Seqno || sps[0].ValidUntil.Unix() != int64(fb.ValidUntil) || sps[0].QueryID != 0 || !sps[0].CreatedAt.IsZero() {
			t.Errorf("record: seqno %d valid until %v, body: %d and %d", sps[0].Seqno, sps[0].ValidUntil, fb.Seqno, fb.ValidUntil)
		}
	}
}

func TestWallet_BatchLimit(t *testing.T) {
	for version, want := range map[string]int{WalletV4R2: 4, WalletV5R1: 255, WalletHighloadV3: 253} {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0}, version).Deployed(7, 1000e9)
			w := newTestWallet(t, f, version)
			if got := w.BatchLimit(); got != want {
				t.Fatalf("BatchLimit = %d, want %d", got, want)
			}
			called := false
			res, err := w.SendBatch(t.Context(), batchPayouts(t, want+1, walletTestDest), func(context.Context, []*shop.SignedPayout) error { called = true; return nil })
			if !errors.Is(err, ErrBatchTooLarge) || res != nil {
				t.Fatalf("SendBatch of %d = %v, %v; want ErrBatchTooLarge", want+1, res, err)
			}
			if sent, _, _, _, seqnoCalls := f.Snapshot(); called || len(sent) != 0 || seqnoCalls != 0 {
				t.Errorf("signed or sent something")
			}
		})
	}
}

// TestWallet_SendBatch: a full batch of each version is one message whose
// signed body decodes to the expected payments, recorded once, and every
// payout is confirmed by its own out-message and its payee's transaction.
func TestWallet_SendBatch(t *testing.T) {
	for _, version := range allWalletVersions {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version).Deployed(7, 1000e9)
			w := newTestWallet(t, f, version)
			d := batchDest(t, f)
			ps := batchPayouts(t, batchSize(version, true), walletTestDest)
			var sps []*shop.SignedPayout
			calls := 0
			res, err := w.SendBatch(t.Context(), ps, func(ctx context.Context, got []*shop.SignedPayout) error {
				calls++
				if sent, _, _, _, _ := f.Snapshot(); len(sent) != 0 {
					t.Errorf("broadcast before record")
				}
				sps = got
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Errorf("record called %d times", calls)
			}
			checkSigned(t, f, version, sps, ps)
			sent, _, txs, seqno, _ := f.Snapshot()
			if len(sent) != 1 || !bytes.Equal(sent[0], sps[0].BOC) {
				t.Errorf("%d broadcasts", len(sent))
			}
			wantTxs := 1
			if version == WalletHighloadV3 {
				wantTxs = 2 // the external, then the pack
			} else if seqno != 8 {
				t.Errorf("seqno %d, want 8", seqno)
			}
			if len(txs) != wantTxs {
				t.Fatalf("%d wallet transactions, want %d", len(txs), wantTxs)
			}
			payTx := txs[len(txs)-1]
			if int(payTx.OutMsgCount) != len(ps) {
				t.Errorf("paying transaction sent %d messages", payTx.OutMsgCount)
			}
			for i, r := range res {
				if r.State != shop.PayoutConfirmed || r.TxLT != payTx.LT || r.Bounced {
					t.Errorf("payout %d: %+v", i, r)
				}
			}
			if len(d.Txs) != len(ps)+1 {
				t.Errorf("payee has %d transactions", len(d.Txs))
			}
			if got := f.Clock.Peek().Sub(walletT0); got >= defaultBounceWindow {
				t.Errorf("decided after %v of chain time: the payee's transactions should decide", got)
			}
		})
	}
}

// TestWallet_SendBatchDeploys: the first batch of an uninit wallet carries
// its StateInit.
func TestWallet_SendBatchDeploys(t *testing.T) {
	for _, version := range allWalletVersions {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version)
			f.Exists, f.Balance = true, 10e9
			w := newTestWallet(t, f, version)
			batchDest(t, f)
			var sps []*shop.SignedPayout
			res, err := w.SendBatch(t.Context(), batchPayouts(t, 3, walletTestDest), captureBatch(&sps, nil))
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if r.State != shop.PayoutConfirmed {
					t.Errorf("payout %d: %+v", i, r)
				}
			}
			if parseBOCExternal(t, sps[0].BOC).StateInit == nil {
				t.Error("no StateInit")
			}
		})
	}
}

// TestWallet_BatchPartialFunds: the balance drops between signing and
// execution (another spend); the wallet skips what it cannot pay (+2)
// and only those payouts fail. A highload_v3 pack carries its own value,
// so there the pack itself is skipped and the whole batch fails, unpaid.
func TestWallet_BatchPartialFunds(t *testing.T) {
	for _, version := range allWalletVersions {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version).Deployed(7, 10e9)
			w := newTestWallet(t, f, version)
			batchDest(t, f)
			ps := batchPayouts(t, 4, walletTestDest)
			var sum uint64
			for _, p := range ps[:3] {
				sum += uint64(p.Amount)
			}
			res, err := w.SendBatch(t.Context(), ps, func(context.Context, []*shop.SignedPayout) error {
				f.Set(func(f *fakeWalletAPI) { f.Balance = sum + 50_000_000 }) // 3 and a bit
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			_, _, txs, _, _ := f.Snapshot()
			if version == WalletHighloadV3 {
				if len(txs) != 1 {
					t.Fatalf("%d transactions, want the external only", len(txs))
				}
				for i, r := range res {
					if r.State != shop.PayoutFailed || !strings.Contains(r.Reason, "skipped") {
						t.Errorf("payout %d: %+v; want failed, pack skipped", i, r)
					}
				}
				return
			}
			for i, r := range res[:3] {
				if r.State != shop.PayoutConfirmed {
					t.Errorf("payout %d: %+v", i, r)
				}
			}
			if r := res[3]; r.State != shop.PayoutFailed || r.Bounced || !strings.Contains(r.Reason, "1 of 4 actions skipped") || r.TxHash == "" {
				t.Errorf("payout 3: %+v; want failed, skipped", r)
			}
			if txs[0].OutMsgCount != 3 {
				t.Errorf("%d messages sent", txs[0].OutMsgCount)
			}
		})
	}
}

// TestWallet_BatchOneBounces: one payee's transaction aborts and its
// payment bounces; only that payout fails (bounced), the others confirm.
func TestWallet_BatchOneBounces(t *testing.T) {
	for _, version := range allWalletVersions {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version).Deployed(7, 100e9)
			w := newTestWallet(t, f, version)
			d := batchDest(t, f)
			ps := batchPayouts(t, batchSize(version, false), walletTestDest)
			bad := tlb.FromNanoTONU(uint64(ps[2].Amount)).Nano()
			d.AbortIf = func(m *tlb.InternalMessage) bool { return m.Amount.Nano().Cmp(bad) == 0 }
			f.Set(func(f *fakeWalletAPI) {
				f.Bounce = func(m *tlb.InternalMessage) *tlb.InternalMessage {
					if d.AbortIf(m) {
						return classicBounce(m)
					}
					return nil
				}
			})
			res, err := w.SendBatch(t.Context(), ps, func(context.Context, []*shop.SignedPayout) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				want := shop.PayoutConfirmed
				if i == 2 {
					want = shop.PayoutFailed
				}
				if r.State != want || r.Bounced != (i == 2) {
					t.Errorf("payout %d: %+v, want %s", i, r, want)
				}
			}
		})
	}
	// Where the payees' histories cannot be read, the bounces in the
	// wallet's own history decide, after the bounce window: only the
	// bounced payment's payee matches.
	t.Run("bounce window", func(t *testing.T) {
		f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletV5R1).Deployed(7, 100e9)
		w := newTestWallet(t, f, WalletV5R1)
		ps := batchPayouts(t, 5, walletTestDest)
		for i := range ps {
			ps[i].To = address.NewAddress(0, 0, bytes.Repeat([]byte{byte(i + 1)}, 32)).String()
		}
		badTo := address.MustParseAddr(ps[1].To)
		f.Set(func(f *fakeWalletAPI) {
			f.Bounce = func(m *tlb.InternalMessage) *tlb.InternalMessage {
				if m.DstAddr.Equals(badTo) {
					return classicBounce(m)
				}
				return nil
			}
		})
		res, err := w.SendBatch(t.Context(), ps, func(context.Context, []*shop.SignedPayout) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if (i == 1) != (r.State == shop.PayoutFailed && r.Bounced) || (i != 1 && r.State != shop.PayoutConfirmed) {
				t.Errorf("payout %d: %+v", i, r)
			}
		}
	})
}

// TestWallet_BatchUnaffordable: a batch costing more than the balance (with
// fee reserves) is refused before signing; what is in flight counts.
func TestWallet_BatchUnaffordable(t *testing.T) {
	for _, version := range allWalletVersions {
		t.Run(version, func(t *testing.T) {
			ps := batchPayouts(t, 4, walletTestDest)
			f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version)
			w := newTestWallet(t, f, version)
			cost := w.BatchCost(ps)
			var sum shop.NanoTON
			for _, p := range ps {
				sum += p.Amount
			}
			if want := sum + 4*DefaultFeeReserve + batchFeeReserve; cost != want {
				t.Fatalf("BatchCost = %d, want %d", cost, want)
			}
			f.Deployed(7, uint64(cost-1))
			called := false
			res, err := w.SendBatch(t.Context(), ps, func(context.Context, []*shop.SignedPayout) error { called = true; return nil })
			if !errors.Is(err, ErrBatchUnaffordable) || res != nil {
				t.Fatalf("SendBatch = %v, %v; want ErrBatchUnaffordable", res, err)
			}
			if sent, _, _, _, seqnoCalls := f.Snapshot(); called || len(sent) != 0 || seqnoCalls != 0 {
				t.Errorf("signed or sent something")
			}
			// Exactly affordable: signed. While its message is in flight
			// (lost broadcasts), Balance leaves out its cost and another
			// batch is refused.
			f.Set(func(f *fakeWalletAPI) { f.Balance, f.Mode = uint64(cost)+uint64(w.BatchCost(ps[:1]))-1, execNever })
			ctx, cancel := context.WithCancel(t.Context())
			var sps []*shop.SignedPayout
			done := make(chan struct{})
			go func() {
				defer close(done)
				if _, err := w.SendBatch(ctx, ps, captureBatch(&sps, nil)); !errors.Is(err, context.Canceled) {
					t.Errorf("SendBatch: %v", err)
				}
			}()
			for {
				if sent, _, _, _, _ := f.Snapshot(); len(sent) > 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if b, err := w.Balance(t.Context()); err != nil || b != w.BatchCost(ps[:1])-1 {
				t.Errorf("Balance = %d, %v; want %d", b, err, w.BatchCost(ps[:1])-1)
			}
			if version == WalletHighloadV3 { // seqno wallets would wait for the seqno
				if _, err := w.SendBatch(t.Context(), ps[:1], captureBatch(new([]*shop.SignedPayout), nil)); !errors.Is(err, ErrBatchUnaffordable) {
					t.Errorf("second batch: %v; want ErrBatchUnaffordable", err)
				}
			}
			cancel()
			<-done
		})
	}
}

// TestWallet_BatchCrash: a kill between sign and record, between record
// and broadcast, and after broadcast before confirmation. After the
// restart (a new Wallet) ResumeBatch re-broadcasts the recorded message,
// never signs, and every payout is paid exactly once.
func TestWallet_BatchCrash(t *testing.T) {
	for _, version := range allWalletVersions {
		t.Run(version, func(t *testing.T) {
			setup := func(t *testing.T) (*fakeWalletAPI, *Wallet, []shop.Payout) {
				f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, version).Deployed(7, 100e9)
				w := newTestWallet(t, f, version)
				batchDest(t, f)
				return f, w, batchPayouts(t, batchSize(version, false), walletTestDest)
			}
			// exactlyOnce checks that the chain executed one message, the
			// recorded one, and paid each payout once.
			exactlyOnce := func(t *testing.T, f *fakeWalletAPI, sps []*shop.SignedPayout, res []*shop.PayoutResult) {
				t.Helper()
				sent, _, _, _, _ := f.Snapshot()
				for i, b := range sent {
					if !bytes.Equal(b, sps[0].BOC) {
						t.Errorf("broadcast %d is not the recorded message", i)
					}
				}
				var executed, paid int
				f.Set(func(f *fakeWalletAPI) { executed, paid = len(f.Executed), len(f.Dest.Txs)-1 })
				if executed != 1 || paid != len(sps) {
					t.Errorf("%d messages executed, %d payments received; want 1 and %d", executed, paid, len(sps))
				}
				for i, r := range res {
					if r.State != shop.PayoutConfirmed {
						t.Errorf("payout %d: %+v", i, r)
					}
				}
			}

			t.Run("between sign and record", func(t *testing.T) {
				f, w, ps := setup(t)
				var sps []*shop.SignedPayout
				killed := errors.New("killed")
				if _, err := w.SendBatch(t.Context(), ps, captureBatch(&sps, killed)); !errors.Is(err, killed) {
					t.Fatalf("SendBatch: %v", err)
				}
				if sent, _, txs, _, _ := f.Snapshot(); len(sent) != 0 || len(txs) != 0 {
					t.Fatalf("broadcast after a failed record")
				}
				// Nothing was recorded: the orders are sent again, a new
				// message; the unrecorded one never went out.
				w = newTestWallet(t, f, version)
				var again []*shop.SignedPayout
				res, err := w.SendBatch(t.Context(), ps, captureBatch(&again, nil))
				if err != nil {
					t.Fatal(err)
				}
				exactlyOnce(t, f, again, res)
			})

			t.Run("between record and broadcast", func(t *testing.T) {
				f, w, ps := setup(t)
				var sps []*shop.SignedPayout
				// The record is durable, then the process dies: from the
				// wallet's side, record "fails" after saving.
				if _, err := w.SendBatch(t.Context(), ps, captureBatch(&sps, errors.New("killed"))); err == nil {
					t.Fatal("SendBatch succeeded")
				}
				_, _, _, _, seqnoCalls := f.Snapshot()
				w = newTestWallet(t, f, version)
				res, err := w.ResumeBatch(t.Context(), sps)
				if err != nil {
					t.Fatal(err)
				}
				exactlyOnce(t, f, sps, res)
				if sent, _, _, _, calls := f.Snapshot(); len(sent) != 1 || calls != seqnoCalls {
					t.Errorf("%d broadcasts, %d more seqno reads", len(sent), calls-seqnoCalls)
				}
			})

			t.Run("after broadcast before confirmation", func(t *testing.T) {
				f, w, ps := setup(t)
				ctx, cancel := context.WithCancel(t.Context())
				var sps []*shop.SignedPayout
				record := func(_ context.Context, got []*shop.SignedPayout) error {
					sps = got
					f.Set(func(f *fakeWalletAPI) {
						f.OnAccount = func(int) { cancel() } // killed at the first check
					})
					return nil
				}
				res, err := w.SendBatch(ctx, ps, record)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("SendBatch = %v", err)
				}
				for i, r := range res {
					if r.State != shop.PayoutPending {
						t.Errorf("payout %d: %+v", i, r)
					}
				}
				f.Set(func(f *fakeWalletAPI) { f.OnAccount = nil })
				w = newTestWallet(t, f, version)
				res, err = w.ResumeBatch(t.Context(), sps)
				if err != nil {
					t.Fatal(err)
				}
				exactlyOnce(t, f, sps, res)
				if sent, _, _, _, _ := f.Snapshot(); len(sent) != 1 {
					t.Errorf("%d broadcasts; a landed message is not sent again", len(sent))
				}
			})

			t.Run("broadcast lost, then crash", func(t *testing.T) {
				f, w, ps := setup(t)
				f.Set(func(f *fakeWalletAPI) { f.Drop = 1 })
				ctx, cancel := context.WithCancel(t.Context())
				var sps []*shop.SignedPayout
				record := func(_ context.Context, got []*shop.SignedPayout) error {
					sps = got
					f.Set(func(f *fakeWalletAPI) { f.OnAccount = func(int) { cancel() } })
					return nil
				}
				if _, err := w.SendBatch(ctx, ps, record); !errors.Is(err, context.Canceled) {
					t.Fatalf("SendBatch = %v", err)
				}
				f.Set(func(f *fakeWalletAPI) { f.OnAccount = nil })
				w = newTestWallet(t, f, version)
				res, err := w.ResumeBatch(t.Context(), sps)
				if err != nil {
					t.Fatal(err)
				}
				exactlyOnce(t, f, sps, res)
				if sent, _, _, _, _ := f.Snapshot(); len(sent) != 2 {
					t.Errorf("%d broadcasts, want the lost one and one re-broadcast", len(sent))
				}
			})

			t.Run("resume some of the payouts", func(t *testing.T) {
				f, w, ps := setup(t)
				var sps []*shop.SignedPayout
				if _, err := w.SendBatch(t.Context(), ps, captureBatch(&sps, errors.New("killed"))); err == nil {
					t.Fatal("SendBatch succeeded")
				}
				w = newTestWallet(t, f, version)
				sub := []*shop.SignedPayout{sps[3], sps[1]}
				res, err := w.ResumeBatch(t.Context(), sub)
				if err != nil || len(res) != 2 || res[0].State != shop.PayoutConfirmed || res[1].State != shop.PayoutConfirmed {
					t.Fatalf("ResumeBatch = %v, %v", res, err)
				}
				// The rest are then found without broadcasting.
				res, err = w.ResumeBatch(t.Context(), sps)
				if err != nil {
					t.Fatal(err)
				}
				exactlyOnce(t, f, sps, res)
			})
		})
	}
}

func TestWallet_ResumeBatchRejects(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletV5R1).Deployed(7, 100e9)
	w := newTestWallet(t, f, WalletV5R1)
	var sps, other []*shop.SignedPayout
	ps := batchPayouts(t, 3, walletTestDest)
	if _, err := w.SendBatch(t.Context(), ps, captureBatch(&sps, errors.New("stop"))); err == nil {
		t.Fatal("SendBatch succeeded")
	}
	if _, err := w.SendBatch(t.Context(), ps[:2], captureBatch(&other, errors.New("stop"))); err == nil {
		t.Fatal("SendBatch succeeded")
	}
	change := func(i int, fn func(sp *shop.SignedPayout)) []*shop.SignedPayout {
		c := make([]*shop.SignedPayout, len(sps))
		for j, sp := range sps {
			cp := *sp
			c[j] = &cp
		}
		fn(c[i])
		return c
	}
	tests := []struct {
		name string
		sps  []*shop.SignedPayout
		want string
	}{
		{"none", nil, "no signed payouts"},
		{"two messages", []*shop.SignedPayout{sps[0], other[1]}, "not of one message"},
		{"amount changed", change(1, func(sp *shop.SignedPayout) { sp.Amount++ }), "makes no payment"},
		{"destination changed", change(2, func(sp *shop.SignedPayout) { sp.To = walletTestDestOther }), "makes no payment"},
		{"body changed", change(0, func(sp *shop.SignedPayout) { sp.BodyHash = "" }), "makes no payment"},
		{"no destination in a batch", change(0, func(sp *shop.SignedPayout) { sp.To, sp.Amount, sp.BodyHash = "", 0, "" }), "cannot tell which"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := w.ResumeBatch(t.Context(), tc.sps)
			if err == nil || !strings.Contains(err.Error(), tc.want) || res != nil {
				t.Errorf("ResumeBatch = %v, %v; want an error about %q", res, err, tc.want)
			}
		})
	}
	if sent, _, _, _, _ := f.Snapshot(); len(sent) != 0 {
		t.Errorf("broadcast %d messages", len(sent))
	}
	// A one-payment record without To (an older record, or a store that
	// does not keep it) is resolved from its message.
	var one []*shop.SignedPayout
	if _, err := w.SendBatch(t.Context(), ps[:1], captureBatch(&one, errors.New("stop"))); err == nil {
		t.Fatal("SendBatch succeeded")
	}
	legacy := *one[0]
	legacy.To, legacy.Amount, legacy.BodyHash = "", 0, ""
	if res, err := w.Resume(t.Context(), &legacy); err != nil || res.State != shop.PayoutConfirmed {
		t.Fatalf("Resume of a legacy record = %+v, %v", res, err)
	}
}

const walletTestDestOther = "UQBKgXCNLPexWhs2L79kiARR1phGH1LwXxRbNsCFF9doczSI"

// TestWallet_SeqnoGateReleasedEarly: a seqno wallet signs its next batch
// as soon as the previous message's seqno is spent, while that batch is
// still waiting out its bounce window: the mutex is not held meanwhile.
func TestWallet_SeqnoGateReleasedEarly(t *testing.T) {
	clock := &walletClock{T: walletT0}
	f := newFakeWalletAPI(clock, WalletV5R1).Deployed(7, 100e9)
	w := newTestWallet(t, f, WalletV5R1)
	first := make(chan []*shop.PayoutResult, 1)
	go func() {
		res, err := w.SendBatch(t.Context(), batchPayouts(t, 3, walletTestDest), func(context.Context, []*shop.SignedPayout) error { return nil })
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	for { // the first message lands; its payouts wait for the bounce window
		if _, _, txs, _, _ := f.Snapshot(); len(txs) == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	signed := make(chan uint32, 1)
	second := make(chan []*shop.PayoutResult, 1)
	go func() {
		ps := batchPayouts(t, 2, walletTestDestOther)
		res, err := w.SendBatch(t.Context(), ps, func(_ context.Context, sps []*shop.SignedPayout) error { signed <- sps[0].Seqno; return nil })
		if err != nil {
			t.Error(err)
		}
		second <- res
	}()
	select {
	case seqno := <-signed:
		if seqno != 8 {
			t.Errorf("second batch signed for seqno %d", seqno)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second batch not signed while the first waits for bounces")
	}
	select {
	case <-first:
		t.Fatal("first batch finished before its bounce window")
	default:
	}
	for { // the second lands too, then both bounce windows pass
		if _, _, txs, _, _ := f.Snapshot(); len(txs) == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	clock.Advance(defaultBounceWindow)
	for _, res := range [][]*shop.PayoutResult{<-first, <-second} {
		for i, r := range res {
			if r.State != shop.PayoutConfirmed {
				t.Errorf("payout %d: %+v", i, r)
			}
		}
	}
}

// TestWallet_SeqnoGateWaitsForExpiry: a message whose wait was abandoned
// (ctx ended) still holds its seqno: the next batch is signed only once
// it is expired by chain time, and then for the same seqno.
func TestWallet_SeqnoGateWaitsForExpiry(t *testing.T) {
	clock := &walletClock{T: walletT0}
	f := newFakeWalletAPI(clock, WalletV4R2).Deployed(7, 100e9)
	w := newTestWallet(t, f, WalletV4R2)
	f.Set(func(f *fakeWalletAPI) { f.Mode = execNever })
	ctx, cancel := context.WithCancel(t.Context())
	var old []*shop.SignedPayout
	record := func(_ context.Context, sps []*shop.SignedPayout) error {
		old = sps
		f.Set(func(f *fakeWalletAPI) { f.OnAccount = func(int) { cancel() } })
		return nil
	}
	if _, err := w.SendBatch(ctx, batchPayouts(t, 2, walletTestDest), record); !errors.Is(err, context.Canceled) {
		t.Fatalf("SendBatch: %v", err)
	}
	f.Set(func(f *fakeWalletAPI) { f.OnAccount, f.Mode = nil, execOK })
	signed := make(chan *shop.SignedPayout, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := w.SendBatch(t.Context(), batchPayouts(t, 1, walletTestDestOther), func(_ context.Context, sps []*shop.SignedPayout) error { signed <- sps[0]; return nil })
		if err != nil || res[0].State != shop.PayoutConfirmed {
			t.Errorf("SendBatch = %v, %v", res, err)
		}
	}()
	defer func() {
		for range 5000 { // it lands, then its bounce window passes
			if _, _, txs, _, _ := f.Snapshot(); len(txs) == 1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		clock.Advance(defaultBounceWindow)
		<-done
	}()
	select {
	case <-signed:
		t.Fatal("signed while the previous message may still land")
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(old[0].ValidUntil.Sub(clock.Peek()) + clockSkew + time.Second)
	select {
	case sp := <-signed:
		if sp.Seqno != old[0].Seqno {
			t.Errorf("signed for seqno %d, want %d (the expired message's)", sp.Seqno, old[0].Seqno)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not signed after the previous message expired")
	}
	// The old message can never land now.
	f.Set(func(f *fakeWalletAPI) {
		if err := f.Execute(parseBOCExternal(t, old[0].BOC)); err == nil {
			t.Error("the expired message executed")
		}
	})
}

// TestWallet_HighloadParallel: highload_v3 messages do not queue: a batch
// is signed while another is unconfirmed, with its own query id; an
// unexecuted message expires at created_at + timeout by chain time.
func TestWallet_HighloadParallel(t *testing.T) {
	clock := &walletClock{T: walletT0}
	f := newFakeWalletAPI(clock, WalletHighloadV3).Deployed(0, 100e9)
	w := newTestWallet(t, f, WalletHighloadV3)
	f.Set(func(f *fakeWalletAPI) { f.Mode = execNever })
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(t.Context())
	recs := make([][]*shop.SignedPayout, 3)
	for i := range recs {
		wg.Go(func() {
			ps := batchPayouts(t, 2, walletTestDest)
			ps[0].Amount += shop.NanoTON(1000 * i) // distinct messages
			if _, err := w.SendBatch(ctx, ps, captureBatch(&recs[i], nil)); !errors.Is(err, context.Canceled) {
				t.Errorf("SendBatch: %v", err)
			}
		})
	}
	for {
		if sent, _, _, _, _ := f.Snapshot(); len(sent) >= 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	wg.Wait()
	ids := map[uint32]bool{}
	for _, r := range recs {
		ids[r[0].QueryID] = true
		if r[0].Seqno != 0 || !r[0].ValidUntil.Equal(r[0].CreatedAt.Add(HighloadV3Timeout)) || r[0].CreatedAt.After(walletT0) {
			t.Errorf("record %+v", r[0])
		}
	}
	if len(ids) != 3 {
		t.Errorf("query ids %v, want 3 distinct", ids)
	}
	// One lands; one is never executed and expires; a replay of the
	// landed one is refused by the contract.
	f.Set(func(f *fakeWalletAPI) {
		f.Mode = execOK
		if err := f.Execute(parseBOCExternal(t, recs[0][0].BOC)); err != nil {
			t.Fatal(err)
		}
		if err := f.Execute(parseBOCExternal(t, recs[0][0].BOC)); err == nil {
			t.Error("a query id executed twice")
		}
	})
	clock.Advance(defaultBounceWindow)
	if res, err := w.Check(t.Context(), recs[0][1]); err != nil || res.State != shop.PayoutConfirmed {
		t.Errorf("Check landed = %+v, %v", res, err)
	}
	if res, err := w.Check(t.Context(), recs[1][0]); err != nil || res.State != shop.PayoutPending {
		t.Errorf("Check unexecuted, valid = %+v, %v", res, err)
	}
	clock.Advance(recs[1][0].ValidUntil.Sub(clock.Peek()) + clockSkew + time.Second)
	if res, err := w.Check(t.Context(), recs[1][0]); err != nil || res.State != shop.PayoutExpired {
		t.Errorf("Check unexecuted, past created_at + timeout = %+v, %v", res, err)
	}
	f.Set(func(f *fakeWalletAPI) {
		if err := f.Execute(parseBOCExternal(t, recs[1][0].BOC)); err == nil {
			t.Error("an expired message executed")
		}
	})
}

// TestWallet_HighloadPayeeDeadline: a payee deadline earlier than the
// timeout backdates created_at so that the message expires by it.
func TestWallet_HighloadPayeeDeadline(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{T: walletT0, Step: time.Second}, WalletHighloadV3).Deployed(0, 100e9)
	w := newTestWallet(t, f, WalletHighloadV3)
	ps := batchPayouts(t, 2, walletTestDest)
	ps[1].ValidUntil = walletT0.Add(45 * time.Second)
	var sps []*shop.SignedPayout
	res, err := w.SendBatch(t.Context(), ps, captureBatch(&sps, nil))
	if err != nil || res[0].State != shop.PayoutConfirmed || res[1].State != shop.PayoutConfirmed {
		t.Fatalf("SendBatch = %v, %v", res, err)
	}
	if !sps[0].ValidUntil.Equal(ps[1].ValidUntil) {
		t.Errorf("valid until %v, want %v", sps[0].ValidUntil, ps[1].ValidUntil)
	}
}

func TestWallet_SendBatchBadInputs(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{T: walletT0}, WalletV5R1).Deployed(7, 100e9)
	w := newTestWallet(t, f, WalletV5R1)
	ps := batchPayouts(t, 3, walletTestDest)
	dup := append(batchPayouts(t, 2, walletTestDest), ps[1])
	bad := batchPayouts(t, 3, walletTestDest)
	bad[2].Amount = 0
	for name, tc := range map[string]struct {
		ps   []shop.Payout
		want string
	}{
		"empty":       {nil, "empty batch"},
		"duplicate":   {dup, "payouts 1 and 2 pay the same amount"},
		"one invalid": {bad, "payout 2: ton: payout amount 0"},
	} {
		t.Run(name, func(t *testing.T) {
			called := false
			res, err := w.SendBatch(t.Context(), tc.ps, func(context.Context, []*shop.SignedPayout) error { called = true; return nil })
			if err == nil || res != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SendBatch = %v, %v; want an error about %q", res, err, tc.want)
			}
			if sent, _, _, _, seqnoCalls := f.Snapshot(); called || len(sent) != 0 || seqnoCalls != 0 {
				t.Errorf("signed or sent something")
			}
		})
	}
	if _, err := w.SendBatch(t.Context(), ps, nil); err == nil {
		t.Error("nil record accepted")
	}
}
