package shop

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPriceTON(t *testing.T) {
	tests := []struct {
		name      string
		usd       MicroUSD
		rate      MicroUSD
		feePPM    int64
		step      NanoTON
		wantPrice NanoTON
		wantFee   NanoTON
	}{
		// The contract example: 100 stars × 0.015 USD at ~3.59 USD/TON ≈ 0.418 TON.
		// 1.5 / 3.59 = 0.41782729805… → rounded up to the nanoTON, or to the
		// default step 0.001: exactly the contract's 0.418.
		{"contract example, nanoTON", 1_500_000, 3_590_000, 0, 1, 417_827_299, 0},
		{"contract example, default step", 1_500_000, 3_590_000, 0, DefaultPriceStep, 418_000_000, 0},
		{"exact division", 1_500_000, 3_000_000, 0, 1, 500_000_000, 0},
		{"exact division, step", 1_500_000, 3_000_000, 0, DefaultPriceStep, 500_000_000, 0},
		{"fee 2.5%", 1_500_000, 3_000_000, 25_000, 1, 512_500_000, 12_500_000},
		{"fee 2.5%, step", 1_500_000, 3_000_000, 25_000, DefaultPriceStep, 513_000_000, 13_000_000},     // 0.5125 → 0.513; base 0.5
		{"fee rounds up", 1_000_000, 3_000_000, 10_000, 1, 336_666_667, 3_333_333},                      // 0.3366…; base 0.333333334
		{"fee rounds up, step", 1_000_000, 3_000_000, 10_000, DefaultPriceStep, 337_000_000, 3_000_000}, // base 0.334
		{"fee below a step", 1_000_000, 3_000_000, 100, DefaultPriceStep, 334_000_000, 0},               // 0.01%: both round to 0.334
		{"step one TON", 1_500_000, 3_590_000, 0, TON, TON, 0},
		{"step one TON, fee", 1_500_000, 3_590_000, MaxFeePPM, TON, TON, 0}, // 0.8356 rounds to 1 as 0.4178 does
		{"exact multiple is not rounded", 3_590_000, 3_590_000, 0, DefaultPriceStep, TON, 0},
		{"one stars max order", 15_000 * 1_000_000, 3_590_000, 0, 1, 4_178_272_980_502, 0},
		{"one stars max order, step", 15_000 * 1_000_000, 3_590_000, 0, DefaultPriceStep, 4_178_273_000_000, 0},
		{"zero usd", 0, 3_590_000, 0, DefaultPriceStep, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			price, fee, err := PriceTON(tt.usd, tt.rate, tt.feePPM, tt.step)
			if err != nil {
				t.Fatal(err)
			}
			if price != tt.wantPrice || fee != tt.wantFee {
				t.Errorf("PriceTON = %d (fee %d), want %d (fee %d)", price, fee, tt.wantPrice, tt.wantFee)
			}
			if price%tt.step != 0 || fee%tt.step != 0 {
				t.Errorf("PriceTON = %d (fee %d): not multiples of the step %d", price, fee, tt.step)
			}
		})
	}
	if _, _, err := PriceTON(1, 0, 0, 1); err == nil {
		t.Error("zero rate accepted")
	}
	for _, step := range []NanoTON{0, -1, MaxPriceStep + 1} {
		if _, _, err := PriceTON(1, 1, 0, step); err == nil {
			t.Errorf("step %d accepted", step)
		}
	}
	if _, _, err := PriceTON(1<<62, 1, MaxFeePPM, 1); err == nil {
		t.Error("overflow not reported")
	}
	// Rounding up to the step can itself overflow: 9223372036.5 TON fits in
	// an int64 of nanoTON, 9223372037 does not.
	if p, _, err := PriceTON(18_446_744_073, 2, 0, 1); err != nil || p != 9_223_372_036_500_000_000 {
		t.Errorf("largest price = %d, %v", p, err)
	}
	if _, _, err := PriceTON(18_446_744_073, 2, 0, MaxPriceStep); err == nil {
		t.Error("overflow of the rounding not reported")
	}
}

