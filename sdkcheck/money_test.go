package sdkcheck_test

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"starsbot/sdk"
	"starsbot/shop"
)

func TestNano(t *testing.T) {
	good := []struct {
		in   string
		want sdk.Nano
	}{
		{"0.418", 418_000_000},
		{"0.416666667", 416_666_667},                 // float32 makes it 0.41666666 (issue 16)
		{"9007199.254740993", 9_007_199_254_740_993}, // 2^53+1 nanoTON: a float64 cannot hold it
		{"-1.5", -1_500_000_000},
		{"12", 12 * sdk.TON},
		{"0", 0},
		{"0.000000001", 1},
		{"9223372036.854775807", math.MaxInt64},
	}
	for _, g := range good {
		got, err := sdk.ParseTON(g.in)
		if err != nil || got != g.want {
			t.Errorf("ParseTON(%q) = %d, %v; want %d", g.in, got, err, g.want)
		}
		if g.in != "0" && got.String() != g.in {
			t.Errorf("%d.String() = %q, want %q", got, got.String(), g.in)
		}
	}
	for _, bad := range []string{"", ".5", "1.", "1e3", "0.1234567891", "+1", "1,5", "9223372036.854775808", "--1", "0x10"} {
		if v, err := sdk.ParseTON(bad); err == nil {
			t.Errorf("ParseTON(%q) = %d, want an error", bad, v)
		}
	}
	if n, err := sdk.ParseNano("418000000"); err != nil || n != price100 {
		t.Errorf("ParseNano: %d, %v", n, err)
	}
	if _, err := sdk.ParseNano("0.418"); err == nil {
		t.Error("ParseNano accepts a decimal")
	}
	if s := sdk.Nano(math.MinInt64).String(); s != "-9223372036.854775808" {
		t.Errorf("MinInt64 = %s", s)
	}
	if u, err := sdk.ParseUSD("3.59"); err != nil || u != 3_590_000 || u.String() != "3.59" {
		t.Errorf("ParseUSD: %v, %v", u, err)
	}
	// The SDK's formatting agrees with the server's for every amount tried.
	for _, n := range []int64{1, 10, 418_000_000, 1_000_000_000, 123_456_789_012, math.MaxInt64} {
		if got, want := sdk.Nano(n).String(), shop.NanoTON(n).String(); got != want {
			t.Errorf("%d: sdk %s, shop %s", n, got, want)
		}
	}
}

// The SDK's code constants are the server's (shop and api): a code added
// to the OpenAPI document's ErrorCode without a constant here fails.
func TestErrorCodes_MatchServer(t *testing.T) {
	pairs := map[string]string{
		sdk.CodeValidation: shop.EVALIDATION, sdk.CodeUnauthorized: shop.EUNAUTHORIZED, sdk.CodeNotFound: shop.ENOTFOUND,
		sdk.CodeInsufficientBalance: shop.EINSUFFICIENT, sdk.CodeRateLimited: shop.ERATELIMITED, sdk.CodeIdempotencyConflict: shop.ECONFLICT,
		sdk.CodeRecipientNotFound: shop.ERECIPIENT, sdk.CodeOrderNotCancellable: shop.ENOTCANCELLABLE, sdk.CodeInternal: shop.EINTERNAL,
		sdk.CodeInvalidState: shop.EINVALIDSTATE, sdk.CodeQuoteExpired: shop.EQUOTEEXPIRED, sdk.CodeQuoteUsed: shop.EQUOTEUSED,
	}
	for got, want := range pairs {
		if got != want {
			t.Errorf("sdk %s, server %s", got, want)
		}
	}
	b, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				ErrorCode struct {
					Examples []string `json:"examples"`
				} `json:"ErrorCode"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ours := []string{sdk.CodeValidation, sdk.CodeUnauthorized, sdk.CodeInsufficientBalance, sdk.CodeNotFound, sdk.CodeRecipientNotFound,
		sdk.CodeMethodNotAllowed, sdk.CodeIdempotencyConflict, sdk.CodeOrderNotCancellable, sdk.CodeInvalidState, sdk.CodeQuoteExpired,
		sdk.CodeQuoteUsed, sdk.CodeRateLimited, sdk.CodeInternal, sdk.CodeOrderFailed}
	codes := doc.Components.Schemas.ErrorCode.Examples
	if len(codes) == 0 {
		t.Fatal("no ErrorCode examples in api/openapi.json")
	}
	for _, c := range codes {
		if !slices.Contains(ours, c) {
			t.Errorf("the API documents %s; the SDK has no constant for it", c)
		}
	}
}
