// Package fragmenttest is a fake fragment.com for tests: an httptest.Server
// that serves the pages holding the api hash and the /api methods that buy
// Stars and Premium gifts, with the field names, checks and quirks recorded
// in the shared Fragment notes (form-encoded calls, a session-bound hash,
// payment_method=ton, transaction=1 with account/device JSON, url-safe
// unpadded BOC payloads whose Ref# tail sits in a child cell, confirmReq).
// It keeps state (requests, payments, confirmations), counts calls, and
// fails on demand.
package fragmenttest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// Session cookies the fake accepts at start; any other value is refused.
// They change: RotateSSID and checkTonProofAuth issue new values with
// Set-Cookie (session.go), and Cookie returns the current ones.
const (
	SSID     = "fake-ssid-3c1f9a77d2"
	DT       = "-180"
	Token    = "fake-token-SECRET-91c2b7e4"
	TONToken = "fake-ton-token-SECRET-55d0aa13"
	// Cookies is the Cookie header of the fake's session at start.
	Cookies = "stel_ssid=" + SSID + "; stel_dt=" + DT + "; stel_token=" + Token + "; stel_ton_token=" + TONToken
)

// Where Fragment asks to be paid: the destinations of real on-chain Fragment
// payments in shared/fixtures/ton/transactions.json, in the bounceable form
// of the composed link answers in shared/fixtures/fragment/answers.json.
const (
	// StarsAddress: fragment_stars_payment_100 (tx f61215e2…, mainnet, May
	// 2026; tonutils-go v1.18.0 tvm/testdata/tvm_replay_fat_block_66519406.json).
	StarsAddress = "EQCFJEP4WZ_mpdo0_kMEmsTgvrMHG7K_tWY16pQhKHwoOoy2"
	// PremiumAddress: fragment_premium_payment_two_cells (tx 1bb443f1…,
	// Dec 2023; tonkeeper/opentonapi pkg/api/testdata/block-txs-2.json).
	PremiumAddress = "EQBAjaOyi2wGWlk-EDkSabqqnF-MrrwMadnwqrurKpkla9nE"
)

// Real payloads, url-safe and unpadded BOCs without CRC as Fragment sends
// them. The first Stars request of 100 Stars and the first Premium request
// of 3 months get exactly these; later requests get other Ref codes in the
// same layout.
const (
	// StarsPayload is one cell, "100 Telegram Stars \n\nRef#bvq2qiNYM": the
	// body of the on-chain payment fragment_stars_payment_100 (composed
	// getBuyStarsLink answer in shared/fixtures/fragment/answers.json).
	StarsPayload = "te6ccgEBAQEAKAAATAAAAAAxMDAgVGVsZWdyYW0gU3RhcnMgCgpSZWYjYnZxMnFpTllN"
	// PremiumPayload is "Telegram Premium for 3 months \n\nRef" with
	// "#3pWJtbdbu" in a child cell: bohd4nx/pyfragment
	// tests/001_test_decode.py real_premium_3m.
	PremiumPayload = "te6ccgEBAgEANgABTgAAAABUZWxlZ3JhbSBQcmVtaXVtIGZvciAzIG1vbnRocyAKClJlZgEAFCMzcFdKdGJkYnU"
	// JettonPayload is what Fragment asks for payment_method=usdt_ton: a
	// jetton transfer (op 0x0f8a7ea5) of 0.75 USDT with the comment "50
	// Telegram Stars \n\nRef#m9JhZwApQ" forwarded: bohd4nx/pyfragment
	// tests/001_test_decode.py real_stars_50.
	JettonPayload = "te6ccgEBAgEAfgABqA-KfqVP885dhccidjC3GwgBCkiH8LM_zUu0afyGCTWJwX1mDjdlf2rMa9UoQlD4UHUAF1jLlcMomlo5RJTwl8jnDDdfdhc7EgQQWPqFQ9IjyLPCAwEASgAAAAA1MCBUZWxlZ3JhbSBTdGFycyAKClJlZiNtOUpoWndBcFE"
)

// Ref codes of the real payloads.
const (
	starsRefCode   = "bvq2qiNYM"
	premiumRefCode = "3pWJtbdbu"
)

