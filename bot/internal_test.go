package bot

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/shop"
)

// TestButton_CallbackDataFits builds every kind of callback button with the
// longest arguments it can carry and checks the 64-byte limit. (Every
// button actually sent in the other tests is also checked by the fake
// server.)
func TestButton_CallbackDataFits(t *testing.T) {
	longName := strings.Repeat("a", 32) // longest valid username
	maxStars := "100000000"             // Pricing.Validate caps StarsMax here
	maxID := "9223372036854775807"      // int64 order ids and cursors
	nonce := newNonce()
	if !validNonce(nonce) {
		t.Fatalf("newNonce() = %q is not valid", nonce)
	}
	quoteID := strings.Repeat("Q", shop.QuoteIDLen)
	cases := []struct {
		unique string
		args   []string
	}{
		{cbMenu, nil}, {cbHelp, nil}, {cbBalance, nil}, {cbLang, nil},
		{cbSetLang, []string{"ru"}},
		{cbBuy, []string{kindPremium}}, {cbMe, []string{kindStars}}, {cbOther, []string{kindStars}},
		{cbAmount, []string{kindStars, maxStars, longName}},
		{cbAmount, []string{kindPremium, "12", longName}},
		{cbCustom, []string{longName}},
		{cbPay, []string{quoteID, payBalance, longName}},
		{cbPay, []string{quoteID, payTON, longName}},
		{cbOrders, []string{maxID}}, {cbOrder, []string{maxID}}, {cbCancelOrder, []string{maxID}},
		{cbAPI, []string{keySimple}}, {cbRotateAsk, []string{keyOrders}}, {cbRotate, []string{keyOrders}},
		{cbRevokeAsk, []string{keySimple}}, {cbRevoke, []string{keySimple}}, {cbHide, []string{keyOrders}},
		{cbMe, []string{kindStars, maxStars}}, {cbOther, []string{kindPremium, "12"}},
		{cbCreateKey, []string{keySimple}}, {cbCheckPay, []string{maxID}}, {cbOtherWallet, nil},
	}
	for _, c := range cases {
		b := button("x", c.unique, c.args...)
		if n := len(b.Data); n > MaxCallbackData || n == 0 {
			t.Errorf("%s: %d bytes", c.unique, n)
		}
		if !strings.HasPrefix(b.Data, "\f"+c.unique) {
			t.Errorf("%s: data %q does not route to its handler", c.unique, b.Data)
		}
	}
	defer func() {
		if recover() == nil {
			t.Errorf("a 65-byte callback did not panic")
		}
	}()
	button("x", cbPay, strings.Repeat("z", 60))
}

var verbRE = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

