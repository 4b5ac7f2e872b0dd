package fulfillment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"starsbot/shop"
)

// Defaults of Fragment.
const (
	DefaultFragmentURL     = "https://fragment.com"
	DefaultFragmentHashTTL = 2 * time.Minute
)

// Steps of a Fragment delivery, recorded in shop.Delivery.Step.
const (
	fragmentStepInitiated = "initiated" // Fragment created RequestID
	fragmentStepLinked    = "linked"    // Fragment said what to pay: PayTo, PayAmount, Payload
	fragmentStepSigned    = "signed"    // the payment is signed and recorded: Payout
	fragmentStepPaid      = "paid"      // the payment is on chain, sent as signed and not bounced: Paid; delivered
	fragmentStepConfirmed = "confirmed" // Fragment also acknowledged the confirm call: Confirmed, Ref
)

// fragmentConfirmMethod is the confirm call used when Fragment names none
// (pyfragment and Darkildo never read confirm_method; S1qwy sends confirmReq
// with {id}), and after a restart of a record made before it was kept.
const fragmentConfirmMethod = "confirmReq"

// fragmentConfirmTimeout bounds the best-effort confirm call: the order is
// delivered by then, and a slow Fragment must not hold the worker.
const fragmentConfirmTimeout = 20 * time.Second

// fragmentMinValidity is how long Fragment's payment request must still be
// valid for us to sign it.
const fragmentMinValidity = 30 * time.Second

// fragmentDevice is the TonConnect device description Fragment wants with
// link and confirm calls; it checks only that it is well-formed.
const fragmentDevice = `{"platform":"linux","appName":"starsbot","appVersion":"1.0","maxProtocolVersion":2,"features":["SendTransaction",{"name":"SendTransaction","maxMessages":4}]}`

var (
	fragmentIdentRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	fragmentReqIDRE = regexp.MustCompile(`^[A-Za-z0-9_\-.:]{1,128}$`)
	fragmentAddrRE  = regexp.MustCompile(`^[A-Za-z0-9_\-+/:=]{10,100}$`)
)

// FragmentConfig is what NewFragment needs; zero optional fields take
// their defaults. Its Cookies are a secret: do not print it.
type FragmentConfig struct {
	BaseURL    string        // default DefaultFragmentURL
	Cookies    string        // Cookie header: stel_ssid, stel_dt, stel_token, stel_ton_token; secret, never logged. Required.
	Wallet     Wallet        // pays Fragment. Required for Deliver.
	HTTP       *http.Client  // default: a client with a 30s timeout; redirects are never followed
	Tolerance  shop.NanoTON  // margin kept for network fees: pay only if Fragment asks ≤ PriceTON − Tolerance
	ShowSender bool          // show the sender to the recipient (show_sender=1)
	HashTTL    time.Duration // how long a scraped api hash is reused; default DefaultFragmentHashTTL
	Now        func() time.Time
	Logger     *slog.Logger
	// Sessions keeps the renewed cookies across restarts, sealed with a key
	// the Wallet derives from its seed (KeyDeriver); nil: not kept.
	Sessions SessionStore
}

// Fragment is the provider that buys Stars and Premium gifts on fragment.com
// with the session of a logged-in, KYC-verified account and pays them from
// the hot wallet. Each delivery records its progress in job.Delivery so that
// it resumes after a crash without paying twice. Make it with NewFragment;
// do not copy a Fragment after first use.
type Fragment struct {
	FragmentConfig // as NewFragment completed it; read-only

	client *http.Client // HTTP, never following redirects

	mu     sync.Mutex
	hashes map[string]fragmentHash // by page
	linked string                  // Fragment's linked wallet when it is not the hot wallet (raw), once seen
	// pageLocks serialize each page's state update + init pair.
	pageLocks map[string]*sync.Mutex

	sessionOnce sync.Once
	sess        *fragmentSession // fragment_session.go

	// held, if set, reports whether this process may use the session now:
	// with several replicas, one replica at a time holds it (FragmentPool
	// SetLocks). Set before use.
	held func() bool
}

// errSessionNotHeld is what a Fragment call answers when another replica
// holds its session: the call was not made.
var errSessionNotHeld = Errorf(Retryable, "this replica does not hold the Fragment session; another replica uses it")