// Shapes picks, for the link answer, among the forms of a field that
// sources show or that are plausible but unrecorded (the real answer's
// forms are not recorded: shared/fixtures/README.md). The provider must
// handle every one.
type Shapes struct {
	// AmountNumber: messages[].amount as a JSON number, not a string (the
	// "robustness" composed answer; buyaobilian1/autobuytgvip-saas
	// crawler.go types the older rawRequest amount as uint64).
	AmountNumber bool
	// ValidUntilString: transaction.validUntil as a string (DRM src/types.ts
	// and OZ type it as a number; a string is not recorded).
	ValidUntilString bool
	// AddressForm of messages[].address: "" or "bounceable" (EQ…, the
	// composed answers), "non-bounceable" (UQ…, DRM's test mock writes
	// "UQ..."), "raw" (0:…, the robustness composed answer).
	AddressForm string
	// FromFriendly: transaction.from in user-friendly non-bounceable form
	// (the UQ… composed answer) instead of raw (DRM, OZ, TSB call it raw).
	FromFriendly bool
	// NoConfirm: no confirm_method / confirm_params (the robustness composed
	// answer; pyfragment and Darkildo never read them).
	NoConfirm bool
}

// Pages that carry the api hash.
const (
	StarsPage   = "/stars/buy"
	PremiumPage = "/premium/gift"
)

// Default prices.
const (
	DefaultStarPrice  shop.NanoTON = 5_000_000     // per star
	DefaultMonthPrice shop.NanoTON = 1_300_000_000 // per month of Premium
)

// Failure is an error the fake answers one call with, set with Fail.
type Failure int

// Failures.
const (
	UserNotFound      Failure = iota + 1 // "No Telegram users found."
	NotAUser                             // "Please enter a username assigned to a user."
	CantGift                             // "You can&#39;t gift Telegram Stars to this account at this moment."
	AlreadySubscribed                    // "This account is already subscribed to Telegram Premium."
	PriceChanged                         // "Price was changed. Please try again."
	SessionExpired                       // "Session expired…"; the hashes rotate
	BadRequest                           // "Bad request"; the hashes rotate
	AccessDenied                         // "Access denied"
	NeedVerify                           // need_verify: true
	NeedTON                              // need_ton: true
	NoReqID                              // an init answer without req_id
	UnknownError                         // an error text nobody knows
	HTTP429                              // HTTP 429
	HTTP403                              // HTTP 403, a Cloudflare page
	HTTP500                              // HTTP 502
	Slow                                 // no answer until the client gives up
	WrongBOC                             // confirm: {"ok":false,"error":"Wrong boc"}
	PaymentNotFound                      // confirm: {"ok":false,"error":"Payment not found"}
	TwoMessages                          // link: two messages to pay
	JettonRequest                        // link: the usdt_ton jetton-transfer payload (JettonPayload)
	WrongQuantity                        // link: a payload for another quantity than requested
	UpdateError                          // update*State: {"error": …} (pyfragment issue #36: keys ['error'], text not logged)
	ConfirmError                         // confirm: {"error": …} with no ok (shape of OZ's thrown error; text unrecorded)
	ConfirmEmpty                         // confirm: {} (nobody recorded the real answer)
	ConfirmHTML                          // confirm: an HTML page with status 200
	FloatAmount                          // link: the amount as a float
	BadPayload                           // link: a payload that is not a BOC
	NoTransaction                        // link: the old QR answer, without a transaction
)

// Payment is a transfer that reached Fragment, as a fake chain reports it
// with Pay.
type Payment struct {
	BOC     []byte // the external message that paid
	To      string
	Amount  shop.NanoTON
	Payload []byte
}

// Request is the fake's record of one purchase request (a req_id).
type Request struct {
	ID           string
	Kind         shop.OrderType
	Username     string
	Quantity     int64 // Stars, or months of Premium
	Amount       shop.NanoTON
	Payload      []byte // the BOC the link asks to forward
	ShowSender   bool
	Linked       bool
	Payments     int    // payments received: more than one is a double payment
	PaidBOC      []byte // the external message of the first payment
	ConfirmCalls int    // confirm calls that named it
	Confirmed    bool
	ConfirmedBOC []byte // the boc it was confirmed with
}

