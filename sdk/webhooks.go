package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"time"
)

// Event types starsbot sends, in webhooks and the event feed.
const (
	EventOrderCreated    = "order.created"
	EventOrderPaid       = "order.paid"
	EventOrderCompleted  = "order.completed"
	EventOrderManual     = "order.manual"
	EventOrderRefunded   = "order.refunded"
	EventOrderExpired    = "order.expired"
	EventOrderCancelled  = "order.cancelled"
	EventBalanceCredited = "balance.credited"
	EventBalanceDebited  = "balance.debited"
	EventWebhookTest     = "webhook.test"
)

// Webhook is a partner's webhook endpoint.
type Webhook struct {
	ID             string // wh_…
	URL            string
	EventTypes     []string // empty: every type
	Enabled        bool
	DisabledReason string // why starsbot disabled it, "" if enabled
	CreatedAt      time.Time
	// SecretRotatedAt is the last RotateWebhookSecret, zero if never.
	SecretRotatedAt time.Time
	// Secret ("whsec_…") is set only by CreateWebhook: the API shows it
	// once. Keep it to verify deliveries (VerifyWebhook).
	Secret string
}

type webhookWire struct {
	ID              string   `json:"id"`
	URL             string   `json:"url"`
	EventTypes      []string `json:"event_types"`
	Enabled         bool     `json:"enabled"`
	DisabledReason  *string  `json:"disabled_reason"`
	CreatedAt       *string  `json:"created_at"`
	SecretRotatedAt *string  `json:"secret_rotated_at"`
	Secret          string   `json:"secret"`
}

func (w *webhookWire) webhook() (*Webhook, error) {
	h := &Webhook{ID: w.ID, URL: w.URL, EventTypes: w.EventTypes, Enabled: w.Enabled, DisabledReason: deref(w.DisabledReason), Secret: w.Secret}
	var errs [2]error
	h.CreatedAt, errs[0] = parseTime("created_at", w.CreatedAt)
	h.SecretRotatedAt, errs[1] = parseTime("secret_rotated_at", w.SecretRotatedAt)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return h, nil
}

// WebhookRequest is an endpoint to register.
type WebhookRequest struct {
	URL        string   // https://…
	EventTypes []string // nil or empty: every type
}

// CreateWebhook registers an endpoint (POST /api/v1/webhooks). The
// returned Secret is shown only now. At most 10 enabled endpoints per
// partner.
func (c *Client) CreateWebhook(ctx context.Context, r WebhookRequest, opts ...CallOption) (*Webhook, error) {
	body := struct {
		URL        string   `json:"url"`
		EventTypes []string `json:"event_types,omitempty"`
	}{r.URL, r.EventTypes}
	return c.webhookCall(ctx, "POST", "/api/v1/webhooks", body, opts)
}

// ListWebhooks returns the partner's endpoints (without secrets).
func (c *Client) ListWebhooks(ctx context.Context) ([]*Webhook, error) {
	var w struct {
		Webhooks []*webhookWire `json:"webhooks"`
	}
	if err := c.do(ctx, "GET", "/api/v1/webhooks", nil, nil, &w, nil); err != nil {
		return nil, err
	}
	out := make([]*Webhook, 0, len(w.Webhooks))
	for _, x := range w.Webhooks {
		h, err := x.webhook()
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// GetWebhook returns one endpoint; IsNotFound(err) if it is not the
// partner's.
func (c *Client) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	return c.webhookCall(ctx, "GET", webhookPath(id), nil, nil)
}

// DeleteWebhook removes an endpoint. A 404 that answers a retry (the
// first attempt's answer was lost) counts as deleted.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	var w struct {
		Deleted bool `json:"deleted"`
	}
	attempts := 0
	track := func(o *callOptions) { o.attempts = &attempts }
	if err := c.do(ctx, "DELETE", webhookPath(id), nil, nil, &w, []CallOption{track}); err != nil {
		if IsNotFound(err) && attempts > 1 {
			return nil
		}
		return err
	}
	if !w.Deleted {
		return errors.New("sdk: the API did not confirm the deletion")
	}
	return nil
}

// EnableWebhook re-enables an endpoint starsbot disabled after failures.
func (c *Client) EnableWebhook(ctx context.Context, id string, opts ...CallOption) (*Webhook, error) {
	return c.webhookCall(ctx, "POST", webhookPath(id)+"/enable", nil, opts)
}

func (c *Client) webhookCall(ctx context.Context, method, path string, body any, opts []CallOption) (*Webhook, error) {
	var w webhookWire
	if err := c.do(ctx, method, path, nil, body, &w, opts); err != nil {
		return nil, err
	}
	return w.webhook()
}

func webhookPath(id string) string { return "/api/v1/webhooks/" + url.PathEscape(id) }