func TestCatalogs(t *testing.T) {
	en, ru := catalogs["en"], catalogs["ru"]
	for _, lang := range shop.Languages {
		if catalogs[lang] == nil {
			t.Errorf("no catalog for %s", lang)
		}
	}
	for k, v := range en {
		r, ok := ru[k]
		if !ok {
			t.Errorf("ru lacks %q", k)
			continue
		}
		if a, b := verbRE.FindAllString(v, -1), verbRE.FindAllString(r, -1); !slices.Equal(a, b) {
			t.Errorf("%q: verbs en %v, ru %v", k, a, b)
		}
		if r == v && !strings.HasPrefix(k, "orders.line") && k != "balance.entry" && k != "btn.api" && k != "btn.premium" {
			t.Logf("%q is the same in en and ru", k)
		}
	}
	for k := range ru {
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
	// Message texts are HTML (button labels are plain text).
	for lang, cat := range catalogs {
		for k, v := range cat {
			if strings.HasPrefix(k, "btn.") {
				continue
			}
			if _, err := bottest.CheckHTML(v); err != nil {
				t.Errorf("%s %q: %v", lang, k, err)
			}
		}
	}

	// Every key the code uses exists.
	used := map[string]bool{}
	keyRE := regexp.MustCompile(`(?:\.T|\btr)\((?:[a-z]+, )?"([a-z_.]+)"`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyRE.FindAllStringSubmatch(string(src), -1) {
			if !strings.HasSuffix(m[1], ".") { // a prefix completed at run time; enumerated below
				used[m[1]] = true
			}
		}
	}
	for _, kind := range []string{kindStars, kindPremium} {
		used["buy.who."+kind], used["buy.cannot_receive."+kind], used["buy.who_n."+kind] = true, true, true
	}
	for _, c := range menuCommands {
		used["cmd."+c] = true
	}
	for _, s := range shop.OrderStatuses {
		used["status."+string(s)] = true
	}
	for _, m := range []shop.PaymentMethod{shop.PayBalance, shop.PayTONMemo} {
		used["method."+string(m)] = true
	}
	for _, l := range []shop.LedgerType{shop.LedgerDeposit, shop.LedgerOrder, shop.LedgerRefund, shop.LedgerAdminCredit, shop.LedgerAdminDebit, shop.LedgerReferral} {
		used["ledger."+string(l)] = true
	}
	if len(used) < 50 {
		t.Fatalf("found only %d used keys; is the key pattern stale?", len(used))
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is used but not in the catalogs", k)
		}
	}
	for k := range en {
		if !used[k] {
			t.Errorf("key %q is in the catalogs but never used", k)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	// One chat: a burst of 3, then one per second.
	l := newLimiter(30, 1, 3)
	for i := range 8 {
		want := time.Duration(max(0, i-2)) * time.Second
		if got := l.delay(7, now); got != want {
			t.Errorf("message %d to one chat: delay %s, want %s", i, got, want)
		}
	}

	// Many chats: 30 at once, then 30 per second overall.
	l = newLimiter(30, 1, 3)
	var last time.Duration
	for i := range 90 {
		d := l.delay(int64(100+i), now)
		if i < 30 && d != 0 {
			t.Errorf("message %d: delay %s within the global burst", i, d)
		}
		last = d
	}
	if last < 1900*time.Millisecond || last > 2100*time.Millisecond {
		t.Errorf("90th message to distinct chats waits %s, want about 2s", last)
	}

	// Unlimited.
	l = newLimiter(-1, -1, 0)
	for range 100 {
		if d := l.delay(1, now); d != 0 {
			t.Fatalf("unlimited limiter delays %s", d)
		}
	}
}

func TestTransferLinks(t *testing.T) {
	const addr = "UQBFJTkJ5hZdH7i6rWQTnm43zn6h2dPBV9lFZ2e98WvWABy_"
	if got, want := tonkeeperURL(addr, 417827299, "STARS-a1b2c3"), "https://app.tonkeeper.com/transfer/"+addr+"?amount=417827299&text=STARS-a1b2c3"; got != want {
		t.Errorf("tonkeeperURL = %s, want %s", got, want)
	}
	if got, want := myTonWalletURL(addr, 417827299, "STARS-a1b2c3"), "https://my.tt/transfer/"+addr+"?amount=417827299&text=STARS-a1b2c3"; got != want {
		t.Errorf("myTonWalletURL = %s, want %s", got, want)
	}
	if got, want := myTonWalletURL(addr, 0, "AP 1&2"), "https://my.tt/transfer/"+addr+"?text=AP+1%262"; got != want {
		t.Errorf("myTonWalletURL without amount = %s, want %s", got, want)
	}
	if got, want := tonLink(addr, 0, "AP 1&2"), "ton://transfer/"+addr+"?text=AP+1%262"; got != want {
		t.Errorf("tonLink = %s, want %s", got, want)
	}
	if got := tonLink(addr, 0, ""); got != "ton://transfer/"+addr {
		t.Errorf("tonLink without memo = %s", got)
	}
}

// The payment-screen record of a chat is bounded: at most
// maxPaymentScreens, none older than paymentScreenTTL, and it is kept
// apart from the chat's flow state.
func TestPaymentScreens_Bounded(t *testing.T) {
	now := time.Date(2026, 4, 16, 11, 0, 0, 0, time.UTC)
	st := &bottest.MemState{}
	b := &Bot{Config: Config{State: st, Now: func() time.Time { return now }}}
	ctx := t.Context()
	b.rememberScreen(ctx, 7, 1, 10, 11) // old: dropped at the next save
	now = now.Add(paymentScreenTTL + time.Hour)
	for i := int64(2); i < 2+2*maxPaymentScreens; i++ {
		b.rememberScreen(ctx, 7, i, int(10*i), int(10*i+1))
	}
	ps, err := b.loadScreens(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Screens) != maxPaymentScreens || ps.Screens[0].Order != 2+maxPaymentScreens {
		t.Errorf("kept %d screens from order %d", len(ps.Screens), ps.Screens[0].Order)
	}
	if raw, _ := st.LoadChatState(ctx, 7); raw != nil {
		t.Errorf("the record landed in the chat's flow state: %s", raw)
	}
}

func TestMoneyFormatting(t *testing.T) {
	for _, tc := range []struct {
		lang, in, want string
	}{
		{"en", "0.418", "0.418"},
		{"ru", "0.418", "0,418"},
		{"en", "1000000", "1,000,000"},
		{"ru", "1000000", "1\u00a0000\u00a0000"},
		{"ru", "2500", "2500"},
		{"en", "2500", "2,500"},
		{"ru", "12345.5", "12\u00a0345,5"},
		{"ru", "-0.5", "-0,5"},
		{"en", "999", "999"},
	} {
		if got := localDecimal(tc.lang, tc.in); got != tc.want {
			t.Errorf("localDecimal(%s, %s) = %q, want %q", tc.lang, tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		ton  shop.NanoTON
		rate shop.MicroUSD
		want shop.MicroUSD
	}{
		{418_000_000, 3_590_000, 1_500_000},   // 1.50062 → 1.50
		{1_000_000_000, 3_595_000, 3_600_000}, // 3.595 → 3.60 (half up)
		{0, 3_590_000, 0},
		{1_000_000, 0, 0},
		{5_000_000_000_000, 3_590_000, 17_950_000_000},
	} {
		if got := usdOf(tc.ton, tc.rate); got != tc.want {
			t.Errorf("usdOf(%s, %s) = %s, want %s", tc.ton, tc.rate, got, tc.want)
		}
	}
	if got := usdAmount("en", 1_500_000); got != "$1.50" {
		t.Errorf("en $ = %q", got)
	}
	if got := usdAmount("ru", 17_950_000_000); got != "17\u00a0950,00\u00a0$" {
		t.Errorf("ru $ = %q", got)
	}
	if got := usdAmount("en", 50_000); got != "$0.05" {
		t.Errorf("en 5 cents = %q", got)
	}
}

func TestRuPlural(t *testing.T) {
	for n, want := range map[int64]string{1: "звезда", 2: "звезды", 4: "звезды", 5: "звёзд", 11: "звёзд", 12: "звёзд", 14: "звёзд",
		21: "звезда", 22: "звезды", 25: "звёзд", 100: "звёзд", 101: "звезда", 111: "звёзд", 1001: "звезда", 1000000: "звёзд"} {
		if got := ruPlural(n, "звезда", "звезды", "звёзд"); got != want {
			t.Errorf("ruPlural(%d) = %s, want %s", n, got, want)
		}
	}
}