// The rounding is never more than one step, never in the buyer's favour,
// and rounding up to a step gives what rounding up to the nanoTON and then
// to the step gives.
func TestPriceTON_Steps(t *testing.T) {
	for _, usd := range []MicroUSD{1, 15_000, 750_000, 1_500_000, 11_990_000, 28_990_000, 15_000_000_000} {
		for _, rate := range []MicroUSD{MinTONUSD, 1_234_567, 3_590_000, 5_000_000, MaxTONUSD} {
			for _, fee := range []int64{0, 1, 25_000, MaxFeePPM} {
				exact, _, err := PriceTON(usd, rate, fee, 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, step := range []NanoTON{1, 7, 1000, DefaultPriceStep, TON / 100, TON} {
					got, gotFee, err := PriceTON(usd, rate, fee, step)
					if err != nil {
						t.Fatal(err)
					}
					want := (exact + step - 1) / step * step
					if got != want || got < exact || got-exact >= step || gotFee < 0 || gotFee > got || gotFee%step != 0 {
						t.Errorf("PriceTON(%s USD, %s, %d ppm, step %d) = %d (fee %d); exact %d, want %d", usd, rate, fee, step, got, gotFee, exact, want)
					}
				}
			}
		}
	}
}

func TestValidateRate(t *testing.T) {
	for v, ok := range map[MicroUSD]bool{MinTONUSD: true, MaxTONUSD: true, 3_590_000: true, MinTONUSD - 1: false, MaxTONUSD + 1: false, 0: false} {
		if err := ValidateRate(v); (err == nil) != ok {
			t.Errorf("ValidateRate(%s) = %v", v, err)
		}
	}
}

func TestParseFeePercent(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "2.5": 25_000, "100": 1_000_000, "0.0001": 1} {
		if got, err := ParseFeePercent(in); err != nil || got != want {
			t.Errorf("ParseFeePercent(%q) = %d, %v; want %d", in, got, err, want)
		}
		if got := FormatFeePercent(want); got != in {
			t.Errorf("FormatFeePercent(%d) = %q, want %q", want, got, in)
		}
	}
	for _, in := range []string{"100.01", "-1", "0.00001", "x"} {
		if _, err := ParseFeePercent(in); err == nil {
			t.Errorf("ParseFeePercent(%q) accepted", in)
		}
	}
}

func TestPricing_Validate(t *testing.T) {
	if err := DefaultPricing().Validate(); err != nil {
		t.Fatal(err)
	}
	mods := map[string]func(*Pricing){
		"star price":  func(p *Pricing) { p.USDPerStar = 0 },
		"fee":         func(p *Pricing) { p.FeePPM = MaxFeePPM + 1 },
		"min":         func(p *Pricing) { p.StarsMin = 0 },
		"max<min":     func(p *Pricing) { p.StarsMax = p.StarsMin - 1 },
		"ttl":         func(p *Pricing) { p.OrderTTL = 0 },
		"premium 6":   func(p *Pricing) { delete(p.PremiumUSD, 6) },
		"premium neg": func(p *Pricing) { p.PremiumUSD[12] = -1 },
		"star absurd": func(p *Pricing) { p.USDPerStar = MaxUSDPerStar + 1 },
		"premium big": func(p *Pricing) { p.PremiumUSD[3] = MaxPremiumUSD + 1 },
	}
	for name, mod := range mods {
		p := DefaultPricing()
		mod(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("%s: invalid pricing accepted", name)
		}
	}
}

func TestNormalizeUsername(t *testing.T) {
	ok := map[string]string{
		"pandus": "pandus", "@pandus": "pandus", " @Pandus_1 ": "Pandus_1",
		"t.me/pandus": "pandus", "https://t.me/pandus": "pandus", "HTTPS://T.ME/pandus/": "pandus",
	}
	for in, want := range ok {
		if got, err := NormalizeUsername(in); err != nil || got != want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "@", "a-b-c-d", "toolong_toolong_toolong_toolong_x", "пандус", "pan dus", "@@pandus", "t.me/+invite"} {
		if got, err := NormalizeUsername(in); ErrorCode(err) != EVALIDATION {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want VALIDATION_ERROR", in, got, err)
		}
	}
}

