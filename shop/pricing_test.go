package shop

import (
	"testing"
)

func TestPriceTON(t *testing.T) {
	tests := []struct {
		name      string
		usd       MicroUSD
		rate      MicroUSD
		feePPM    int64
		wantPrice NanoTON
		wantFee   NanoTON
	}{
		// The contract example: 100 stars × 0.015 USD at ~3.59 USD/TON ≈ 0.418 TON.
		// 1.5 / 3.59 = 0.41782729805… → rounded up to the nanoTON.
		{"contract example", 1_500_000, 3_590_000, 0, 417_827_299, 0},
		{"exact division", 1_500_000, 3_000_000, 0, 500_000_000, 0},
		{"fee 2.5%", 1_500_000, 3_000_000, 25_000, 512_500_000, 12_500_000},
		{"fee rounds up", 1_000_000, 3_000_000, 10_000, 336_666_667, 3_333_333}, // 0.3366…; base 0.333333334
		{"one stars max order", 15_000 * 1_000_000, 3_590_000, 0, 4_178_272_980_502, 0},
		{"zero usd", 0, 3_590_000, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			price, fee, err := PriceTON(tt.usd, tt.rate, tt.feePPM)
			if err != nil {
				t.Fatal(err)
			}
			if price != tt.wantPrice || fee != tt.wantFee {
				t.Errorf("PriceTON = %d (fee %d), want %d (fee %d)", price, fee, tt.wantPrice, tt.wantFee)
			}
		})
	}
	if _, _, err := PriceTON(1, 0, 0); err == nil {
		t.Error("zero rate accepted")
	}
	if _, _, err := PriceTON(1<<62, 1, MaxFeePPM); err == nil {
		t.Error("overflow not reported")
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
