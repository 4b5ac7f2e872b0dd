package fulfillment

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
)

// errCrash stands for the process dying: the step's effect happened (or
// not), and nothing after it runs.
var errCrash = errors.New("simulated crash")

var testWalletInfo = shop.WalletInfo{
	Address:      "UQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqEBI",
	RawAddress:   "0:83dfd552e63729b472fcbcc8c45ebcc6691702558b68ec7527e1ba403a0f31a8",
	Chain:        "-239",
	PublicKey:    strings.Repeat("5e", 32),
	StateInitBOC: []byte{0xb5, 0xee, 0x9c, 0x72, 0x01, 0x02, 0x03},
	Version:      "v4r2",
}

// walletMode scripts how the fake wallet behaves.
type walletMode int

const (
	walletNormal      walletMode = iota
	walletDieOnRecord            // sign and record, then die before broadcasting
	walletPending                // broadcast, then stop waiting: Pending
	walletStuck                  // sign and record, never broadcast: Pending (Send and Resume)
	walletExpire                 // sign and record, never broadcast: Expired
	walletNoFunds                // broadcast; the wallet cannot pay: Failed
	walletUnreachable            // fail before signing
	walletBounce                 // broadcast; Fragment's address bounces the payment back: Failed, Bounced
)

// fakeWallet is the hot wallet and the chain: it signs, records, broadcasts
// and reports each message's outcome, and forwards executed payments to the
// fake Fragment. It checks that each payment pays exactly what Fragment
// asked, payload bit for bit.
type fakeWallet struct {
	t   *testing.T
	srv *fragmenttest.Server

	mu         sync.Mutex
	mode       walletMode
	seqno      uint32
	msgs       map[string]*fakeMsg // by hash
	sent       []shop.Payout       // every payout signed
	signatures int
	broadcasts int
}

type fakeMsg struct {
	p       shop.Payout
	sp      shop.SignedPayout
	onChain bool
	expired bool
	bounced bool
	state   shop.PayoutState
}

var _ Wallet = (*fakeWallet)(nil)

func newFakeWallet(t *testing.T, srv *fragmenttest.Server) *fakeWallet {
	return &fakeWallet{t: t, srv: srv, msgs: make(map[string]*fakeMsg)}
}

func (w *fakeWallet) setMode(m walletMode) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mode = m
}

func (w *fakeWallet) counts() (signatures, broadcasts int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.signatures, w.broadcasts
}

func (w *fakeWallet) Info() shop.WalletInfo { return testWalletInfo }

func (w *fakeWallet) Balance(context.Context) (shop.NanoTON, error) { return 100 * shop.TON, nil }

func (w *fakeWallet) Send(ctx context.Context, p shop.Payout, record func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.mode == walletUnreachable {
		return nil, errors.New("liteserver unreachable")
	}
	if _, err := w.srv.Match(p.To, p.Amount, p.Payload); err != nil {
		w.t.Errorf("wallet asked to pay what Fragment did not ask: %v", err)
	}
	if !p.Bounce {
		w.t.Error("payment to Fragment is not bounceable")
	}
	w.seqno++
	w.signatures++
	boc := fmt.Appendf(nil, "ext-in seqno=%d to=%s amount=%d payload=%x", w.seqno, p.To, p.Amount, p.Payload)
	sum := sha256.Sum256(boc)
	sp := shop.SignedPayout{
		Hash: hex.EncodeToString(sum[:]), BOC: boc, Wallet: testWalletInfo.Address,
		Seqno: w.seqno, ValidUntil: time.Now().Add(3 * time.Minute), SignedAt: time.Now(),
	}
	p.Payload = bytes.Clone(p.Payload)
	w.sent = append(w.sent, p)
	m := &fakeMsg{p: p, sp: sp}
	w.msgs[sp.Hash] = m
	rec := sp
	rec.BOC = bytes.Clone(boc)
	if err := record(ctx, &rec); err != nil {
		return nil, err // not broadcast
	}
	switch w.mode {
	case walletDieOnRecord:
		return nil, errCrash
	case walletStuck:
		return &shop.PayoutResult{State: shop.PayoutPending}, nil
	case walletExpire:
		m.expired = true
		return &shop.PayoutResult{State: shop.PayoutExpired, Reason: "message expired"}, nil
	}
	w.broadcast(m)
	if w.mode == walletPending {
		return &shop.PayoutResult{State: shop.PayoutPending}, nil
	}
	return m.result(), nil
}

func (w *fakeWallet) Resume(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.msgs[sp.Hash]
	if !ok {
		m, ok = w.msgs[sp.Hash+"/"+sp.BodyHash] // a member of a batch
	}
	if !ok || !bytes.Equal(m.sp.BOC, sp.BOC) {
		w.t.Errorf("resume of a message the wallet never signed: %s", sp.Hash)
		return nil, errors.New("unknown message")
	}
	switch {
	case m.onChain:
		return m.result(), nil
	case m.expired:
		return &shop.PayoutResult{State: shop.PayoutExpired, Reason: "message expired"}, nil
	case w.mode == walletStuck:
		<-ctx.Done()
		return &shop.PayoutResult{State: shop.PayoutPending}, nil
	}
	w.broadcast(m)
	return m.result(), nil
}

// broadcast executes m on the fake chain, once. Callers hold mu.
func (w *fakeWallet) broadcast(m *fakeMsg) {
	w.broadcasts++
	if m.onChain {
		return
	}
	m.onChain = true
	switch w.mode {
	case walletNoFunds:
		m.state = shop.PayoutFailed
		return
	case walletBounce:
		m.state, m.bounced = shop.PayoutFailed, true
		return
	}
	m.state = shop.PayoutConfirmed
	err := w.srv.Pay(fragmenttest.Payment{BOC: m.sp.BOC, To: m.p.To, Amount: m.p.Amount, Payload: m.p.Payload})
	if err != nil {
		w.t.Errorf("payment reached Fragment but pays nothing: %v", err)
	}
}

func (m *fakeMsg) result() *shop.PayoutResult {
	r := &shop.PayoutResult{State: m.state, TxHash: "tx" + m.sp.Hash[:30], TxLT: uint64(m.sp.Seqno)}
	switch {
	case m.bounced:
		r.Reason, r.Bounced = "the payment bounced back", true
	case m.state == shop.PayoutFailed:
		r.Reason = "not enough funds"
	}
	return r
}

