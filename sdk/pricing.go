package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Estimate is a price at the current rate and fee.
type Estimate struct {
	Type       OrderType
	Stars      int64 // Stars
	Months     int   // Premium
	Price      Nano
	PriceUSD   MicroUSD
	Fee        Nano
	FeePercent string   // exact decimal text, e.g. "5" or "2.5"
	TONUSD     MicroUSD // dollars per TON
	RateSource string
}

type estimateWire struct {
	OrderType    OrderType   `json:"order_type"`
	StarsAmount  *int64      `json:"stars_amount"`
	Months       *int        `json:"months"`
	PriceTON     json.Number `json:"price_ton"`
	PriceNanoTON *string     `json:"price_nanoton"`
	PriceUSD     json.Number `json:"price_usd"`
	FeeTON       json.Number `json:"fee_ton"`
	FeeNanoTON   *string     `json:"fee_nanoton"`
	FeePercent   json.Number `json:"fee_percent"`
	TONUSD       json.Number `json:"ton_usd"`
	RateSource   string      `json:"rate_source"`
}

func (w *estimateWire) estimate() (Estimate, error) {
	e := Estimate{Type: w.OrderType, Stars: deref(w.StarsAmount), Months: deref(w.Months), FeePercent: string(w.FeePercent), RateSource: w.RateSource}
	var errs [4]error
	e.Price, errs[0] = tonAmount("price", w.PriceTON, w.PriceNanoTON)
	e.Fee, errs[1] = tonAmount("fee", w.FeeTON, w.FeeNanoTON)
	e.PriceUSD, errs[2] = usdAmount("price_usd", w.PriceUSD)
	e.TONUSD, errs[3] = usdAmount("ton_usd", w.TONUSD)
	return e, errors.Join(errs[:]...)
}

// EstimateStars prices quantity stars now (not held: see CreateQuote).
func (c *Client) EstimateStars(ctx context.Context, quantity int64) (*Estimate, error) {
	return c.estimate(ctx, "/api/v1/pricing/estimate/stars", url.Values{"quantity": {strconv.FormatInt(quantity, 10)}})
}

// EstimatePremium prices Premium for months (3, 6 or 12) now.
func (c *Client) EstimatePremium(ctx context.Context, months int) (*Estimate, error) {
	return c.estimate(ctx, "/api/v1/pricing/estimate/premium", url.Values{"months": {strconv.Itoa(months)}})
}