// holds reports whether this process may use the session now.
func (f *Fragment) holds() bool { return f.held == nil || f.held() }

var _ Provider = (*Fragment)(nil)

// NewFragment returns the provider over cfg's session. Cookies and Wallet
// are required but not checked here: each delivery checks them, so that a
// missing or expired session pauses the provider and alerts the admins
// (who can paste new cookies) instead of stopping the program.
func NewFragment(cfg FragmentConfig) *Fragment {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultFragmentURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HashTTL <= 0 {
		cfg.HashTTL = DefaultFragmentHashTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// A redirected API call means the session is gone, and the cookies
	// must not travel anywhere else.
	client := http.Client{Timeout: 30 * time.Second}
	if cfg.HTTP != nil {
		client = *cfg.HTTP
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Fragment{FragmentConfig: cfg, client: &client}
}

// fragmentFlow is the sequence of API methods of one order type.
type fragmentFlow struct {
	page   string // the page whose hash and Referer the calls use
	search string
	update string
	init   string
	link   string
	unit   string // the form field of the quantity
}

// fragmentFlowOf returns the flow of kind.
func fragmentFlowOf(kind shop.OrderType) (fragmentFlow, bool) {
	switch kind {
	case shop.OrderStars:
		return fragmentFlow{"/stars/buy", "searchStarsRecipient", "updateStarsBuyState", "initBuyStarsRequest", "getBuyStarsLink", "quantity"}, true
	case shop.OrderPremium:
		return fragmentFlow{"/premium/gift", "searchPremiumGiftRecipient", "updatePremiumState", "initGiftPremiumRequest", "getGiftPremiumLink", "months"}, true
	}
	return fragmentFlow{}, false
}

// CheckRecipient asks Fragment whether username can receive kind. Not found
// and not-a-user answers are a RecipientCheck with CanReceive false; any
// other failure is an error (an *Error).
func (f *Fragment) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	fl, ok := fragmentFlowOf(kind)
	if !ok {
		return nil, fmt.Errorf("fragment: unknown order type %q", kind)
	}
	name, err := shop.NormalizeUsername(username)
	if err != nil {
		return &shop.RecipientCheck{Username: username, Reason: "invalid username"}, nil
	}
	if err := f.checkCookies(); err != nil {
		return nil, err
	}
	_, display, err := f.searchNamed(ctx, fl, name, strconv.Itoa(shop.PremiumMonths[0]))
	switch {
	case err == nil:
		return &shop.RecipientCheck{Username: name, CanReceive: true, Name: display}, nil
	case KindOf(err) == Permanent:
		return &shop.RecipientCheck{Username: name, Reason: ReasonOf(err)}, nil
	}
	return nil, err
}

// Deliver buys job.Order on Fragment and pays it from Wallet, or resumes a
// delivery from job.Delivery: a recorded payment is only ever checked,
// never made again. The order is delivered when the chain shows our
// transaction sent the payment Fragment asked for (its address, amount and
// Ref# payload) and it did not bounce: Fragment matches payments by the
// Ref# comment. The confirm call Fragment names is then made best-effort:
// no public client depends on its answer. Deliver returns the wallet's
// transaction hash as the reference. Failures are *Error: Permanent only
// before any payment (recipient not found, cannot receive, already
// Premium), Manual when an admin must decide (margin check, a payment
// request we cannot pay safely, a bounced payment), Unhealthy when the
// session or the wallet cannot work, Retryable otherwise.
func (f *Fragment) Deliver(ctx context.Context, job *Job) (string, error) {
	fl, err := f.prepare(job)
	if err != nil {
		return "", err
	}
	d := job.Delivery
	switch {
	case d.Confirmed:
		return fragmentRef(d), nil
	case d.Paid != nil && d.Paid.State == shop.PayoutConfirmed:
		// Delivered before a crash; the confirm call may not have been made.
		f.confirm(ctx, job, fl, nil)
		return fragmentRef(d), nil
	case d.Paid != nil && d.Paid.Bounced:
		return "", Errorf(Manual, "the payment to Fragment bounced back (tx %s); an admin must check the order on fragment.com and deliver or refund it", d.Paid.TxHash)
	case d.Payout != nil:
		return f.resume(ctx, job, fl)
	}
	return f.buy(ctx, job, fl)
}

// prepare checks the configuration and the job, and returns the order's flow.
func (f *Fragment) prepare(job *Job) (fragmentFlow, error) {
	if job == nil || job.Order == nil || job.Delivery == nil || job.SaveFunc == nil {
		return fragmentFlow{}, fmt.Errorf("fragment: incomplete job")
	}
	if f.Wallet == nil {
		return fragmentFlow{}, Errorf(Unhealthy, "the Fragment provider has no wallet")
	}
	if err := f.checkCookies(); err != nil {
		return fragmentFlow{}, err
	}
	o := job.Order
	fl, ok := fragmentFlowOf(o.Type)
	switch {
	case !ok:
		return fl, Errorf(Manual, "Fragment cannot deliver orders of type %q", o.Type)
	case o.Recipient == "":
		return fl, Errorf(Manual, "the order has no recipient")
	case o.Type == shop.OrderStars && o.Stars <= 0:
		return fl, Errorf(Manual, "the order has no Stars quantity")
	case o.Type == shop.OrderPremium && o.Months != 3 && o.Months != 6 && o.Months != 12:
		return fl, Errorf(Manual, "Fragment cannot gift %d months of Premium", o.Months)
	}
	return fl, nil
}

// buy runs a delivery from the start: request, link, margin check, payment,
// confirmation.
func (f *Fragment) buy(ctx context.Context, job *Job, fl fragmentFlow) (string, error) {
	link, err := f.ready(ctx, job, fl)
	if err != nil {
		return "", err
	}
	res, err := f.pay(ctx, job, link.validUntil)
	if err != nil {
		return "", err
	}
	return f.settle(ctx, job, fl, res, link.confirm)
}

// ready runs a delivery from the start up to its payment: request, link,
// margin and validity checks. What to pay is recorded (Step "linked").
func (f *Fragment) ready(ctx context.Context, job *Job, fl fragmentFlow) (*fragmentLink, error) {
	fragmentReset(job.Delivery)
	if err := f.initiate(ctx, job, fl); err != nil {
		return nil, err
	}
	link, err := f.link(ctx, job, fl)
	if err != nil {
		return nil, err
	}
	if err := f.checkMargin(job); err != nil {
		return nil, err
	}
	if !link.validUntil.IsZero() && !f.Now().Add(fragmentMinValidity).Before(link.validUntil) {
		return nil, Errorf(Retryable, "Fragment's payment request expired before payment, will retry")
	}
	return link, nil
}

// initiate finds the recipient and creates a Fragment request: Step
// "initiated" with RequestID.
func (f *Fragment) initiate(ctx context.Context, job *Job, fl fragmentFlow) error {
	o, d := job.Order, job.Delivery
	qty := strconv.FormatInt(o.Stars, 10)
	if o.Type == shop.OrderPremium {
		qty = strconv.Itoa(o.Months)
	}
	recipient, err := f.search(ctx, fl, strings.TrimPrefix(o.Recipient, "@"), qty)
	if err != nil {
		return err
	}
	// The state update and the init call run as a pair, one pair at a time
	// per page: the update sets the session's buy state and the init reads
	// it (DRM CHANGELOG 0.2.1: a cold init is refused), and nobody has
	// recorded whether two pairs of one session may overlap. Searches and
	// links, which carry their own ids, run concurrently.
	unlock := f.lockPage(fl.page)
	defer unlock()
	// With several replicas the page lock guards only this process: the
	// session must also be this replica's (a lost hold stops it here).
	if !f.holds() {
		return errSessionNotHeld
	}
	// The state update's answer is ignored, as pyfragment does: a real
	// answer was {"error": …} with fresh cookies (pyfragment issue #36).
	// If it mattered, the init call says so.
	dh := strconv.FormatInt(100_000_000+rand.Int64N(2_147_483_647-100_000_000+1), 10)
	if err := f.call(ctx, fl.page, fl.update, url.Values{"mode": {"new"}, "lv": {"false"}, "dh": {dh}}, nil); err != nil {
		if ctx.Err() != nil {
			return Wrap(Retryable, "Fragment request interrupted, will retry", ctx.Err())
		}
		f.Logger.Warn("fragment state update failed; going on", "order_id", o.ID, "method", fl.update, "error", err)
	}
	var r struct {
		ReqID fragmentText `json:"req_id"`
	}
	form := url.Values{"recipient": {recipient}, fl.unit: {qty}, "payment_method": {"ton"}}
	err = f.call(ctx, fl.page, fl.init, form, &r)
	unlock()
	if err != nil {
		return err
	}
	switch id := string(r.ReqID); {
	case id == "":
		return Errorf(Unhealthy, "Fragment created no request: the session may have expired")
	case !fragmentReqIDRE.MatchString(id):
		return Errorf(Manual, "Fragment format changed: unexpected request id")
	}
	d.RequestID, d.Step = string(r.ReqID), fragmentStepInitiated
	if err := job.Save(ctx); err != nil {
		return err
	}
	f.Logger.Info("fragment request created", "order_id", o.ID, "req_id", d.RequestID)
	return nil
}

// lockPage takes the lock of page's buy state; the returned func releases
// it and may be called more than once.
func (f *Fragment) lockPage(page string) func() {
	f.mu.Lock()
	if f.pageLocks == nil {
		f.pageLocks = make(map[string]*sync.Mutex)
	}
	l, ok := f.pageLocks[page]
	if !ok {
		l = new(sync.Mutex)
		f.pageLocks[page] = l
	}
	f.mu.Unlock()
	l.Lock()
	var once sync.Once
	return func() { once.Do(l.Unlock) }
}

// search returns Fragment's recipient token for username. For Stars qty is
// not sent (Fragment wants it empty); for Premium it is the months.
func (f *Fragment) search(ctx context.Context, fl fragmentFlow, username, qty string) (string, error) {
	recipient, _, err := f.searchNamed(ctx, fl, username, qty)
	return recipient, err
}

// searchNamed is search, also returning the display name Fragment shows
// for the recipient (found.name: answers.json #20, #22), cut to 64
// characters; "" when absent.
func (f *Fragment) searchNamed(ctx context.Context, fl fragmentFlow, username, qty string) (recipient, name string, err error) {
	form := url.Values{"query": {username}}
	if fl.unit == "quantity" {
		form.Set("quantity", "")
	} else {
		form.Set("months", qty)
	}
	var r struct {
		Found *struct {
			Recipient string `json:"recipient"`
			Name      string `json:"name"`
		} `json:"found"`
	}
	if err := f.call(ctx, fl.page, fl.search, form, &r); err != nil {
		return "", "", err
	}
	switch {
	case r.Found != nil && r.Found.Recipient == "":
		// {"found": {}}: pyfragment purchase.py reads it as not found
		// (tests/004_test_stars.py).
		return "", "", Errorf(Permanent, "recipient not found on Telegram")
	case r.Found == nil || len(r.Found.Recipient) > 1024:
		return "", "", Errorf(Retryable, "unexpected answer from Fragment's recipient search")
	}
	return r.Found.Recipient, shop.TruncateUTF8(strings.TrimSpace(r.Found.Name), 64), nil
}

// fragmentLinkAnswer is the answer of getBuyStarsLink / getGiftPremiumLink.
type fragmentLinkAnswer struct {
	Transaction *struct {
		ValidUntil fragmentText `json:"validUntil"`
		From       string       `json:"from"`
		Messages   []struct {
			Address string       `json:"address"`
			Amount  fragmentText `json:"amount"`
			Payload string       `json:"payload"`
		} `json:"messages"`
	} `json:"transaction"`
	ConfirmMethod string                     `json:"confirm_method"`
	ConfirmParams map[string]json.RawMessage `json:"confirm_params"`
}

// fragmentLink is a validated payment request.
type fragmentLink struct {
	payTo      string
	amount     shop.NanoTON
	payload    []byte
	comment    string    // the payload's text
	validUntil time.Time // zero: not given
	confirm    *fragmentConfirm
}

// fragmentConfirm is the call that tells Fragment the payment was made.
type fragmentConfirm struct {
	method string
	params map[string]string
}

// link asks Fragment what to pay and records it: Step "linked" with PayTo,
// PayAmount and Payload.
func (f *Fragment) link(ctx context.Context, job *Job, fl fragmentFlow) (*fragmentLink, error) {
	d := job.Delivery
	info := f.Wallet.Info()
	account, err := fragmentAccount(info)
	if err != nil {
		return nil, err
	}
	showSender := "0"
	if f.ShowSender {
		showSender = "1"
	}
	form := url.Values{
		"id":          {d.RequestID},
		"show_sender": {showSender},
		"transaction": {"1"},
		"account":     {account},
		"device":      {fragmentDevice},
	}
	var r fragmentLinkAnswer
	if err := f.call(ctx, fl.page, fl.link, form, &r); err != nil {
		return nil, err
	}
	l, err := parseFragmentLink(&r, d.RequestID)
	if err == nil {
		if cerr := checkFragmentComment(l.comment, job.Order); cerr != nil {
			err = Wrap(Manual, "Fragment asks for a payment that does not match the order", cerr)
		}
	}
	if err != nil {
		f.Logger.Warn("fragment payment request refused", "order_id", job.Order.ID, "req_id", d.RequestID, "error", err)
		return nil, err
	}
	f.noteLinkedWallet(r.Transaction.From, info)
	d.PayTo, d.PayAmount, d.Payload, d.PayBy, d.Step = l.payTo, l.amount, l.payload, l.validUntil, fragmentStepLinked
	d.ConfirmMethod, d.ConfirmParams = l.confirm.method, l.confirm.params
	if err := job.Save(ctx); err != nil {
		return nil, err
	}
	f.Logger.Info("fragment payment requested", "order_id", job.Order.ID, "req_id", d.RequestID, "amount", l.amount.String())
	return l, nil
}

// parseFragmentLink validates a link answer before anything is signed:
// exactly one message, to a valid address, of a whole positive nanoTON
// amount (a string or a number), whose payload is a TON comment with Ref#
// (fragmentPaymentComment). Anything else is Manual: we cannot pay it
// safely. transaction.from is not checked here: it is the wallet linked to
// the Fragment account (pyfragment CHANGELOG 2026.2.3,
// services/tonapi/transaction.py), which may differ from the hot wallet,
// and Fragment matches a TON payment by its Ref# whoever pays. The confirm
// call is optional: a missing or unusable one falls back to confirmReq
// with {id}.
func parseFragmentLink(r *fragmentLinkAnswer, reqID string) (*fragmentLink, error) {
	refuse := func(what string) error {
		return Wrap(Manual, "Fragment asks for a payment we cannot make safely", fmt.Errorf("payment request: %s", what))
	}
	tx := r.Transaction
	switch {
	case tx == nil:
		return nil, refuse("no transaction")
	case len(tx.Messages) != 1:
		return nil, refuse(fmt.Sprintf("%d messages instead of 1", len(tx.Messages)))
	}
	m := tx.Messages[0]
	if !fragmentAddrRE.MatchString(m.Address) {
		return nil, refuse("invalid address")
	}
	if _, err := parseTONAddress(m.Address); err != nil {
		return nil, refuse("invalid address")
	}
	amount, err := parseNano(string(m.Amount))
	if err != nil {
		return nil, refuse("amount: " + err.Error())
	}
	payload, err := decodeBase64Lenient(m.Payload)
	if err != nil {
		return nil, refuse("payload is not base64")
	}
	comment, err := fragmentPaymentComment(payload)
	if err != nil {
		return nil, refuse(err.Error())
	}
	l := &fragmentLink{payTo: m.Address, amount: amount, payload: payload, comment: comment, confirm: parseFragmentConfirm(r.ConfirmMethod, r.ConfirmParams, reqID)}
	if v, err := strconv.ParseInt(strings.TrimSpace(string(tx.ValidUntil)), 10, 64); err == nil && v > 0 {
		l.validUntil = time.Unix(v, 0)
	}
	return l, nil
}

// parseFragmentConfirm reads confirm_method and confirm_params: an
// identifier, and string or number values. When there is no usable one it
// is confirmReq with {id: reqID} (S1qwy fragment-api-py
// FragmentAPI/methods/purchase.py sends exactly that).
func parseFragmentConfirm(method string, params map[string]json.RawMessage, reqID string) *fragmentConfirm {
	fallback := &fragmentConfirm{method: fragmentConfirmMethod, params: map[string]string{"id": reqID}}
	if !fragmentIdentRE.MatchString(method) {
		return fallback
	}
	c := &fragmentConfirm{method: method, params: make(map[string]string, len(params))}
	for k, raw := range params {
		var v fragmentText
		if !fragmentIdentRE.MatchString(k) || json.Unmarshal(raw, &v) != nil || len(v) > 256 {
			return fallback
		}
		c.params[k] = string(v)
	}
	if len(c.params) == 0 {
		c.params["id"] = reqID
	}
	return c
}

// noteLinkedWallet reports, once per wallet, that Fragment's linked wallet
// (transaction.from) is not the hot wallet: the hot wallet pays anyway,
// and admins see it in /stats and /api/v1/health (Notice). An unparsable
// from is logged and ignored: nothing depends on it.
func (f *Fragment) noteLinkedWallet(from string, info shop.WalletInfo) {
	from = strings.TrimSpace(from)
	if from == "" {
		return
	}
	a, err := parseTONAddress(from)
	if err != nil {
		f.Logger.Warn("fragment names an unreadable linked wallet; ignored", "from", fragmentSanitize(from))
		return
	}
	raw := a.StringRaw()
	if sameTONAddress(raw, info.RawAddress) {
		raw = ""
	}
	f.mu.Lock()
	seen := f.linked == raw
	f.linked = raw
	f.mu.Unlock()
	if !seen && raw != "" {
		f.Logger.Warn("the wallet linked to the Fragment account is not the hot wallet; paying from the hot wallet, Fragment matches payments by Ref#",
			"linked_wallet", raw, "hot_wallet", info.RawAddress)
	}
}

// Notice is what admins should know about the provider although it works:
// Fragment's linked wallet when it is not the hot wallet; "" otherwise.
func (f *Fragment) Notice() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.linked == "" {
		return ""
	}
	return "the wallet linked to the Fragment account is " + f.linked + ", not the hot wallet; orders are paid from the hot wallet (Fragment matches payments by their Ref#)"
}