// deliveryStore is the durable delivery record. A save can be made to fail
// (nothing persisted) or to persist and then "die" at a given step.
type deliveryStore struct {
	mu       sync.Mutex
	saved    shop.Delivery
	steps    []string
	dieAfter string // persist this step, then fail as if the process died
	failAt   string // do not persist this step; fail
}

func (s *deliveryStore) save(_ context.Context, d *shop.Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt != "" && d.Step == s.failAt {
		s.failAt = ""
		return errCrash
	}
	s.saved = cloneDelivery(d)
	s.steps = append(s.steps, d.Step)
	if s.dieAfter != "" && d.Step == s.dieAfter {
		s.dieAfter = ""
		return errCrash
	}
	return nil
}

func (s *deliveryStore) load() shop.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneDelivery(&s.saved)
}

// job is a delivery attempt by a freshly started process: it sees only
// what was saved.
func (s *deliveryStore) job(o *shop.Order) *Job {
	d := s.load()
	return &Job{Order: o, Delivery: &d, SaveFunc: s.save}
}

func cloneDelivery(d *shop.Delivery) shop.Delivery {
	c := *d
	c.Payload = bytes.Clone(d.Payload)
	if d.Payout != nil {
		p := *d.Payout
		p.BOC = bytes.Clone(p.BOC)
		c.Payout = &p
	}
	if d.Paid != nil {
		p := *d.Paid
		c.Paid = &p
	}
	return c
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a fake Fragment, a fake wallet, a durable record and an order.
type harness struct {
	t      *testing.T
	srv    *fragmenttest.Server
	wallet *fakeWallet
	store  *deliveryStore
	order  *shop.Order
	logs   *syncBuffer
	errs   []string
	tweak  func(*FragmentConfig)
}

const testRecipient = "pavel_durov"

func newHarness(t *testing.T, kind shop.OrderType) *harness {
	t.Helper()
	srv := fragmenttest.New(t)
	srv.AddUser(testRecipient, "Jane_Doe_1")
	srv.SetRequirePayment(true)
	h := &harness{
		t:      t,
		srv:    srv,
		wallet: newFakeWallet(t, srv),
		store:  &deliveryStore{saved: shop.Delivery{OrderID: 7, Provider: "fragment"}},
		logs:   &syncBuffer{},
	}
	h.order = &shop.Order{ID: 7, UserID: 1, Status: shop.StatusProcessing, Type: kind, Recipient: testRecipient}
	if kind == shop.OrderStars {
		h.order.Stars, h.order.PriceTON = 100, 600_000_000 // Fragment asks 0.5 TON
	} else {
		h.order.Months, h.order.PriceTON = 3, 4_200_000_000 // Fragment asks 3.9 TON
	}
	t.Cleanup(h.checkNoSecrets)
	return h
}

// fragment is a Fragment as a freshly started process builds it.
func (h *harness) fragment() *Fragment {
	cfg := FragmentConfig{
		BaseURL:   h.srv.URL,
		Cookies:   fragmenttest.Cookies,
		Wallet:    h.wallet,
		HTTP:      h.srv.Client(),
		Tolerance: 10_000_000,
		Logger:    slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if h.tweak != nil {
		h.tweak(&cfg)
	}
	return NewFragment(cfg)
}

// deliver runs one delivery attempt in a fresh process.
func (h *harness) deliver() (string, error) {
	return h.deliverWith(context.Background(), h.fragment())
}

func (h *harness) deliverWith(ctx context.Context, f *Fragment) (string, error) {
	ref, err := f.Deliver(ctx, h.store.job(h.order))
	if err != nil {
		h.errs = append(h.errs, err.Error(), ReasonOf(err))
	}
	return ref, err
}

// secrets lists what must never show in an error or a log line.
func (h *harness) secrets() []string {
	return []string{
		fragmenttest.SSID, fragmenttest.Token, fragmenttest.TONToken, "stel_token=",
		h.srv.Hash(fragmenttest.StarsPage), h.srv.Hash(fragmenttest.PremiumPage), "?hash=",
	}
}

func (h *harness) checkNoSecrets() {
	texts := append(slices.Clone(h.errs), h.logs.String())
	for _, s := range h.secrets() {
		for _, text := range texts {
			if strings.Contains(text, s) {
				h.t.Errorf("secret %q leaked into %q", s, text)
			}
		}
	}
}

// payments is the number of payments Fragment received, over all requests.
func (h *harness) payments() int {
	n := 0
	for _, r := range h.srv.Requests() {
		n += r.Payments
	}
	return n
}

// requirePaidOnce checks that exactly one payment was signed and made, that
// it is recorded as the delivery (step paid or confirmed) and that ref is
// its transaction hash: the order is delivered, whatever the confirm call
// answered.
func (h *harness) requirePaidOnce(ref string) {
	h.t.Helper()
	sigs, _ := h.wallet.counts()
	if sigs != 1 || h.payments() != 1 {
		h.t.Fatalf("signatures %d, payments %d; want 1 and 1", sigs, h.payments())
	}
	d := h.store.load()
	if ref == "" || d.Paid == nil || d.Paid.State != shop.PayoutConfirmed || ref != d.Paid.TxHash || d.Ref != ref {
		h.t.Errorf("ref %q is not the recorded payment's transaction hash (%+v, ref %q)", ref, d.Paid, d.Ref)
	}
	if d.Step != fragmentStepPaid && d.Step != fragmentStepConfirmed {
		h.t.Errorf("saved step %q, want paid or confirmed", d.Step)
	}
}

// requireDeliveredOnce is requirePaidOnce, and Fragment confirmed exactly
// that request with the paying message.
func (h *harness) requireDeliveredOnce(ref string) {
	h.t.Helper()
	h.requirePaidOnce(ref)
	var confirmed []fragmenttest.Request
	for _, r := range h.srv.Requests() {
		if r.Confirmed {
			confirmed = append(confirmed, r)
		}
	}
	if len(confirmed) != 1 {
		h.t.Fatalf("%d requests confirmed, want 1", len(confirmed))
	}
	r := confirmed[0]
	if r.Payments != 1 || !bytes.Equal(r.ConfirmedBOC, r.PaidBOC) {
		h.t.Errorf("confirmed request %s: payments %d, confirmed with the paying boc: %v", r.ID, r.Payments, bytes.Equal(r.ConfirmedBOC, r.PaidBOC))
	}
	d := h.store.load()
	if ref == "" || d.Ref != ref || !d.Confirmed || d.Step != fragmentStepConfirmed || d.RequestID != r.ID {
		h.t.Errorf("ref %q; saved delivery: step %q, confirmed %v, ref %q, req %q (want %q)", ref, d.Step, d.Confirmed, d.Ref, d.RequestID, r.ID)
	}
	if d.Paid == nil || ref != d.Paid.TxHash {
		h.t.Errorf("ref %q is not the payment's transaction hash (%+v)", ref, d.Paid)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFragment_Deliver(t *testing.T) {
	for _, tt := range []struct {
		kind    shop.OrderType
		payload string
		methods []string
	}{
		{shop.OrderStars, fragmenttest.StarsPayload, []string{"searchStarsRecipient", "updateStarsBuyState", "initBuyStarsRequest", "getBuyStarsLink", "confirmReq"}},
		{shop.OrderPremium, fragmenttest.PremiumPayload, []string{"searchPremiumGiftRecipient", "updatePremiumState", "initGiftPremiumRequest", "getGiftPremiumLink", "confirmReq"}},
	} {
		t.Run(string(tt.kind), func(t *testing.T) {
			h := newHarness(t, tt.kind)
			h.tweak = func(f *FragmentConfig) { f.ShowSender = tt.kind == shop.OrderPremium }
			ref, err := h.deliver()
			if err != nil {
				t.Fatal(err)
			}
			h.requireDeliveredOnce(ref)

			reqs := h.srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			want := mustDecode(t, tt.payload)
			if !bytes.Equal(r.Payload, want) {
				t.Fatalf("fake Fragment's payload is not the real one")
			}
			addr := fragmenttest.StarsAddress
			if tt.kind == shop.OrderPremium {
				addr = fragmenttest.PremiumAddress
			}
			if sent := h.wallet.sent[0]; !bytes.Equal(sent.Payload, want) || sent.Amount != r.Amount || sent.To != addr {
				t.Errorf("paid %s TON to %s with payload %x; want %s TON to %s with %x", sent.Amount, sent.To, sent.Payload, r.Amount, addr, want)
			}
			if sent := h.wallet.sent[0]; sent.ValidUntil.IsZero() || sent.ValidUntil.After(time.Now().Add(10*time.Minute)) {
				t.Errorf("signed valid until %v, want Fragment's validUntil", sent.ValidUntil)
			}
			if r.ShowSender != (tt.kind == shop.OrderPremium) || r.Username != strings.ToLower(testRecipient) {
				t.Errorf("request %+v", r)
			}
			d := h.store.load()
			if d.PayTo != addr || d.PayAmount != r.Amount || !bytes.Equal(d.Payload, want) {
				t.Errorf("saved link: %s %s %x", d.PayTo, d.PayAmount, d.Payload)
			}
			if got, wantSteps := h.store.steps, []string{"initiated", "linked", "signed", "paid", "confirmed"}; !slices.Equal(got, wantSteps) {
				t.Errorf("saved steps %q, want %q", got, wantSteps)
			}
			for _, m := range tt.methods {
				if n := h.srv.Calls(m); n != 1 {
					t.Errorf("%s called %d times, want 1", m, n)
				}
			}

			// Delivered: another attempt returns the reference and calls nobody.
			loads := h.srv.PageLoads(fragmenttest.StarsPage) + h.srv.PageLoads(fragmenttest.PremiumPage)
			again, err := h.deliver()
			if err != nil || again != ref {
				t.Errorf("again: %q, %v; want %q", again, err, ref)
			}
			if n := h.srv.PageLoads(fragmenttest.StarsPage) + h.srv.PageLoads(fragmenttest.PremiumPage); n != loads || h.srv.Calls("confirmReq") != 1 {
				t.Errorf("a delivered order called Fragment again")
			}
		})
	}
}

func TestFragment_CheckRecipient(t *testing.T) {
	for _, tt := range []struct {
		name     string
		kind     shop.OrderType
		username string
		fail     fragmenttest.Failure
		want     bool
		wantErr  Kind // -1: no error
	}{
		{"Found", shop.OrderStars, "@Pavel_Durov", 0, true, -1},
		{"FoundPremium", shop.OrderPremium, "https://t.me/pavel_durov", 0, true, -1},
		{"NotFound", shop.OrderStars, "nobody_here", 0, false, -1},
		{"NotFoundPremium", shop.OrderPremium, "nobody_here", 0, false, -1},
		{"NotAUser", shop.OrderStars, testRecipient, fragmenttest.NotAUser, false, -1},
		{"Invalid", shop.OrderStars, "ab", 0, false, -1},
		{"ServerError", shop.OrderStars, testRecipient, fragmenttest.HTTP500, false, Retryable},
		{"Forbidden", shop.OrderStars, testRecipient, fragmenttest.HTTP403, false, Unhealthy},
		{"NeedVerify", shop.OrderStars, testRecipient, fragmenttest.NeedVerify, false, Unhealthy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.kind)
			if tt.fail != 0 {
				h.srv.Fail("searchStarsRecipient", tt.fail)
			}
			rc, err := h.fragment().CheckRecipient(context.Background(), tt.kind, tt.username)
			if tt.wantErr >= 0 {
				if err == nil || KindOf(err) != tt.wantErr {
					t.Fatalf("got %+v, %v; want a %s error", rc, err, tt.wantErr)
				}
				h.errs = append(h.errs, err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rc.CanReceive != tt.want || (!rc.CanReceive && rc.Reason == "") {
				t.Errorf("got %+v, want CanReceive %v with a reason if not", rc, tt.want)
			}
			if tt.want && !strings.EqualFold(rc.Username, testRecipient) {
				t.Errorf("username %q, want %q", rc.Username, testRecipient)
			}
		})
	}
}

func TestFragment_Deliver_Errors(t *testing.T) {
	const (
		search  = "searchStarsRecipient"
		update  = "updateStarsBuyState"
		initReq = "initBuyStarsRequest"
		link    = "getBuyStarsLink"
	)
	type failure struct {
		method string
		f      fragmenttest.Failure
	}
	for _, tt := range []struct {
		name  string
		kind  shop.OrderType
		fails []failure
		want  Kind
	}{
		{"UserNotFound", shop.OrderStars, []failure{{search, fragmenttest.UserNotFound}}, Permanent},
		{"NotAUser", shop.OrderStars, []failure{{search, fragmenttest.NotAUser}}, Permanent},
		{"CantGiftStars", shop.OrderStars, []failure{{initReq, fragmenttest.CantGift}}, Permanent},
		{"PremiumUserNotFound", shop.OrderPremium, []failure{{"searchPremiumGiftRecipient", fragmenttest.UserNotFound}}, Permanent},
		{"AlreadySubscribed", shop.OrderPremium, []failure{{"initGiftPremiumRequest", fragmenttest.AlreadySubscribed}}, Permanent},
		{"PriceChanged", shop.OrderStars, []failure{{initReq, fragmenttest.PriceChanged}}, Retryable},
		{"UnknownError", shop.OrderStars, []failure{{initReq, fragmenttest.UnknownError}}, Retryable},
		{"HTTP429", shop.OrderStars, []failure{{search, fragmenttest.HTTP429}}, Retryable},
		{"HTTP502", shop.OrderStars, []failure{{link, fragmenttest.HTTP500}}, Retryable},
		{"HTTP403", shop.OrderStars, []failure{{search, fragmenttest.HTTP403}}, Unhealthy},
		{"HTTP401Twice", shop.OrderStars, []failure{{search, fragmenttest.HTTP401}, {search, fragmenttest.HTTP401}}, Unhealthy},
		{"FoundEmpty", shop.OrderStars, []failure{{search, fragmenttest.FoundEmpty}}, Permanent},
		{"NeedVerify", shop.OrderStars, []failure{{link, fragmenttest.NeedVerify}}, Unhealthy},
		{"NeedVerifyPremium", shop.OrderPremium, []failure{{"getGiftPremiumLink", fragmenttest.NeedVerify}}, Unhealthy},
		{"NeedTON", shop.OrderStars, []failure{{initReq, fragmenttest.NeedTON}}, Unhealthy},
		{"AccessDenied", shop.OrderStars, []failure{{initReq, fragmenttest.AccessDenied}}, Unhealthy},
		{"NoReqID", shop.OrderStars, []failure{{initReq, fragmenttest.NoReqID}}, Unhealthy},
		{"SessionExpiredTwice", shop.OrderStars, []failure{{initReq, fragmenttest.SessionExpired}, {initReq, fragmenttest.SessionExpired}}, Unhealthy},
		{"BadRequestTwice", shop.OrderStars, []failure{{search, fragmenttest.BadRequest}, {search, fragmenttest.BadRequest}}, Unhealthy},
		{"TwoMessages", shop.OrderStars, []failure{{link, fragmenttest.TwoMessages}}, Manual},
		{"JettonPayload", shop.OrderStars, []failure{{link, fragmenttest.JettonRequest}}, Manual},
		{"WrongQuantity", shop.OrderStars, []failure{{link, fragmenttest.WrongQuantity}}, Manual},
		{"WrongMonths", shop.OrderPremium, []failure{{"getGiftPremiumLink", fragmenttest.WrongQuantity}}, Manual},
		{"FloatAmount", shop.OrderStars, []failure{{link, fragmenttest.FloatAmount}}, Manual},
		{"BadPayload", shop.OrderStars, []failure{{link, fragmenttest.BadPayload}}, Manual},
		{"OldQRAnswer", shop.OrderStars, []failure{{link, fragmenttest.NoTransaction}}, Manual},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.kind)
			for _, f := range tt.fails {
				h.srv.Fail(f.method, f.f)
			}
			_, err := h.deliver()
			if err == nil || KindOf(err) != tt.want {
				t.Fatalf("got %v, want a %s error", err, tt.want)
			}
			if ReasonOf(err) == "" || ReasonOf(err) == "temporary delivery error" {
				t.Errorf("no safe reason: %v", err)
			}
			if sigs, _ := h.wallet.counts(); sigs != 0 || h.payments() != 0 || h.store.load().Payout != nil {
				t.Errorf("paid before the error: %d signatures, %d payments", sigs, h.payments())
			}
		})
	}

	t.Run("AlreadyPremium", func(t *testing.T) {
		h := newHarness(t, shop.OrderPremium)
		h.srv.SetPremium(testRecipient)
		if _, err := h.deliver(); KindOf(err) != Permanent || !strings.Contains(ReasonOf(err), "already has Telegram Premium") {
			t.Fatalf("got %v, want Permanent: already has Premium", err)
		}
	})
	t.Run("CantGiftReasonUnescaped", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.srv.Fail(initReq, fragmenttest.CantGift)
		_, err := h.deliver()
		if !strings.Contains(err.Error(), "can't gift") || strings.Contains(err.Error(), "&#39;") {
			t.Errorf("error text not unescaped: %v", err)
		}
	})
}