// Server is the fake fragment.com. Its knobs and counters are safe to use
// while it serves.
type Server struct {
	*httptest.Server

	mu             sync.Mutex
	starPrice      shop.NanoTON
	monthPrice     shop.NanoTON
	users          map[string]bool // lower-case username → has Premium
	hashes         map[string]string
	primed         map[shop.OrderType]bool // the buy state was updated before init
	reqs           map[string]*Request
	order          []string // req ids in creation order
	seq            map[shop.OrderType]int
	fails          map[string][]Failure
	calls          map[string]int
	pageLoads      map[string]int
	requirePayment bool
	sess           session // session.go
	shapes         Shapes
	linked         string        // transaction.from when set: the Fragment account's linked wallet
	validity       time.Duration // how long a payment request is valid
}

// New starts a fake fragment.com, closed when the test ends.
func New(tb testing.TB) *Server {
	s := &Server{
		starPrice:  DefaultStarPrice,
		monthPrice: DefaultMonthPrice,
		users:      make(map[string]bool),
		primed:     make(map[shop.OrderType]bool),
		reqs:       make(map[string]*Request),
		seq:        make(map[shop.OrderType]int),
		fails:      make(map[string][]Failure),
		calls:      make(map[string]int),
		pageLoads:  make(map[string]int),
		sess:       newSession(),
	}
	s.rotate()
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StarsPage, s.servePage)
	mux.HandleFunc("GET "+PremiumPage, s.servePage)
	mux.HandleFunc("GET /{$}", s.servePage) // HomePage
	mux.HandleFunc("POST /api", withSetCookies(s.serveAPI))
	s.Server = httptest.NewServer(mux)
	tb.Cleanup(s.Close)
	return s
}

// AddUser makes usernames exist.
func (s *Server) AddUser(usernames ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range usernames {
		s.users[strings.ToLower(u)] = s.users[strings.ToLower(u)]
	}
}

// SetPremium makes username exist and already have Premium.
func (s *Server) SetPremium(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[strings.ToLower(username)] = true
}

// SetStarPrice sets the price of one star.
func (s *Server) SetStarPrice(p shop.NanoTON) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starPrice = p
}

// SetMonthPrice sets the price of one month of Premium.
func (s *Server) SetMonthPrice(p shop.NanoTON) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.monthPrice = p
}

// SetShapes sets the forms of the link answer's fields.
func (s *Server) SetShapes(sh Shapes) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shapes = sh
}

// SetLinkedWallet makes link answers name addr as transaction.from: the
// wallet linked to the Fragment account, which may differ from the wallet
// that signs (bohd4nx/pyfragment CHANGELOG 2026.2.3 and
// services/tonapi/transaction.py). "" echoes the account's address.
func (s *Server) SetLinkedWallet(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.linked = addr
}

// SetValidity sets how long a payment request (validUntil) is valid after
// the link call; default 10 minutes. No source records Fragment's value.
func (s *Server) SetValidity(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validity = d
}

// SetRequirePayment makes confirm calls fail with "Payment not found" unless
// Pay reported the request's payment, and with "Wrong boc" unless the boc is
// that payment's. Off by default: any well-formed boc confirms.
func (s *Server) SetRequirePayment(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requirePayment = on
}

// Fail makes the next call of method that passes the session checks answer
// with failure. Calls queue: Fail twice fails two calls.
func (s *Server) Fail(method string, failure Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[method] = append(s.fails[method], failure)
}

// ExpireHash rotates the api hashes of every page: calls with an old hash
// get "Bad request".
func (s *Server) ExpireHash() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate()
}

// Hash returns the current api hash of page.
func (s *Server) Hash(page string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hashes[page]
}

// Calls returns how many times method was called.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// PageLoads returns how many times page was loaded.
func (s *Server) PageLoads(page string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pageLoads[page]
}

// Requests returns copies of every request, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.reqs[id].clone())
	}
	return out
}

// Request returns a copy of the request id.
func (s *Server) Request(id string) (Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return Request{}, false
	}
	return r.clone(), true
}

// Match returns the linked request a payment of amount to `to` with payload
// pays, or an error saying why it pays none: what a fake wallet checks
// before signing.
func (s *Server) Match(to string, amount shop.NanoTON, payload []byte) (Request, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.match(to, amount, payload)
	if err != nil {
		return Request{}, err
	}
	return r.clone(), nil
}

// Pay records a payment that reached Fragment on chain, as a fake chain
// does when it executes a message. It fails if the payment pays no request.
func (s *Server) Pay(p Payment) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.match(p.To, p.Amount, p.Payload)
	if err != nil {
		return err
	}
	r.Payments++
	if r.PaidBOC == nil {
		r.PaidBOC = bytes.Clone(p.BOC)
	}
	return nil
}

