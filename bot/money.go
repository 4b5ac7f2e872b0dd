package bot

import (
	"strconv"
	"strings"

	"starsbot/shop"
)

// Amounts as people read them. TON amounts are shown exactly as the shop
// holds them (prices are already rounded up to PRICE_STEP_TON by
// shop.PriceTON, so "0.418", never 9 decimals of noise), with the
// decimal separator and digit grouping of the user's language:
//
//   - en: "1,234.5" — comma groups, point decimals.
//   - ru: "1 234,5" — decimal comma, and digit groups separated by a
//     no-break space U+00A0 (CLDR's group symbol for ru; U+202F NARROW
//     NO-BREAK SPACE is typographically finer but missing from fonts some
//     Android clients still use, where it shows as a box). Following the
//     Russian rule that four-digit numbers are not split (А. Э. Мильчин,
//     «Справочник издателя и автора», 5.5.3), groups start at 10 000.
//
// USD equivalents are the TON amount at the rate the order or quote stored,
// rounded half up to the cent, marked "≈".

// nbsp is the digit-group separator of Russian numbers.
const nbsp = "\u00a0"

// localDecimal renders a plain decimal string ("-1234.5") in lang.
func localDecimal(lang, s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	group, point, minGroup := ",", ".", 4
	if lang == "ru" {
		group, point, minGroup = nbsp, ",", 5
	}
	if len(whole) >= minGroup {
		var b strings.Builder
		for i, c := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteString(group)
			}
			b.WriteRune(c)
		}
		whole = b.String()
	}
	if hasFrac {
		return sign + whole + point + frac
	}
	return sign + whole
}

// tonAmount renders n TON (without the unit) in lang.
func tonAmount(lang string, n shop.NanoTON) string { return localDecimal(lang, n.String()) }

// signedTON renders a signed amount with an explicit "+" for a credit.
func signedTON(lang string, n shop.NanoTON) string {
	if n > 0 {
		return "+" + tonAmount(lang, n)
	}
	return tonAmount(lang, n)
}

// intAmount renders a whole number (a quantity of Stars) in lang.
func intAmount(lang string, n int64) string { return localDecimal(lang, strconv.FormatInt(n, 10)) }

// usdOf is n TON at rate (micro-USD per TON), rounded half up to the cent,
// in micro-USD; 0 when the rate is unknown. Integer arithmetic: n × rate
// fits int64 only for small amounts, so it is split into whole TON and
// the rest.
func usdOf(n shop.NanoTON, rate shop.MicroUSD) shop.MicroUSD {
	if n <= 0 || rate <= 0 {
		return 0
	}
	whole, rest := int64(n/shop.TON), int64(n%shop.TON)
	micro := whole*int64(rate) + rest*int64(rate)/int64(shop.TON)
	const cent = 10_000
	return shop.MicroUSD((micro + cent/2) / cent * cent)
}

// usdAmount renders a USD amount to the cent: "$1.50" (en), "1,50 $" (ru).
func usdAmount(lang string, m shop.MicroUSD) string {
	cents := int64(m) / 10_000
	s := strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(100+cents%100, 10)[1:]
	if lang == "ru" {
		return localDecimal(lang, s) + nbsp + "$"
	}
	return "$" + localDecimal(lang, s)
}

// approxUSD is " (≈ $1.50)" for n TON at rate, or "" without a rate.
func approxUSD(lang string, n shop.NanoTON, rate shop.MicroUSD) string {
	if rate <= 0 || n <= 0 {
		return ""
	}
	return " (≈" + nbsp + usdAmount(lang, usdOf(n, rate)) + ")"
}

// ton renders n TON in the user's language, without the unit.
func (t *turn) ton(n shop.NanoTON) string { return tonAmount(t.lang, n) }

// tonUSD renders "0.418 TON (≈ $1.50)" in the user's language.
func (t *turn) tonUSD(n shop.NanoTON, rate shop.MicroUSD) string {
	return tonAmount(t.lang, n) + " TON" + approxUSD(t.lang, n, rate)
}

// num renders a quantity in the user's language.
func (t *turn) num(n int64) string { return intAmount(t.lang, n) }

// starsText is a quantity of Stars in lang: "100 Stars"; in Russian with
// Telegram's own word and its plural ("1 звезда", "2 звезды", "100 звёзд").
func starsText(lang string, n int64) string {
	if lang == "ru" {
		return intAmount(lang, n) + " " + ruPlural(n, "звезда", "звезды", "звёзд")
	}
	if n == 1 {
		return "1 Star"
	}
	return intAmount(lang, n) + " Stars"
}

// ruPlural picks the Russian form for n: one (1, 21, 101…), few (2–4,
// 22–24…), many (0, 5–20, 25–30…, 11–14).
func ruPlural(n int64, one, few, many string) string {
	if n < 0 {
		n = -n
	}
	switch d10, d100 := n%10, n%100; {
	case d10 == 1 && d100 != 11:
		return one
	case d10 >= 2 && d10 <= 4 && (d100 < 12 || d100 > 14):
		return few
	}
	return many
}
