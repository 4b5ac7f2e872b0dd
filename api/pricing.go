package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"starsbot/shop"
)

// rateJSON is GET /pricing/ton-rate.
type rateJSON struct {
	TONUSD     shop.MicroUSD `json:"ton_usd"`
	Source     string        `json:"source"`
	UpdatedAt  *string       `json:"updated_at"`
	AgeSeconds *int64        `json:"age_seconds"`
}

func (s *Server) tonRate(w http.ResponseWriter, r *http.Request) error {
	rate, err := s.Shop.Rate(r.Context())
	if err != nil {
		return err
	}
	v := rateJSON{TONUSD: rate.TONUSD, Source: rate.Source, UpdatedAt: timeJSON(rate.UpdatedAt)}
	if !rate.UpdatedAt.IsZero() {
		age := max(int64(s.Now().Sub(rate.UpdatedAt).Seconds()), 0)
		v.AgeSeconds = &age
	}
	return ok(w, v)
}

// feeJSON is GET /pricing/fee.
type feeJSON struct {
	FeePercent      json.Number              `json:"fee_percent"`
	StarsMin        int64                    `json:"stars_min"`
	StarsMax        int64                    `json:"stars_max"`
	PremiumMonths   []int                    `json:"premium_months"`
	USDPerStar      shop.MicroUSD            `json:"usd_per_star"`
	PremiumUSD      map[string]shop.MicroUSD `json:"premium_usd"`
	OrderTTLSeconds int64                    `json:"order_ttl_seconds"`
}

func (s *Server) fee(w http.ResponseWriter, r *http.Request) error {
	p := s.Shop.Pricing()
	v := feeJSON{
		FeePercent:      json.Number(shop.FormatFeePercent(p.FeePPM)),
		StarsMin:        p.StarsMin,
		StarsMax:        p.StarsMax,
		PremiumMonths:   shop.PremiumMonths,
		USDPerStar:      p.USDPerStar,
		PremiumUSD:      make(map[string]shop.MicroUSD, len(p.PremiumUSD)),
		OrderTTLSeconds: int64(p.OrderTTL.Seconds()),
	}
	for m, usd := range p.PremiumUSD {
		v.PremiumUSD[strconv.Itoa(m)] = usd
	}
	return ok(w, v)
}

// estimateJSON is GET /pricing/estimate/stars and /premium.
type estimateJSON struct {
	OrderType    shop.OrderType `json:"order_type"`
	StarsAmount  *int64         `json:"stars_amount,omitempty"`
	Months       *int           `json:"months,omitempty"`
	PriceTON     shop.NanoTON   `json:"price_ton"`
	PriceNanoTON nanoJSON       `json:"price_nanoton"`
	PriceUSD     shop.MicroUSD  `json:"price_usd"`
	FeeTON       shop.NanoTON   `json:"fee_ton"`
	FeeNanoTON   nanoJSON       `json:"fee_nanoton"`
	FeePercent   json.Number    `json:"fee_percent"`
	TONUSD       shop.MicroUSD  `json:"ton_usd"`
	RateSource   string         `json:"rate_source"`
	// PriceUSDT is the price for a ton_memo order paid in USDT
	// (payment_currency USDT); absent when USDT is not accepted.
	PriceUSDT *json.Number `json:"price_usdt,omitempty"`
}

// usdtPricer prices a quote in USDT; *shop.Service is one.
type usdtPricer interface {
	PriceUSDT(q *shop.Quote) (int64, bool, error)
}

func (s *Server) estimateStars(w http.ResponseWriter, r *http.Request) error {
	if _, err := requireQuery(r, "quantity"); err != nil {
		return err
	}
	n, err := queryInt(r, "quantity", 0, math.MinInt64, math.MaxInt64)
	if err != nil {
		return shop.Errorf(shop.EVALIDATION, "quantity must be a whole number")
	}
	return s.estimate(w, r, shop.QuoteRequest{Type: shop.OrderStars, Stars: n})
}

func (s *Server) estimatePremium(w http.ResponseWriter, r *http.Request) error {
	if _, err := requireQuery(r, "months"); err != nil {
		return err
	}
	n, err := queryInt(r, "months", 0, 0, 1000)
	if err != nil {
		return shop.Errorf(shop.EVALIDATION, "months must be 3, 6 or 12")
	}
	return s.estimate(w, r, shop.QuoteRequest{Type: shop.OrderPremium, Months: int(n)})
}

