package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// OrderStatus is an order's state. completed, cancelled and refunded are
// final; an expired order can still become paid by a transfer sent before
// its expiry.
type OrderStatus string

// Order statuses.
const (
	StatusPendingPayment OrderStatus = "pending_payment"
	StatusPaid           OrderStatus = "paid"
	StatusProcessing     OrderStatus = "processing"
	StatusCompleted      OrderStatus = "completed"
	StatusManual         OrderStatus = "manual" // an admin delivers or refunds it
	StatusRefunded       OrderStatus = "refunded"
	StatusCancelled      OrderStatus = "cancelled"
	StatusExpired        OrderStatus = "expired"
	StatusFailed         OrderStatus = "failed" // a filter of ListOrders only: refunded after a failed delivery
)

// OrderType is what an order buys.
type OrderType string

// Order types.
const (
	Stars   OrderType = "stars"
	Premium OrderType = "premium"
)

// PaymentMethod is how an order is paid.
type PaymentMethod string

// Payment methods.
const (
	PayTONMemo PaymentMethod = "ton_memo" // a TON transfer to PaymentAddress with PaymentMemo (the API's default)
	PayBalance PaymentMethod = "balance"  // from the partner's balance, at creation
)

// Order is an order of the orders contract.
type Order struct {
	ID             int64
	Status         OrderStatus
	Type           OrderType
	Stars          int64 // Stars orders
	Months         int   // Premium orders
	Recipient      string
	Price          Nano
	PaymentMethod  PaymentMethod
	PaymentAddress string // ton_memo orders
	PaymentMemo    string // ton_memo orders
	// ClientReference is the partner's own reference, "" if none.
	ClientReference string
	ExpiresAt       time.Time // zero when the order has no payment deadline
	CreatedAt       time.Time
	PaidAt          time.Time // zero until paid
	CompletedAt     time.Time // zero until completed
	FailureReason   string
	FulfillmentRef  string
}

// orderWire is an order as the API sends it.
type orderWire struct {
	ID                int64       `json:"id"`
	Status            OrderStatus `json:"status"`
	OrderType         OrderType   `json:"order_type"`
	StarsAmount       *int64      `json:"stars_amount"`
	Months            *int        `json:"months"`
	RecipientUsername string      `json:"recipient_username"`
	PriceTON          json.Number `json:"price_ton"`
	PriceNanoTON      *string     `json:"price_nanoton"`
	PaymentMethod     string      `json:"payment_method"`
	PaymentAddress    *string     `json:"payment_address"`
	PaymentMemo       *string     `json:"payment_memo"`
	ClientReference   *string     `json:"client_reference"`
	ExpiresAt         *string     `json:"expires_at"`
	CreatedAt         *string     `json:"created_at"`
	PaidAt            *string     `json:"paid_at"`
	CompletedAt       *string     `json:"completed_at"`
	FailureReason     *string     `json:"failure_reason"`
	FulfillmentRef    *string     `json:"fulfillment_ref"`
}

