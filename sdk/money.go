package sdk

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// Nano is an amount of Toncoin in nanoTON (1 TON = 1,000,000,000 nanoTON),
// exact. Amounts of the ledger are signed; prices and balances are not.
type Nano int64

// TON is one Toncoin.
const TON Nano = 1_000_000_000

// MicroUSD is an amount of US dollars in millionths of a dollar, exact.
type MicroUSD int64

// USD is one US dollar.
const USD MicroUSD = 1_000_000

// String formats n as an exact decimal number of TON with no trailing
// zeros: 418000000 → "0.418", -5e8 → "-0.5".
func (n Nano) String() string { return formatDecimal(int64(n), 9) }

// String formats m as an exact decimal number of dollars: "11.99".
func (m MicroUSD) String() string { return formatDecimal(int64(m), 6) }

// ParseNano parses a whole number of nanoTON, as the API's *_nanoton
// strings hold it: "418000000", "-5000000".
func ParseNano(s string) (Nano, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("sdk: malformed nanoTON amount " + strconv.Quote(clip(s)))
	}
	return Nano(v), nil
}

// ParseTON parses an exact decimal number of TON ("0.418", "-1.5", "12")
// into nanoTON. More than 9 decimal places, exponents and values beyond
// int64 are errors, never rounded.
func ParseTON(s string) (Nano, error) {
	v, err := parseDecimal(s, 9)
	return Nano(v), err
}

// ParseUSD parses an exact decimal number of dollars ("1.5") into
// micro-dollars; more than 6 decimal places is an error.
func ParseUSD(s string) (MicroUSD, error) {
	v, err := parseDecimal(s, 6)
	return MicroUSD(v), err
}

// tonAmount reads a TON amount the orders dialect sends twice: nano, the
// exact *_nanoton string, when the server sends it, else the decimal text
// of the *_ton number. When both are present they must agree.
func tonAmount(name string, ton json.Number, nano *string) (Nano, error) {
	var fromTON Nano
	if ton != "" {
		v, err := ParseTON(string(ton))
		if err != nil {
			return 0, errors.New("sdk: " + name + "_ton: " + err.Error())
		}
		fromTON = v
	}
	if nano == nil {
		if ton == "" {
			return 0, errors.New("sdk: the answer has no " + name + "_ton")
		}
		return fromTON, nil
	}
	v, err := ParseNano(*nano)
	if err != nil {
		return 0, errors.New("sdk: " + name + "_nanoton: " + err.Error())
	}
	if ton != "" && v != fromTON {
		return 0, errors.New("sdk: " + name + "_nanoton " + *nano + " does not match " + name + "_ton " + string(ton))
	}
	return v, nil
}

// usdAmount reads a dollar amount from the decimal text of a JSON number.
func usdAmount(name string, v json.Number) (MicroUSD, error) {
	if v == "" {
		return 0, nil
	}
	m, err := ParseUSD(string(v))
	if err != nil {
		return 0, errors.New("sdk: " + name + ": " + err.Error())
	}
	return m, nil
}

// parseDecimal parses an optionally negative decimal with at most decimals
// fractional digits into an integer scaled by 10^decimals, exactly.
func parseDecimal(s string, decimals int) (int64, error) {
	bad := errors.New("sdk: malformed amount " + strconv.Quote(clip(s)))
	neg := strings.HasPrefix(s, "-")
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	if intPart == "" || hasDot && frac == "" || len(body) > 40 {
		return 0, bad
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, bad
			}
		}
	}
	if len(frac) > decimals {
		return 0, errors.New("sdk: amount " + strconv.Quote(clip(s)) + " has more than " + strconv.Itoa(decimals) + " decimal places")
	}
	digits := strings.TrimLeft(intPart+frac+strings.Repeat("0", decimals-len(frac)), "0")
	if digits == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, errors.New("sdk: amount " + strconv.Quote(clip(s)) + " is too large")
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// formatDecimal writes v / 10^decimals exactly, without trailing zeros.
func formatDecimal(v int64, decimals int) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-(v+1))+1 // math.MinInt64 too
	}
	s := strconv.FormatUint(u, 10)
	if len(s) <= decimals {
		s = strings.Repeat("0", decimals-len(s)+1) + s
	}
	i := len(s) - decimals
	frac := strings.TrimRight(s[i:], "0")
	if frac == "" {
		return sign + s[:i]
	}
	return sign + s[:i] + "." + frac
}

// clip shortens text quoted in an error.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