func TestPricing_With(t *testing.T) {
	tests := []struct {
		name, value string
		check       func(Pricing) bool
	}{
		{"usd_per_star", "0.02", func(p Pricing) bool { return p.USDPerStar == 20_000 }},
		{"premium_usd_3", "12", func(p Pricing) bool { return p.PremiumUSD[3] == 12*USD }},
		{"premium_usd_6", "16.5", func(p Pricing) bool { return p.PremiumUSD[6] == 16_500_000 }},
		{"premium_usd_12", "29.999999", func(p Pricing) bool { return p.PremiumUSD[12] == 29_999_999 }},
		{"fee_percent", "2.5", func(p Pricing) bool { return p.FeePPM == 25_000 }},
		{"stars_min", "100", func(p Pricing) bool { return p.StarsMin == 100 }},
		{"stars_max", "5000", func(p Pricing) bool { return p.StarsMax == 5000 }},
		{"order_ttl", "30m", func(p Pricing) bool { return p.OrderTTL == 30*time.Minute }},
		// Syntax only: the range is Validate's.
		{"stars_min", "-1", func(p Pricing) bool { return p.StarsMin == -1 }},
		{"usd_per_star", "0", func(p Pricing) bool { return p.USDPerStar == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			orig := DefaultPricing()
			got, err := orig.With(tt.name, tt.value)
			if err != nil {
				t.Fatalf("With: %v", err)
			}
			if !tt.check(got) {
				t.Errorf("With(%s, %s) = %+v", tt.name, tt.value, got)
			}
			if !reflect.DeepEqual(orig, DefaultPricing()) {
				t.Errorf("With changed the original: %+v", orig)
			}
			// Exactly one field differs: every other field reads the same.
			for _, f := range PricingFields {
				if f == tt.name {
					continue
				}
				a, _ := orig.Field(f)
				b, _ := got.Field(f)
				if a != b {
					t.Errorf("field %s changed from %s to %s", f, a, b)
				}
			}
		})
	}
}

func TestPricing_WithSyntaxErrors(t *testing.T) {
	usd := "must be an amount in USD such as 0.015, at most 6 decimal places (got %s)"
	tests := []struct{ name, value, want string }{
		{"usd_per_star", "abc", fmt.Sprintf(usd, `"abc"`)},
		{"usd_per_star", "-1", fmt.Sprintf(usd, `"-1"`)},
		{"usd_per_star", "0.0000001", fmt.Sprintf(usd, `"0.0000001"`)},
		{"premium_usd_3", "1e3", fmt.Sprintf(usd, `"1e3"`)},
		{"premium_usd_6", "x", fmt.Sprintf(usd, `"x"`)},
		{"premium_usd_12", "", fmt.Sprintf(usd, `""`)},
		{"fee_percent", "101", `must be a percentage from 0 to 100 with at most 4 decimal places, such as 2.5 (got "101")`},
		{"fee_percent", "1.23456", `must be a percentage from 0 to 100 with at most 4 decimal places, such as 2.5 (got "1.23456")`},
		{"stars_min", "fifty", `must be a whole number (got "fifty")`},
		{"stars_max", "1e6", `must be a whole number (got "1e6")`},
		{"order_ttl", "8d", `must be a duration such as 90s, 15m or 1h (got "8d")`},
		{"order_ttl", "15", `must be a duration such as 90s, 15m or 1h (got "15")`},
		// The value is quoted on one line and cut to 80 runes.
		{"stars_min", "1\n2", `must be a whole number (got "1\n2")`},
		{"stars_min", strings.Repeat("я", 100), `must be a whole number (got "` + strings.Repeat("я", 80) + `...")`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			orig := DefaultPricing()
			got, err := orig.With(tt.name, tt.value)
			if err == nil {
				t.Fatalf("With(%s, %q) accepted: %+v", tt.name, tt.value, got)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if !reflect.DeepEqual(orig, DefaultPricing()) {
				t.Errorf("With changed the original: %+v", orig)
			}
		})
	}
}