func (s *Server) estimate(w http.ResponseWriter, r *http.Request, req shop.QuoteRequest) error {
	q, err := s.Shop.Quote(r.Context(), req)
	if err != nil {
		return err
	}
	v := estimateView(q)
	if err := s.priceUSDT(&v, q); err != nil {
		return err
	}
	return ok(w, v)
}

// priceUSDT sets v's price_usdt from q when the shop accepts USDT.
func (s *Server) priceUSDT(v *estimateJSON, q *shop.Quote) error {
	p, isPricer := s.Shop.(usdtPricer)
	if !isPricer {
		return nil
	}
	units, priced, err := p.PriceUSDT(q)
	if err != nil || !priced {
		return err
	}
	n := json.Number(shop.FormatUSDT(units))
	v.PriceUSDT = &n
	return nil
}

func estimateView(q *shop.Quote) estimateJSON {
	v := estimateJSON{
		OrderType:    q.Type,
		PriceTON:     q.PriceTON,
		PriceNanoTON: nanoJSON(q.PriceTON),
		PriceUSD:     q.PriceUSD,
		FeeTON:       q.FeeTON,
		FeeNanoTON:   nanoJSON(q.FeeTON),
		FeePercent:   json.Number(shop.FormatFeePercent(q.FeePPM)),
		TONUSD:       q.Rate.TONUSD,
		RateSource:   q.Rate.Source,
	}
	if q.Type == shop.OrderStars {
		v.StarsAmount = &q.Stars
	} else {
		v.Months = &q.Months
	}
	return v
}

// quoteBody is POST /quotes.
type quoteBody struct {
	OrderType *string `json:"order_type"`
	Quantity  *int64  `json:"quantity"`
	Months    *int    `json:"months"`
}

// quoteJSON is a locked quote: an estimate held for the partner until
// expires_at.
type quoteJSON struct {
	QuoteID string `json:"quote_id"`
	estimateJSON
	ExpiresAt *string `json:"expires_at"`
	CreatedAt *string `json:"created_at"`
}

// createQuote locks the current price of Stars or Premium for the partner:
// an order created with the quote_id before expires_at costs exactly
// price_ton.
func (s *Server) createQuote(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[quoteBody](w, r)
	if err != nil {
		return err
	}
	var req shop.QuoteRequest
	switch {
	case body.OrderType == nil:
		return shop.Errorf(shop.EVALIDATION, "order_type is required: stars or premium")
	case *body.OrderType == string(shop.OrderStars):
		if body.Quantity == nil || body.Months != nil {
			return shop.Errorf(shop.EVALIDATION, "a stars quote needs quantity and no months")
		}
		req = shop.QuoteRequest{Type: shop.OrderStars, Stars: *body.Quantity}
	case *body.OrderType == string(shop.OrderPremium):
		if body.Months == nil || body.Quantity != nil {
			return shop.Errorf(shop.EVALIDATION, "a premium quote needs months (3, 6 or 12) and no quantity")
		}
		req = shop.QuoteRequest{Type: shop.OrderPremium, Months: *body.Months}
	default:
		return shop.Errorf(shop.EVALIDATION, "order_type must be stars or premium")
	}
	q, err := s.Shop.LockQuote(r.Context(), partner(r).ID, req)
	if err != nil {
		return err
	}
	v := quoteJSON{QuoteID: q.ID, estimateJSON: estimateView(&q.Quote), ExpiresAt: timeJSON(q.ExpiresAt), CreatedAt: timeJSON(q.CreatedAt)}
	if err := s.priceUSDT(&v.estimateJSON, &q.Quote); err != nil {
		return err
	}
	return ok(w, v)
}

// recipientJSON is GET /recipients/stars and /premium.
type recipientJSON struct {
	Username   string `json:"username"`
	CanReceive bool   `json:"can_receive"`
	Reason     string `json:"reason,omitempty"`
}

func (s *Server) recipientStars(w http.ResponseWriter, r *http.Request) error {
	return s.recipient(w, r, shop.OrderStars)
}

func (s *Server) recipientPremium(w http.ResponseWriter, r *http.Request) error {
	return s.recipient(w, r, shop.OrderPremium)
}

func (s *Server) recipient(w http.ResponseWriter, r *http.Request, kind shop.OrderType) error {
	name, err := requireQuery(r, "username")
	if err != nil {
		return err
	}
	rc, err := s.Shop.CheckRecipient(r.Context(), kind, name)
	if err != nil {
		return err
	}
	return ok(w, recipientJSON{Username: rc.Username, CanReceive: rc.CanReceive, Reason: rc.Reason})
}
