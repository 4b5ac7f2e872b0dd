package shop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Webhook endpoint limits and timings.
const (
	MaxWebhooks         = 10             // enabled endpoints per partner
	MaxWebhookURL       = 2048           // bytes
	WebhookSecretPrefix = "whsec_"       // then the base64 of 32 random bytes
	SecretOverlap       = 24 * time.Hour // how long a rotated-out secret still signs
	WebhookWarnAfter    = 24 * time.Hour // failing continuously this long emits EventWebhookFailing
	WebhookDisableAfter = 72 * time.Hour // failing continuously this long disables an endpoint
	MaxReplay           = 10_000         // events one replay-since queues at most
	webhookSecretBytes  = 32             //
	maxAttemptError     = 300            // bytes of an attempt's error kept
)

// WebhookRetrySchedule is the wait before each retry of a failed delivery:
// Standard Webhooks' suggested schedule (immediately, 5 s, 5 min, 30 min,
// 2 h, 5 h, 10 h, 10 h), about 27.6 h in all, each wait ±10 % jitter. After
// the last retry fails the delivery is failed.
var WebhookRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// WebhookSecret is an endpoint's signing secret, "whsec_" + base64. It
// prints redacted: only Reveal gives it, to sign and to show it once.
type WebhookSecret string

// String redacts the secret.
func (s WebhookSecret) String() string {
	if s == "" {
		return ""
	}
	return WebhookSecretPrefix + "…"
}

// LogValue redacts the secret in slog output.
func (s WebhookSecret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString redacts the secret under %#v.
func (s WebhookSecret) GoString() string { return s.String() }

// Reveal returns the secret itself.
func (s WebhookSecret) Reveal() string { return string(s) }

// Key returns the HMAC key: the base64-decoded part after "whsec_".
func (s WebhookSecret) Key() ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(string(s), WebhookSecretPrefix))
}

func newWebhookSecret() WebhookSecret {
	b := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return WebhookSecret(WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b))
}

// Webhook is a partner's endpoint that receives its events.
type Webhook struct {
	ID              string // "wh_" + 26 base32 characters
	UserID          int64
	URL             string
	EventTypes      []PartnerEventType // empty: every type
	Secret          WebhookSecret
	PreviousSecret  WebhookSecret // signs beside Secret until PreviousExpires
	PreviousExpires time.Time
	SecretRotatedAt time.Time
	DisabledReason  string // "" while enabled
	DisabledAt      time.Time
	FailingSince    time.Time // the first failed attempt since the last success; zero when healthy
	FailingWarned   bool      // EventWebhookFailing was emitted for this failing streak
	CreatedAt       time.Time
}

// Enabled reports whether the endpoint receives deliveries.
func (w *Webhook) Enabled() bool { return w.DisabledReason == "" }

// Wants reports whether the endpoint subscribes to typ.
func (w *Webhook) Wants(typ PartnerEventType) bool {
	return len(w.EventTypes) == 0 || slices.Contains(w.EventTypes, typ)
}

// Secrets returns the secrets that sign a delivery at now: the current
// one, and the previous one during its overlap.
func (w *Webhook) Secrets(now time.Time) []WebhookSecret {
	out := []WebhookSecret{w.Secret}
	if w.PreviousSecret != "" && now.Before(w.PreviousExpires) {
		out = append(out, w.PreviousSecret)
	}
	return out
}

// WebhookDeliveryStatus is where a delivery stands.
type WebhookDeliveryStatus string

// Delivery statuses.
const (
	WebhookPending   WebhookDeliveryStatus = "pending"
	WebhookDelivered WebhookDeliveryStatus = "delivered"
	WebhookFailed    WebhookDeliveryStatus = "failed"
)

// WebhookDelivery is one event on its way to one endpoint, and the record
// of its attempts.
type WebhookDelivery struct {
	ID             uint64 // set by the store, never reused
	WebhookID      string
	UserID         int64
	EventSeq       uint64 // the outbox event
	EventID        string // its id: the webhook-id header
	EventType      PartnerEventType
	Status         WebhookDeliveryStatus
	Attempts       int
	LastAttemptAt  time.Time
	LastStatusCode int    // 0: no response
	LastError      string // safe to show the partner
	NextAttemptAt  time.Time
	CreatedAt      time.Time
}