// checkMargin refuses to pay more than the shop's budget for the order
// (shop.Order.PayoutBudget with Tolerance).
func (f *Fragment) checkMargin(job *Job) error {
	o, d := job.Order, job.Delivery
	if d.PayAmount > o.PayoutBudget(f.Tolerance) {
		f.Logger.Warn("fragment margin check failed", "order_id", o.ID, "asks", d.PayAmount.String(), "paid", o.PriceTON.String(), "tolerance", max(f.Tolerance, 0).String())
		return Errorf(Manual, "Fragment asks %s TON, the buyer paid %s TON", d.PayAmount, o.PriceTON)
	}
	return nil
}

// pay signs, records (Step "signed" with Payout) and broadcasts the payment,
// valid no longer than Fragment's request (until; zero: the wallet's TTL).
// The wallet broadcasts only if the record was saved.
func (f *Fragment) pay(ctx context.Context, job *Job, until time.Time) (*shop.PayoutResult, error) {
	d := job.Delivery
	p := shop.Payout{To: d.PayTo, Amount: d.PayAmount, Payload: d.Payload, Bounce: true, ValidUntil: until}
	record := func(ctx context.Context, sp *shop.SignedPayout) error {
		step := d.Step
		d.Payout, d.Step = sp, fragmentStepSigned
		if err := job.Save(ctx); err != nil {
			// Not recorded, so never broadcast: forget it, or a later
			// Resume would send a message no record knows of.
			d.Payout, d.Step = nil, step
			return err
		}
		return nil
	}
	res, err := f.Wallet.Send(ctx, p, record)
	switch {
	case err != nil && d.Payout == nil:
		return nil, Wrap(Retryable, "could not send the payment to Fragment, will retry", err)
	case err != nil:
		return nil, Wrap(Retryable, "payment to Fragment sent, outcome unknown; will check", err)
	case res == nil:
		return nil, Errorf(Retryable, "payment to Fragment sent, outcome unknown; will check")
	}
	return res, nil
}

