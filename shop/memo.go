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
