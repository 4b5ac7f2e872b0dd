// Package webhook delivers partners' events to their webhook endpoints,
// signed per Standard Webhooks 1.0
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).
//
// The shop writes every event to its outbox in the transaction of the
// change (shop/outbox.go). The Dispatcher turns outbox events into one
// durable delivery per subscribed endpoint (Shop.FanOutWebhooks, a durable
// cursor moved in the same transaction), POSTs each due delivery and books
// every attempt's outcome (Shop.RecordWebhookAttempt), which schedules the
// retries and disables an endpoint that keeps failing. Delivery is at least
// once: an attempt whose outcome was not booked (a crash, a shutdown) is
// made again.
//
// Each endpoint has at most one request in flight and backs off on its own
// after a failure; Concurrency bounds the requests in flight overall. A
// slow or dead endpoint holds one slot for at most Timeout per attempt and
// is then passed over until its next retry, so it never delays others.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"starsbot/shop"
)

// Shop is what the dispatcher needs of *shop.Service.
type Shop interface {
	FanOutWebhooks(ctx context.Context, limit int) (int, error)
	DueWebhooks(ctx context.Context, limit int, skip func(webhookID string) bool) ([]shop.DueWebhook, error)
	RecordWebhookAttempt(ctx context.Context, deliveryID uint64, a shop.WebhookAttempt) (*shop.WebhookDelivery, error)
	CheckWebhookAddrs(addrs []netip.Addr) error
	PruneOutbox(ctx context.Context) (int, error)
}

var _ Shop = (*shop.Service)(nil)

// Defaults of Config's zero fields.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultInterval    = time.Second
	DefaultConcurrency = 32
	pruneInterval      = time.Hour
	batch              = 500 // events fanned out, deliveries read, per store transaction
	UserAgent          = "starsbot-webhooks/1"
)

// Outcomes passed to Config.OnAttempt.
const (
	OutcomeDelivered = "delivered" // 2xx
	OutcomeRetry     = "retry"     // failed, a retry is scheduled
	OutcomeFailed    = "failed"    // failed for good: the last retry
)

// Config configures a Dispatcher.
type Config struct {
	Shop Shop // required
	// Render returns the body of an event's request (api.WebhookBody);
	// required.
	Render func(*shop.OutboxEvent) ([]byte, error)
	// Timeout bounds each attempt, connection included; default 10 s.
	Timeout time.Duration
	// Interval is how often the outbox and the due deliveries are looked
	// at without a Poke; default 1 s.
	Interval time.Duration
	// Concurrency bounds the requests in flight overall; default 32.
	Concurrency int
	// Resolve resolves an endpoint's host for each connection; default
	// the system resolver. Every address is checked with
	// Shop.CheckWebhookAddrs before it is dialled (DNS rebinding).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Now is the clock of the webhook-timestamp header; default time.Now.
	Now func() time.Time
	// OnAttempt, if set, is called with each attempt's outcome (metrics).
	OnAttempt func(outcome string)
	Logger    *slog.Logger // default slog.Default()
}

// Dispatcher delivers webhooks. Make it with New and call Run.
type Dispatcher struct {
	cfg    Config
	client *http.Client
	slots  chan struct{}
	poke   chan struct{}

	mu      sync.Mutex
	busy    map[string]bool      // endpoints with a worker
	backoff map[string]time.Time // endpoints passed over until then, after a failure
	wg      sync.WaitGroup
}

// New returns a Dispatcher. It fails if Shop or Render is missing.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Shop == nil || cfg.Render == nil {
		return nil, errors.New("webhook: Dispatcher needs a Shop and a Render")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Resolve == nil {
		cfg.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Dispatcher{
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.Concurrency),
		poke:    make(chan struct{}, 1),
		busy:    map[string]bool{},
		backoff: map[string]time.Time{},
	}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: d.control}
	d.client = &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy: nil, // a proxy would dial for us, past the address check
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return d.dial(ctx, dialer, network, addr)
			},
			TLSHandshakeTimeout: cfg.Timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		// Redirects are not followed: a 3xx is a failed attempt.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return d, nil
}

// errRefused is an address the rules forbid.
type errRefused struct{ err error }

func (e errRefused) Error() string { return "refused: " + shop.ErrorMessage(e.err) }

// dial resolves host with cfg.Resolve, refuses the connection if any
// address is forbidden, and dials the addresses in turn.
func (d *Dispatcher) dial(ctx context.Context, dialer *net.Dialer, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = d.cfg.Resolve(ctx, host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if err := d.cfg.Shop.CheckWebhookAddrs(ips); err != nil {
		return nil, errRefused{err}
	}
	var first error
	for _, ip := range ips {
		conn, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("no address for %s", host)
	}
	return nil, first
}

// control checks the address of every socket just before it connects,
// whoever resolved it.
func (d *Dispatcher) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if err := d.cfg.Shop.CheckWebhookAddrs([]netip.Addr{ap.Addr()}); err != nil {
		return errRefused{err}
	}
	return nil
}

// Poke makes Run look at the outbox now.
func (d *Dispatcher) Poke() {
	select {
	case d.poke <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in flight to
// stop; their outcomes are not booked, so they are made again later.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	var pruned time.Time
	for {
		if err := d.pass(ctx); err != nil && ctx.Err() == nil {
			d.cfg.Logger.Error("webhook dispatch", "error", err)
		}
		if time.Since(pruned) >= pruneInterval {
			pruned = time.Now()
			if n, err := d.cfg.Shop.PruneOutbox(ctx); err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("prune the outbox", "error", err)
			} else if n > 0 {
				d.cfg.Logger.Info("outbox pruned", "records", n)
			}
		}
		select {
		case <-ctx.Done():
			d.wg.Wait()
			return nil
		case <-t.C:
		case <-d.poke:
		}
	}
}