// resume finds the outcome of the recorded payment and goes on from it.
func (f *Fragment) resume(ctx context.Context, job *Job, fl fragmentFlow) (string, error) {
	res, err := f.Wallet.Resume(ctx, job.Delivery.Payout)
	if err != nil {
		return "", Wrap(Retryable, "could not check the payment to Fragment, will retry", err)
	}
	if res == nil {
		return "", Errorf(Retryable, "payment to Fragment pending, will check again")
	}
	return f.settle(ctx, job, fl, res, nil)
}

// settle acts on a payment's outcome: a confirmed payment (sent as signed,
// not bounced) is recorded (Step "paid"), which delivers the order, and
// then confirmed to Fragment best-effort; a bounced one goes to an admin
// with its record kept; an expired or failed one is forgotten so that the
// next attempt starts over.
func (f *Fragment) settle(ctx context.Context, job *Job, fl fragmentFlow, res *shop.PayoutResult, live *fragmentConfirm) (string, error) {
	d := job.Delivery
	switch {
	case res.State == shop.PayoutConfirmed:
		paid := *res
		d.Paid, d.Step = &paid, fragmentStepPaid
		d.Ref = res.TxHash
		if err := job.Save(ctx); err != nil {
			return "", err
		}
		f.Logger.Info("fragment paid", "order_id", job.Order.ID, "req_id", d.RequestID, "tx_hash", res.TxHash, "amount", d.PayAmount.String())
		f.confirm(ctx, job, fl, live)
		return fragmentRef(d), nil
	case res.State == shop.PayoutFailed && res.Bounced:
		failed := *res
		d.Paid = &failed
		if err := job.Save(ctx); err != nil {
			return "", err
		}
		f.Logger.Warn("fragment payment bounced", "order_id", job.Order.ID, "req_id", d.RequestID, "tx_hash", res.TxHash, "reason", res.Reason)
		return "", Errorf(Manual, "the payment to Fragment bounced back (tx %s): %s; an admin must check the order on fragment.com and deliver or refund it", res.TxHash, fragmentSanitize(res.Reason))
	case res.State == shop.PayoutExpired:
		fragmentReset(d)
		if err := job.Save(ctx); err != nil {
			return "", err
		}
		return "", Wrap(Retryable, "payment expired, will retry", fmt.Errorf("expired: %s", fragmentSanitize(res.Reason)))
	case res.State == shop.PayoutFailed:
		fragmentReset(d)
		if err := job.Save(ctx); err != nil {
			return "", err
		}
		return "", Errorf(Unhealthy, "hot wallet could not pay: %s", fragmentSanitize(res.Reason))
	}
	if err := ctx.Err(); err != nil {
		return "", Wrap(Retryable, "payment to Fragment pending, will check again", err)
	}
	return "", Errorf(Retryable, "payment to Fragment pending, will check again")
}