func TestFragment_PriceChangedOnce(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	h.srv.Fail("initBuyStarsRequest", fragmenttest.PriceChanged)
	if _, err := h.deliver(); KindOf(err) != Retryable {
		t.Fatalf("got %v, want Retryable", err)
	}
	ref, err := h.deliver()
	if err != nil {
		t.Fatal(err)
	}
	h.requireDeliveredOnce(ref)
}

func TestFragment_SessionExpiredOnce(t *testing.T) {
	for _, f := range []fragmenttest.Failure{fragmenttest.SessionExpired, fragmenttest.HTTP401} {
		for _, method := range []string{"searchStarsRecipient", "initBuyStarsRequest", "getBuyStarsLink", "confirmReq"} {
			t.Run(fmt.Sprint(f, "/", method), func(t *testing.T) {
				testSessionExpiredOnce(t, method, f)
			})
		}
	}
}

func testSessionExpiredOnce(t *testing.T, method string, f fragmenttest.Failure) {
	h := newHarness(t, shop.OrderStars)
	h.srv.Fail(method, f)
	ref, err := h.deliver()
	if err != nil {
		t.Fatal(err)
	}
	h.requireDeliveredOnce(ref)
	if n := h.srv.PageLoads(fragmenttest.StarsPage); n != 2 {
		t.Errorf("page loaded %d times, want 2 (one refresh)", n)
	}
	if n := h.srv.Calls(method); n != 2 {
		t.Errorf("%s called %d times, want 2", method, n)
	}
}