// RunOnce fans out the outbox, starts the due deliveries and waits until
// their workers are done: one pass of Run, for tests and tools.
func (d *Dispatcher) RunOnce(ctx context.Context) error {
	err := d.pass(ctx)
	d.wg.Wait()
	return err
}

// pass fans out the outbox and starts a worker for each endpoint with due
// deliveries that is neither busy nor backing off.
func (d *Dispatcher) pass(ctx context.Context) error {
	for {
		n, err := d.cfg.Shop.FanOutWebhooks(ctx, batch)
		if err != nil {
			return err
		}
		if n < batch {
			break
		}
	}
	now := d.cfg.Now()
	skip := func(id string) bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.busy[id] || now.Before(d.backoff[id])
	}
	due, err := d.cfg.Shop.DueWebhooks(ctx, batch, skip)
	if err != nil {
		return err
	}
	byHook := map[string][]shop.DueWebhook{}
	var order []string
	for _, x := range due {
		if _, seen := byHook[x.Webhook.ID]; !seen {
			order = append(order, x.Webhook.ID)
		}
		byHook[x.Webhook.ID] = append(byHook[x.Webhook.ID], x)
	}
	for _, id := range order {
		d.mu.Lock()
		if d.busy[id] {
			d.mu.Unlock()
			continue
		}
		d.busy[id] = true
		delete(d.backoff, id)
		d.mu.Unlock()
		d.wg.Add(1)
		go d.work(ctx, id, byHook[id])
	}
	return nil
}

// work delivers one endpoint's due deliveries in turn; after a failure it
// stops, and the endpoint is passed over until that delivery's retry.
func (d *Dispatcher) work(ctx context.Context, id string, due []shop.DueWebhook) {
	defer d.wg.Done()
	defer func() {
		d.mu.Lock()
		delete(d.busy, id)
		d.mu.Unlock()
	}()
	for _, x := range due {
		select {
		case d.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		attempt := d.attempt(ctx, x)
		<-d.slots
		if ctx.Err() != nil {
			return // shutting down: not booked, so made again
		}
		del, err := d.cfg.Shop.RecordWebhookAttempt(ctx, x.Delivery.ID, attempt)
		if err != nil {
			if ctx.Err() == nil {
				d.cfg.Logger.Error("book a webhook attempt", "delivery", x.Delivery.ID, "error", err)
			}
			return
		}
		outcome := OutcomeDelivered
		switch del.Status {
		case shop.WebhookFailed:
			outcome = OutcomeFailed
		case shop.WebhookPending:
			outcome = OutcomeRetry
		}
		if d.cfg.OnAttempt != nil {
			d.cfg.OnAttempt(outcome)
		}
		if !attempt.Delivered() {
			d.cfg.Logger.Debug("webhook attempt failed", "webhook", id, "delivery", del.ID, "attempts", del.Attempts, "status", attempt.StatusCode, "error", attempt.Error)
			d.mu.Lock()
			if !del.NextAttemptAt.IsZero() {
				d.backoff[id] = del.NextAttemptAt
			}
			d.mu.Unlock()
			return
		}
	}
}

// attempt POSTs one delivery and returns its outcome.
func (d *Dispatcher) attempt(ctx context.Context, x shop.DueWebhook) shop.WebhookAttempt {
	body, err := d.cfg.Render(x.Event)
	if err != nil {
		d.cfg.Logger.Error("render a webhook body", "event", x.Event.ID, "error", err)
		return shop.WebhookAttempt{Error: "internal error rendering the event"}
	}
	ts := d.cfg.Now().Unix()
	sig, err := Sign(x.Webhook.Secrets(d.cfg.Now()), x.Event.ID, ts, body)
	if err != nil {
		d.cfg.Logger.Error("sign a webhook", "webhook", x.Webhook.ID, "error", err)
		return shop.WebhookAttempt{Error: "internal error signing the event"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.Webhook.URL, bytes.NewReader(body))
	if err != nil {
		return shop.WebhookAttempt{Error: "bad URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("webhook-id", x.Event.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.client.Do(req)
	if err != nil {
		return shop.WebhookAttempt{Error: attemptError(err, d.cfg.Timeout)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	a := shop.WebhookAttempt{StatusCode: resp.StatusCode}
	switch {
	case a.Delivered():
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = fmt.Sprintf("HTTP %d: redirects are not followed", resp.StatusCode)
	default:
		a.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return a
}

// attemptError describes a failed request without its URL, which may hold
// a partner's token in its query.
func attemptError(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("no response within %s", timeout)
		}
		err = ue.Err
	}
	var refused errRefused
	if errors.As(err, &refused) {
		return refused.Error()
	}
	return err.Error()
}

// Sign returns the webhook-signature header of a request: a "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" entry per secret, space-separated.
func Sign(secrets []shop.WebhookSecret, id string, ts int64, body []byte) (string, error) {
	var parts []string
	for _, s := range secrets {
		key, err := s.Key()
		if err != nil {
			return "", errors.New("malformed webhook secret")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "."))
		mac.Write(body)
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, " "), nil
}