// confirm tells Fragment the payment was made, with the signed message's
// BOC, best-effort: the order is delivered already (the chain shows the
// payment), no public client depends on this call's answer (S1qwy sends
// confirmReq and ignores any error; pyfragment and Darkildo never call it),
// and nobody has recorded a real one. Whatever happens is logged; an answer
// with "ok" true is recorded as Confirmed (Step "confirmed"). live is the
// confirm call Fragment named; nil after a restart.
func (f *Fragment) confirm(ctx context.Context, job *Job, fl fragmentFlow, live *fragmentConfirm) {
	d := job.Delivery
	if d.Payout == nil || len(d.Payout.BOC) == 0 {
		f.Logger.Warn("fragment confirm skipped: the signed message is missing", "order_id", job.Order.ID, "req_id", d.RequestID)
		return
	}
	if !f.holds() {
		// Best effort, and another replica holds the session: settlement
		// is by the payment's own out-message on chain (PayBatch).
		f.Logger.Info("fragment confirm skipped: another replica holds the session; the order is delivered (paid on chain)", "order_id", job.Order.ID, "req_id", d.RequestID)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, fragmentConfirmTimeout)
	defer cancel()
	c := live
	switch {
	case c != nil:
	case d.ConfirmMethod != "":
		c = &fragmentConfirm{method: d.ConfirmMethod, params: d.ConfirmParams}
	default: // a delivery recorded before the confirm call was kept
		c = &fragmentConfirm{method: fragmentConfirmMethod, params: map[string]string{"id": d.RequestID}}
	}
	form := url.Values{}
	for k, v := range c.params {
		form.Set(k, v)
	}
	form.Set("boc", base64.StdEncoding.EncodeToString(d.Payout.BOC))
	if account, err := fragmentAccount(f.Wallet.Info()); err == nil {
		form.Set("account", account)
	}
	form.Set("device", fragmentDevice)
	var r struct {
		OK fragmentFlag `json:"ok"`
	}
	if err := f.call(ctx, fl.page, c.method, form, &r); err != nil {
		f.Logger.Warn("fragment confirm call failed; the order is delivered (paid on chain)", "order_id", job.Order.ID, "req_id", d.RequestID, "method", c.method, "error", err)
		return
	}
	if !r.OK {
		f.Logger.Warn("fragment confirm answer not understood; the order is delivered (paid on chain)", "order_id", job.Order.ID, "req_id", d.RequestID, "method", c.method)
		return
	}
	d.Confirmed, d.Ref, d.Step = true, fragmentRef(d), fragmentStepConfirmed
	if err := job.Save(ctx); err != nil {
		f.Logger.Warn("fragment confirm not recorded", "order_id", job.Order.ID, "error", err)
		return
	}
	f.Logger.Info("fragment confirmed", "order_id", job.Order.ID, "req_id", d.RequestID, "ref", d.Ref)
}

