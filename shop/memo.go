package shop

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
)

// newMemo draws memos from gen until one is free.
func newMemo(tx Tx, gen func() string) (string, error) {
	for range 20 {
		memo := gen()
		taken, err := tx.MemoTaken(memo)
		if err != nil {
			return "", err
		}
		if !taken {
			return memo, nil
		}
	}
	return "", errors.New("could not find a free memo")
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}

// NormalizeMemo is how memos are compared: trimmed and upper-cased.
func NormalizeMemo(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// MaxTypedMemoBytes is the longest memo ValidateMemo accepts: what fits
// in one cell of a TON text comment. (Memos read from the chain are cut to
// MaxMemoBytes instead.)
const MaxTypedMemoBytes = 120

// ValidateMemo is the rule for a memo someone types in (a simulated
// deposit's comment): valid UTF-8, at most MaxTypedMemoBytes bytes, no control
// characters (C0, DEL, C1: a newline or an escape sequence would forge log
// lines and admin messages).
//
// Errors: VALIDATION_ERROR.
func ValidateMemo(memo string) error {
	if len(memo) > MaxTypedMemoBytes {
		return Errorf(EVALIDATION, "memo must be at most %d bytes", MaxTypedMemoBytes)
	}
	return validateText("memo", memo, MaxTypedMemoBytes)
}
