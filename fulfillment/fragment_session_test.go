package fulfillment

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	tonapi "github.com/xssnick/tonutils-go/ton"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
	"starsbot/ton"
)

// sessionTestMnemonic is the ton package's test mnemonic; it holds no funds.
const sessionTestMnemonic = "orphan close bulk misery later setup skate develop inspire pole item ring climb puzzle quote roof orphan olympic guitar field word slender exit mirror"

// sessionTestWallet is a real hot wallet (no chain behind it): it signs
// TON proofs and derives the session key as in production.
var sessionTestWallet = sync.OnceValues(func() (*ton.Wallet, error) {
	return ton.NewWallet(struct{ tonapi.APIClientWrapped }{}, ton.WalletConfig{Mnemonic: sessionTestMnemonic, Version: ton.WalletV5R1})
})

// provingWallet pays through the fake wallet and chain, and describes,
// signs and derives keys as the real wallet does, unless told otherwise.
type provingWallet struct {
	*fakeWallet
	tw   *ton.Wallet
	sign func(domain string, ts time.Time, payload string) ([]byte, error) // nil: the real signature
	key  []byte                                                            // nil: the real key
}

var (
	_ TonProofSigner = (*provingWallet)(nil)
	_ KeyDeriver     = (*provingWallet)(nil)
	_ TonProofSigner = (*ton.Wallet)(nil)
	_ KeyDeriver     = (*ton.Wallet)(nil)
)

func newProvingWallet(t *testing.T, srv *fragmenttest.Server) *provingWallet {
	t.Helper()
	tw, err := sessionTestWallet()
	if err != nil {
		t.Fatal(err)
	}
	return &provingWallet{fakeWallet: newFakeWallet(t, srv), tw: tw}
}

func (w *provingWallet) Info() shop.WalletInfo { return w.tw.Info() }

func (w *provingWallet) SignTonProof(domain string, ts time.Time, payload string) ([]byte, error) {
	if w.sign != nil {
		return w.sign(domain, ts, payload)
	}
	return w.tw.SignTonProof(domain, ts, payload)
}

func (w *provingWallet) DeriveKey(info string) ([]byte, error) {
	if w.key != nil {
		return bytes.Clone(w.key), nil
	}
	return w.tw.DeriveKey(info)
}

// recorder is the provider's HTTP transport: it remembers every cookie
// value sent or set and the Cookie headers sent, and can run a hook just
// before a given API method is called.
type recorder struct {
	base http.RoundTripper

	mu      sync.Mutex
	headers []string        // Cookie headers sent
	values  map[string]bool // every cookie value sent or set
	before  map[string]func()
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	method := ""
	if req.Method == http.MethodPost && req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		q, _ := url.ParseQuery(string(b))
		method = q.Get("method")
	}
	r.mu.Lock()
	hook := r.before[method]
	delete(r.before, method)
	r.headers = append(r.headers, req.Header.Get("Cookie"))
	for _, c := range req.Cookies() {
		r.values[c.Value] = true
	}
	r.mu.Unlock()
	if hook != nil {
		hook()
	}
	resp, err := r.base.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		for _, c := range resp.Cookies() {
			r.values[c.Value] = true
		}
		r.mu.Unlock()
	}
	return resp, err
}

// beforeCall runs hook once, just before the next call of method.
func (r *recorder) beforeCall(method string, hook func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.before[method] = hook
}

func (r *recorder) lastHeader() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.headers) == 0 {
		return ""
	}
	return r.headers[len(r.headers)-1]
}

// sessionEnv is a fake Fragment, a real shop store keeping the session,
// and providers built as freshly started processes build them.
type sessionEnv struct {
	t      *testing.T
	srv    *fragmenttest.Server
	db     *store.DB
	svc    *shop.Service
	wallet *provingWallet
	rec    *recorder
	logs   *syncBuffer
	errs   []string
	nextID int64
}

