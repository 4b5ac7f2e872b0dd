package walletchain_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
	"starsbot/ton"
	"starsbot/ton/tontest/walletchain"
)

// testMnemonic is the ton package's test mnemonic; it holds no funds.
const testMnemonic = "orphan close bulk misery later setup skate develop inspire pole item ring climb puzzle quote roof orphan olympic guitar field word slender exit mirror"

const payee = "EQCFJEP4WZ_mpdo0_kMEmsTgvrMHG7K_tWY16pQhKHwoOoy2"

// TestChain_RealTime: in the real-time mode a message signed by the real
// ton.Wallet is accepted and executed later; the same message broadcast
// twice before that executes once (the contract refuses the second: its
// seqno is spent), and once executed a third broadcast is refused at
// once. The payee is told of the payment once, with the signed message.
func TestChain_RealTime(t *testing.T) {
	chain := walletchain.New(walletchain.RealClock(), walletchain.V5R1).Deployed(7, 100e9)
	w, err := ton.NewWallet(chain, ton.WalletConfig{Mnemonic: testMnemonic, Version: ton.WalletV5R1})
	if err != nil {
		t.Fatal(err)
	}
	w.PollInterval, w.Logger = time.Millisecond, slog.New(slog.DiscardHandler)
	var received [][]byte
	chain.Set(func(c *walletchain.Chain) {
		c.Addr = address.MustParseAddr(w.Address())
		c.ConfirmAfter = 200 * time.Millisecond
		c.Dest = &walletchain.Dest{Addr: address.MustParseAddr(payee), OnReceive: func(ext []byte, m *tlb.InternalMessage) {
			received = append(received, ext)
		}}
	})
	body, err := wallet.CreateCommentCell("Ref#7F3K2Q")
	if err != nil {
		t.Fatal(err)
	}
	p := shop.Payout{To: payee, Amount: 1e9, Payload: body.ToBOC(), Bounce: true}
	var sp *shop.SignedPayout
	crash := errors.New("crash before the broadcast")
	if _, err := w.Send(t.Context(), p, func(_ context.Context, s *shop.SignedPayout) error { sp = s; return crash }); !errors.Is(err, crash) {
		t.Fatalf("Send = %v, want the record error", err)
	}
	c, err := cell.FromBOC(sp.BOC)
	if err != nil {
		t.Fatal(err)
	}
	var msg tlb.Message
	if err := tlb.Parse(&msg, c); err != nil {
		t.Fatal(err)
	}
	ext := msg.AsExternalIn()
	for i := range 2 {
		if err := chain.SendExternalMessage(t.Context(), ext); err != nil {
			t.Fatalf("broadcast %d: %v", i+1, err)
		}
	}
	var executed, refused int
	var seqno uint32
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		chain.Set(func(c *walletchain.Chain) { executed, refused, seqno = len(c.Executed), c.Refused, c.Seqno })
		if executed+refused == 2 {
			break
		}
	}
	if executed != 1 || refused != 1 || seqno != 8 {
		t.Fatalf("executed %d, refused %d, seqno %d; want 1, 1 and 8", executed, refused, seqno)
	}
	if err := chain.SendExternalMessage(t.Context(), ext); err == nil {
		t.Error("a message of a spent seqno was accepted")
	}
	res, err := w.Resume(t.Context(), sp)
	if err != nil || res.State != shop.PayoutConfirmed {
		t.Fatalf("Resume = %+v, %v; want confirmed", res, err)
	}
	chain.Set(func(*walletchain.Chain) {
		if len(received) != 1 || !bytes.Equal(received[0], sp.BOC) {
			t.Errorf("the payee was told of %d payments; want one, by the signed message", len(received))
		}
	})
}