func TestFragment_HashCache(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	h.tweak = func(f *FragmentConfig) {
		f.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	}
	f := h.fragment()
	deliverNew := func(id int64) {
		t.Helper()
		h.store = &deliveryStore{saved: shop.Delivery{OrderID: id}}
		h.order.ID = id
		if _, err := h.deliverWith(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	loads := func() int { return h.srv.PageLoads(fragmenttest.StarsPage) }

	deliverNew(1)
	deliverNew(2)
	if loads() != 1 {
		t.Errorf("hash loaded %d times for two orders within the TTL, want 1", loads())
	}
	h.srv.ExpireHash()
	deliverNew(3)
	if loads() != 2 {
		t.Errorf("hash loaded %d times after it expired, want 2", loads())
	}
	mu.Lock()
	now = now.Add(DefaultFragmentHashTTL + time.Second)
	mu.Unlock()
	deliverNew(4)
	if loads() != 3 {
		t.Errorf("hash loaded %d times after the TTL, want 3", loads())
	}
}

func TestFragment_Margin(t *testing.T) {
	t.Run("TooExpensive", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.srv.SetStarPrice(5_950_000) // 0.595 TON > 0.6 − 0.01
		_, err := h.deliver()
		if KindOf(err) != Manual || ReasonOf(err) != "Fragment asks 0.595 TON, the buyer paid 0.6 TON" {
			t.Fatalf("got %v", err)
		}
		if sigs, _ := h.wallet.counts(); sigs != 0 || h.payments() != 0 {
			t.Errorf("paid despite the margin check")
		}
		if d := h.store.load(); d.Step != fragmentStepLinked || d.PayAmount != 595_000_000 {
			t.Errorf("saved %q %s; want the link recorded", d.Step, d.PayAmount)
		}
	})
	t.Run("AtTheLimit", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.srv.SetStarPrice(5_900_000) // 0.59 TON = 0.6 − 0.01
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		h.requireDeliveredOnce(ref)
	})
}