func newSessionEnv(t *testing.T) *sessionEnv {
	t.Helper()
	srv := fragmenttest.New(t)
	srv.AddUser(testRecipient)
	srv.SetRequirePayment(true)
	s := shoptest.New(t, &shoptest.Options{Start: time.Now(), DepositAddress: testWalletInfo.Address})
	db, svc := s.DB, s.Service
	e := &sessionEnv{
		t: t, srv: srv, db: db, svc: svc,
		wallet: newProvingWallet(t, srv),
		rec:    &recorder{base: srv.Client().Transport, values: make(map[string]bool), before: make(map[string]func())},
		logs:   &syncBuffer{},
		nextID: 100,
	}
	t.Cleanup(e.checkNoSecrets)
	return e
}

// fragment is the provider of a freshly started process configured with
// cookies (FRAGMENT_COOKIES).
func (e *sessionEnv) fragment(cookies string) *Fragment {
	return NewFragment(FragmentConfig{
		BaseURL:   e.srv.URL,
		Cookies:   cookies,
		Wallet:    e.wallet,
		HTTP:      &http.Client{Transport: e.rec},
		Tolerance: 10_000_000,
		Sessions:  e.svc,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
}

// deliver runs a new order of 100 Stars through f.
func (e *sessionEnv) deliver(f *Fragment) (string, *deliveryStore, error) {
	e.nextID++
	st := &deliveryStore{saved: shop.Delivery{OrderID: e.nextID, Provider: "fragment"}}
	o := &shop.Order{ID: e.nextID, UserID: 1, Status: shop.StatusProcessing, Type: shop.OrderStars, Recipient: testRecipient, Stars: 100, PriceTON: 600_000_000}
	ref, err := f.Deliver(context.Background(), st.job(o))
	if err != nil {
		e.errs = append(e.errs, err.Error())
	}
	return ref, st, err
}

// requireDelivered checks that a delivery ended confirmed by Fragment.
func (e *sessionEnv) requireDelivered(ref string, st *deliveryStore, err error) {
	e.t.Helper()
	d := st.load()
	if err != nil || ref == "" || !d.Confirmed {
		e.t.Fatalf("delivery: ref %q, err %v, confirmed %v", ref, err, d.Confirmed)
	}
	if r, ok := e.srv.Request(d.RequestID); !ok || !r.Confirmed || r.Payments != 1 {
		e.t.Fatalf("Fragment's request %s: %+v", d.RequestID, r)
	}
}

func (e *sessionEnv) check(f *Fragment) error {
	rc, err := f.CheckRecipient(context.Background(), shop.OrderStars, testRecipient)
	if err != nil {
		e.errs = append(e.errs, err.Error())
		return err
	}
	if !rc.CanReceive {
		e.t.Fatalf("recipient check: %+v", rc)
	}
	return nil
}

// checkNoSecrets greps the logs and errors for every cookie value the
// provider sent or Fragment set.
func (e *sessionEnv) checkNoSecrets() {
	e.rec.mu.Lock()
	values := []string{fragmenttest.SSID, fragmenttest.Token, fragmenttest.TONToken}
	for v := range e.rec.values {
		if len(v) >= 8 {
			values = append(values, v)
		}
	}
	e.rec.mu.Unlock()
	texts := append(slices.Clone(e.errs), e.logs.String())
	for _, v := range values {
		for _, text := range texts {
			if strings.Contains(text, v) {
				e.t.Errorf("cookie value %q leaked into %q", v, text)
			}
		}
	}
}

// cookieHeaderOf is a Cookie header with the fake's current values.
func cookieHeaderOf(srv *fragmenttest.Server) string {
	var parts []string
	for _, n := range []string{"stel_ssid", "stel_dt", "stel_token", "stel_ton_token"} {
		parts = append(parts, n+"="+srv.Cookie(n))
	}
	return strings.Join(parts, "; ")
}

func TestFragmentSession_SetCookieFollowed(t *testing.T) {
	e := newSessionEnv(t)
	e.srv.RotateSSID(1) // every page load renews stel_ssid; only the new one is accepted
	f := e.fragment(fragmenttest.Cookies)
	if err := e.check(f); err != nil {
		t.Fatal(err)
	}
	ssid := e.srv.Cookie("stel_ssid")
	if ssid == fragmenttest.SSID || !strings.Contains(e.rec.lastHeader(), "stel_ssid="+ssid) {
		t.Fatal("the renewed stel_ssid was not sent with the next call")
	}
	// A purchase in a fresh process, with stel_ssid renewed at every page.
	ref, st, err := e.deliver(e.fragment(fragmenttest.Cookies))
	e.requireDelivered(ref, st, err)
	if e.srv.Cookie("stel_ssid") == ssid {
		t.Fatal("the fake did not rotate stel_ssid during the purchase")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "fragment cookies renewed") || !strings.Contains(logs, "stel_ssid") {
		t.Errorf("cookie renewals not logged by name:\n%s", logs)
	}
}

// TestFragmentSession_SetCookieRules drives the jar with answers the fake
// does not give: deletions, foreign domains, oversize values, error
// statuses.
func TestFragmentSession_SetCookieRules(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Set-Cookie", "stel_ssid=renewed-ssid-value; Path=/; HttpOnly")
		h.Add("Set-Cookie", "stel_dt=; Max-Age=0")
		h.Add("Set-Cookie", "stel_token=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
		h.Add("Set-Cookie", "foreign=1; Domain=example.org")
		h.Add("Set-Cookie", "huge="+strings.Repeat("a", fragmentMaxCookieValue+1))
		h.Add("Set-Cookie", "__cf_bm=cf-value; Domain="+r.Host[:strings.IndexByte(r.Host, ':')])
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer srv.Close()
	logs := &syncBuffer{}
	f := NewFragment(FragmentConfig{
		BaseURL: srv.URL,
		Cookies: "stel_ssid=old-ssid-value; stel_dt=-180; stel_token=old-token-value; stel_ton_token=ton-value",
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if _, err := f.fetchPage(context.Background(), "/stars/buy"); KindOf(err) != Retryable {
		t.Fatalf("fetchPage = %v, want Retryable (HTTP 502)", err)
	}
	want := "stel_ssid=renewed-ssid-value; stel_ton_token=ton-value; __cf_bm=cf-value"
	if got := f.cookieHeader(); got != want {
		t.Errorf("Cookie header after the answer:\n got %q\nwant %q", got, want)
	}
	if err := f.checkCookies(); KindOf(err) != Unhealthy || !strings.Contains(ReasonOf(err), "lack stel_dt") || !strings.Contains(ReasonOf(err), fragmentLoginSteps) {
		t.Errorf("checkCookies = %v, want the missing login cookie and the steps", err)
	}
	for _, v := range []string{"renewed-ssid-value", "old-ssid-value", "old-token-value", "ton-value", "cf-value"} {
		if strings.Contains(logs.String(), v) {
			t.Errorf("cookie value %q logged", v)
		}
	}

	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				f.fetchPage(context.Background(), "/")
				_ = f.cookieHeader()
			})
		}
		wg.Wait()
	})
}