func (w *orderWire) order() (*Order, error) {
	price, err := tonAmount("price", w.PriceTON, w.PriceNanoTON)
	if err != nil {
		return nil, err
	}
	o := &Order{
		ID:              w.ID,
		Status:          w.Status,
		Type:            w.OrderType,
		Stars:           deref(w.StarsAmount),
		Months:          deref(w.Months),
		Recipient:       w.RecipientUsername,
		Price:           price,
		PaymentMethod:   PaymentMethod(w.PaymentMethod),
		PaymentAddress:  deref(w.PaymentAddress),
		PaymentMemo:     deref(w.PaymentMemo),
		ClientReference: deref(w.ClientReference),
		FailureReason:   deref(w.FailureReason),
		FulfillmentRef:  deref(w.FulfillmentRef),
	}
	times := []struct {
		dst  *time.Time
		src  *string
		name string
	}{{&o.ExpiresAt, w.ExpiresAt, "expires_at"}, {&o.CreatedAt, w.CreatedAt, "created_at"}, {&o.PaidAt, w.PaidAt, "paid_at"}, {&o.CompletedAt, w.CompletedAt, "completed_at"}}
	for _, t := range times {
		if *t.dst, err = parseTime(t.name, t.src); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// parseTime reads an RFC 3339 time; null is the zero time.
func parseTime(name string, s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sdk: %s: %w", name, err)
	}
	return t, nil
}

// StarsOrderRequest is a Stars order to create.
type StarsOrderRequest struct {
	Recipient string // Telegram username, with or without @
	Quantity  int64  // stars
	// PaymentMethod: PayBalance or PayTONMemo; "" leaves the API's
	// default (ton_memo).
	PaymentMethod   PaymentMethod
	ClientReference string // optional
	// QuoteID, from CreateQuote, makes the order cost exactly the quote's
	// price, or fail with CodeQuoteExpired / CodeQuoteUsed.
	QuoteID string
}

// PremiumOrderRequest is a Premium order to create.
type PremiumOrderRequest struct {
	Recipient       string
	Months          int // 3, 6 or 12
	PaymentMethod   PaymentMethod
	ClientReference string
	QuoteID         string
}

type createOrderWire struct {
	RecipientUsername string  `json:"recipient_username"`
	Quantity          *int64  `json:"quantity,omitempty"`
	Months            *int    `json:"months,omitempty"`
	PaymentMethod     *string `json:"payment_method,omitempty"`
	PaymentCurrency   string  `json:"payment_currency"`
	ClientReference   *string `json:"client_reference,omitempty"`
	QuoteID           *string `json:"quote_id,omitempty"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// CreateStarsOrder creates a Stars order (POST /api/v1/orders/stars). It
// is sent with an Idempotency-Key and retried safely: however many
// attempts it takes, one order exists and it is the one returned.
func (c *Client) CreateStarsOrder(ctx context.Context, r StarsOrderRequest, opts ...CallOption) (*Order, error) {
	body := createOrderWire{
		RecipientUsername: r.Recipient, Quantity: &r.Quantity, PaymentMethod: optional(string(r.PaymentMethod)),
		PaymentCurrency: "TON", ClientReference: optional(r.ClientReference), QuoteID: optional(r.QuoteID),
	}
	return c.orderCall(ctx, "POST", "/api/v1/orders/stars", body, opts)
}

// CreatePremiumOrder creates a Premium order (POST
// /api/v1/orders/premium), retried safely as CreateStarsOrder.
func (c *Client) CreatePremiumOrder(ctx context.Context, r PremiumOrderRequest, opts ...CallOption) (*Order, error) {
	body := createOrderWire{
		RecipientUsername: r.Recipient, Months: &r.Months, PaymentMethod: optional(string(r.PaymentMethod)),
		PaymentCurrency: "TON", ClientReference: optional(r.ClientReference), QuoteID: optional(r.QuoteID),
	}
	return c.orderCall(ctx, "POST", "/api/v1/orders/premium", body, opts)
}

// GetOrder returns one of the partner's orders; IsNotFound(err) if there
// is none with this id.
func (c *Client) GetOrder(ctx context.Context, id int64) (*Order, error) {
	return c.orderCall(ctx, "GET", "/api/v1/orders/"+strconv.FormatInt(id, 10), nil, nil)
}

// CancelOrder cancels an order that waits for its TON payment; others get
// CodeOrderNotCancellable.
func (c *Client) CancelOrder(ctx context.Context, id int64, opts ...CallOption) (*Order, error) {
	return c.orderCall(ctx, "POST", "/api/v1/orders/"+strconv.FormatInt(id, 10)+"/cancel", nil, opts)
}

// OrderByMemo returns the order a TON payment memo belongs to.
func (c *Client) OrderByMemo(ctx context.Context, memo string) (*Order, error) {
	return c.orderCall(ctx, "GET", "/api/v1/orders/by-memo/"+url.PathEscape(memo), nil, nil)
}

// OrdersByReference returns the partner's orders with this client
// reference.
func (c *Client) OrdersByReference(ctx context.Context, ref string) ([]*Order, error) {
	var page orderPageWire
	if err := c.do(ctx, "GET", "/api/v1/orders/by-reference/"+url.PathEscape(ref), nil, nil, &page, nil); err != nil {
		return nil, err
	}
	return page.orders()
}

func (c *Client) orderCall(ctx context.Context, method, path string, body any, opts []CallOption) (*Order, error) {
	var w orderWire
	if err := c.do(ctx, method, path, nil, body, &w, opts); err != nil {
		return nil, err
	}
	return w.order()
}

type orderPageWire struct {
	Orders     []*orderWire `json:"orders"`
	NextCursor *string      `json:"next_cursor"`
}

func (p *orderPageWire) orders() ([]*Order, error) {
	out := make([]*Order, 0, len(p.Orders))
	for _, w := range p.Orders {
		o, err := w.order()
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// OrderFilter selects orders for ListOrders.
type OrderFilter struct {
	Status OrderStatus // "" = any; StatusFailed = refunded after a failed delivery
	Type   OrderType   // "" = both
	// PageSize is how many orders each request fetches, 1..100; 0 = the
	// API's default (20).
	PageSize int
}

// ListOrders iterates over the partner's orders, newest first, fetching
// pages as the loop goes. An error ends the iteration as its last pair.
//
//	for o, err := range c.ListOrders(ctx, sdk.OrderFilter{Status: sdk.StatusCompleted}) {
//		if err != nil { return err }
//		…
//	}
func (c *Client) ListOrders(ctx context.Context, f OrderFilter) iter.Seq2[*Order, error] {
	return paginate(func(cursor string) ([]*Order, string, error) {
		q := url.Values{}
		if f.Status != "" {
			q.Set("status", string(f.Status))
		}
		if f.Type != "" {
			q.Set("order_type", string(f.Type))
		}
		setPage(q, "cursor", cursor, f.PageSize)
		var page orderPageWire
		if err := c.do(ctx, "GET", "/api/v1/orders", q, nil, &page, nil); err != nil {
			return nil, "", err
		}
		orders, err := page.orders()
		return orders, deref(page.NextCursor), err
	})
}

func setPage(q url.Values, cursorName, cursor string, limit int) {
	if cursor != "" {
		q.Set(cursorName, cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
}

// paginate iterates over the items of pages that fetch returns, starting
// at cursor "", until a page's next cursor is "". An error is yielded once,
// last.
func paginate[T any](fetch func(cursor string) (items []T, next string, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		cursor := ""
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" || next == cursor {
				return
			}
			cursor = next
		}
	}
}

// OrderStats is the partner's order summary.
type OrderStats struct {
	Total                  int
	ByStatus               map[OrderStatus]int
	TotalSpent             Nano
	StarsDelivered         int64
	PremiumMonthsDelivered int64
}

// OrderStats returns the partner's order summary
// (GET /api/v1/orders/stats/summary).
func (c *Client) OrderStats(ctx context.Context) (*OrderStats, error) {
	var w struct {
		TotalOrders            int                 `json:"total_orders"`
		ByStatus               map[OrderStatus]int `json:"by_status"`
		TotalSpentTON          json.Number         `json:"total_spent_ton"`
		TotalSpentNanoTON      *string             `json:"total_spent_nanoton"`
		StarsDelivered         int64               `json:"stars_delivered"`
		PremiumMonthsDelivered int64               `json:"premium_months_delivered"`
	}
	if err := c.do(ctx, "GET", "/api/v1/orders/stats/summary", nil, nil, &w, nil); err != nil {
		return nil, err
	}
	spent, err := tonAmount("total_spent", w.TotalSpentTON, w.TotalSpentNanoTON)
	if err != nil {
		return nil, err
	}
	return &OrderStats{Total: w.TotalOrders, ByStatus: w.ByStatus, TotalSpent: spent, StarsDelivered: w.StarsDelivered, PremiumMonthsDelivered: w.PremiumMonthsDelivered}, nil
}

// DefaultFinalStatuses returns the statuses WaitForOrder stops at by
// default: completed, refunded, cancelled and expired. expired is included
// although a late transfer can still pay an expired order; manual is not
// (an admin will still complete or refund it).
func DefaultFinalStatuses() []OrderStatus {
	return []OrderStatus{StatusCompleted, StatusRefunded, StatusCancelled, StatusExpired}
}

// WaitOptions adjust WaitForOrder; nil gives the defaults.
type WaitOptions struct {
	// Until are the statuses to stop at; default DefaultFinalStatuses().
	// Add StatusManual to stop when an order goes to manual delivery.
	Until []OrderStatus
	// Interval is the first wait between reads, doubled after each read
	// up to MaxInterval; defaults 1 s and 15 s.
	Interval, MaxInterval time.Duration
}

// ErrWaitEnded wraps the context's error when WaitForOrder gives up.
var ErrWaitEnded = errors.New("sdk: the order did not reach a final status")

// WaitForOrder reads the order until its status is one of opts.Until, with
// backoff between reads, and returns it. When ctx ends first it returns
// the order as last read with an error that wraps both ErrWaitEnded and
// ctx's error. API errors (a 404, say) end the wait at once.
func (c *Client) WaitForOrder(ctx context.Context, id int64, opts *WaitOptions) (*Order, error) {
	var o WaitOptions
	if opts != nil {
		o = *opts
	}
	if len(o.Until) == 0 {
		o.Until = DefaultFinalStatuses()
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = 15 * time.Second
	}
	wait := o.Interval
	for {
		order, err := c.GetOrder(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%w: %w", ErrWaitEnded, ctx.Err())
			}
			return nil, err
		}
		if slices.Contains(o.Until, order.Status) {
			return order, nil
		}
		if err := c.opt.Sleep(ctx, wait); err != nil {
			return order, fmt.Errorf("%w: order %d is %s: %w", ErrWaitEnded, id, order.Status, err)
		}
		wait = min(wait*2, o.MaxInterval)
	}
}
