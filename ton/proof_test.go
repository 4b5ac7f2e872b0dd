package ton

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/ton/wallet"
)

// TestSignTonProof checks our signature with tonutils-go's own TonConnect
// verifier (ton/wallet/proof.go), which rebuilds the message, derives the
// public key from the StateInit and checks that the StateInit is the
// address's.
func TestSignTonProof(t *testing.T) {
	const domain, payload = "fragment.com", "8f1c2b9a0d3e4f5a6b7c8d9e0f1a2b3c"
	for _, version := range walletVersions {
		t.Run(version, func(t *testing.T) {
			w := newTestWallet(t, newFakeWalletAPI(&walletClock{}, version), version)
			info := w.Info()
			addr, err := address.ParseRawAddr(info.RawAddress)
			if err != nil {
				t.Fatal(err)
			}
			// The verifier compares the timestamp with its own clock.
			ts := time.Now()
			sig, err := w.SignTonProof(domain, ts, payload)
			if err != nil {
				t.Fatal(err)
			}
			proof := func(domain, payload string, ts time.Time) wallet.TonConnectProof {
				var p wallet.TonConnectProof
				p.Timestamp, p.Payload, p.Signature = ts.Unix(), payload, sig
				p.Domain.Value, p.Domain.LengthBytes = domain, uint32(len(domain))
				return p
			}
			v := wallet.NewTonConnectVerifier(domain, 5*time.Minute, nil)
			ctx := context.Background()
			if err := v.VerifyProof(ctx, addr, proof(domain, payload, ts), payload, info.StateInitBOC); err != nil {
				t.Fatalf("tonutils rejects our proof: %v", err)
			}
			// Anything else signed is not what we signed.
			for name, p := range map[string]wallet.TonConnectProof{
				"payload":   proof(domain, payload+"0", ts),
				"timestamp": proof(domain, payload, ts.Add(-time.Second)),
			} {
				if err := v.VerifyProofHandlePayload(ctx, addr, p, info.StateInitBOC, func(string, string) error { return nil }, ""); err == nil {
					t.Errorf("a proof with another %s verified", name)
				}
			}
			other := wallet.NewTonConnectVerifier("fragment.co", 5*time.Minute, nil)
			if err := other.VerifyProof(ctx, addr, proof("fragment.co", payload, ts), payload, info.StateInitBOC); err == nil {
				t.Error("a proof for another domain verified")
			}
		})
	}
	w := newTestWallet(t, newFakeWalletAPI(&walletClock{}, WalletV4R2), WalletV4R2)
	for _, bad := range []struct {
		domain, payload string
		ts              time.Time
	}{
		{"", "p", time.Now()},
		{"fragment.com", string(make([]byte, 4096)), time.Now()},
		{"fragment.com", "p", time.Unix(0, 0)},
	} {
		if _, err := w.SignTonProof(bad.domain, bad.ts, bad.payload); err == nil {
			t.Errorf("SignTonProof(%q, %v, %d bytes) signed", bad.domain, bad.ts, len(bad.payload))
		}
	}
}

func TestDeriveKey(t *testing.T) {
	w := newTestWallet(t, newFakeWalletAPI(&walletClock{}, WalletV5R1), WalletV5R1)
	v4 := newTestWallet(t, newFakeWalletAPI(&walletClock{}, WalletV4R2), WalletV4R2)
	a, err := w.DeriveKey("purpose a")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := v4.DeriveKey("purpose a") // same mnemonic, other contract: same key
	b, _ := w.DeriveKey("purpose b")
	if len(a) != 32 || !bytes.Equal(a, again) || bytes.Equal(a, b) {
		t.Errorf("keys: %x, %x, %x; want 32 bytes, equal for one purpose, distinct across purposes", a, again, b)
	}
	seed := walletTestKey().Seed()
	if bytes.Contains(a, seed[:8]) || bytes.Equal(a, seed) {
		t.Error("the derived key shows the private key")
	}
	if _, err := w.DeriveKey(""); err == nil {
		t.Error("DeriveKey without a label succeeded")
	}
}