// fragmentRef is the delivery reference: the payment's transaction hash,
// else Fragment's request id.
func fragmentRef(d *shop.Delivery) string {
	if d.Ref != "" {
		return d.Ref
	}
	if d.Paid != nil && d.Paid.TxHash != "" {
		return d.Paid.TxHash
	}
	return d.RequestID
}

// fragmentReset forgets every provider datum of d: the next attempt starts
// over. Only for deliveries whose payment cannot have been made.
func fragmentReset(d *shop.Delivery) {
	d.Step, d.RequestID, d.PayTo, d.PayAmount, d.Payload, d.PayBy = "", "", "", 0, nil, time.Time{}
	d.Payout, d.Paid, d.Confirmed, d.Ref = nil, nil, false, ""
	d.ConfirmMethod, d.ConfirmParams = "", nil
}

// fragmentAccount is the TonConnect account JSON describing the wallet.
func fragmentAccount(info shop.WalletInfo) (string, error) {
	if info.RawAddress == "" || info.Chain == "" || info.PublicKey == "" || len(info.StateInitBOC) == 0 {
		return "", Errorf(Unhealthy, "the hot wallet's description is incomplete")
	}
	b, err := json.Marshal(struct {
		Address         string `json:"address"`
		Chain           string `json:"chain"`
		WalletStateInit string `json:"walletStateInit"`
		PublicKey       string `json:"publicKey"`
	}{info.RawAddress, info.Chain, base64.StdEncoding.EncodeToString(info.StateInitBOC), info.PublicKey})
	if err != nil {
		return "", Wrap(Unhealthy, "the hot wallet's description is invalid", err)
	}
	return string(b), nil
}

