package shop

import (
	"encoding/json"
	"math"
	"testing"
)

func TestParseTON(t *testing.T) {
	tests := []struct {
		in      string
		want    NanoTON
		wantErr bool
	}{
		{"0", 0, false},
		{"1", TON, false},
		{"1.5", 1_500_000_000, false},
		{"0.418", 418_000_000, false},
		{"0.000000001", 1, false},
		{"000012.340", 12_340_000_000, false},
		{"9223372036.854775807", math.MaxInt64, false},
		{"9223372036.854775808", 0, true},          // overflow by one
		{"99999999999999999999", 0, true},          // overflow
		{"0.0000000001", 0, true},                  // 10 decimals
		{"-1", 0, true},                            // negative
		{"+1", 0, true},                            // sign
		{"1e9", 0, true},                           // exponent
		{"1.", 0, true},                            // dangling dot
		{".5", 0, true},                            // no integer part
		{"", 0, true},                              // empty
		{" 1", 0, true},                            // spaces
		{"1,5", 0, true},                           // comma
		{"١", 0, true},                             // non-ASCII digit
		{"1.2.3", 0, true},                         // two dots
		{"0x10", 0, true},                          // hex
		{"NaN", 0, true},                           // not a number
		{"00000000000000000000000001", TON, false}, // leading zeros are not overflow
	}
	for _, tt := range tests {
		got, err := ParseTON(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseTON(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseUSDAndRate(t *testing.T) {
	if v, err := ParseUSD("11.99"); err != nil || v != 11_990_000 {
		t.Errorf("ParseUSD(11.99) = %d, %v", v, err)
	}
	if _, err := ParseUSD("0.0000001"); err == nil {
		t.Error("ParseUSD accepted 7 decimals")
	}
	if v, err := ParseRate("3.59123499"); err != nil || v != 3_591_234 {
		t.Errorf("ParseRate truncation = %d, %v", v, err)
	}
	if _, err := ParseRate("0.0000001"); err == nil {
		t.Error("ParseRate accepted a rate that truncates to zero")
	}
}

func TestNanoTON_String(t *testing.T) {
	tests := []struct {
		in   NanoTON
		want string
	}{
		{0, "0"},
		{1, "0.000000001"},
		{418_000_000, "0.418"},
		{1_234_567_000, "1.234567"},
		{TON, "1"},
		{-500_000_000, "-0.5"},
		{math.MaxInt64, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("NanoTON(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
	if got := MicroUSD(15_000).String(); got != "0.015" {
		t.Errorf("MicroUSD(15000) = %q", got)
	}
}

func TestNanoTON_JSON(t *testing.T) {
	b, err := json.Marshal(struct {
		P NanoTON `json:"price_ton"`
	}{418_000_000})
	if err != nil || string(b) != `{"price_ton":0.418}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	for _, in := range []string{`0.418`, `"0.418"`, ` 0.418 `} {
		var n NanoTON
		if err := json.Unmarshal([]byte(in), &n); err != nil || n != 418_000_000 {
			t.Errorf("unmarshal %s = %d, %v", in, n, err)
		}
	}
	for _, in := range []string{`4.18e-01`, `-1`, `"abc"`, `0.0000000001`, `true`, `null`, `1e400`} {
		var n NanoTON
		if err := json.Unmarshal([]byte(in), &n); err == nil {
			t.Errorf("unmarshal %s accepted: %d", in, n)
		}
	}
	// Round trip of every interesting magnitude is exact.
	for _, v := range []NanoTON{1, 7, 999_999_999, TON + 1, 123_456_789_012_345_678} {
		b, _ := json.Marshal(v)
		var back NanoTON
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("round trip %d via %s = %d, %v", v, b, back, err)
		}
	}
}

func FuzzParseTON(f *testing.F) {
	for _, s := range []string{"0", "1.5", "0.418", "9223372036.854775807", "-1", "1e9", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTON(s)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseTON(%q) = %d < 0", s, v)
		}
		back, err := ParseTON(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseTON(%q) = %d; String %q parses to %d, %v", s, v, v.String(), back, err)
		}
	})
}
