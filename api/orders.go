package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"

	"starsbot/shop"
)

// orderJSON is an order as the orders contract shows it. Fields that do not
// apply (a balance order's payment_memo, an unpaid order's paid_at) are null;
// stars_amount appears on Stars orders and months on Premium orders.
type orderJSON struct {
	ID                int64              `json:"id"`
	Status            shop.OrderStatus   `json:"status"`
	OrderType         shop.OrderType     `json:"order_type"`
	StarsAmount       *int64             `json:"stars_amount,omitempty"`
	Months            *int               `json:"months,omitempty"`
	RecipientUsername string             `json:"recipient_username"`
	PriceTON          shop.NanoTON       `json:"price_ton"`
	PriceNanoTON      nanoJSON           `json:"price_nanoton"`
	PaymentMethod     shop.PaymentMethod `json:"payment_method"`
	PaymentAddress    *string            `json:"payment_address"`
	PaymentMemo       *string            `json:"payment_memo"`
	ClientReference   *string            `json:"client_reference"`
	ExpiresAt         *string            `json:"expires_at"`
	CreatedAt         *string            `json:"created_at"`
	PaidAt            *string            `json:"paid_at"`
	CompletedAt       *string            `json:"completed_at"`
	FailureReason     *string            `json:"failure_reason"`
	FulfillmentRef    *string            `json:"fulfillment_ref"`
	// PaymentCurrency is TON, or USDT for a ton_memo order paid by a
	// USDT transfer of PriceUSDT (absent otherwise) with its memo.
	PaymentCurrency shop.Asset   `json:"payment_currency"`
	PriceUSDT       *json.Number `json:"price_usdt,omitempty"`
}

func orderView(o *shop.Order) *orderJSON {
	v := &orderJSON{
		ID:                o.ID,
		Status:            o.Status,
		OrderType:         o.Type,
		RecipientUsername: o.Recipient,
		PriceTON:          o.PriceTON,
		PriceNanoTON:      nanoJSON(o.PriceTON),
		PaymentMethod:     o.PaymentMethod,
		PaymentAddress:    stringJSON(o.PaymentAddress),
		PaymentMemo:       stringJSON(o.PaymentMemo),
		ClientReference:   stringJSON(o.ClientReference),
		ExpiresAt:         timeJSON(o.ExpiresAt),
		CreatedAt:         timeJSON(o.CreatedAt),
		PaidAt:            timeJSON(o.PaidAt),
		CompletedAt:       timeJSON(o.CompletedAt),
		FailureReason:     stringJSON(o.FailureReason),
		FulfillmentRef:    stringJSON(o.FulfillmentRef),
	}
	v.PaymentCurrency = o.PaymentCurrency.OrTON()
	if o.PaymentCurrency == shop.AssetUSDT {
		n := json.Number(shop.FormatUSDT(o.PriceUSDT))
		v.PriceUSDT = &n
	}
	switch o.Type {
	case shop.OrderStars:
		v.StarsAmount = &o.Stars
	case shop.OrderPremium:
		v.Months = &o.Months
	}
	return v
}

func ordersView(orders []*shop.Order) []*orderJSON {
	out := make([]*orderJSON, len(orders))
	for i, o := range orders {
		out[i] = orderView(o)
	}
	return out
}

// orderListJSON is a page of orders.
type orderListJSON struct {
	Orders     []*orderJSON `json:"orders"`
	NextCursor *string      `json:"next_cursor"`
}

// createStarsBody is POST /orders/stars.
type createStarsBody struct {
	RecipientUsername *string `json:"recipient_username"`
	Quantity          *int64  `json:"quantity"`
	PaymentMethod     *string `json:"payment_method"`
	PaymentCurrency   *string `json:"payment_currency"`
	ClientReference   *string `json:"client_reference"`
	QuoteID           *string `json:"quote_id"`
}

// createPremiumBody is POST /orders/premium.
type createPremiumBody struct {
	RecipientUsername *string `json:"recipient_username"`
	Months            *int    `json:"months"`
	PaymentMethod     *string `json:"payment_method"`
	PaymentCurrency   *string `json:"payment_currency"`
	ClientReference   *string `json:"client_reference"`
	QuoteID           *string `json:"quote_id"`
}

func (s *Server) createStarsOrder(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[createStarsBody](w, r)
	if err != nil {
		return err
	}
	if body.Quantity == nil {
		return shop.Errorf(shop.EVALIDATION, "quantity is required")
	}
	req, err := orderRequest(r, body, body.RecipientUsername, body.PaymentMethod, body.PaymentCurrency, body.ClientReference, body.QuoteID)
	if err != nil {
		return err
	}
	req.Type, req.Stars = shop.OrderStars, *body.Quantity
	return s.createOrder(w, r, req)
}