// checkCookies makes sure the session cookies are there and well-formed,
// without ever showing them: FRAGMENT_COOKIES, then the session's jar.
func (f *Fragment) checkCookies() error {
	c := strings.TrimSpace(f.Cookies)
	if c == "" || strings.ContainsAny(c, "\r\n\x00") {
		return Errorf(Unhealthy, "the Fragment cookies are missing or malformed. %s", fragmentLoginSteps)
	}
	if _, err := http.ParseCookie(c); err != nil {
		return Errorf(Unhealthy, "the Fragment cookies are malformed. %s", fragmentLoginSteps)
	}
	return f.checkSession()
}

// cookieHeader is the Cookie header of the session's jar.
func (f *Fragment) cookieHeader() string { return f.session().header() }

// origin is the scheme and host of the base URL.
func (f *Fragment) origin() string {
	u, err := url.Parse(f.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return f.BaseURL
	}
	return u.Scheme + "://" + u.Host
}

// String describes f without its secrets.
func (f *Fragment) String() string { return "fragment(" + f.BaseURL + ")" }

// GoString describes f without its secrets, for %#v.
func (f *Fragment) GoString() string { return f.String() }

// LogValue describes f for slog without its secrets.
func (f *Fragment) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", f.BaseURL), slog.Bool("cookies_set", f.Cookies != ""))
}