// TestFragment_Crash stops the process at every step and restarts it from
// what was saved: each time exactly one payment is made and confirmed.
func TestFragment_Crash(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(h *harness)
	}{
		{"AfterInit", func(h *harness) { h.store.dieAfter = fragmentStepInitiated }},
		{"AfterLink", func(h *harness) { h.store.dieAfter = fragmentStepLinked }},
		{"AfterRecordBeforeBroadcast", func(h *harness) { h.wallet.setMode(walletDieOnRecord) }},
		{"RecordSavedButReportedFailed", func(h *harness) { h.store.dieAfter = fragmentStepSigned }},
		{"AfterBroadcastPending", func(h *harness) { h.wallet.setMode(walletPending) }},
		{"AfterPaymentBeforePaidSaved", func(h *harness) { h.store.failAt = fragmentStepPaid }},
		{"AfterPaidSaved", func(h *harness) { h.store.dieAfter = fragmentStepPaid }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shop.OrderStars)
			tt.setup(h)
			if _, err := h.deliver(); err == nil {
				t.Fatal("the first attempt succeeded despite the crash")
			} else if KindOf(err) == Permanent {
				t.Fatalf("crash reported as permanent: %v", err)
			}
			h.wallet.setMode(walletNormal)
			ref, err := h.deliver()
			if err != nil {
				t.Fatalf("after restart: %v", err)
			}
			h.requireDeliveredOnce(ref)
		})
	}
}

func TestFragment_WalletOutcomes(t *testing.T) {
	t.Run("Expired", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.wallet.setMode(walletExpire)
		_, err := h.deliver()
		if KindOf(err) != Retryable || ReasonOf(err) != "payment expired, will retry" {
			t.Fatalf("got %v", err)
		}
		if d := h.store.load(); d.Payout != nil || d.Paid != nil || d.RequestID != "" || d.Step != "" {
			t.Errorf("expired payment not forgotten: %+v", d)
		}
		h.wallet.setMode(walletNormal)
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		if sigs, _ := h.wallet.counts(); sigs != 2 || h.payments() != 1 || ref == "" {
			t.Errorf("signatures %d, payments %d; want a new message and one payment", sigs, h.payments())
		}
	})
	t.Run("Failed", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.wallet.setMode(walletNoFunds)
		_, err := h.deliver()
		if KindOf(err) != Unhealthy || ReasonOf(err) != "hot wallet could not pay: not enough funds" {
			t.Fatalf("got %v", err)
		}
		if d := h.store.load(); d.Payout != nil || h.payments() != 0 {
			t.Errorf("failed payment: saved payout %v, payments %d", d.Payout, h.payments())
		}
	})
	t.Run("UnreachableBeforeSigning", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.wallet.setMode(walletUnreachable)
		if _, err := h.deliver(); KindOf(err) != Retryable {
			t.Fatalf("got %v", err)
		}
		if d := h.store.load(); d.Payout != nil || d.Step != fragmentStepLinked {
			t.Errorf("saved %+v", d)
		}
		h.wallet.setMode(walletNormal)
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		h.requireDeliveredOnce(ref)
	})
	t.Run("RecordNotSaved", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.store.failAt = fragmentStepSigned
		job := h.store.job(h.order)
		if _, err := h.fragment().Deliver(context.Background(), job); KindOf(err) != Retryable {
			t.Fatalf("got %v", err)
		}
		if job.Delivery.Payout != nil || job.Delivery.Step != fragmentStepLinked {
			t.Errorf("an unsaved record stays in memory: step %q, payout %v", job.Delivery.Step, job.Delivery.Payout)
		}
		if _, broadcasts := h.wallet.counts(); broadcasts != 0 || h.store.load().Payout != nil {
			t.Fatalf("an unrecorded message was broadcast")
		}
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		if sigs, _ := h.wallet.counts(); sigs != 2 || h.payments() != 1 || ref == "" {
			t.Errorf("signatures %d, payments %d", sigs, h.payments())
		}
	})
	t.Run("StillPending", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.wallet.setMode(walletStuck)
		if _, err := h.deliver(); KindOf(err) != Retryable {
			t.Fatalf("got %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := h.deliverWith(ctx, h.fragment()); KindOf(err) != Retryable || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("resume while pending: got %v", err)
		}
		if d := h.store.load(); d.Payout == nil || d.Paid != nil {
			t.Fatalf("pending payment forgotten: %+v", d)
		}
		h.wallet.setMode(walletNormal)
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		h.requireDeliveredOnce(ref)
	})
}

