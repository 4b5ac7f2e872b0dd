package shop

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// NanoTON is an amount of Toncoin in nanoTON (1 TON = 1e9 nanoTON). It is the
// only type money in TON is ever held in: no float64 touches an amount.
// Ledger amounts are signed; balances and prices are never negative.
type NanoTON int64

// TON is one Toncoin.
const TON NanoTON = 1_000_000_000

// MicroUSD is an amount of US dollars in micro-dollars (1 USD = 1e6 MicroUSD).
type MicroUSD int64

// USD is one US dollar.
const USD MicroUSD = 1_000_000

const (
	tonDecimals = 9
	usdDecimals = 6
)

// ParseTON parses a non-negative decimal string such as "1.5", "0.418" or
// "12" into nanoTON, exactly. It rejects signs, exponents, more than 9
// decimal places, values that overflow int64, and anything that is not a
// plain decimal number.
func ParseTON(s string) (NanoTON, error) {
	v, err := parseDecimal(s, tonDecimals, false)
	return NanoTON(v), err
}

// ParseUSD parses a non-negative decimal string such as "0.015" or "11.99"
// into micro-USD, exactly; more than 6 decimal places is an error.
func ParseUSD(s string) (MicroUSD, error) {
	v, err := parseDecimal(s, usdDecimals, false)
	return MicroUSD(v), err
}

// ParseRate parses a TON/USD exchange rate into micro-USD per TON. Unlike
// ParseUSD it accepts more than 6 decimal places and truncates them: a rate
// rounded down makes prices round up, in the shop's favour. Zero is rejected.
func ParseRate(s string) (MicroUSD, error) {
	v, err := parseDecimal(s, usdDecimals, true)
	if err == nil && v == 0 {
		err = errors.New("rate must be positive")
	}
	return MicroUSD(v), err
}

// String formats n as an exact decimal with up to 9 places and no trailing
// zeros: 418000000 → "0.418", 1e9 → "1", -5e8 → "-0.5".
func (n NanoTON) String() string { return formatDecimal(int64(n), tonDecimals) }

// String formats m as an exact decimal with up to 6 places: "11.99".
func (m MicroUSD) String() string { return formatDecimal(int64(m), usdDecimals) }

// MarshalJSON writes n as a JSON number with its exact decimal digits
// (0.418, never 4.18e-01 and never a float-rounded value).
func (n NanoTON) MarshalJSON() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalJSON reads a JSON number (0.418) or a JSON string ("0.418") from
// its literal digits, with the rules of ParseTON.
func (n *NanoTON) UnmarshalJSON(b []byte) error { return unmarshalDecimal(b, n, ParseTON) }

// MarshalJSON writes m as a JSON number with its exact decimal digits.
func (m MicroUSD) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalJSON reads a JSON number or string with the rules of ParseUSD.
func (m *MicroUSD) UnmarshalJSON(b []byte) error { return unmarshalDecimal(b, m, ParseUSD) }

// unmarshalDecimal parses the decimal text of a JSON number or string with
// parse into *dst, leaving *dst unchanged on error.
func unmarshalDecimal[T NanoTON | MicroUSD](b []byte, dst *T, parse func(string) (T, error)) error {
	s, err := jsonDecimalLiteral(b)
	if err != nil {
		return err
	}
	v, err := parse(s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// jsonDecimalLiteral returns the decimal text of a JSON number or string.
func jsonDecimalLiteral(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	if !json.Valid(b) {
		return "", errors.New("invalid JSON number")
	}
	return string(b), nil
}

// parseDecimal parses an unsigned decimal with at most `decimals` fractional
// digits (or, with truncate, any number of them, the extra ones dropped) into
// an integer scaled by 10^decimals.
func parseDecimal(s string, decimals int, truncate bool) (int64, error) {
	if s == "" {
		return 0, errors.New("empty amount")
	}
	if len(s) > 64 {
		return 0, errors.New("amount too long")
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, errors.New("malformed amount " + strconv.Quote(s))
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				if part[i] == '-' {
					return 0, errors.New("amount must not be negative")
				}
				return 0, errors.New("malformed amount " + strconv.Quote(s))
			}
		}
	}
	if len(frac) > decimals {
		if !truncate {
			return 0, errors.New("too many decimal places in " + strconv.Quote(s) + " (at most " + strconv.Itoa(decimals) + ")")
		}
		frac = frac[:decimals]
	}
	frac += strings.Repeat("0", decimals-len(frac))
	intPart = strings.TrimLeft(intPart, "0")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, nil
	}
	if len(digits) > 19 {
		return 0, errors.New("amount too large")
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || v > math.MaxInt64 {
		return 0, errors.New("amount too large")
	}
	return int64(v), nil
}

// formatDecimal renders v/10^decimals exactly, without trailing zeros.
func formatDecimal(v int64, decimals int) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u // two's complement: also correct for math.MinInt64
	}
	scale := uint64(1)
	for range decimals {
		scale *= 10
	}
	intPart, frac := u/scale, u%scale
	var b []byte
	if neg {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, intPart, 10)
	if frac != 0 {
		f := strconv.FormatUint(frac, 10)
		f = strings.Repeat("0", decimals-len(f)) + f
		b = append(b, '.')
		b = append(b, strings.TrimRight(f, "0")...)
	}
	return string(b)
}