func TestFragmentSession_PersistedEncrypted(t *testing.T) {
	e := newSessionEnv(t)
	e.srv.RotateSSID(1)
	if err := e.check(e.fragment(fragmenttest.Cookies)); err != nil {
		t.Fatal(err)
	}
	e.srv.RotateSSID(0)
	ssid := e.srv.Cookie("stel_ssid")

	// The database, as /backup sends it, holds no cookie value.
	var snap bytes.Buffer
	if _, err := e.db.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	blob, err := e.svc.LoadFragmentSession(context.Background())
	if err != nil || len(blob) == 0 {
		t.Fatalf("no session saved: %v", err)
	}
	for _, v := range []string{ssid, fragmenttest.SSID, fragmenttest.Token, fragmenttest.TONToken, "stel_token", "stel_ssid"} {
		if bytes.Contains(snap.Bytes(), []byte(v)) || bytes.Contains(blob, []byte(v)) {
			t.Errorf("%q is in the database in clear", v)
		}
	}

	// A restart with the same FRAGMENT_COOKIES goes on with the renewed
	// cookies: the configured stel_ssid is refused by now.
	if err := e.check(e.fragment(fragmenttest.Cookies)); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	if !strings.Contains(e.rec.lastHeader(), "stel_ssid="+ssid) || !strings.Contains(e.logs.String(), "restored the saved session") {
		t.Error("the saved session was not used after the restart")
	}
	// Without the saved session the process would be stuck.
	stale := e.fragment(fragmenttest.Cookies)
	stale.Sessions = nil
	if err := e.check(stale); KindOf(err) != Unhealthy {
		t.Fatalf("stale cookies: %v, want Unhealthy", err)
	}
}