// WebhookAttempt is the outcome of one POST of a delivery.
type WebhookAttempt struct {
	StatusCode int    // the response's status; 0 if there was none
	Error      string // why it failed, if it did; never a secret
}

// Delivered reports whether the attempt succeeded (a 2xx response).
func (a WebhookAttempt) Delivered() bool { return a.StatusCode >= 200 && a.StatusCode < 300 }

// DueWebhook is a delivery to attempt now, with its endpoint and event.
type DueWebhook struct {
	Delivery *WebhookDelivery
	Webhook  *Webhook
	Event    *OutboxEvent
}

// IsPublicAddr reports whether a webhook may connect to a: not loopback,
// private, link-local, unspecified, multicast or otherwise reserved, in
// IPv4, IPv6 and IPv4-mapped IPv6.
func IsPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	if nat64.Contains(a) { // the IPv4 address it translates to decides
		b := a.As16()
		return IsPublicAddr(netip.AddrFrom4([4]byte(b[12:])))
	}
	return true
}

var (
	reservedPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
		netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
		netip.MustParsePrefix("2001:db8::/32"),  // documentation
		netip.MustParsePrefix("100::/64"),       // discard
		netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
		netip.MustParsePrefix("2002::/16"),      // 6to4: embeds any IPv4
		netip.MustParsePrefix("2001::/32"),      // Teredo: embeds any IPv4
		netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
		netip.MustParsePrefix("192.88.99.0/24"), // 6to4 relay anycast
		netip.MustParsePrefix("169.254.0.0/16"), // link-local (also IsLinkLocalUnicast)
		netip.MustParsePrefix("255.255.255.255/32"),
	}
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