// SecretRotation is RotateWebhookSecret's answer.
type SecretRotation struct {
	Secret string // the new whsec_… secret, shown only now
	// PreviousSecretExpiresAt is when the old secret stops signing; until
	// then each delivery carries both signatures.
	PreviousSecretExpiresAt time.Time
}

// RotateWebhookSecret gives an endpoint a new secret. For 24 hours its
// deliveries are signed with both, so a receiver can switch at leisure
// (Verifier takes both secrets).
func (c *Client) RotateWebhookSecret(ctx context.Context, id string, opts ...CallOption) (*SecretRotation, error) {
	var w struct {
		Secret                  string  `json:"secret"`
		PreviousSecretExpiresAt *string `json:"previous_secret_expires_at"`
	}
	if err := c.do(ctx, "POST", webhookPath(id)+"/rotate-secret", nil, nil, &w, opts); err != nil {
		return nil, err
	}
	exp, err := parseTime("previous_secret_expires_at", w.PreviousSecretExpiresAt)
	if err != nil {
		return nil, err
	}
	return &SecretRotation{Secret: w.Secret, PreviousSecretExpiresAt: exp}, nil
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event's delivery to one endpoint, with its attempts.
type Delivery struct {
	ID             string // whd_…
	WebhookID      string
	EventID        string // evt_…, the webhook-id header
	EventType      string
	Status         DeliveryStatus
	Attempts       int
	LastAttemptAt  time.Time // zero: none yet
	LastStatusCode int       // 0: none (no attempt, or no answer)
	LastError      string
	NextAttemptAt  time.Time // zero: no further attempt planned
	CreatedAt      time.Time
}

type deliveryWire struct {
	ID             string         `json:"id"`
	WebhookID      string         `json:"webhook_id"`
	EventID        string         `json:"event_id"`
	EventType      string         `json:"event_type"`
	Status         DeliveryStatus `json:"status"`
	Attempts       int            `json:"attempts"`
	LastAttemptAt  *string        `json:"last_attempt_at"`
	LastStatusCode *int           `json:"last_status_code"`
	LastError      *string        `json:"last_error"`
	NextAttemptAt  *string        `json:"next_attempt_at"`
	CreatedAt      *string        `json:"created_at"`
}

func (w *deliveryWire) delivery() (*Delivery, error) {
	d := &Delivery{ID: w.ID, WebhookID: w.WebhookID, EventID: w.EventID, EventType: w.EventType, Status: w.Status,
		Attempts: w.Attempts, LastStatusCode: deref(w.LastStatusCode), LastError: deref(w.LastError)}
	var errs [3]error
	d.LastAttemptAt, errs[0] = parseTime("last_attempt_at", w.LastAttemptAt)
	d.NextAttemptAt, errs[1] = parseTime("next_attempt_at", w.NextAttemptAt)
	d.CreatedAt, errs[2] = parseTime("created_at", w.CreatedAt)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return d, nil
}

func (c *Client) deliveryCall(ctx context.Context, path string, opts []CallOption) (*Delivery, error) {
	var w deliveryWire
	if err := c.do(ctx, "POST", path, nil, nil, &w, opts); err != nil {
		return nil, err
	}
	return w.delivery()
}

// TestWebhook queues one "webhook.test" event to the endpoint.
func (c *Client) TestWebhook(ctx context.Context, id string, opts ...CallOption) (*Delivery, error) {
	return c.deliveryCall(ctx, webhookPath(id)+"/test", opts)
}

// ReplayDelivery sends a delivery's event again, as a new delivery with
// the same webhook-id.
func (c *Client) ReplayDelivery(ctx context.Context, webhookID, deliveryID string, opts ...CallOption) (*Delivery, error) {
	return c.deliveryCall(ctx, webhookPath(webhookID)+"/deliveries/"+url.PathEscape(deliveryID)+"/replay", opts)
}

// ReplayEvents sends the endpoint again every event of the partner since
// that time that its event types select (at most 10,000), and returns how
// many it queued.
func (c *Client) ReplayEvents(ctx context.Context, webhookID string, since time.Time, opts ...CallOption) (int, error) {
	body := struct {
		Since string `json:"since"`
	}{since.UTC().Format(time.RFC3339)}
	var w struct {
		Replayed *int `json:"replayed"`
	}
	if err := c.do(ctx, "POST", webhookPath(webhookID)+"/replay", nil, body, &w, opts); err != nil {
		return 0, err
	}
	if w.Replayed == nil {
		return 0, errors.New("sdk: the answer has no replayed count")
	}
	return *w.Replayed, nil
}

// WebhookDeliveries iterates over an endpoint's deliveries, newest first,
// pageSize a request (0: the API's default, 50; at most 100).
func (c *Client) WebhookDeliveries(ctx context.Context, webhookID string, pageSize int) iter.Seq2[*Delivery, error] {
	return paginate(func(cursor string) ([]*Delivery, string, error) {
		q := url.Values{}
		setPage(q, "cursor", cursor, pageSize)
		var page struct {
			Deliveries []*deliveryWire `json:"deliveries"`
			NextCursor *string         `json:"next_cursor"`
		}
		if err := c.do(ctx, "GET", webhookPath(webhookID)+"/deliveries", q, nil, &page, nil); err != nil {
			return nil, "", err
		}
		out := make([]*Delivery, 0, len(page.Deliveries))
		for _, w := range page.Deliveries {
			d, err := w.delivery()
			if err != nil {
				return nil, "", err
			}
			out = append(out, d)
		}
		return out, deref(page.NextCursor), nil
	})
}

// Event is something that happened to the partner's orders or balance, as
// a webhook delivers it and the event feed lists it.
type Event struct {
	ID        string // evt_…: the webhook-id header; the same for every delivery of one event
	Type      string // EventOrderCompleted, …
	Timestamp time.Time
	// Data is the event's object as sent: decode it with Order or
	// BalanceChange, or yourself.
	Data json.RawMessage
}

type eventWire struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp *string         `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func (w *eventWire) event() (*Event, error) {
	ts, err := parseTime("timestamp", w.Timestamp)
	if err != nil {
		return nil, err
	}
	return &Event{ID: w.ID, Type: w.Type, Timestamp: ts, Data: w.Data}, nil
}

// Order decodes the data of an order.* event: the order as GetOrder
// returns it at the moment of the change.
func (e *Event) Order() (*Order, error) {
	var w orderWire
	if err := json.Unmarshal(e.Data, &w); err != nil {
		return nil, fmt.Errorf("sdk: event %s data: %w", e.Type, err)
	}
	return w.order()
}

// BalanceChange is the data of balance.credited and balance.debited.
type BalanceChange struct {
	Amount  Nano
	Balance Nano   // after the change
	TxHash  string // credited from the chain
	Memo    string
	OrderID int64 // credited through an order's memo
	// Reason: deposit, order_surplus, underpayment, late_payment,
	// admin_credit; admin_debit.
	Reason string
	Note   string // admin_debit
}

// BalanceChange decodes the data of a balance.* event.
func (e *Event) BalanceChange() (*BalanceChange, error) {
	var w struct {
		AmountTON      json.Number `json:"amount_ton"`
		AmountNanoTON  *string     `json:"amount_nanoton"`
		BalanceTON     json.Number `json:"balance_ton"`
		BalanceNanoTON *string     `json:"balance_nanoton"`
		TxHash         *string     `json:"tx_hash"`
		Memo           *string     `json:"memo"`
		OrderID        *int64      `json:"order_id"`
		Reason         string      `json:"reason"`
		Note           *string     `json:"note"`
	}
	if err := json.Unmarshal(e.Data, &w); err != nil {
		return nil, fmt.Errorf("sdk: event %s data: %w", e.Type, err)
	}
	b := &BalanceChange{TxHash: deref(w.TxHash), Memo: deref(w.Memo), OrderID: deref(w.OrderID), Reason: w.Reason, Note: deref(w.Note)}
	var errs [2]error
	b.Amount, errs[0] = tonAmount("amount", w.AmountTON, w.AmountNanoTON)
	b.Balance, errs[1] = tonAmount("balance", w.BalanceTON, w.BalanceNanoTON)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return b, nil
}

// EventPage is one page of the event feed.
type EventPage struct {
	Events []*Event
	// NextCursor is where the next page starts: store it, and pass it as
	// after next time, to resume exactly after the last event seen.
	NextCursor string
	HasMore    bool
}

// ListEvents returns the partner's events after the cursor ("" = from the
// start of retained history), in commit order, limit per page (1..500;
// 0: the API's default, 100).
func (c *Client) ListEvents(ctx context.Context, after string, limit int) (*EventPage, error) {
	q := url.Values{}
	setPage(q, "after", after, limit)
	var w struct {
		Events     []*eventWire `json:"events"`
		NextCursor string       `json:"next_cursor"`
		HasMore    bool         `json:"has_more"`
	}
	if err := c.do(ctx, "GET", "/api/v1/events", q, nil, &w, nil); err != nil {
		return nil, err
	}
	p := &EventPage{NextCursor: w.NextCursor, HasMore: w.HasMore, Events: make([]*Event, 0, len(w.Events))}
	for _, x := range w.Events {
		e, err := x.event()
		if err != nil {
			return nil, err
		}
		p.Events = append(p.Events, e)
	}
	return p, nil
}

// Events iterates over the partner's events after the cursor until the
// feed has no more, limit a request. To resume later from where it
// stopped, use ListEvents and keep its NextCursor.
func (c *Client) Events(ctx context.Context, after string, limit int) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		cursor := after
		for {
			p, err := c.ListEvents(ctx, cursor, limit)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range p.Events {
				if !yield(e, nil) {
					return
				}
			}
			if !p.HasMore || p.NextCursor == cursor {
				return
			}
			cursor = p.NextCursor
		}
	}
}