// match finds the request a payment pays. Fragment matches a TON payment
// by the Ref# code of its comment (notes §2.2: DRM CHANGELOG 0.2.2; any
// wallet may pay), sent to the request's address in any written form.
func (s *Server) match(to string, amount shop.NanoTON, payload []byte) (*Request, error) {
	ref, err := refOf(payload)
	if err != nil {
		return nil, fmt.Errorf("fragmenttest: %w", err)
	}
	for _, id := range s.order {
		r := s.reqs[id]
		if want, _ := refOf(r.Payload); want != ref {
			continue
		}
		if !sameAddress(to, addressOf(r.Kind)) {
			return nil, fmt.Errorf("fragmenttest: payment to %q, not to Fragment's %s address", to, r.Kind)
		}
		if !r.Linked {
			return nil, fmt.Errorf("fragmenttest: payment for request %s before its link", id)
		}
		if r.Amount != amount {
			return nil, fmt.Errorf("fragmenttest: payment of %s TON for request %s, which costs %s TON", amount, id, r.Amount)
		}
		return r, nil
	}
	return nil, errors.New("fragmenttest: the payload matches no request")
}

func (r *Request) clone() Request {
	c := *r
	c.Payload = bytes.Clone(r.Payload)
	c.PaidBOC = bytes.Clone(r.PaidBOC)
	c.ConfirmedBOC = bytes.Clone(r.ConfirmedBOC)
	return c
}

// CommentBOC serializes a text comment (op 0) whose text is head followed
// by tail, tail in a child cell when not empty, as a BOC without CRC: the
// layouts of Fragment's payloads (StarsPayload, PremiumPayload). head must
// fit one cell (≤ 123 bytes), tail too (≤ 127 bytes).
func CommentBOC(head, tail string) []byte {
	if len(head) > 123 || len(tail) > 127 {
		panic("fragmenttest: comment too long for one cell")
	}
	b := cell.BeginCell().MustStoreUInt(0, 32).MustStoreSlice([]byte(head), uint(8*len(head)))
	if tail != "" {
		b.MustStoreRef(cell.BeginCell().MustStoreSlice([]byte(tail), uint(8*len(tail))).EndCell())
	}
	return b.EndCell().ToBOCWithFlags(false)
}

// payloadFor builds the payload of a request: Stars in one cell (the
// on-chain fragment_stars_payment_100), Premium with the Ref# tail in a
// child cell (pyfragment real_premium_3m, "Telegram Premium for 1 year").
func payloadFor(kind shop.OrderType, qty int64, code string) []byte {
	if kind == shop.OrderStars {
		return CommentBOC(fmt.Sprintf("%d Telegram Stars \n\nRef#%s", qty, code), "")
	}
	period := fmt.Sprintf("%d months", qty)
	if qty == 12 {
		period = "1 year"
	}
	return CommentBOC("Telegram Premium for "+period+" \n\nRef", "#"+code)
}

// addressOf is where requests of kind are paid.
func addressOf(kind shop.OrderType) string {
	if kind == shop.OrderStars {
		return StarsAddress
	}
	return PremiumAddress
}

// refOf is the Ref# code of a payload's comment.
func refOf(payload []byte) (string, error) {
	c, err := cell.FromBOC(payload)
	if err != nil {
		return "", errors.New("the payload is not a BOC")
	}
	sl := c.MustBeginParse()
	if op, err := sl.LoadUInt(32); err != nil || op != 0 {
		return "", errors.New("the payload is not a text comment")
	}
	text, err := sl.LoadStringSnake()
	if err != nil {
		return "", errors.New("the payload's comment is malformed")
	}
	_, ref, ok := strings.Cut(text, "Ref#")
	if !ok || ref == "" {
		return "", errors.New("the payload's comment has no Ref#")
	}
	return ref, nil
}

// sameAddress compares addresses in any written form.
func sameAddress(a, b string) bool {
	parse := func(s string) (*address.Address, error) {
		if strings.Contains(s, ":") {
			return address.ParseRawAddr(s)
		}
		return address.ParseAddr(s)
	}
	x, err := parse(a)
	if err != nil {
		return false
	}
	y, err := parse(b)
	return err == nil && x.Equals(y)
}