// resolve returns the addresses of host: host itself if it is an IP
// literal, else what WebhookResolver (default: the system's) answers.
func (s *Service) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	if s.WebhookResolver != nil {
		return s.WebhookResolver(ctx, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckWebhookAddrs is the rule for where a webhook may connect: every
// address must be public unless WebhookAllowPrivate. The dispatcher calls
// it again for the address of every connection (DNS rebinding).
func (s *Service) CheckWebhookAddrs(addrs []netip.Addr) error {
	if s.WebhookAllowPrivate {
		return nil
	}
	if len(addrs) == 0 {
		return Errorf(EVALIDATION, "the webhook URL's host has no address")
	}
	for _, a := range addrs {
		if !IsPublicAddr(a) {
			return Errorf(EVALIDATION, "the webhook URL's host resolves to %s, a loopback, private, link-local or reserved address; webhooks go only to public addresses", a.Unmap())
		}
	}
	return nil
}

// checkWebhookURL validates an endpoint URL and returns it normalized.
func (s *Service) checkWebhookURL(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", Errorf(EVALIDATION, "url is required")
	}
	if len(raw) > MaxWebhookURL {
		return "", Errorf(EVALIDATION, "url must be at most %d bytes", MaxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", Errorf(EVALIDATION, "url must be an absolute http(s) URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", Errorf(EVALIDATION, "url must start with https://")
	case u.Scheme == "http" && s.WebhookHTTPSOnly:
		return "", Errorf(EVALIDATION, "url must use https")
	case u.User != nil:
		return "", Errorf(EVALIDATION, "url must not contain credentials; authenticate deliveries by their signature")
	case u.Fragment != "":
		return "", Errorf(EVALIDATION, "url must not contain a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := fmt.Sscanf(p, "%d", new(int)); err != nil || n != 1 {
			return "", Errorf(EVALIDATION, "url has a bad port")
		}
	}
	addrs, err := s.resolve(ctx, u.Hostname())
	if err != nil && !s.WebhookAllowPrivate {
		return "", Errorf(EVALIDATION, "the webhook URL's host %q does not resolve", clipText(u.Hostname(), 80))
	}
	if err := s.CheckWebhookAddrs(addrs); err != nil {
		return "", err
	}
	return u.String(), nil
}

// clipText shortens s to at most n bytes on a UTF-8 boundary.
func clipText(s string, n int) string { return TruncateUTF8(s, n) }

// checkEventTypes validates a subscription list: known types, no
// duplicates; empty means all.
func checkEventTypes(types []PartnerEventType) ([]PartnerEventType, error) {
	var out []PartnerEventType
	for _, t := range types {
		if !slices.Contains(PartnerEventTypes, t) {
			return nil, Errorf(EVALIDATION, "unknown event type %q; known types: %s", clipText(string(t), 40), joinTypes(PartnerEventTypes))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func joinTypes(ts []PartnerEventType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// findOwnWebhook returns a user's endpoint, NOT_FOUND if it is missing or
// another user's.
func findOwnWebhook(tx Tx, userID int64, id string) (*Webhook, error) {
	w, err := tx.FindWebhook(id)
	if ErrorCode(err) == ENOTFOUND || (err == nil && w.UserID != userID) {
		return nil, Errorf(ENOTFOUND, "webhook %s not found", clipText(id, 40))
	}
	return w, err
}

// countEnabled returns how many of a user's endpoints are enabled.
func countEnabled(tx Tx, userID int64) (int, error) {
	ws, err := tx.FindWebhooksByUser(userID)
	n := 0
	for _, w := range ws {
		if w.Enabled() {
			n++
		}
	}
	return n, err
}

// CreateWebhook registers an endpoint of a user for types (none: all) and
// returns it with its secret, which it shows only here and on rotation.
//
// Errors: VALIDATION_ERROR (bad or private URL, unknown type, too many
// endpoints), NOT_FOUND (no such user).
func (s *Service) CreateWebhook(ctx context.Context, userID int64, rawURL string, types []PartnerEventType) (*Webhook, error) {
	u, err := s.checkWebhookURL(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	if types, err = checkEventTypes(types); err != nil {
		return nil, err
	}
	var w *Webhook
	err = s.Store.Update(ctx, func(tx Tx) error {
		w = nil
		if _, err := findUser(tx, userID); err != nil {
			return err
		}
		n, err := countEnabled(tx, userID)
		if err != nil {
			return err
		}
		if n >= MaxWebhooks {
			return Errorf(EVALIDATION, "at most %d enabled webhook endpoints per account; delete one first", MaxWebhooks)
		}
		w = &Webhook{ID: newEventID("wh_"), UserID: userID, URL: u, EventTypes: types, Secret: newWebhookSecret(), CreatedAt: s.now()}
		return tx.PutWebhook(w)
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Webhooks returns a user's endpoints, oldest first.
func (s *Service) Webhooks(ctx context.Context, userID int64) ([]*Webhook, error) {
	var ws []*Webhook
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		ws, err = tx.FindWebhooksByUser(userID)
		return err
	})
	return ws, err
}

// FindWebhook returns one of a user's endpoints.
//
// Errors: NOT_FOUND.
func (s *Service) FindWebhook(ctx context.Context, userID int64, id string) (*Webhook, error) {
	var w *Webhook
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		w, err = findOwnWebhook(tx, userID, id)
		return err
	})
	return w, err
}

// DeleteWebhook removes an endpoint. Its pending deliveries are failed by
// the dispatcher when they come due; its log is pruned with age.
//
// Errors: NOT_FOUND.
func (s *Service) DeleteWebhook(ctx context.Context, userID int64, id string) error {
	return s.Store.Update(ctx, func(tx Tx) error {
		w, err := findOwnWebhook(tx, userID, id)
		if err != nil {
			return err
		}
		return tx.DeleteWebhook(w.ID)
	})
}

// RotateWebhookSecret gives an endpoint a new secret and returns the
// endpoint with it; the old one keeps signing beside it for SecretOverlap
// (a secret rotated out earlier stops at once).
//
// Errors: NOT_FOUND.
func (s *Service) RotateWebhookSecret(ctx context.Context, userID int64, id string) (*Webhook, error) {
	var w *Webhook
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if w, err = findOwnWebhook(tx, userID, id); err != nil {
			return err
		}
		now := s.now()
		w.PreviousSecret, w.PreviousExpires = w.Secret, now.Add(SecretOverlap)
		w.Secret, w.SecretRotatedAt = newWebhookSecret(), now
		return tx.PutWebhook(w)
	})
	return w, err
}

// EnableWebhook re-enables an endpoint the dispatcher disabled; an enabled
// one is returned unchanged.
//
// Errors: NOT_FOUND, VALIDATION_ERROR (too many enabled endpoints).
func (s *Service) EnableWebhook(ctx context.Context, userID int64, id string) (*Webhook, error) {
	var w *Webhook
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if w, err = findOwnWebhook(tx, userID, id); err != nil || w.Enabled() {
			return err
		}
		n, err := countEnabled(tx, userID)
		if err != nil {
			return err
		}
		if n >= MaxWebhooks {
			return Errorf(EVALIDATION, "at most %d enabled webhook endpoints per account; delete one first", MaxWebhooks)
		}
		w.DisabledReason, w.DisabledAt, w.FailingSince, w.FailingWarned = "", time.Time{}, time.Time{}, false
		return tx.PutWebhook(w)
	})
	return w, err
}

// newDelivery queues ev for w in tx.
func (s *Service) newDelivery(tx Tx, w *Webhook, ev *OutboxEvent) (*WebhookDelivery, error) {
	now := s.now()
	d := &WebhookDelivery{
		WebhookID: w.ID, UserID: w.UserID, EventSeq: ev.Seq, EventID: ev.ID, EventType: ev.Type,
		Status: WebhookPending, NextAttemptAt: now, CreatedAt: now,
	}
	return d, tx.PutWebhookDelivery(d)
}

// checkEnabled refuses to queue for a disabled endpoint.
func checkEnabled(w *Webhook) error {
	if !w.Enabled() {
		return Errorf(EINVALIDSTATE, "webhook %s is disabled (%s); enable it first", w.ID, w.DisabledReason)
	}
	return nil
}

// TestWebhook queues one webhook.test event for an endpoint and returns
// its delivery.
//
// Errors: NOT_FOUND, INVALID_STATE (disabled).
func (s *Service) TestWebhook(ctx context.Context, userID int64, id string) (*WebhookDelivery, error) {
	var d *WebhookDelivery
	err := s.Store.Update(ctx, func(tx Tx) error {
		d = nil
		w, err := findOwnWebhook(tx, userID, id)
		if err != nil {
			return err
		}
		if err := checkEnabled(w); err != nil {
			return err
		}
		ev := &OutboxEvent{Type: PartnerWebhookTest, UserID: userID, WebhookID: w.ID}
		if err := s.record(tx, ev); err != nil {
			return err
		}
		d, err = s.newDelivery(tx, w, ev)
		return err
	})
	return d, err
}

// WebhookDeliveries lists an endpoint's deliveries, newest first: up to
// limit (1..100) with ID < before (0: from the newest). next is the cursor
// of the following page, 0 on the last.
//
// Errors: NOT_FOUND.
func (s *Service) WebhookDeliveries(ctx context.Context, userID int64, id string, before uint64, limit int) (ds []*WebhookDelivery, next uint64, err error) {
	limit = ClampLimit(limit)
	err = s.Store.View(ctx, func(tx Tx) error {
		if _, err := findOwnWebhook(tx, userID, id); err != nil {
			return err
		}
		var more bool
		ds, more, err = tx.FindWebhookDeliveries(id, before, limit)
		if more && len(ds) > 0 {
			next = ds[len(ds)-1].ID
		}
		return err
	})
	return ds, next, err
}

// ReplayWebhookDelivery queues a new delivery of the same event (same
// webhook-id) to the same endpoint.
//
// Errors: NOT_FOUND (endpoint, delivery or its event, pruned),
// INVALID_STATE (endpoint disabled).
func (s *Service) ReplayWebhookDelivery(ctx context.Context, userID int64, id string, deliveryID uint64) (*WebhookDelivery, error) {
	var d *WebhookDelivery
	err := s.Store.Update(ctx, func(tx Tx) error {
		d = nil
		w, err := findOwnWebhook(tx, userID, id)
		if err != nil {
			return err
		}
		old, err := tx.FindWebhookDelivery(deliveryID)
		if ErrorCode(err) == ENOTFOUND || (err == nil && old.WebhookID != w.ID) {
			return Errorf(ENOTFOUND, "delivery whd_%d not found", deliveryID)
		} else if err != nil {
			return err
		}
		ev, err := tx.FindOutboxEvent(old.EventSeq)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "the event of delivery whd_%d is older than the retention and was deleted", deliveryID)
		} else if err != nil {
			return err
		}
		if err := checkEnabled(w); err != nil {
			return err
		}
		d, err = s.newDelivery(tx, w, ev)
		return err
	})
	return d, err
}