func TestFragment_LinkExpired(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	h.tweak = func(f *FragmentConfig) { f.Now = func() time.Time { return time.Now().Add(time.Hour) } }
	if _, err := h.deliver(); KindOf(err) != Retryable {
		t.Fatalf("got %v, want Retryable", err)
	}
	if sigs, _ := h.wallet.counts(); sigs != 0 {
		t.Error("paid an expired payment request")
	}
}

// TestFragment_ConfirmIsBestEffort: whatever the confirm call answers (no
// real answer is recorded), the order is delivered once the chain shows
// the payment, with one payment and its tx hash as the reference.
func TestFragment_ConfirmIsBestEffort(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fails []fragmenttest.Failure
	}{
		{"WrongBOC", []fragmenttest.Failure{fragmenttest.WrongBOC}},
		{"PaymentNotFound", []fragmenttest.Failure{fragmenttest.PaymentNotFound}},
		{"ErrorWithoutOK", []fragmenttest.Failure{fragmenttest.ConfirmError}},
		{"EmptyAnswer", []fragmenttest.Failure{fragmenttest.ConfirmEmpty}},
		{"HTMLAnswer", []fragmenttest.Failure{fragmenttest.ConfirmHTML}},
		{"UnknownError", []fragmenttest.Failure{fragmenttest.UnknownError}},
		{"AccessDenied", []fragmenttest.Failure{fragmenttest.AccessDenied}},
		{"SessionExpiredTwice", []fragmenttest.Failure{fragmenttest.SessionExpired, fragmenttest.SessionExpired}},
		{"HTTP429", []fragmenttest.Failure{fragmenttest.HTTP429}},
		{"HTTP502", []fragmenttest.Failure{fragmenttest.HTTP500}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, shop.OrderStars)
			for _, f := range tt.fails {
				h.srv.Fail("confirmReq", f)
			}
			ref, err := h.deliver()
			if err != nil {
				t.Fatalf("got %v, want delivered", err)
			}
			h.requirePaidOnce(ref)
			if d := h.store.load(); d.Step != fragmentStepPaid || d.Confirmed {
				t.Errorf("saved step %q, confirmed %v", d.Step, d.Confirmed)
			}
			if !strings.Contains(h.logs.String(), "the order is delivered (paid on chain)") {
				t.Errorf("the confirm outcome is not logged")
			}
			// A later attempt (a crash before the worker completed the
			// order) pays nothing and returns the same reference.
			again, err := h.deliver()
			if err != nil || again != ref {
				t.Fatalf("again: %q, %v", again, err)
			}
			h.requirePaidOnce(again)
		})
	}
	t.Run("MissingConfirmMethodFallsBack", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.srv.SetShapes(fragmenttest.Shapes{NoConfirm: true})
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		h.requireDeliveredOnce(ref) // confirmReq with {id} confirmed it
	})
	t.Run("ConfirmErrorThenChainConfirms", func(t *testing.T) {
		// The payment is pending on chain when the first attempt stops;
		// the next finds it confirmed, and the confirm call's error answer
		// changes nothing.
		h := newHarness(t, shop.OrderStars)
		h.wallet.setMode(walletStuck)
		h.srv.Fail("confirmReq", fragmenttest.ConfirmError)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := h.deliverWith(ctx, h.fragment()); KindOf(err) != Retryable {
			t.Fatalf("pending: got %v", err)
		}
		if h.srv.Calls("confirmReq") != 0 {
			t.Fatal("confirm called before the chain confirmed the payment")
		}
		h.wallet.setMode(walletNormal)
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		h.requirePaidOnce(ref)
		if h.srv.Calls("confirmReq") != 1 {
			t.Errorf("confirm called %d times", h.srv.Calls("confirmReq"))
		}
	})
	t.Run("ChainNeverConfirms", func(t *testing.T) {
		// Nothing is delivered, confirmed or paid twice while the payment
		// stays pending, however often the worker comes back.
		h := newHarness(t, shop.OrderStars)
		h.wallet.setMode(walletStuck)
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			_, err := h.deliverWith(ctx, h.fragment())
			cancel()
			if KindOf(err) != Retryable {
				t.Fatalf("got %v, want Retryable", err)
			}
		}
		sigs, _ := h.wallet.counts()
		d := h.store.load()
		if sigs != 1 || h.payments() != 0 || h.srv.Calls("confirmReq") != 0 || d.Paid != nil || !d.PaymentMayBeOut() {
			t.Errorf("signatures %d, payments %d, confirm calls %d, paid %v", sigs, h.payments(), h.srv.Calls("confirmReq"), d.Paid)
		}
	})
}

// TestFragment_Bounced: a payment that came back from Fragment's address
// goes to an admin with its record kept; it is never paid again.
func TestFragment_Bounced(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	h.wallet.setMode(walletBounce)
	_, err := h.deliver()
	if KindOf(err) != Manual || !strings.Contains(ReasonOf(err), "bounced back") {
		t.Fatalf("got %v, want Manual: bounced", err)
	}
	d := h.store.load()
	if d.Payout == nil || d.Paid == nil || !d.Paid.Bounced || !d.PaymentMayBeOut() {
		t.Fatalf("bounce not recorded: %+v", d)
	}
	h.wallet.setMode(walletNormal)
	if _, err := h.deliver(); KindOf(err) != Manual {
		t.Fatalf("again: got %v, want Manual", err)
	}
	if sigs, _ := h.wallet.counts(); sigs != 1 || h.srv.Calls("confirmReq") != 0 {
		t.Errorf("signatures %d, confirm calls %d", sigs, h.srv.Calls("confirmReq"))
	}
}