func TestPricing_WithUnknown(t *testing.T) {
	for _, name := range []string{"", "USD_PER_STAR", "premium_usd_1", "premium_usd_", "bogus" + strings.Repeat("x", 200)} {
		_, err := DefaultPricing().With(name, "1")
		if err == nil {
			t.Fatalf("With(%q) accepted", name)
		}
		msg := err.Error()
		if !strings.Contains(msg, strings.Join(PricingFields, ", ")) {
			t.Errorf("With(%q): error %q does not list the fields", name, msg)
		}
		if len(msg) > 300 {
			t.Errorf("With(%q): error is %d bytes long: the name is echoed unbounded", name, len(msg))
		}
		if _, ok := DefaultPricing().Field(name); ok {
			t.Errorf("Field(%q) ok", name)
		}
	}
}

func TestPricing_WithDoesNotShareMap(t *testing.T) {
	orig := DefaultPricing()
	p, err := orig.With("premium_usd_6", "20")
	if err != nil {
		t.Fatal(err)
	}
	if orig.PremiumUSD[6] != 15_990_000 {
		t.Fatalf("original map changed: %v", orig.PremiumUSD)
	}
	// Nor through another field: the copy's map is its own.
	q, err := orig.With("stars_min", "60")
	if err != nil {
		t.Fatal(err)
	}
	q.PremiumUSD[3] = 1
	if orig.PremiumUSD[3] != 11_990_000 || p.PremiumUSD[3] != 11_990_000 {
		t.Errorf("maps shared: orig %v, p %v", orig.PremiumUSD, p.PremiumUSD)
	}
	// A nil map gets one.
	var zero Pricing
	z, err := zero.With("premium_usd_3", "5")
	if err != nil || z.PremiumUSD[3] != 5*USD || zero.PremiumUSD != nil {
		t.Errorf("With on a nil map = %v, %v (original %v)", z.PremiumUSD, err, zero.PremiumUSD)
	}
}

func TestPricing_Field(t *testing.T) {
	p := DefaultPricing()
	p.FeePPM = 25_000
	want := map[string]string{
		"usd_per_star": "0.015", "premium_usd_3": "11.99", "premium_usd_6": "15.99", "premium_usd_12": "28.99",
		"fee_percent": "2.5", "stars_min": "50", "stars_max": "1000000", "order_ttl": "15m0s",
	}
	for _, name := range PricingFields {
		got, ok := p.Field(name)
		if !ok || got != want[name] {
			t.Errorf("Field(%s) = %q, %v; want %q", name, got, ok, want[name])
		}
	}
	if len(want) != len(PricingFields) {
		t.Errorf("PricingFields has %d names, want %d", len(PricingFields), len(want))
	}
}

// Field's text goes back through With to the same price list.
func TestPricing_FieldRoundTrip(t *testing.T) {
	p := Pricing{
		USDPerStar: 1,
		PremiumUSD: map[int]MicroUSD{3: 10_000_000_000, 6: 123_456_789, 12: 1},
		FeePPM:     1,
		StarsMin:   1,
		StarsMax:   100_000_000,
		OrderTTL:   90*time.Minute + 30*time.Second,
	}
	all := DefaultPricing()
	for _, name := range PricingFields {
		text, ok := p.Field(name)
		if !ok {
			t.Fatalf("Field(%s) not found", name)
		}
		q, err := DefaultPricing().With(name, text)
		if err != nil {
			t.Fatalf("With(%s, Field = %q): %v", name, text, err)
		}
		back, _ := q.Field(name)
		if back != text {
			t.Errorf("%s: %q → With → Field = %q", name, text, back)
		}
		if all, err = all.With(name, text); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(all, p) {
		t.Errorf("every field set from Field = %+v, want %+v", all, p)
	}
}