func (s *Server) createPremiumOrder(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[createPremiumBody](w, r)
	if err != nil {
		return err
	}
	if body.Months == nil {
		return shop.Errorf(shop.EVALIDATION, "months is required: 3, 6 or 12")
	}
	req, err := orderRequest(r, body, body.RecipientUsername, body.PaymentMethod, body.PaymentCurrency, body.ClientReference, body.QuoteID)
	if err != nil {
		return err
	}
	req.Type, req.Months = shop.OrderPremium, *body.Months
	return s.createOrder(w, r, req)
}

// orderRequest checks the fields both order bodies share and fills a
// request for the authenticated partner. With a quote_id the order costs
// the quote's price; shop checks that the quote is the partner's, for this
// item, unused and unexpired. The idempotency fingerprint is the
// route and the decoded body, so a retry that re-serializes the same JSON
// differently still matches.
func orderRequest(r *http.Request, body any, recipient, method, currency, ref, quoteID *string) (shop.CreateOrderRequest, error) {
	req := shop.CreateOrderRequest{
		UserID:         partner(r).ID,
		PaymentMethod:  shop.PayTONMemo,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Source:         shop.SourceAPI,
	}
	if recipient == nil {
		return req, shop.Errorf(shop.EVALIDATION, "recipient_username is required")
	}
	req.Recipient = *recipient
	if method != nil {
		req.PaymentMethod = shop.PaymentMethod(*method)
	}
	if currency != nil {
		switch *currency {
		case "TON":
		case "USDT":
			req.PaymentCurrency = shop.AssetUSDT
		default:
			return req, shop.Errorf(shop.EVALIDATION, "payment_currency must be TON or USDT")
		}
	}
	if ref != nil {
		req.ClientReference = *ref
	}
	if quoteID != nil {
		req.QuoteID = *quoteID
		if req.QuoteID == "" {
			return req, shop.Errorf(shop.EVALIDATION, "quote_id must not be empty: leave it out for the current price")
		}
	}
	req.Fingerprint = fingerprint(r, body)
	return req, nil
}

// fingerprint identifies a write request for Idempotency-Key: its method,
// route and decoded body.
func fingerprint(r *http.Request, body any) string {
	b, _ := json.Marshal(body) // a decoded request struct always marshals
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.Pattern + "\x00"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request, req shop.CreateOrderRequest) error {
	order, err := s.Shop.CreateOrder(r.Context(), req)
	if err != nil {
		return err
	}
	s.countOrder(order, "orders")
	return ok(w, orderView(order))
}

// pathID parses the {id} path value.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, shop.Errorf(shop.EVALIDATION, "order id must be a positive whole number")
	}
	return id, nil
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	order, err := s.Shop.FindOrder(r.Context(), partner(r).ID, id)
	if err != nil {
		return err
	}
	return ok(w, orderView(order))
}

func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	order, err := s.Shop.CancelOrder(r.Context(), partner(r).ID, id)
	if err != nil {
		return err
	}
	return ok(w, orderView(order))
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) error {
	limit, before, err := pageQuery(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	orders, next, err := s.Shop.FindOrders(r.Context(), shop.OrderFilter{
		UserID: partner(r).ID,
		Status: shop.OrderStatus(q.Get("status")),
		Type:   shop.OrderType(q.Get("order_type")),
		Before: before,
		Limit:  limit,
	})
	if err != nil {
		return err
	}
	return ok(w, orderListJSON{Orders: ordersView(orders), NextCursor: cursorJSON(next)})
}

func (s *Server) getOrderByMemo(w http.ResponseWriter, r *http.Request) error {
	order, err := s.Shop.FindOrderByMemo(r.Context(), partner(r).ID, r.PathValue("memo"))
	if err != nil {
		return err
	}
	return ok(w, orderView(order))
}

func (s *Server) getOrdersByReference(w http.ResponseWriter, r *http.Request) error {
	orders, err := s.Shop.FindOrdersByReference(r.Context(), partner(r).ID, r.PathValue("ref"))
	if err != nil {
		return err
	}
	return ok(w, orderListJSON{Orders: ordersView(orders)})
}

// statsJSON is GET /orders/stats/summary.
type statsJSON struct {
	TotalOrders            int                      `json:"total_orders"`
	ByStatus               map[shop.OrderStatus]int `json:"by_status"`
	TotalSpentTON          shop.NanoTON             `json:"total_spent_ton"`
	TotalSpentNanoTON      nanoJSON                 `json:"total_spent_nanoton"`
	StarsDelivered         int64                    `json:"stars_delivered"`
	PremiumMonthsDelivered int64                    `json:"premium_months_delivered"`
}

func (s *Server) orderStats(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Shop.OrderStats(r.Context(), partner(r).ID)
	if err != nil {
		return err
	}
	return ok(w, statsJSON{
		TotalOrders:            st.Total,
		ByStatus:               st.ByStatus,
		TotalSpentTON:          st.SpentTON,
		TotalSpentNanoTON:      nanoJSON(st.SpentTON),
		StarsDelivered:         st.StarsDelivered,
		PremiumMonthsDelivered: st.MonthsDelivered,
	})
}