// TestFragment_LinkedWalletDiffers: transaction.from is the wallet linked
// to the Fragment account, not the signer (pyfragment CHANGELOG 2026.2.3);
// the hot wallet pays anyway, and admins are told once.
func TestFragment_LinkedWalletDiffers(t *testing.T) {
	const linked = "0:dfec1432befd22c3dab019a242de41b915c817fb110cbbc6036d60bc3a586104" // a real wallet that paid Fragment (answers.json)
	h := newHarness(t, shop.OrderStars)
	h.srv.SetLinkedWallet(linked)
	f := h.fragment()
	ref, err := h.deliverWith(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	h.requireDeliveredOnce(ref)
	if n := f.Notice(); !strings.Contains(n, linked) || !strings.Contains(n, "not the hot wallet") {
		t.Errorf("Notice() = %q", n)
	}
	// A second order through the same process warns no more.
	h.order.ID, h.store = 8, &deliveryStore{saved: shop.Delivery{OrderID: 8, Provider: "fragment"}}
	if _, err := h.deliverWith(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(h.logs.String(), "is not the hot wallet"); n != 1 {
		t.Errorf("linked wallet reported %d times, want once", n)
	}
}

// TestFragment_AnswerShapes: every form a field of the link answer may
// take is paid the same: amounts and validUntil as numbers or strings,
// addresses raw or user-friendly, from as our own address in any form.
func TestFragment_AnswerShapes(t *testing.T) {
	for _, tt := range []struct {
		name string
		sh   fragmenttest.Shapes
	}{
		{"AmountNumber", fragmenttest.Shapes{AmountNumber: true}},
		{"ValidUntilString", fragmenttest.Shapes{ValidUntilString: true}},
		{"RawAddress", fragmenttest.Shapes{AddressForm: "raw"}},
		{"NonBounceableAddress", fragmenttest.Shapes{AddressForm: "non-bounceable"}},
		{"OwnAddressFriendly", fragmenttest.Shapes{FromFriendly: true}},
		{"AllAtOnce", fragmenttest.Shapes{AmountNumber: true, ValidUntilString: true, AddressForm: "raw", FromFriendly: true, NoConfirm: true}},
	} {
		for _, kind := range []shop.OrderType{shop.OrderStars, shop.OrderPremium} {
			t.Run(tt.name+"/"+string(kind), func(t *testing.T) {
				h := newHarness(t, kind)
				h.srv.SetShapes(tt.sh)
				f := h.fragment()
				ref, err := h.deliverWith(context.Background(), f)
				if err != nil {
					t.Fatal(err)
				}
				h.requireDeliveredOnce(ref)
				if n := f.Notice(); n != "" {
					t.Errorf("our own wallet reported as another: %q", n)
				}
				if sent := h.wallet.sent[0]; sent.ValidUntil.IsZero() {
					t.Errorf("validUntil not passed to the wallet")
				}
			})
		}
	}
}

// TestFragment_ShortValidity: a request valid for less than the margin is
// not signed; one valid a little longer is signed valid until Fragment's
// deadline, not the wallet's longer TTL.
func TestFragment_ShortValidity(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	h.srv.SetValidity(20 * time.Second)
	if _, err := h.deliver(); KindOf(err) != Retryable {
		t.Fatalf("got %v, want Retryable", err)
	}
	if sigs, _ := h.wallet.counts(); sigs != 0 {
		t.Fatal("signed a request about to expire")
	}
	h.srv.SetValidity(90 * time.Second)
	ref, err := h.deliver()
	if err != nil {
		t.Fatal(err)
	}
	h.requireDeliveredOnce(ref)
	if until := h.wallet.sent[0].ValidUntil; until.After(time.Now().Add(90*time.Second)) || until.Before(time.Now().Add(60*time.Second)) {
		t.Errorf("signed valid until %v, want Fragment's deadline about 90 s from now", until)
	}
}

// TestFragment_UpdateStateErrorIgnored: the state update's error answer
// (pyfragment issue #36) is logged, and the purchase goes on to init.
func TestFragment_UpdateStateErrorIgnored(t *testing.T) {
	for _, kind := range []shop.OrderType{shop.OrderStars, shop.OrderPremium} {
		t.Run(string(kind), func(t *testing.T) {
			h := newHarness(t, kind)
			update := "updateStarsBuyState"
			if kind == shop.OrderPremium {
				update = "updatePremiumState"
			}
			h.srv.Fail(update, fragmenttest.UpdateError)
			ref, err := h.deliver()
			if err != nil {
				t.Fatal(err)
			}
			h.requireDeliveredOnce(ref)
			if !strings.Contains(h.logs.String(), "fragment state update failed; going on") {
				t.Error("the update error is not logged")
			}
		})
	}
	t.Run("ColdInitRetried", func(t *testing.T) {
		// When the update did not take, init says the price changed: a
		// retry, never a refund.
		h := newHarness(t, shop.OrderStars)
		h.srv.Fail("updateStarsBuyState", fragmenttest.HTTP500)
		if _, err := h.deliver(); KindOf(err) != Retryable {
			t.Fatalf("got %v, want Retryable", err)
		}
		if h.srv.Calls("initBuyStarsRequest") != 1 {
			t.Errorf("init not called after the failed update")
		}
		ref, err := h.deliver()
		if err != nil {
			t.Fatal(err)
		}
		h.requireDeliveredOnce(ref)
	})
}

func TestFragment_Transport(t *testing.T) {
	t.Run("Timeout", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		h.srv.Fail("searchStarsRecipient", fragmenttest.Slow)
		h.tweak = func(f *FragmentConfig) { f.HTTP = &http.Client{Timeout: 200 * time.Millisecond} }
		if _, err := h.deliver(); KindOf(err) != Retryable {
			t.Fatalf("got %v, want Retryable", err)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		dead := fragmenttest.New(t)
		dead.Close()
		h.tweak = func(f *FragmentConfig) { f.BaseURL = dead.URL }
		if _, err := h.deliver(); KindOf(err) != Retryable {
			t.Fatalf("got %v, want Retryable", err)
		}
	})
	t.Run("ConcurrentChecks", func(t *testing.T) {
		h := newHarness(t, shop.OrderStars)
		f := h.fragment()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if rc, err := f.CheckRecipient(context.Background(), shop.OrderStars, testRecipient); err != nil || !rc.CanReceive {
					t.Errorf("got %+v, %v", rc, err)
				}
			})
		}
		wg.Wait()
	})
}

