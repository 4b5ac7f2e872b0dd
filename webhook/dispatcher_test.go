package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
	"starsbot/webhook"
)

const (
	alice = int64(1001)
	bob   = int64(1002)
	admin = int64(9)
)

// verifyStandardWebhook checks a request's signature as a receiver
// following the Standard Webhooks 1.0 spec would, written here from the
// spec and not with the package's signer: the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the key is the base64-decoded
// part of the secret after "whsec_", the header holds space-delimited
// "v1,<base64 HMAC-SHA256>" entries of which one must match, compared in
// constant time, and the timestamp must be within 5 minutes of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s too far from now %s", time.Unix(sec, 0).UTC(), now.UTC())
	}
	key, err := base64.StdEncoding.DecodeString(secret[len("whsec_"):])
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	want := m.Sum(nil)
	for _, entry := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature matches")
}

// receipt is one request the receiver got.
type receipt struct {
	id, typ string
	entries int      // signature entries in the header
	matched []string // names of the secrets that verify it
	status  int      // what the receiver answered
	agent   string
}

// receiver is a partner's endpoint: a real HTTP server that verifies
// every request with verifyStandardWebhook and answers what respond says.
type receiver struct {
	t       *testing.T
	now     func() time.Time
	mu      sync.Mutex
	secrets map[string]string // name → secret to verify with
	got     []receipt
	respond func(n int, r *http.Request) int // n counts requests from 0
	srv     *httptest.Server
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	rc := &receiver{t: t, now: now, secrets: map[string]string{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	n := len(rc.got)
	rec := receipt{id: r.Header.Get("webhook-id"), entries: len(strings.Fields(r.Header.Get("webhook-signature"))), agent: r.Header.Get("User-Agent")}
	var payload struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &payload); err != nil || r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("bad request: %s %s %q", r.Method, r.Header.Get("Content-Type"), body)
	}
	rec.typ = payload.Type
	for name, s := range rc.secrets {
		if verifyStandardWebhook(s, r.Header, body, rc.now()) == nil {
			rec.matched = append(rec.matched, name)
		}
	}
	slices.Sort(rec.matched)
	respond := rc.respond
	rc.got = append(rc.got, rec)
	rc.mu.Unlock()
	status := http.StatusNoContent
	if respond != nil {
		status = respond(n, r)
	}
	if len(rec.matched) == 0 {
		status = http.StatusUnauthorized
	}
	rc.mu.Lock()
	rc.got[n].status = status
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) receipts() []receipt {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// accepted returns, per event id, how many times the receiver accepted it
// (2xx), and the ids in the order first accepted.
func (rc *receiver) accepted() (map[string]int, []string) {
	count := map[string]int{}
	var order []string
	for _, r := range rc.receipts() {
		if r.status >= 200 && r.status < 300 {
			if count[r.id] == 0 {
				order = append(order, r.id)
			}
			count[r.id]++
		}
	}
	return count, order
}

// env is a shop on a real store (every Update run twice, the first rolled
// back) with a dispatcher on the shop's clock.
type env struct {
	t   *testing.T
	s   *shoptest.Shop
	svc *shop.Service
	d   *webhook.Dispatcher
	cfg webhook.Config
}

func newEnv(t *testing.T, db *store.DB, cfg webhook.Config) *env {
	t.Helper()
	s := shoptest.New(t, &shoptest.Options{DB: db, Retry: true})
	s.Service.WebhookAllowPrivate = true // the receivers listen on loopback
	e := &env{t: t, s: s, svc: s.Service}
	cfg.Shop = s.Service
	cfg.Render = render
	cfg.Now = s.Clock.Now
	e.cfg = cfg
	e.d = e.dispatcher()
	for _, id := range []int64{alice, bob} {
		if _, err := s.Service.EnsureUser(context.Background(), shop.UserUpdate{ID: id, Username: fmt.Sprint("user", id)}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) dispatcher() *webhook.Dispatcher {
	d, err := webhook.New(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// render is a body with the event's identity, for these tests (package
// main gives the dispatcher api.WebhookBody).
func render(ev *shop.OutboxEvent) ([]byte, error) {
	return json.Marshal(map[string]any{"type": ev.Type, "timestamp": ev.CreatedAt, "data": map[string]any{"seq": ev.Seq}})
}

func (e *env) hook(user int64, url string, types ...shop.PartnerEventType) *shop.Webhook {
	e.t.Helper()
	w, err := e.svc.CreateWebhook(context.Background(), user, url, types)
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

// credit makes one balance.credited event of user.
func (e *env) credit(user int64) {
	e.t.Helper()
	if _, err := e.svc.AdminCredit(context.Background(), admin, user, shop.TON, "test"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) runOnce() {
	e.t.Helper()
	if err := e.d.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deliveries(w *shop.Webhook) []*shop.WebhookDelivery {
	e.t.Helper()
	ds, _, err := e.svc.WebhookDeliveries(context.Background(), w.UserID, w.ID, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

func (e *env) eventIDs(user int64) []string {
	e.t.Helper()
	evs, _, err := e.svc.Events(context.Background(), user, 0, 500)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

// drain runs passes, advancing the clock by step between them, until no
// delivery of w is pending or rounds run out.
func (e *env) drain(w *shop.Webhook, step time.Duration, rounds int) {
	e.t.Helper()
	for range rounds {
		e.runOnce()
		pending := false
		for _, d := range e.deliveries(w) {
			pending = pending || d.Status == shop.WebhookPending
		}
		if !pending {
			return
		}
		e.s.Clock.Advance(step)
	}
	e.t.Fatalf("deliveries still pending after %d rounds", rounds)
}

func (e *env) check() {
	e.t.Helper()
	if err := e.s.DB.Check(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func TestDispatcher_DeliversSigned(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	rc := newReceiver(t, e.s.Clock.Now)
	w := e.hook(alice, rc.srv.URL+"/hooks", shop.PartnerBalanceCredited, shop.PartnerOrderPaid)
	rc.secrets["current"] = w.Secret.Reveal()
	e.hook(bob, rc.srv.URL+"/bob") // bob's endpoint gets only bob's events: none
	e.credit(alice)
	if _, err := e.svc.CreateOrder(context.Background(), shop.CreateOrderRequest{UserID: alice, Type: shop.OrderStars, Stars: 100, Recipient: "pandus", PaymentMethod: shop.PayBalance, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	got := rc.receipts()
	var types []string
	for _, r := range got {
		types = append(types, r.typ)
		if r.entries != 1 || !slices.Equal(r.matched, []string{"current"}) || r.status != 204 || r.agent != webhook.UserAgent {
			t.Errorf("receipt %+v", r)
		}
	}
	if want := []string{"balance.credited", "order.paid"}; !slices.Equal(types, want) { // order.created is not subscribed
		t.Fatalf("received %v, want %v", types, want)
	}
	ids := e.eventIDs(alice)
	if got[0].id != ids[0] || got[1].id != ids[2] {
		t.Errorf("webhook-ids %s %s, want the events' ids %v", got[0].id, got[1].id, ids)
	}
	for _, d := range e.deliveries(w) {
		if d.Status != shop.WebhookDelivered || d.Attempts != 1 || d.LastStatusCode != 204 || !d.NextAttemptAt.IsZero() {
			t.Errorf("delivery %+v", d)
		}
	}
	// Nothing is sent twice.
	e.runOnce()
	if n := len(rc.receipts()); n != 2 {
		t.Errorf("%d requests after a second pass, want 2", n)
	}
	// A test event goes to its one endpoint.
	if _, err := e.svc.TestWebhook(context.Background(), alice, w.ID); err != nil {
		t.Fatal(err)
	}
	e.runOnce()
	if got := rc.receipts(); len(got) != 3 || got[2].typ != "webhook.test" {
		t.Errorf("after the test event: %+v", got)
	}
	e.check()
}

func TestDispatcher_SecretRotation(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	rc := newReceiver(t, e.s.Clock.Now)
	w := e.hook(alice, rc.srv.URL)
	rc.secrets["old"] = w.Secret.Reveal()
	w, err := e.svc.RotateWebhookSecret(context.Background(), alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.secrets["new"] = w.Secret.Reveal()
	if rc.secrets["old"] == rc.secrets["new"] {
		t.Fatal("rotation kept the secret")
	}
	e.credit(alice)
	e.runOnce()
	e.s.Clock.Advance(shop.SecretOverlap - time.Second)
	e.credit(alice)
	e.runOnce()
	e.s.Clock.Advance(time.Second)
	e.credit(alice)
	e.runOnce()
	got := rc.receipts()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for i, want := range [][]string{{"new", "old"}, {"new", "old"}, {"new"}} {
		if !slices.Equal(got[i].matched, want) || got[i].entries != len(want) {
			t.Errorf("request %d: %d signatures verified by %v, want %v", i, got[i].entries, got[i].matched, want)
		}
	}
	e.check()
}

func TestDispatcher_RetriesAfter500(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	rc := newReceiver(t, e.s.Clock.Now)
	rc.respond = func(n int, _ *http.Request) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	w := e.hook(alice, rc.srv.URL)
	rc.secrets["s"] = w.Secret.Reveal()
	e.credit(alice)
	e.runOnce()
	d := e.deliveries(w)[0]
	if d.Status != shop.WebhookPending || d.Attempts != 1 || d.LastStatusCode != 500 || d.LastError != "HTTP 500" {
		t.Fatalf("after a 500: %+v", d)
	}
	if wait := d.NextAttemptAt.Sub(d.LastAttemptAt); wait < 4500*time.Millisecond || wait > 5500*time.Millisecond {
		t.Errorf("first retry in %s, want 5 s ± 10 %%", wait)
	}
	e.runOnce() // not due yet
	if n := len(rc.receipts()); n != 1 {
		t.Fatalf("%d requests before the retry was due", n)
	}
	e.s.Clock.Advance(6 * time.Second)
	e.runOnce()
	d = e.deliveries(w)[0]
	if wait := d.NextAttemptAt.Sub(d.LastAttemptAt); d.Attempts != 2 || wait < 4*time.Minute+30*time.Second || wait > 5*time.Minute+30*time.Second {
		t.Fatalf("second retry %+v in %s, want 5 min ± 10 %%", d, wait)
	}
	e.s.Clock.Advance(6 * time.Minute)
	e.runOnce()
	d = e.deliveries(w)[0]
	if d.Status != shop.WebhookDelivered || d.Attempts != 3 || d.LastStatusCode != 200 || d.LastError != "" {
		t.Fatalf("after the third attempt: %+v", d)
	}
	e.check()
}

func TestDispatcher_RetriesAfterTimeout(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{Timeout: 50 * time.Millisecond})
	rc := newReceiver(t, e.s.Clock.Now)
	release := make(chan struct{})
	rc.respond = func(n int, r *http.Request) int {
		if n == 0 {
			select { // hangs until the dispatcher gives up
			case <-r.Context().Done():
			case <-release:
			}
		}
		return http.StatusOK
	}
	defer close(release)
	w := e.hook(alice, rc.srv.URL)
	rc.secrets["s"] = w.Secret.Reveal()
	e.credit(alice)
	e.runOnce()
	d := e.deliveries(w)[0]
	if d.Status != shop.WebhookPending || d.Attempts != 1 || d.LastStatusCode != 0 || !strings.Contains(d.LastError, "no response within 50ms") {
		t.Fatalf("after a timeout: %+v", d)
	}
	e.drain(w, time.Minute, 5)
	// The receiver took the first request too, but answered after the
	// dispatcher had given up: one duplicate, by at-least-once design.
	if count, _ := rc.accepted(); count[d.EventID] != 2 || len(rc.receipts()) != 2 {
		t.Errorf("accepted %d times in %d requests, want 2 in 2", count[d.EventID], len(rc.receipts()))
	}
	if d := e.deliveries(w)[0]; d.Status != shop.WebhookDelivered || d.Attempts != 2 {
		t.Errorf("delivery %+v", d)
	}
	e.check()
}

// relisten serves h on addr again (a receiver coming back on its port).
func relisten(t *testing.T, addr string, h http.Handler) *http.Server {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv
}

func TestDispatcher_ReceiverDownThenBack(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	rc := newReceiver(t, e.s.Clock.Now)
	addr := rc.srv.Listener.Addr().String()
	w := e.hook(alice, "http://"+addr+"/hooks")
	rc.secrets["s"] = w.Secret.Reveal()
	e.credit(alice)
	e.runOnce()
	rc.srv.Close() // down: connections refused
	for range 5 {
		e.credit(alice)
		e.runOnce()
		e.s.Clock.Advance(time.Minute)
	}
	// Retries while down, spread over hours.
	for range 4 {
		e.s.Clock.Advance(time.Hour)
		e.runOnce()
	}
	var failing int
	for _, d := range e.deliveries(w) {
		if d.Status == shop.WebhookPending && d.Attempts > 0 {
			failing++
			if !strings.Contains(d.LastError, "refused") {
				t.Errorf("while down: last error %q", d.LastError)
			}
		}
	}
	if failing == 0 {
		t.Fatal("no attempt failed while the receiver was down")
	}
	relisten(t, addr, http.HandlerFunc(rc.serve))
	e.drain(w, time.Hour, 30)

	count, order := rc.accepted()
	ids := e.eventIDs(alice)
	if len(ids) != 6 {
		t.Fatalf("%d events, want 6", len(ids))
	}
	dups := 0
	for _, id := range ids {
		if count[id] == 0 {
			t.Errorf("event %s lost", id)
		}
		dups += count[id] - 1
	}
	if dups != 0 { // the receiver never answered 2xx to an attempt whose outcome was lost
		t.Errorf("%d duplicates", dups)
	}
	if len(order) != len(ids) {
		t.Errorf("accepted %d distinct events, want %d", len(order), len(ids))
	}
	for _, d := range e.deliveries(w) {
		if d.Status != shop.WebhookDelivered {
			t.Errorf("delivery %+v", d)
		}
	}
	e.check()
}

func TestDispatcher_CrashMidDelivery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "starsbot.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db, webhook.Config{})
	rc := newReceiver(t, e.s.Clock.Now)
	inFlight := make(chan struct{})
	rc.respond = func(n int, r *http.Request) int {
		if n == 0 { // takes the event, then the sender dies before the answer
			close(inFlight)
			<-r.Context().Done()
		}
		return http.StatusOK
	}
	w := e.hook(alice, rc.srv.URL)
	rc.secrets["s"] = w.Secret.Reveal()
	e.credit(alice)
	e.credit(alice)

	ctx, crash := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.d.Run(ctx) }()
	<-inFlight
	crash()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: the store reopened, a new service and dispatcher.
	db2, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	e2 := newEnv(t, db2, webhook.Config{})
	e2.s.Clock.Set(e.s.Clock.Now())
	e2.drain(w, time.Minute, 5)

	count, _ := rc.accepted()
	ids := e2.eventIDs(alice)
	dups := 0
	for _, id := range ids {
		if count[id] == 0 {
			t.Errorf("event %s lost in the crash", id)
		}
		dups += max(count[id]-1, 0)
	}
	// The request in flight at the crash reached the receiver, but its
	// outcome was never booked: it is sent again (at least once), the one
	// duplicate.
	if n := len(rc.receipts()); n != 3 || dups != 1 || len(ids) != 2 {
		t.Errorf("%d requests, %d duplicates accepted, counts %v", n, dups, count)
	}
	for _, d := range e2.deliveries(w) {
		if d.Status != shop.WebhookDelivered || d.Attempts != 1 {
			t.Errorf("delivery %+v: want delivered at its first booked attempt", d)
		}
	}
	if err := db2.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWebhook_PrivateAddressRefused(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	e.svc.WebhookAllowPrivate = false
	e.svc.WebhookResolver = func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "localhost.example":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "mixed.example": // one public address is not enough
			return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("192.168.1.1")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
	}
	for _, url := range []string{
		"https://localhost.example/h", "https://mixed.example/h", "https://127.0.0.1/h", "https://[::1]/h",
		"https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/h", "https://10.0.0.1/h", "https://0.0.0.0/h",
		"https://[fd00::1]/h", "https://[64:ff9b::a00:1]/h", "https://100.64.0.1/h", "https://224.0.0.1/h",
	} {
		if _, err := e.svc.CreateWebhook(context.Background(), alice, url, nil); shop.ErrorCode(err) != shop.EVALIDATION {
			t.Errorf("CreateWebhook(%s) = %v, want VALIDATION_ERROR", url, err)
		}
	}
	if _, err := e.svc.CreateWebhook(context.Background(), alice, "https://public.example/h", nil); err != nil {
		t.Errorf("a public host: %v", err)
	}
	e.check()
}

func TestDispatcher_DNSRebindingRefused(t *testing.T) {
	rebound := 0
	e := newEnv(t, nil, webhook.Config{Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
		rebound++ // at connection time the name points at loopback
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}})
	e.svc.WebhookAllowPrivate = false
	e.svc.WebhookResolver = func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil // public at registration
	}
	rc := newReceiver(t, e.s.Clock.Now)
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())
	w := e.hook(alice, "http://rebind.example:"+port+"/h")
	e.credit(alice)
	e.runOnce()
	if n := len(rc.receipts()); n != 0 || rebound == 0 {
		t.Fatalf("the receiver on loopback got %d requests (resolved %d times)", n, rebound)
	}
	d := e.deliveries(w)[0]
	if d.Status != shop.WebhookPending || d.Attempts != 1 || !strings.Contains(d.LastError, "refused") || !strings.Contains(d.LastError, "127.0.0.1") {
		t.Errorf("delivery %+v", d)
	}
	e.check()
}

func TestDispatcher_RedirectNotFollowed(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	var mu sync.Mutex
	hits, followed := 0, 0
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		followed++
		mu.Unlock()
	}))
	defer target.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		http.Redirect(w, r, target.URL, http.StatusFound)
	}))
	defer redirecting.Close()
	w := e.hook(alice, redirecting.URL)
	e.credit(alice)
	e.runOnce()
	d := e.deliveries(w)[0]
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 || followed != 0 || d.Status != shop.WebhookPending || d.LastStatusCode != 302 || !strings.Contains(d.LastError, "redirects are not followed") {
		t.Errorf("hits %d, followed %d, delivery %+v", hits, followed, d)
	}
	e.check()
}

// TestDispatcher_SlowEndpointIsolated: a partner whose endpoint hangs does
// not delay another partner's events.
func TestDispatcher_SlowEndpointIsolated(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{Timeout: time.Minute, Concurrency: 2})
	slow := newReceiver(t, e.s.Clock.Now)
	hung := make(chan struct{})
	release := make(chan struct{})
	slow.respond = func(n int, r *http.Request) int {
		if n == 0 {
			close(hung)
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	}
	fast := newReceiver(t, e.s.Clock.Now)
	got := make(chan string, 10)
	fast.respond = func(_ int, r *http.Request) int { got <- r.Header.Get("webhook-id"); return http.StatusOK }
	wb := e.hook(bob, slow.srv.URL)
	slow.secrets["s"] = wb.Secret.Reveal()
	wa := e.hook(alice, fast.srv.URL)
	fast.secrets["s"] = wa.Secret.Reveal()

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.d.Run(ctx) }()
	e.credit(bob)
	e.credit(bob)
	e.d.Poke()
	<-hung // bob's endpoint now holds a request open
	for range 3 {
		e.credit(alice)
		e.d.Poke()
		<-got // delivered while bob's request still hangs
	}
	select {
	case <-release:
		t.Fatal("released early")
	default:
	}
	close(release)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.check()
}

func TestDispatcher_FailsAndDisables(t *testing.T) {
	e := newEnv(t, nil, webhook.Config{})
	rc := newReceiver(t, e.s.Clock.Now)
	rc.respond = func(int, *http.Request) int { return http.StatusServiceUnavailable }
	w := e.hook(alice, rc.srv.URL)
	rc.secrets["s"] = w.Secret.Reveal()
	e.credit(alice)
	// Every retry of the schedule, each when due, then failed.
	for range len(shop.WebhookRetrySchedule) + 1 {
		e.runOnce()
		if d := e.deliveries(w)[0]; d.Status == shop.WebhookPending {
			e.s.Clock.Set(d.NextAttemptAt)
		}
	}
	d := e.deliveries(w)[0]
	if d.Status != shop.WebhookFailed || d.Attempts != len(shop.WebhookRetrySchedule)+1 || !d.NextAttemptAt.IsZero() {
		t.Fatalf("after the schedule: %+v", d)
	}
	if span := d.LastAttemptAt.Sub(d.CreatedAt); span < 24*time.Hour {
		t.Errorf("retried for %s, want at least 24 h", span)
	}
	if hook, _ := e.svc.FindWebhook(context.Background(), alice, w.ID); !hook.Enabled() {
		t.Fatalf("disabled after %s of failures", d.LastAttemptAt.Sub(d.CreatedAt))
	}
	// New events keep failing; three days after the first failure the
	// endpoint is disabled and its owner told.
	for e.s.Clock.Now().Sub(d.LastAttemptAt) < 4*24*time.Hour {
		e.credit(alice)
		e.runOnce()
		e.s.Clock.Advance(6 * time.Hour)
		if hook, _ := e.svc.FindWebhook(context.Background(), alice, w.ID); !hook.Enabled() {
			break
		}
	}
	hook, err := e.svc.FindWebhook(context.Background(), alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hook.Enabled() || !strings.Contains(hook.DisabledReason, "HTTP 503") {
		t.Fatalf("endpoint %+v, want disabled", hook)
	}
	var told []shop.EventType
	for _, ev := range e.s.Events.Take() {
		if (ev.Type == shop.EventWebhookFailing || ev.Type == shop.EventWebhookDisabled) && ev.UserID == alice && ev.WebhookID == w.ID {
			told = append(told, ev.Type)
		}
	}
	if !slices.Equal(told, []shop.EventType{shop.EventWebhookFailing, shop.EventWebhookDisabled}) {
		t.Errorf("events %v, want one EventWebhookFailing (after a day), then EventWebhookDisabled", told)
	}
	// Its pending deliveries are failed; a test is refused; enable works.
	e.s.Clock.Advance(time.Hour)
	e.runOnce()
	for _, d := range e.deliveries(w) {
		if d.Status == shop.WebhookPending {
			t.Errorf("pending after disabling: %+v", d)
		}
	}
	if _, err := e.svc.TestWebhook(context.Background(), alice, w.ID); shop.ErrorCode(err) != shop.EINVALIDSTATE {
		t.Errorf("test of a disabled endpoint: %v", err)
	}
	if hook, err := e.svc.EnableWebhook(context.Background(), alice, w.ID); err != nil || !hook.Enabled() {
		t.Errorf("enable: %+v %v", hook, err)
	}
	e.check()
}

// BenchmarkDispatch measures events delivered per second to a local
// receiver over loopback HTTP: fan-out, signing, the POST and the booked
// outcome, with 8 partners' endpoints in parallel.
//
//	go test -run '^$' -bench Dispatch ./webhook
func BenchmarkDispatch(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := shoptest.New(b, &shoptest.Options{DB: db})
	s.Service.WebhookAllowPrivate = true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	ctx := context.Background()
	const partners = 8
	for i := range int64(partners) {
		if _, err := s.Service.EnsureUser(ctx, shop.UserUpdate{ID: 100 + i}); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Service.CreateWebhook(ctx, 100+i, srv.URL, nil); err != nil {
			b.Fatal(err)
		}
	}
	d, err := webhook.New(webhook.Config{Shop: s.Service, Render: render, Now: s.Clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	// The events are made before the clock starts.
	for i := range b.N {
		if _, err := s.Service.AdminCredit(ctx, admin, 100+int64(i%partners), 1, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for {
		if err := d.RunOnce(ctx); err != nil {
			b.Fatal(err)
		}
		var pending bool
		if err := db.View(ctx, func(tx shop.Tx) error {
			ds, err := tx.DueWebhookDeliveries(time.Unix(math.MaxInt32, 0), 1, nil)
			pending = len(ds) > 0
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if !pending {
			break
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