func (c *Client) estimate(ctx context.Context, path string, q url.Values) (*Estimate, error) {
	var w estimateWire
	if err := c.do(ctx, "GET", path, q, nil, &w, nil); err != nil {
		return nil, err
	}
	e, err := w.estimate()
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// QuoteRequest asks for a locked price: Stars with Quantity, or Premium
// with Months.
type QuoteRequest struct {
	Type     OrderType
	Quantity int64 // Stars
	Months   int   // Premium
}

// Quote is a price held for the partner until ExpiresAt: an order created
// with QuoteID costs exactly Price.
type Quote struct {
	ID string
	Estimate
	ExpiresAt time.Time
	CreatedAt time.Time
}

// CreateQuote locks the current price (POST /api/v1/quotes). Pass the
// quote's ID as StarsOrderRequest.QuoteID (or PremiumOrderRequest's) before
// ExpiresAt; after it the order fails with CodeQuoteExpired.
func (c *Client) CreateQuote(ctx context.Context, r QuoteRequest, opts ...CallOption) (*Quote, error) {
	body := struct {
		OrderType OrderType `json:"order_type"`
		Quantity  *int64    `json:"quantity,omitempty"`
		Months    *int      `json:"months,omitempty"`
	}{OrderType: r.Type}
	if r.Type == Premium {
		body.Months = &r.Months
	} else {
		body.Quantity = &r.Quantity
	}
	var w struct {
		QuoteID string `json:"quote_id"`
		estimateWire
		ExpiresAt *string `json:"expires_at"`
		CreatedAt *string `json:"created_at"`
	}
	if err := c.do(ctx, "POST", "/api/v1/quotes", nil, body, &w, opts); err != nil {
		return nil, err
	}
	e, err := w.estimate()
	if err != nil {
		return nil, err
	}
	q := &Quote{ID: w.QuoteID, Estimate: e}
	if q.ExpiresAt, err = parseTime("expires_at", w.ExpiresAt); err != nil {
		return nil, err
	}
	if q.CreatedAt, err = parseTime("created_at", w.CreatedAt); err != nil {
		return nil, err
	}
	return q, nil
}

// Rate is the TON/USD rate prices use.
type Rate struct {
	TONUSD    MicroUSD
	Source    string
	UpdatedAt time.Time
}

// TONRate returns the rate in use (GET /api/v1/pricing/ton-rate).
func (c *Client) TONRate(ctx context.Context) (*Rate, error) {
	var w struct {
		TONUSD    json.Number `json:"ton_usd"`
		Source    string      `json:"source"`
		UpdatedAt *string     `json:"updated_at"`
	}
	if err := c.do(ctx, "GET", "/api/v1/pricing/ton-rate", nil, nil, &w, nil); err != nil {
		return nil, err
	}
	r := &Rate{Source: w.Source}
	var err error
	if r.TONUSD, err = usdAmount("ton_usd", w.TONUSD); err != nil {
		return nil, err
	}
	if r.UpdatedAt, err = parseTime("updated_at", w.UpdatedAt); err != nil {
		return nil, err
	}
	return r, nil
}

// Recipient says whether a username can receive Stars or Premium.
type Recipient struct {
	Username   string
	CanReceive bool
	Reason     string // why not, when CanReceive is false
}

// CheckRecipient asks whether username can receive kind (Stars or
// Premium).
func (c *Client) CheckRecipient(ctx context.Context, kind OrderType, username string) (*Recipient, error) {
	var w struct {
		Username   string `json:"username"`
		CanReceive bool   `json:"can_receive"`
		Reason     string `json:"reason"`
	}
	path := "/api/v1/recipients/" + url.PathEscape(string(kind))
	if err := c.do(ctx, "GET", path, url.Values{"username": {username}}, nil, &w, nil); err != nil {
		return nil, err
	}
	return &Recipient{Username: w.Username, CanReceive: w.CanReceive, Reason: w.Reason}, nil
}

// Fee is the price list: the fee, the limits and the dollar prices.
type Fee struct {
	FeePercent    string // exact decimal text, e.g. "5" or "2.5"
	StarsMin      int64
	StarsMax      int64
	PremiumMonths []int
	USDPerStar    MicroUSD
	PremiumUSD    map[int]MicroUSD // by months
	OrderTTL      time.Duration    // how long a ton_memo order waits for its payment
}

// Fee returns the price list (GET /api/v1/pricing/fee).
func (c *Client) Fee(ctx context.Context) (*Fee, error) {
	var w struct {
		FeePercent      json.Number            `json:"fee_percent"`
		StarsMin        int64                  `json:"stars_min"`
		StarsMax        int64                  `json:"stars_max"`
		PremiumMonths   []int                  `json:"premium_months"`
		USDPerStar      json.Number            `json:"usd_per_star"`
		PremiumUSD      map[string]json.Number `json:"premium_usd"`
		OrderTTLSeconds int64                  `json:"order_ttl_seconds"`
	}
	if err := c.do(ctx, "GET", "/api/v1/pricing/fee", nil, nil, &w, nil); err != nil {
		return nil, err
	}
	f := &Fee{FeePercent: string(w.FeePercent), StarsMin: w.StarsMin, StarsMax: w.StarsMax, PremiumMonths: w.PremiumMonths,
		PremiumUSD: make(map[int]MicroUSD, len(w.PremiumUSD)), OrderTTL: time.Duration(w.OrderTTLSeconds) * time.Second}
	var err error
	if f.USDPerStar, err = usdAmount("usd_per_star", w.USDPerStar); err != nil {
		return nil, err
	}
	for m, v := range w.PremiumUSD {
		months, err := strconv.Atoi(m)
		if err != nil {
			return nil, errors.New("sdk: premium_usd: months " + strconv.Quote(clip(m)) + " is not a whole number")
		}
		if f.PremiumUSD[months], err = usdAmount("premium_usd", v); err != nil {
			return nil, err
		}
	}
	return f, nil
}