func TestFragmentSession_ConfiguredCookiesWin(t *testing.T) {
	e := newSessionEnv(t)
	e.srv.RotateSSID(1)
	if err := e.check(e.fragment(fragmenttest.Cookies)); err != nil {
		t.Fatal(err)
	}
	e.srv.RotateSSID(0)
	// The admin pastes new cookies (here: the live ones, plus a marker).
	pasted := cookieHeaderOf(e.srv) + "; pasted=1"
	if err := e.check(e.fragment(pasted)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.rec.lastHeader(), "pasted=1") || !strings.Contains(e.logs.String(), "FRAGMENT_COOKIES changed") {
		t.Fatalf("the pasted cookies were not used: %q", e.rec.lastHeader())
	}
	// They are renewed and saved in turn (as renewals of the pasted ones).
	e.srv.RotateSSID(1)
	if err := e.check(e.fragment(pasted)); err != nil {
		t.Fatal(err)
	}
	e.srv.RotateSSID(0)
	if err := e.check(e.fragment(pasted)); err != nil || !strings.Contains(e.rec.lastHeader(), "stel_ssid="+e.srv.Cookie("stel_ssid")) {
		t.Fatalf("restart with the pasted cookies: %v", err)
	}
	// Configured cookies win over a saved session even when they are
	// worse: here the first, stale ones pasted back.
	if err := e.check(e.fragment(fragmenttest.Cookies)); KindOf(err) != Unhealthy {
		t.Fatalf("stale pasted cookies: %v, want them used (and refused)", err)
	}
}

func TestFragmentSession_UnreadableSavedSession(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(e *sessionEnv)
		warn  string
	}{
		{"OtherMnemonic", func(e *sessionEnv) { e.wallet.key = bytes.Repeat([]byte{7}, 32) }, "does not decrypt"},
		{"Garbage", func(e *sessionEnv) { e.svc.SaveFragmentSession(context.Background(), []byte("not a session")) }, "does not decrypt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSessionEnv(t)
			e.srv.RotateSSID(1)
			if err := e.check(e.fragment(fragmenttest.Cookies)); err != nil {
				t.Fatal(err)
			}
			e.srv.RotateSSID(0)
			tt.spoil(e)
			// The live cookies are configured: only the saved ones are bad.
			f := e.fragment(cookieHeaderOf(e.srv))
			if err := e.check(f); err != nil {
				t.Fatalf("with an unreadable saved session: %v", err)
			}
			if !strings.Contains(e.logs.String(), tt.warn) {
				t.Errorf("no warning %q", tt.warn)
			}
		})
	}
}

