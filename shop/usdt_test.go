package shop

import "testing"

// TestUSDTToTON: integer maths, both divisions rounded down (the shop's
// favour).
func TestUSDTToTON(t *testing.T) {
	tests := []struct {
		units           int64
		usdtUSD, tonUSD MicroUSD
		feePPM          int64
		net, fee        NanoTON
	}{
		// 1 USDT at 3.59 USD/TON: 1e9/3.59 = 278551532.03… → 278551532;
		// less 1.5%: 274373259.02… → 274373259.
		{1_000_000, USD, 3_590_000, 15_000, 274_373_259, 278_551_532 - 274_373_259},
		{10_000_000, USD, 4 * USD, 10_000, 2_475_000_000, 25_000_000},
		{4_000_000, 999_000, 4 * USD, 0, 999_000_000, 0}, // a peg below 1
		{1, USD, 100_000 * USD, 0, 0, 0},                 // 1e-6 USDT at 100000 USD/TON: 0.01 nanoTON, rounded to none
		{0, USD, USD, 0, 0, 0},
	}
	for _, tt := range tests {
		net, fee, err := USDTToTON(tt.units, tt.usdtUSD, tt.tonUSD, tt.feePPM)
		if err != nil || net != tt.net || fee != tt.fee {
			t.Errorf("USDTToTON(%d, %s, %s, %d) = %d, %d, %v; want %d, %d", tt.units, tt.usdtUSD, tt.tonUSD, tt.feePPM, net, fee, err, tt.net, tt.fee)
		}
	}
	if _, _, err := USDTToTON(1<<62, USD, MinTONUSD, 0); err == nil {
		t.Error("no overflow error")
	}
	for _, bad := range [][4]int64{{-1, 1e6, 1e6, 0}, {1, 0, 1e6, 0}, {1, 1e6, 0, 0}, {1, 1e6, 1e6, -1}, {1, 1e6, 1e6, 1_000_001}} {
		if _, _, err := USDTToTON(bad[0], MicroUSD(bad[1]), MicroUSD(bad[2]), bad[3]); err == nil {
			t.Errorf("USDTToTON%v: no error", bad)
		}
	}
}

// TestPriceUSDT: the smallest cent of USDT whose credit covers the TON
// price, and that credit indeed covers it.
func TestPriceUSDT(t *testing.T) {
	tests := []struct {
		price           NanoTON
		usdtUSD, tonUSD MicroUSD
		feePPM          int64
		want            int64
	}{
		{375_000_000, USD, 4 * USD, 10_000, 1_520_000}, // 1.5 USD / 0.99 = 1.5151… → 1.52
		{375_000_000, USD, 4 * USD, 0, 1_500_000},      // exact
		{418_000_000, USD, 3_590_000, 0, 1_510_000},    // 1.50062 → 1.51
		{0, USD, USD, 0, 0},
	}
	for _, tt := range tests {
		got, err := PriceUSDT(tt.price, tt.usdtUSD, tt.tonUSD, tt.feePPM)
		if err != nil || got != tt.want {
			t.Errorf("PriceUSDT(%s) = %d, %v; want %d", tt.price, got, err, tt.want)
		}
		if net, _, _ := USDTToTON(got, tt.usdtUSD, tt.tonUSD, tt.feePPM); net < tt.price {
			t.Errorf("PriceUSDT(%s) = %d credits only %s", tt.price, got, net)
		}
		if got >= usdtPriceStep {
			if net, _, _ := USDTToTON(got-usdtPriceStep, tt.usdtUSD, tt.tonUSD, tt.feePPM); net >= tt.price {
				t.Errorf("PriceUSDT(%s) = %d: a cent less covers it too", tt.price, got)
			}
		}
	}
	if _, err := PriceUSDT(1, USD, USD, MaxFeePPM); err == nil {
		t.Error("a 100% fee priced")
	}
}

// TestUSDTConfig_Validate and the JSON parser.
func TestUSDTConfig_Validate(t *testing.T) {
	for _, c := range []USDTConfig{{}, {USDUSD: USD, FeePPM: MaxUSDTFeePPM}, {USDUSD: MinUSDTUSD}} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, c := range []USDTConfig{{USDUSD: MinUSDTUSD - 1}, {USDUSD: MaxUSDTUSD + 1}, {FeePPM: -1}, {FeePPM: MaxUSDTFeePPM + 1}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: valid", c)
		}
	}
	for in, want := range map[string]int64{`"1.5"`: 1_500_000, `10`: 10_000_000, `0.000001`: 1} {
		if got, err := ParseUSDTJSON([]byte(in)); err != nil || got != want {
			t.Errorf("ParseUSDTJSON(%s) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{`"1.0000001"`, `-1`, `"x"`, `1e3`} {
		if _, err := ParseUSDTJSON([]byte(in)); err == nil {
			t.Errorf("ParseUSDTJSON(%s): no error", in)
		}
	}
}