func TestFragment_Config(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	for _, tt := range []struct {
		name  string
		tweak func(*FragmentConfig)
		want  string
	}{
		{"NoWallet", func(f *FragmentConfig) { f.Wallet = nil }, "no wallet"},
		{"NoCookies", func(f *FragmentConfig) { f.Cookies = "" }, "missing"},
		{"NoTONToken", func(f *FragmentConfig) {
			f.Cookies = "stel_ssid=" + fragmenttest.SSID + "; stel_dt=-180; stel_token=" + fragmenttest.Token
		}, "lack stel_ton_token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.tweak = tt.tweak
			_, err := h.deliver()
			if KindOf(err) != Unhealthy || !strings.Contains(ReasonOf(err), tt.want) {
				t.Errorf("got %v, want Unhealthy: %s", err, tt.want)
			}
		})
	}
	h.tweak = nil
	if _, err := h.fragment().Deliver(context.Background(), &Job{Order: h.order}); err == nil {
		t.Error("a job without a delivery record was accepted")
	}
	if h.srv.PageLoads(fragmenttest.StarsPage) != 0 {
		t.Error("a misconfigured provider called Fragment")
	}
}

func TestFragment_NoSecretsInDescriptions(t *testing.T) {
	h := newHarness(t, shop.OrderStars)
	f := h.fragment()
	var buf syncBuffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("provider", "fragment", f)
	for _, text := range []string{fmt.Sprint(f), fmt.Sprintf("%+v", f), fmt.Sprintf("%#v", f), buf.String()} {
		for _, s := range h.secrets() {
			if strings.Contains(text, s) {
				t.Errorf("secret %q in %q", s, text)
			}
		}
	}
}

func TestDecodeBase64Lenient(t *testing.T) {
	stars := mustDecode(t, fragmenttest.StarsPayload)
	odd := []byte{0xfb, 0xff, 0xfe, 0x3e, 0x7f} // '+', '/' vs '-', '_'
	for _, tt := range []struct {
		name, in string
		want     []byte // nil: an error
	}{
		{"URLSafeUnpadded", fragmenttest.StarsPayload, stars},
		{"URLSafePadded", base64.URLEncoding.EncodeToString(odd), odd},
		{"URLSafeUnpaddedOdd", base64.RawURLEncoding.EncodeToString(odd), odd},
		{"StdPadded", base64.StdEncoding.EncodeToString(stars), stars},
		{"StdUnpadded", base64.RawStdEncoding.EncodeToString(odd), odd},
		{"StdPaddedOdd", base64.StdEncoding.EncodeToString(odd), odd},
		{"WhiteSpace", " " + fragmenttest.StarsPayload[:20] + "\n" + fragmenttest.StarsPayload[20:] + "\n", stars},
		{"Garbage", "!!not*base64!!", nil},
		{"Empty", "", nil},
		{"OnlyPadding", "====", nil},
		{"BadLength", "abcde", nil},
		{"InnerPadding", "ab==cd", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBase64Lenient(tt.in)
			if tt.want == nil {
				if err == nil {
					t.Errorf("decoded %x, want an error", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("got %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

func TestParseNano(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want shop.NanoTON // 0: an error
	}{
		{"1", 1},
		{"500000000", 500_000_000},
		{"0005", 5},
		{"9223372036854775807", 9223372036854775807},
		{"9223372036854775808", 0},
		{"0", 0},
		{"", 0},
		{"-5", 0},
		{"+5", 0},
		{"0.5", 0},
		{"5e8", 0},
		{" 5", 0},
		{"0x10", 0},
	} {
		got, err := parseNano(tt.in)
		if (tt.want == 0) != (err != nil) || got != tt.want {
			t.Errorf("parseNano(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// TestCommentBOC checks that the fake builds payloads exactly as Fragment
// does, by rebuilding the real ones.
func TestCommentBOC(t *testing.T) {
	if got := fragmenttest.CommentBOC("100 Telegram Stars \n\nRef#bvq2qiNYM", ""); !bytes.Equal(got, mustDecode(t, fragmenttest.StarsPayload)) {
		t.Errorf("stars: got %x", got)
	}
	if got := fragmenttest.CommentBOC("Telegram Premium for 3 months \n\nRef", "#3pWJtbdbu"); !bytes.Equal(got, mustDecode(t, fragmenttest.PremiumPayload)) {
		t.Errorf("premium: got %x", got)
	}
}

func TestFragmentClassify(t *testing.T) {
	for _, tt := range []struct {
		body string
		want Kind // -1: no failure
	}{
		{`{"ok":true,"found":{"recipient":"x"}}`, -1},
		{`{"req_id":"abc","amount":"0.5"}`, -1},
		{`{"error":"No Telegram users found."}`, Permanent},
		{`{"error":"Please enter a username assigned to a user."}`, Permanent},
		{`{"error":"You can&#39;t gift Telegram Stars to this account at this moment."}`, Permanent},
		{`{"error":"This account is already subscribed to Telegram Premium."}`, Permanent},
		{`{"error":"Price was changed. Please try again."}`, Retryable},
		{`{"error":"Access denied"}`, Unhealthy},
		{`{"need_verify":true,"error":"Unknown error"}`, Unhealthy},
		{`{"need_verify":1}`, Unhealthy},
		{`{"need_ton":true}`, Unhealthy},
		{`{"ok":false}`, Retryable},
		{`{"error":["error"]}`, Retryable},
		{`{"error":"Something new"}`, Retryable},
	} {
		env, err := parseFragmentEnvelope([]byte(tt.body))
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		got := env.failure()
		if tt.want < 0 {
			if got != nil {
				t.Errorf("%s: got %v, want no failure", tt.body, got)
			}
			continue
		}
		if got == nil || got.Kind != tt.want {
			t.Errorf("%s: got %v, want %s", tt.body, got, tt.want)
		}
	}
	for _, body := range []string{`<html>Just a moment</html>`, ``, `[1]`, `{"ok":`} {
		if _, err := parseFragmentEnvelope([]byte(body)); KindOf(err) != Retryable {
			t.Errorf("%q: got %v, want Retryable", body, err)
		}
	}
}
