package fulfillment

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// This file checks what Fragment asks us to pay before anything is signed:
// the destination and sender addresses in any of their written forms, and
// the payload, which must be the TON comment Fragment matches payments by.

// maxFragmentComment bounds the comment of a payload; real ones are under
// 60 bytes ("1000000 Telegram Stars \n\nRef#TPoMpzC7e").
const maxFragmentComment = 512

// Ops of a payload's root cell.
const (
	opTextComment    = 0x00000000 // a text comment: what Fragment asks for a TON payment
	opJettonTransfer = 0x0f8a7ea5 // a jetton transfer: what Fragment asks for usdt_ton (pyfragment tests/001_test_decode.py real_stars_50)
)

// The texts of Fragment's TON payloads (pyfragment tests/001_test_decode.py:
// real_stars_100k "1000000 Telegram Stars \n\nRef#TPoMpzC7e", real_premium_3m
// "Telegram Premium for 3 months \n\nRef#3pWJtbdbu", "Telegram Premium for 1
// year \n\nRef#rONBs6rcm"; the on-chain payment fragment_stars_payment_100 in
// shared/fixtures/ton "100 Telegram Stars \n\nRef#bvq2qiNYM").
var (
	fragmentStarsTextRE   = regexp.MustCompile(`^\s*(\d{1,9}) Telegram Stars\b`)
	fragmentPremiumTextRE = regexp.MustCompile(`^\s*Telegram Premium for (\d{1,2}) months?\b|^\s*Telegram Premium for 1 year\b`)
)

// parseTONAddress parses an address as Fragment may write it: raw
// ("0:<hex>") or user-friendly (EQ…/UQ…, either base64 alphabet).
func parseTONAddress(s string) (*address.Address, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return nil, errors.New("not an address")
	}
	if strings.Contains(s, ":") {
		return address.ParseRawAddr(s)
	}
	return address.ParseAddr(s)
}

// sameTONAddress reports whether a and b, in any written form, are one
// account. Unparsable addresses are never the same.
func sameTONAddress(a, b string) bool {
	x, err := parseTONAddress(a)
	if err != nil {
		return false
	}
	y, err := parseTONAddress(b)
	return err == nil && x.Equals(y)
}

// fragmentPaymentComment reads a payload BOC (with or without CRC) as the
// TON comment Fragment matches payments by: op 0, UTF-8 text (snake, its
// tail possibly in a child cell) holding "Ref#". Anything else, a jetton
// transfer (usdt_ton) above all, is refused: signed as a TON transfer it
// would pay nobody.
func fragmentPaymentComment(payload []byte) (string, error) {
	root, err := cell.FromBOC(payload)
	if err != nil {
		return "", errors.New("the payload is not a BOC")
	}
	s, err := root.BeginParse()
	if err != nil {
		return "", errors.New("the payload cannot be read")
	}
	op, err := s.LoadUInt(32)
	switch {
	case err != nil:
		return "", errors.New("the payload has no op")
	case op == opJettonTransfer:
		return "", errors.New("the payload is a jetton transfer (op 0x0f8a7ea5: a USDT payment), not a TON payment")
	case op != opTextComment:
		return "", fmt.Errorf("the payload has op %#08x, not a text comment", op)
	}
	text, err := s.LoadStringSnake()
	switch {
	case err != nil:
		return "", errors.New("the payload's comment is malformed")
	case len(text) > maxFragmentComment:
		return "", errors.New("the payload's comment is too long")
	case !utf8.ValidString(text):
		return "", errors.New("the payload's comment is not text")
	case !strings.Contains(text, "Ref#"):
		return "", errors.New("the payload's comment has no Ref#")
	}
	return text, nil
}

// checkFragmentComment compares what a payload's comment says is bought
// with the order, when it says so in a form seen on real payloads: a
// request for another quantity must not be paid.
func checkFragmentComment(text string, o *shop.Order) error {
	switch o.Type {
	case shop.OrderStars:
		if m := fragmentStarsTextRE.FindStringSubmatch(text); m != nil {
			if n, err := strconv.ParseInt(m[1], 10, 64); err != nil || n != o.Stars {
				return fmt.Errorf("the payload pays for %s Stars, the order is for %d", m[1], o.Stars)
			}
		}
	case shop.OrderPremium:
		if m := fragmentPremiumTextRE.FindStringSubmatch(text); m != nil {
			months := 12
			if m[1] != "" {
				months, _ = strconv.Atoi(m[1])
			}
			if months != o.Months {
				return fmt.Errorf("the payload pays for %d months of Premium, the order is for %d", months, o.Months)
			}
		}
	}
	return nil
}