// writeAddress writes addr in form (Shapes.AddressForm).
func writeAddress(addr, form string) string {
	a := address.MustParseAddr(addr)
	switch form {
	case "non-bounceable":
		return a.Bounce(false).String()
	case "raw":
		return a.StringRaw()
	}
	return a.Bounce(true).String()
}

// token derives a deterministic base62 string of n characters from parts.
func token(n int, parts ...any) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	out := make([]byte, n)
	for i := range out {
		out[i] = digits[int(sum[i%len(sum)])%len(digits)]
	}
	return string(out)
}

// rotate issues new api hashes. Callers hold mu.
func (s *Server) rotate() {
	s.hashes = make(map[string]string, 2)
	for _, page := range []string{StarsPage, PremiumPage, HomePage} {
		b := make([]byte, 9)
		rand.Read(b)
		s.hashes[page] = hex.EncodeToString(b)
	}
}

// servePage serves a page: the api hash in ajInit's apiUrl (the
// unattributed fragment_api.py, code-index id 62115643264; S1qwy
// FragmentAPI/utils/auth.py _parse_init_page; OneZee23), the ton_proof
// challenge in Wallet.init (S1qwy _parse_init_page; the same
// fragment_api.py says both are bound to the session and re-issued on every
// page GET) and tonRate (dreminDev src/services/premium.service.ts).
// stel_ssid may be renewed with Set-Cookie (RotateSSID, session.go).
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.pageLoads[r.URL.Path]++
	hash := s.hashes[r.URL.Path]
	s.pageCookies(w)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Fragment</title></head>
