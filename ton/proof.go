package ton

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// TonConnect ton_proof, as fragment.com's wallet login wants it
// (S1qwy/fragment-api-py FragmentAPI/utils/auth.py _generate_proof; the
// layout is the one tonutils-go's TonConnectVerifier checks in
// ton/wallet/proof.go buildMessage).
const (
	tonProofPrefix = "ton-proof-item-v2/"
	tonProofSalt   = "ton-connect"
	maxProofField  = 2048 // tonutils refuses longer domains; payloads are bounded the same
)

// SignTonProof signs a TonConnect ton_proof for domain, timestamp ts and
// the challenge payload with the wallet's key: ed25519 over
// sha256(0xffff ‖ "ton-connect" ‖ sha256(msg)), where msg is
// "ton-proof-item-v2/" ‖ workchain (int32 big-endian) ‖ address hash ‖
// len(domain) (uint32 little-endian) ‖ domain ‖ ts (uint64 little-endian,
// seconds) ‖ payload. It returns the 64-byte signature.
func (w *Wallet) SignTonProof(domain string, ts time.Time, payload string) ([]byte, error) {
	switch {
	case domain == "" || len(domain) > maxProofField:
		return nil, errors.New("ton: ton_proof domain is empty or too long")
	case len(payload) > maxProofField:
		return nil, errors.New("ton: ton_proof payload is too long")
	case ts.Unix() <= 0:
		return nil, errors.New("ton: ton_proof timestamp is not after 1970")
	}
	msg := make([]byte, 0, len(tonProofPrefix)+4+32+4+len(domain)+8+len(payload))
	msg = append(msg, tonProofPrefix...)
	msg = binary.BigEndian.AppendUint32(msg, uint32(int32(w.addr.Workchain())))
	msg = append(msg, w.addr.Data()...)
	msg = binary.LittleEndian.AppendUint32(msg, uint32(len(domain)))
	msg = append(msg, domain...)
	msg = binary.LittleEndian.AppendUint64(msg, uint64(ts.Unix()))
	msg = append(msg, payload...)
	inner := sha256.Sum256(msg)
	full := sha256.Sum256(append(append([]byte{0xff, 0xff}, tonProofSalt...), inner[:]...))
	return ed25519.Sign(w.w.PrivateKey(), full[:]), nil
}

// DeriveKey derives a 32-byte secret key for purpose info from the
// wallet's private key (HKDF-SHA256 over its ed25519 seed, no salt). The
// same mnemonic always gives the same key for the same info; distinct infos
// give unrelated keys, and none of them reveals the private key.
func (w *Wallet) DeriveKey(info string) ([]byte, error) {
	if info == "" {
		return nil, errors.New("ton: DeriveKey needs a purpose label")
	}
	key, err := hkdf.Key(sha256.New, w.w.PrivateKey().Seed(), nil, info, 32)
	if err != nil {
		return nil, fmt.Errorf("ton: derive key: %w", err)
	}
	return key, nil
}