func TestFragmentSession_WalletRenewedFromSeed(t *testing.T) {
	t.Run("NeedTON", func(t *testing.T) {
		e := newSessionEnv(t)
		e.srv.ExpireTONToken()
		ref, st, err := e.deliver(e.fragment(fragmenttest.Cookies))
		e.requireDelivered(ref, st, err)
		if n := e.srv.Calls("checkTonProofAuth"); n != 1 {
			t.Fatalf("checkTonProofAuth called %d times, want 1", n)
		}
		// The new stel_ton_token was saved: a restart uses it without a
		// new proof (the configured one is refused by now).
		if err := e.check(e.fragment(fragmenttest.Cookies)); err != nil {
			t.Fatal(err)
		}
		if n := e.srv.Calls("checkTonProofAuth"); n != 1 {
			t.Errorf("after a restart: checkTonProofAuth called %d times, want 1", n)
		}
	})
	t.Run("ReconnectAtLink", func(t *testing.T) {
		e := newSessionEnv(t)
		e.rec.beforeCall("getBuyStarsLink", e.srv.ExpireTONToken)
		ref, st, err := e.deliver(e.fragment(fragmenttest.Cookies))
		e.requireDelivered(ref, st, err)
		if n := e.srv.Calls("checkTonProofAuth"); n != 1 {
			t.Fatalf("checkTonProofAuth called %d times, want 1", n)
		}
		if n := e.srv.Calls("getBuyStarsLink"); n != 3 {
			t.Errorf("getBuyStarsLink called %d times, want 3 (refused, refused with a fresh hash, after the renewal)", n)
		}
	})
	t.Run("NotConfigured", func(t *testing.T) {
		e := newSessionEnv(t)
		e.srv.ExpireTONToken()
		cookies := "stel_ssid=" + fragmenttest.SSID + "; stel_dt=-180; stel_token=" + fragmenttest.Token
		ref, st, err := e.deliver(e.fragment(cookies))
		e.requireDelivered(ref, st, err)
		if n := e.srv.Calls("checkTonProofAuth"); n != 1 {
			t.Fatalf("checkTonProofAuth called %d times, want 1", n)
		}
	})
	t.Run("ProofRefused", func(t *testing.T) {
		e := newSessionEnv(t)
		e.wallet.sign = func(string, time.Time, string) ([]byte, error) { return make([]byte, 64), nil }
		e.srv.ExpireTONToken()
		f := e.fragment(fragmenttest.Cookies)
		for range 2 {
			_, st, err := e.deliver(f)
			if KindOf(err) != Unhealthy || !strings.Contains(ReasonOf(err), fragmentWalletSteps) {
				t.Fatalf("got %v, want Unhealthy with the steps", err)
			}
			if st.load().Payout != nil || e.payments() != 0 {
				t.Fatal("paid without a wallet connection")
			}
		}
		if n := e.srv.Calls("checkTonProofAuth"); n != 1 {
			t.Errorf("checkTonProofAuth called %d times, want 1 (no renewal loop)", n)
		}
	})
	t.Run("StillGoneAfterRenewal", func(t *testing.T) {
		e := newSessionEnv(t)
		e.srv.Fail("initBuyStarsRequest", fragmenttest.NeedTON)
		e.srv.Fail("initBuyStarsRequest", fragmenttest.NeedTON)
		_, _, err := e.deliver(e.fragment(fragmenttest.Cookies))
		if KindOf(err) != Unhealthy || !strings.Contains(ReasonOf(err), "after it was renewed") {
			t.Fatalf("got %v, want Unhealthy: still no wallet after the renewal", err)
		}
		if n := e.srv.Calls("checkTonProofAuth"); n != 1 {
			t.Errorf("checkTonProofAuth called %d times, want 1", n)
		}
	})
	t.Run("WorkerNeedsNoAdmin", func(t *testing.T) {
		we := newFragmentWorkerEnv(t)
		w := newProvingWallet(t, we.srv)
		w.fakeWallet = we.wallet
		f := NewFragment(FragmentConfig{BaseURL: we.srv.URL, Cookies: fragmenttest.Cookies, Wallet: w, HTTP: we.srv.Client(), Tolerance: 10_000_000, Sessions: we.svc, Logger: slog.New(slog.DiscardHandler)})
		worker := mustWorker(t, WorkerConfig{Shop: we.shop, Provider: f, Name: "fragment", Notifier: we.alerts, Now: func() time.Time { return we.now }, Logger: slog.New(slog.DiscardHandler)})
		we.srv.ExpireTONToken()
		o := we.order(shop.OrderStars, testRecipient)
		we.runOnce(worker)
		if got := we.get(o.ID); got.Status != shop.StatusCompleted {
			t.Fatalf("order %s (%q)", got.Status, got.FailureReason)
		}
		if len(we.alerts.alerts) != 0 || we.srv.Calls("checkTonProofAuth") != 1 {
			t.Fatalf("alerts %v, proofs %d; want none and 1", we.alerts.alerts, we.srv.Calls("checkTonProofAuth"))
		}
	})
}