// ReplayWebhook queues for an endpoint every event of its owner committed
// at or after since that it subscribes to, oldest first, at most
// MaxReplay, and returns how many.
//
// Errors: NOT_FOUND, INVALID_STATE (endpoint disabled).
func (s *Service) ReplayWebhook(ctx context.Context, userID int64, id string, since time.Time) (int, error) {
	if err := s.catchUpOutbox(ctx); err != nil {
		return 0, err
	}
	var n int
	err := s.Store.Update(ctx, func(tx Tx) error {
		n = 0
		w, err := findOwnWebhook(tx, userID, id)
		if err != nil {
			return err
		}
		if err := checkEnabled(w); err != nil {
			return err
		}
		after, err := tx.OutboxSeqBefore(since)
		if err != nil {
			return err
		}
		for n < MaxReplay {
			evs, more, err := tx.FindOutboxByUser(userID, after, MaxEventPage)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				after = ev.Seq
				if n == MaxReplay || ev.CreatedAt.Before(since) || !w.Wants(ev.Type) {
					continue
				}
				if _, err := s.newDelivery(tx, w, ev); err != nil {
					return err
				}
				n++
			}
			if !more {
				break
			}
		}
		return nil
	})
	return n, err
}

// FanOutWebhooks takes up to limit outbox events not yet indexed, in
// commit order, indexes each under its user (for the feed) and turns it
// into pending deliveries, one per enabled endpoint of the event's owner
// that subscribes to its type and existed when it was committed. The
// indexed mark (Tx.OutboxIndexed) is the durable fan-out cursor, moved in
// the same transaction: a crash neither skips nor doubles an event. It
// returns how many events it took.
func (s *Service) FanOutWebhooks(ctx context.Context, limit int) (int, error) {
	var pending bool
	err := s.Store.View(ctx, func(tx Tx) error {
		cur, err := tx.OutboxIndexed()
		if err != nil {
			return err
		}
		evs, err := tx.OutboxAfter(cur, 1)
		pending = len(evs) > 0
		return err
	})
	if err != nil || !pending {
		return 0, err
	}
	var n int
	err = s.Store.Update(ctx, func(tx Tx) error {
		n = 0
		cur, err := tx.OutboxIndexed()
		if err != nil {
			return err
		}
		evs, err := tx.OutboxAfter(cur, limit)
		if err != nil || len(evs) == 0 {
			return err
		}
		hooks := map[int64][]*Webhook{}
		for _, ev := range evs {
			if err := tx.IndexOutbox(ev); err != nil {
				return err
			}
			if ev.WebhookID != "" { // a test event, queued directly
				continue
			}
			ws, ok := hooks[ev.UserID]
			if !ok {
				if ws, err = tx.FindWebhooksByUser(ev.UserID); err != nil {
					return err
				}
				hooks[ev.UserID] = ws
			}
			for _, w := range ws {
				if w.Enabled() && w.Wants(ev.Type) && !ev.CreatedAt.Before(w.CreatedAt) {
					if _, err := s.newDelivery(tx, w, ev); err != nil {
						return err
					}
				}
			}
		}
		n = len(evs)
		return nil
	})
	return n, err
}