<body><main class="tm-main">…</main>
<script>ajInit({"version":1066,"apiUrl":"\/api?hash=%s","unauth":false,"aj":true,"state":{"tonRate":3.12}});
Wallet.init({"ton_proof":"%s"});</script></body></html>`, hash, proofPayload(hash))
}

// call is one API call being served.
type call struct {
	r      *http.Request
	method string
	form   func(string) string
	has    func(string) bool
	quirk  Failure // a link failure applied to an otherwise normal answer
}

// answer is a response: JSON body and status.
type answer struct {
	status int
	body   any
}

func jsonOK(body any) answer { return answer{http.StatusOK, body} }
func jsonFail(msg string) answer {
	return answer{http.StatusOK, map[string]any{"ok": false, "error": msg}}
}
func jsonError(msg string) answer {
	return answer{http.StatusOK, map[string]any{"error": msg}}
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	method := r.PostForm.Get("method")
	s.mu.Lock()
	s.calls[method]++
	a, slow := s.serveLocked(r, method)
	s.mu.Unlock()
	if slow {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		a = jsonError("timeout")
	}
	writeAnswer(w, a)
}

// serveLocked checks the session of a call, applies an injected failure and
// dispatches. Callers hold mu.
func (s *Server) serveLocked(r *http.Request, method string) (answer, bool) {
	if !strings.HasPrefix(r.UserAgent(), "Mozilla/") {
		return answer{http.StatusForbidden, nil}, false
	}
	if a, bad := s.checkSession(r, method); bad {
		return a, false
	}
	c := &call{
		r:      r,
		method: method,
		form:   r.PostForm.Get,
		has:    r.PostForm.Has,
	}
	if q := s.fails[method]; len(q) > 0 {
		f := q[0]
		s.fails[method] = q[1:]
		switch f {
		case Slow:
			return answer{}, true
		case TwoMessages, FloatAmount, BadPayload, NoTransaction, JettonRequest, WrongQuantity:
			c.quirk = f
		case UpdateError:
			// Whether the state changed is not recorded; the fake lets the
			// init call decide, as with a successful update (PriceChanged
			// on init covers a cold state).
			s.primed[pageKind(method)] = true
			return s.failure(f), false
		default:
			return s.failure(f), false
		}
	}
	return s.dispatch(c), false
}

// checkSession checks the headers, the hash and the cookies of a call.
// "Bad request" for a hash of another session: the unattributed fake-server
// suite (code-index id 61921743753). "Session expired. Please reconnect
// your wallet" for another page's hash: the unattributed fragment_api.py
// (code-index id 62115643264). The cookies: checkCookies (session.go).
func (s *Server) checkSession(r *http.Request, method string) (answer, bool) {
	h := r.Header
	if h.Get("X-Requested-With") != "XMLHttpRequest" ||
		!strings.HasPrefix(h.Get("Content-Type"), "application/x-www-form-urlencoded") ||
		h.Get("Origin") != s.URL ||
		!strings.HasPrefix(h.Get("Referer"), s.URL+"/") ||
		h.Get("X-Aj-Referer") != h.Get("Referer") ||
		r.URL.Query().Has("method") {
		return jsonFail("Bad request"), true
	}
	hash := r.URL.Query().Get("hash")
	page := pageOf(method)
	current := hash != "" && slices.Contains(slices.Collect(maps.Values(s.hashes)), hash)
	switch {
	case !current:
		return jsonFail("Bad request"), true
	case page != "" && hash != s.hashes[page]:
		return jsonError("Session expired. Please reconnect your wallet"), true
	case page != "" && h.Get("Referer") != s.URL+page:
		return jsonFail("Bad request"), true
	}
	return s.checkCookies(r, method)
}

// pageKind is the order type of a page's method.
func pageKind(method string) shop.OrderType {
	if pageOf(method) == PremiumPage {
		return shop.OrderPremium
	}
	return shop.OrderStars
}

// pageOf is the page whose hash method needs; "" for either.
func pageOf(method string) string {
	switch method {
	case "searchStarsRecipient", "updateStarsBuyState", "initBuyStarsRequest", "getBuyStarsLink":
		return StarsPage
	case "searchPremiumGiftRecipient", "updatePremiumState", "initGiftPremiumRequest", "getGiftPremiumLink":
		return PremiumPage
	}
	return ""
}

// failure is the answer of an injected failure.
func (s *Server) failure(f Failure) answer {
	switch f {
	case UserNotFound:
		return jsonError("No Telegram users found.")
	case NotAUser:
		return jsonError("Please enter a username assigned to a user.")
	case CantGift:
		return jsonError(html.EscapeString("You can't gift Telegram Stars to this account at this moment."))
	case AlreadySubscribed:
		return jsonError("This account is already subscribed to Telegram Premium.")
	case PriceChanged:
		return jsonError("Price was changed. Please try again.")
	case SessionExpired:
		s.rotate()
		return jsonError("Session expired. Please reconnect your wallet")
	case BadRequest:
		s.rotate()
		return jsonFail("Bad request")
	case AccessDenied:
		return jsonError("Access denied")
	case NeedVerify:
		return jsonOK(map[string]any{"need_verify": true, "error": "Unknown error"})
	case NeedTON:
		return jsonOK(map[string]any{"need_ton": true})
	case NoReqID:
		return jsonOK(map[string]any{"ok": true})
	case UnknownError:
		return jsonError("Something went wrong. Please try again later.")
	case HTTP429:
		return answer{http.StatusTooManyRequests, nil}
	case HTTP403:
		return answer{http.StatusForbidden, nil}
	case HTTP500:
		return answer{http.StatusBadGateway, nil}
	case WrongBOC:
		return jsonFail("Wrong boc")
	case PaymentNotFound:
		return jsonFail("Payment not found")
	case UpdateError:
		// pyfragment issue #36 logged only the key; the text is not recorded.
		return jsonError("<unrecorded error text>")
	case ConfirmError:
		return jsonError("<unrecorded error text>")
	case ConfirmEmpty:
		return jsonOK(map[string]any{})
	case ConfirmHTML:
		return answer{http.StatusOK, nil}
	}
	panic(fmt.Sprintf("fragmenttest: failure %d cannot be answered alone", f))
}

func writeAnswer(w http.ResponseWriter, a answer) {
	if a.body == nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(a.status)
		fmt.Fprintf(w, "<html><title>Just a moment...</title><body>%d</body></html>", a.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	json.NewEncoder(w).Encode(a.body)
}

func (s *Server) dispatch(c *call) answer {
	switch c.method {
	case "searchStarsRecipient":
		return s.search(c, shop.OrderStars)
	case "searchPremiumGiftRecipient":
		return s.search(c, shop.OrderPremium)
	case "updateStarsBuyState":
		return s.update(c, shop.OrderStars)
	case "updatePremiumState":
		return s.update(c, shop.OrderPremium)
	case "initBuyStarsRequest":
		return s.init(c, shop.OrderStars)
	case "initGiftPremiumRequest":
		return s.init(c, shop.OrderPremium)
	case "getBuyStarsLink":
		return s.link(c, shop.OrderStars)
	case "getGiftPremiumLink":
		return s.link(c, shop.OrderPremium)
	case "confirmReq":
		return s.confirm(c)
	case "checkTonProofAuth":
		return s.checkTonProofAuth(c)
	}
	return jsonFail("Unknown method")
}

// recipientToken is the opaque recipient id the search hands out.
func recipientToken(username string) string {
	return token(22, "recipient", strings.ToLower(username))
}

func (s *Server) userOfToken(tok string) (string, bool) {
	for u := range s.users {
		if recipientToken(u) == tok {
			return u, true
		}
	}
	return "", false
}

func (s *Server) search(c *call, kind shop.OrderType) answer {
	q := c.form("query")
	switch {
	case q == "" || strings.HasPrefix(q, "@"):
		return jsonError("Please enter a username assigned to a user.")
	case kind == shop.OrderStars && (!c.has("quantity") || c.form("quantity") != ""):
		return jsonError("Invalid quantity")
	case kind == shop.OrderPremium && !validMonths(c.form("months")):
		return jsonError("Invalid months")
	}
	if _, exists := s.users[strings.ToLower(q)]; !exists {
		return jsonError("No Telegram users found.")
	}
	return jsonOK(map[string]any{"ok": true, "found": map[string]any{
		"myself":    false,
		"recipient": recipientToken(q),
		"photo":     `<img src="https://cdn4.cdn-telegram.org/file/x.jpg" />`,
		"name":      q,
	}})
}

func validMonths(v string) bool { return v == "3" || v == "6" || v == "12" }

func (s *Server) update(c *call, kind shop.OrderType) answer {
	dh := c.form("dh")
	if c.form("mode") != "new" || c.form("lv") != "false" || dh == "" || strings.Trim(dh, "0123456789") != "" {
		return jsonError("Invalid state")
	}
	s.primed[kind] = true
	return jsonOK(map[string]any{"ok": true, "dh": dh})
}

func (s *Server) init(c *call, kind shop.OrderType) answer {
	if c.form("payment_method") != "ton" {
		return jsonError("Access denied")
	}
	user, found := s.userOfToken(c.form("recipient"))
	if !found {
		return jsonError("No Telegram users found.")
	}
	var qty int64
	if kind == shop.OrderStars {
		n, err := strconv.ParseInt(c.form("quantity"), 10, 64)
		if err != nil || n < 50 || n > 1_000_000 {
			return jsonError("Invalid quantity")
		}
		qty = n
	} else {
		if !validMonths(c.form("months")) {
			return jsonError("Invalid months")
		}
		qty, _ = strconv.ParseInt(c.form("months"), 10, 64)
		if s.users[user] {
			return jsonError("This account is already subscribed to Telegram Premium.")
		}
	}
	if !s.primed[kind] {
		return jsonError("Price was changed. Please try again.")
	}
	s.primed[kind] = false
	r := s.newRequest(kind, user, qty)
	return jsonOK(map[string]any{"req_id": r.ID, "myself": false, "to_bot": false, "amount": r.Amount.String()})
}

func (s *Server) newRequest(kind shop.OrderType, user string, qty int64) *Request {
	s.seq[kind]++
	n := s.seq[kind]
	code := starsRefCode
	if kind == shop.OrderPremium {
		code = premiumRefCode
	}
	if n > 1 {
		code = token(len(code), "ref", kind, n)
	}
	price := s.starPrice
	if kind == shop.OrderPremium {
		price = s.monthPrice
	}
	r := &Request{
		ID:       token(16, "req", kind, n, len(s.order)),
		Kind:     kind,
		Username: user,
		Quantity: qty,
		Amount:   price * shop.NanoTON(qty),
		Payload:  payloadFor(kind, qty, code),
	}
	s.reqs[r.ID] = r
	s.order = append(s.order, r.ID)
	return r
}

// account is the TonConnect account JSON of link and confirm calls.
type account struct {
	Address         string `json:"address"`
	Chain           string `json:"chain"`
	WalletStateInit string `json:"walletStateInit"`
	PublicKey       string `json:"publicKey"`
}

// parseAccountDevice checks the account and device fields.
func parseAccountDevice(c *call) (*account, bool) {
	var a account
	if json.Unmarshal([]byte(c.form("account")), &a) != nil || a.Address == "" || a.Chain == "" || a.PublicKey == "" {
		return nil, false
	}
	if _, err := base64.StdEncoding.DecodeString(a.WalletStateInit); err != nil || a.WalletStateInit == "" {
		return nil, false
	}
	var d struct {
		Platform           string `json:"platform"`
		AppName            string `json:"appName"`
		MaxProtocolVersion int    `json:"maxProtocolVersion"`
		Features           []any  `json:"features"`
	}
	if json.Unmarshal([]byte(c.form("device")), &d) != nil || d.Platform == "" || d.AppName == "" || d.MaxProtocolVersion < 2 || len(d.Features) == 0 {
		return nil, false
	}
	return &a, true
}

func (s *Server) link(c *call, kind shop.OrderType) answer {
	r, found := s.reqs[c.form("id")]
	if !found || r.Kind != kind {
		return jsonError("Request not found")
	}
	if c.form("transaction") != "1" || c.quirk == NoTransaction {
		// The old QR path.
		return jsonOK(map[string]any{"ok": true, "qr_link": "ton://transfer/" + addressOf(kind), "expire_after": 300, "check_method": "checkReq", "check_params": map[string]any{"id": r.ID}})
	}
	ss := c.form("show_sender")
	a, valid := parseAccountDevice(c)
	if (ss != "0" && ss != "1") || !valid {
		return jsonError("Bad request")
	}
	r.ShowSender, r.Linked = ss == "1", true
	sh := s.shapes
	payload := r.Payload
	switch c.quirk {
	case JettonRequest:
		payload, _ = base64.RawURLEncoding.DecodeString(JettonPayload)
	case WrongQuantity:
		payload = payloadFor(r.Kind, r.Quantity*2, "wrongQty1")
	}
	msg := map[string]any{
		"address": writeAddress(addressOf(r.Kind), sh.AddressForm),
		"amount":  strconv.FormatInt(int64(r.Amount), 10),
		"payload": base64.RawURLEncoding.EncodeToString(payload),
	}
	if sh.AmountNumber {
		msg["amount"] = int64(r.Amount)
	}
	from := a.Address // the account's raw address (DRM, OZ, TSB call from raw)
	if sh.FromFriendly {
		if raw, err := address.ParseRawAddr(a.Address); err == nil {
			from = raw.Bounce(false).String()
		}
	}
	if s.linked != "" {
		from = s.linked
	}
	msgs := []any{msg}
	switch c.quirk {
	case TwoMessages:
		msgs = append(msgs, msg)
	case FloatAmount:
		msg["amount"] = r.Amount.String() + "e9"
	case BadPayload:
		msg["payload"] = base64.RawURLEncoding.EncodeToString([]byte("Telegram Stars Ref#x"))
	}
	validity := s.validity
	if validity == 0 {
		validity = 10 * time.Minute
	}
	var validUntil any = time.Now().Add(validity).Unix()
	if sh.ValidUntilString {
		validUntil = strconv.FormatInt(validUntil.(int64), 10)
	}
	body := map[string]any{
		"ok": true,
		"transaction": map[string]any{
			"validUntil": validUntil,
			"from":       from,
			"messages":   msgs,
		},
	}
	if !sh.NoConfirm {
		body["confirm_method"] = "confirmReq"
		body["confirm_params"] = map[string]any{"id": r.ID}
	}
	return jsonOK(body)
}

func (s *Server) confirm(c *call) answer {
	r, found := s.reqs[c.form("id")]
	if !found || !r.Linked {
		return jsonFail("Request not found")
	}
	r.ConfirmCalls++
	boc, err := base64.StdEncoding.Strict().DecodeString(c.form("boc"))
	if _, valid := parseAccountDevice(c); err != nil || len(boc) == 0 || !valid {
		return jsonFail("Wrong boc")
	}
	if s.requirePayment {
		switch {
		case r.Payments == 0:
			return jsonFail("Payment not found")
		case !bytes.Equal(boc, r.PaidBOC):
			return jsonFail("Wrong boc")
		}
	}
	if r.Confirmed && !bytes.Equal(boc, r.ConfirmedBOC) {
		return jsonFail("Wrong boc")
	}
	r.Confirmed, r.ConfirmedBOC = true, boc
	return jsonOK(map[string]any{"ok": true})
}