func (e *sessionEnv) payments() int {
	n := 0
	for _, r := range e.srv.Requests() {
		n += r.Payments
	}
	return n
}

func TestFragmentSession_LoginNeedsHuman(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(e *sessionEnv) string // returns FRAGMENT_COOKIES
		want    []string
		noCalls bool
	}{
		{"LoginExpired", func(e *sessionEnv) string { e.srv.ExpireLogin(); return fragmenttest.Cookies },
			[]string{"Telegram login", fragmentLoginSteps}, false},
		{"NeedVerify", func(e *sessionEnv) string {
			e.srv.Fail("searchStarsRecipient", fragmenttest.NeedVerify)
			e.srv.Fail("searchStarsRecipient", fragmenttest.NeedVerify)
			return fragmenttest.Cookies
		}, []string{"need_verify", "https://fragment.com/kyc/account", fragmentCopyCookies}, false},
		{"NoTelegramToken", func(e *sessionEnv) string {
			return "stel_ssid=" + fragmenttest.SSID + "; stel_dt=-180; stel_ton_token=" + fragmenttest.TONToken
		}, []string{"lack stel_token", fragmentLoginSteps}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newSessionEnv(t)
			f := e.fragment(tt.setup(e))
			for range 2 {
				_, st, err := e.deliver(f)
				if KindOf(err) != Unhealthy {
					t.Fatalf("got %v, want Unhealthy", err)
				}
				for _, w := range tt.want {
					if !strings.Contains(ReasonOf(err), w) {
						t.Errorf("reason %q lacks %q", ReasonOf(err), w)
					}
				}
				if st.load().Payout != nil {
					t.Fatal("paid")
				}
			}
			if n := e.srv.Calls("checkTonProofAuth"); n != 0 {
				t.Errorf("checkTonProofAuth called %d times: the Telegram login cannot be renewed from the seed", n)
			}
			if tt.noCalls && e.srv.PageLoads(fragmenttest.StarsPage) != 0 {
				t.Error("Fragment was called without a Telegram login")
			}
		})
	}
}

// TestFragmentSession_AlertCarriesSteps runs the worker into a lost
// Telegram login: the admins' alert holds the steps as the provider wrote
// them, within one Telegram message.
func TestFragmentSession_AlertCarriesSteps(t *testing.T) {
	we := newFragmentWorkerEnv(t)
	w := newProvingWallet(t, we.srv)
	w.fakeWallet = we.wallet
	f := NewFragment(FragmentConfig{BaseURL: we.srv.URL, Cookies: fragmenttest.Cookies, Wallet: w, HTTP: we.srv.Client(), Tolerance: 10_000_000, Sessions: we.svc, Logger: slog.New(slog.DiscardHandler)})
	worker := mustWorker(t, WorkerConfig{Shop: we.shop, Provider: f, Name: "fragment", Notifier: we.alerts, Now: func() time.Time { return we.now }, Logger: slog.New(slog.DiscardHandler)})
	we.srv.ExpireLogin()
	o := we.order(shop.OrderStars, testRecipient)
	we.runOnce(worker)
	if got := we.get(o.ID); got.Status != shop.StatusManual {
		t.Fatalf("order %s", got.Status)
	}
	var unhealthy []string
	for _, a := range we.alerts.alerts {
		if a.Kind == shop.AlertProviderUnhealthy {
			unhealthy = append(unhealthy, a.Message)
		}
	}
	if len(unhealthy) != 1 {
		t.Fatalf("unhealthy alerts: %q", unhealthy)
	}
	msg := unhealthy[0]
	if !strings.Contains(msg, fragmentLoginSteps+". Orders go to manual delivery meanwhile.") {
		t.Errorf("the alert does not carry the steps unchanged:\n%s", msg)
	}
	// bot.Alert keeps 3000 runes of a message.
	if n := utf8.RuneCountInString(msg); n > 3000 {
		t.Errorf("alert of %d runes would be cut", n)
	}
	if we.srv.Calls("checkTonProofAuth") != 0 {
		t.Error("a lost Telegram login started a wallet renewal")
	}
}