// catchUpOutbox indexes (and fans out) every event committed so far, so
// that the feed and replays see them all.
func (s *Service) catchUpOutbox(ctx context.Context) error {
	for {
		n, err := s.FanOutWebhooks(ctx, pruneChunk)
		if err != nil || n < pruneChunk {
			return err
		}
	}
}

// DueWebhooks returns up to limit pending deliveries whose next attempt is
// due, soonest first, with their endpoint and event, passing over the
// endpoints skip (if not nil) names: the dispatcher's busy or backing-off
// ones. A due delivery whose endpoint was deleted or disabled, or whose
// event was pruned, is failed here instead of being returned.
func (s *Service) DueWebhooks(ctx context.Context, limit int, skip func(webhookID string) bool) ([]DueWebhook, error) {
	now := s.now()
	var due []DueWebhook
	var dead []uint64
	err := s.Store.View(ctx, func(tx Tx) error {
		due, dead = due[:0], dead[:0]
		ds, err := tx.DueWebhookDeliveries(now, limit, skip)
		if err != nil {
			return err
		}
		hooks := map[string]*Webhook{}
		for _, d := range ds {
			w, ok := hooks[d.WebhookID]
			if !ok {
				if w, err = tx.FindWebhook(d.WebhookID); err != nil && ErrorCode(err) != ENOTFOUND {
					return err
				}
				hooks[d.WebhookID] = w
			}
			ev, err := tx.FindOutboxEvent(d.EventSeq)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return err
			}
			if w == nil || !w.Enabled() || ev == nil {
				dead = append(dead, d.ID)
				continue
			}
			due = append(due, DueWebhook{Delivery: d, Webhook: w, Event: ev})
		}
		return nil
	})
	if err != nil || len(dead) == 0 {
		return due, err
	}
	err = s.Store.Update(ctx, func(tx Tx) error {
		for _, id := range dead {
			d, err := tx.FindWebhookDelivery(id)
			if err != nil {
				return err
			}
			if d.Status != WebhookPending {
				continue
			}
			reason := "the endpoint was deleted"
			if w, err := tx.FindWebhook(d.WebhookID); err == nil {
				reason = "the endpoint is disabled"
				if w.Enabled() {
					reason = "the event is older than the retention"
				}
			}
			d.Status, d.LastError, d.NextAttemptAt = WebhookFailed, reason, time.Time{}
			if err := tx.PutWebhookDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	return due, err
}

// RecordWebhookAttempt books the outcome of one attempt of a delivery: a
// 2xx delivers it; anything else schedules the next retry
// (WebhookRetrySchedule, with jitter) or, after the last, fails it. The
// endpoint's failing streak is kept: one failing for WebhookDisableAfter
// is disabled and EventWebhookDisabled tells its owner. A delivery no
// longer pending is returned unchanged.
//
// Errors: NOT_FOUND.
func (s *Service) RecordWebhookAttempt(ctx context.Context, deliveryID uint64, a WebhookAttempt) (*WebhookDelivery, error) {
	a.Error = TruncateUTF8(strings.ToValidUTF8(a.Error, "\uFFFD"), maxAttemptError)
	var d *WebhookDelivery
	var disabled, warned *Webhook
	err := s.Store.Update(ctx, func(tx Tx) error {
		disabled, warned = nil, nil
		var err error
		if d, err = tx.FindWebhookDelivery(deliveryID); err != nil || d.Status != WebhookPending {
			return err
		}
		now := s.now()
		d.Attempts++
		d.LastAttemptAt, d.LastStatusCode, d.LastError = now, a.StatusCode, a.Error
		d.NextAttemptAt = time.Time{}
		switch {
		case a.Delivered():
			d.Status, d.LastError = WebhookDelivered, ""
		case d.Attempts > len(WebhookRetrySchedule):
			d.Status = WebhookFailed
		default:
			d.NextAttemptAt = now.Add(jitter(WebhookRetrySchedule[d.Attempts-1]))
		}
		if err := tx.PutWebhookDelivery(d); err != nil {
			return err
		}
		w, err := tx.FindWebhook(d.WebhookID)
		if ErrorCode(err) == ENOTFOUND {
			return nil
		} else if err != nil {
			return err
		}
		switch {
		case a.Delivered():
			if w.FailingSince.IsZero() {
				return nil
			}
			w.FailingSince, w.FailingWarned = time.Time{}, false
		case w.FailingSince.IsZero():
			w.FailingSince = now
		case w.Enabled() && now.Sub(w.FailingSince) >= WebhookDisableAfter:
			w.DisabledAt = now
			w.DisabledReason = fmt.Sprintf("every delivery failed since %s (last: %s)", w.FailingSince.Format(time.RFC3339), attemptText(a))
			disabled = w
		case w.Enabled() && !w.FailingWarned && now.Sub(w.FailingSince) >= WebhookWarnAfter:
			w.FailingWarned = true
			warned = w
		default:
			return nil
		}
		return tx.PutWebhook(w)
	})
	if err != nil {
		return nil, err
	}
	if warned != nil {
		s.emit(Event{Type: EventWebhookFailing, UserID: warned.UserID, WebhookID: warned.ID})
	}
	if disabled != nil {
		s.Logger.Warn("webhook endpoint disabled", "webhook", disabled.ID, "user", disabled.UserID, "failing_since", disabled.FailingSince)
		s.emit(Event{Type: EventWebhookDisabled, UserID: disabled.UserID, WebhookID: disabled.ID})
	}
	return d, nil
}

func attemptText(a WebhookAttempt) string {
	if a.StatusCode != 0 {
		return fmt.Sprintf("HTTP %d", a.StatusCode)
	}
	return TruncateUTF8(a.Error, 100)
}

// jitter returns d ± 10 %, at random.
func jitter(d time.Duration) time.Duration {
	span := int64(d / 5)
	if span <= 0 {
		return d
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(span))
	return d - d/10 + time.Duration(n.Int64())
}
