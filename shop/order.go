package shop

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// OrderType is what an order buys.
type OrderType string

// Order types.
const (
	OrderStars   OrderType = "stars"
	OrderPremium OrderType = "premium"
)

// OrderSource is the front door that created an order.
type OrderSource string

// Order sources.
const (
	SourceBot       OrderSource = "bot"        // the Telegram bot
	SourceAPI       OrderSource = "api"        // the orders API (osk_ keys)
	SourceSimpleAPI OrderSource = "simple_api" // the simple API (sk_ keys)
)

// PaymentMethod is how an order is paid.
type PaymentMethod string

// Payment methods.
const (
	PayBalance PaymentMethod = "balance"  // debited from the buyer's balance at creation
	PayTONMemo PaymentMethod = "ton_memo" // a TON transfer with the order's own memo
)

// Order is one purchase of Stars or Premium for a recipient.
type Order struct {
	ID              int64 // monotonic; assigned by the store
	UserID          int64 // buyer (owner); only the owner sees the order
	Status          OrderStatus
	Type            OrderType
	Stars           int64  // stars orders: quantity
	Months          int    // premium orders: 3, 6 or 12
	Recipient       string // Telegram username without "@"
	PriceTON        NanoTON
	PriceUSD        MicroUSD // list price before fee
	FeeTON          NanoTON  // the part of PriceTON that is the service fee
	TONUSD          MicroUSD // the rate the price was computed with
	PaymentMethod   PaymentMethod
	PaymentAddress  string      // ton_memo: where to send TON
	PaymentMemo     string      // ton_memo: the order's own memo, e.g. "STARS-a1b2c3"
	ClientReference string      // partner's free text, ≤ 128 characters
	Source          OrderSource // which front door created it
	ExpiresAt       time.Time   // ton_memo: payment deadline; zero for balance orders
	CreatedAt       time.Time
	PaidAt          time.Time
	CompletedAt     time.Time
	FailureReason   string // why the order failed, went manual or was refunded
	FulfillmentRef  string // tx hash or provider reference of the delivery
	PaidTxHash      string // ton_memo: the transfer that paid it
	// PaymentCurrency is what a ton_memo order is paid in: "" or AssetTON
	// (a TON transfer of PriceTON), or AssetUSDT (a USDT transfer of
	// PriceUSDT, with the same memo; a TON transfer of PriceTON pays it
	// too). PriceUSDT is in USDT units (6 decimals), 0 unless USDT.
	PaymentCurrency Asset
	PriceUSDT       int64
}

// OrderFilter selects orders for a listing, newest first.
type OrderFilter struct {
	UserID int64       // owner; AnyOwner = every owner (admin listings)
	Status OrderStatus // "" = any
	Type   OrderType   // "" = any
	Before int64       // cursor: only orders with ID < Before; 0 = from the newest
	Limit  int         // 1..MaxPageSize; 0 = DefaultPageSize
}

// OrderStats summarizes one owner's orders.
type OrderStats struct {
	Total           int
	ByStatus        map[OrderStatus]int
	SpentTON        NanoTON // sum of PriceTON over orders that were paid and not refunded
	StarsDelivered  int64
	MonthsDelivered int64
}

// Limits on order fields.
const (
	MaxClientReference = 128
	MaxIdempotencyKey  = 128
	IdempotencyTTL     = 24 * time.Hour
)

// PremiumMonths lists the Premium durations for sale.
var PremiumMonths = []int{3, 6, 12}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_]{5,32}$`)

// NormalizeUsername accepts "@name", "name", "t.me/name" or
// "https://t.me/name" and returns "name", or a VALIDATION_ERROR unless the
// name is 5–32 of [A-Za-z0-9_].
func NormalizeUsername(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, p := range []string{"https://", "http://"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
			break
		}
	}
	for _, p := range []string{"t.me/", "telegram.me/", "www.t.me/"} {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = strings.TrimSuffix(s[len(p):], "/")
			break
		}
	}
	s = strings.TrimPrefix(s, "@")
	if !usernameRE.MatchString(s) {
		return "", Errorf(EVALIDATION, "recipient_username must be 5-32 letters, digits or underscores")
	}
	return s, nil
}

// PayoutBudget is the most the shop pays a fulfillment provider to deliver
// o: what the buyer paid, less tolerance, the margin kept for network fees
// (a negative tolerance counts as none). A provider that asks for more is
// not paid: the order goes to the admins.
func (o *Order) PayoutBudget(tolerance NanoTON) NanoTON {
	return o.PriceTON - max(tolerance, 0)
}

// SimpleRef is the order's id in the simple API's form,
// "api_buy_<order id>_<stars>_<created unix>": unique because it carries the
// order id, and resolvable with ParseSimpleRef.
func (o *Order) SimpleRef() string {
	return fmt.Sprintf("api_buy_%d_%d_%d", o.ID, o.Stars, o.CreatedAt.Unix())
}

// ParseSimpleRef returns the order id inside a SimpleRef, or false if s is
// not one.
func ParseSimpleRef(s string) (int64, bool) {
	rest, ok := strings.CutPrefix(s, "api_buy_")
	if !ok {
		return 0, false
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 3 {
		return 0, false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// CreateOrderRequest is a buyer's request for an order.
type CreateOrderRequest struct {
	UserID          int64         // buyer; required
	Type            OrderType     // stars or premium
	Stars           int64         // stars: quantity within the limits
	Months          int           // premium: 3, 6 or 12
	Recipient       string        // Telegram username; "@name" and t.me links accepted
	PaymentMethod   PaymentMethod // balance or ton_memo
	ClientReference string        // optional, ≤ 128 characters
	IdempotencyKey  string        // optional, ≤ 128 printable ASCII characters
	QuoteID         string        // optional: a LockedQuote of UserID for this item; the order costs exactly its price
	Fingerprint     string        // optional: identifies the request for IdempotencyKey (the API passes a hash of the raw body); default: a hash of the normalized fields
	Source          OrderSource   // front door
	// PaymentCurrency: "" or AssetTON, or AssetUSDT for a ton_memo order
	// paid by a USDT transfer (the order then shows PriceUSDT).
	PaymentCurrency Asset
}

// CreateOrder prices and creates an order. A balance order is paid at once:
// the balance is debited, the ledger written and the order queued for
// fulfillment in one transaction. A ton_memo order gets its own memo and the
// deposit address and waits for payment until its TTL.
//
// With a QuoteID the order is priced by that locked quote, not by the
// price list and rate of now: it must be the user's, for the same item,
// unexpired and unused; the order uses it up.
//
// With an IdempotencyKey, a repeat of the same request by the same user
// within 24 h returns the order the first one created whatever changed
// since (the limits, the rate, the recipient, an expired quote), and a
// different request under the same key fails.
//
// When the service has a recipient lookup, a recipient the provider says
// cannot receive the order is refused before anything is written.
//
// Errors: VALIDATION_ERROR (also: a quote for another item), NOT_FOUND (no
// such user; no such quote, or another user's), UNAUTHORIZED (user banned),
// RECIPIENT_NOT_FOUND, INSUFFICIENT_BALANCE, IDEMPOTENCY_CONFLICT,
// QUOTE_EXPIRED, QUOTE_USED, INTERNAL_ERROR.
func (s *Service) CreateOrder(ctx context.Context, req CreateOrderRequest) (*Order, error) {
	if err := s.normalizeOrderRequest(&req); err != nil {
		return nil, err
	}
	fingerprint := req.fingerprint()
	// A retry returns the order the first request created whatever changed
	// since (the limits, the rate, the recipient, the quote), so it is looked
	// up before anything of now is checked. The transaction below looks again
	// for a retry racing the first request.
	if req.IdempotencyKey != "" {
		var order *Order
		err := s.Store.View(ctx, func(tx Tx) (err error) {
			order, err = replayOrder(tx, &req, fingerprint, s.now())
			return err
		})
		if err != nil || order != nil {
			return order, err
		}
	}
	// Without a locked quote, the price of now; with one, the quote's,
	// set in the transaction.
	quote := &Quote{Type: req.Type, Stars: req.Stars, Months: req.Months}
	if req.QuoteID == "" {
		var err error
		if quote, err = s.Quote(ctx, QuoteRequest{Type: req.Type, Stars: req.Stars, Months: req.Months}); err != nil {
			return nil, err
		}
	}
	if err := s.checkNewRecipient(ctx, &req); err != nil {
		return nil, err
	}
	ttl := s.Pricing().OrderTTL

	var order *Order
	var paid bool
	err := s.Store.Update(WithUpdateKey(ctx, req.UserID), func(tx Tx) error {
		order, paid = nil, false
		now := s.now()
		if req.IdempotencyKey != "" {
			replay, err := replayOrder(tx, &req, fingerprint, now)
			if err != nil || replay != nil {
				order = replay
				return err
			}
		}
		user, err := findUser(tx, req.UserID)
		if err != nil {
			return err
		}
		if user.Banned {
			return Errorf(EUNAUTHORIZED, "this account is banned")
		}
		id, err := tx.NextOrderID()
		if err != nil {
			return err
		}
		order = &Order{
			ID:              id,
			UserID:          user.ID,
			Status:          StatusPendingPayment,
			Type:            quote.Type,
			Stars:           quote.Stars,
			Months:          quote.Months,
			Recipient:       req.Recipient,
			PriceTON:        quote.PriceTON,
			PriceUSD:        quote.PriceUSD,
			FeeTON:          quote.FeeTON,
			TONUSD:          quote.Rate.TONUSD,
			PaymentMethod:   req.PaymentMethod,
			ClientReference: req.ClientReference,
			Source:          req.Source,
			CreatedAt:       now,
		}
		if req.QuoteID != "" {
			if err := useQuote(tx, now, req.QuoteID, order); err != nil {
				return err
			}
		}
		if req.PaymentCurrency == AssetUSDT {
			order.PaymentCurrency = AssetUSDT
			if order.PriceUSDT, err = PriceUSDT(order.PriceTON, s.USDT.usd(), order.TONUSD, s.USDT.FeePPM); err != nil {
				return err
			}
		}
		switch req.PaymentMethod {
		case PayBalance:
			if user.Balance < order.PriceTON {
				return Errorf(EINSUFFICIENT, "insufficient balance: the order costs %s TON, the balance is %s TON", order.PriceTON, user.Balance)
			}
			if err := s.recordOrder(tx, PartnerOrderCreated, order); err != nil {
				return err
			}
			if _, err := s.post(tx, user, &LedgerEntry{Type: LedgerOrder, Amount: -order.PriceTON, OrderID: order.ID}); err != nil {
				return err
			}
			if err := s.markPaid(tx, order, ""); err != nil {
				return err
			}
			paid = true
		case PayTONMemo:
			prefix := "STARS-"
			if order.Type == OrderPremium {
				prefix = "PREMIUM-"
			}
			if order.PaymentMemo, err = newMemo(tx, func() string { return prefix + randomHex(3) }); err != nil {
				return err
			}
			order.PaymentAddress = s.depositAddress
			order.ExpiresAt = now.Add(ttl)
			if err := tx.PutOrder(order); err != nil {
				return err
			}
			if err := s.recordOrder(tx, PartnerOrderCreated, order); err != nil {
				return err
			}
		}
		if req.IdempotencyKey != "" {
			return tx.PutIdempotency(&Idempotency{
				UserID:      req.UserID,
				Key:         req.IdempotencyKey,
				Fingerprint: fingerprint,
				OrderID:     order.ID,
				ExpiresAt:   now.Add(IdempotencyTTL),
			})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if paid {
		s.emit(Event{Type: EventOrderPaid, UserID: order.UserID, OrderID: order.ID})
	}
	return order, nil
}

// replayOrder returns the order an earlier request under req's
// IdempotencyKey created, nil if the key is unused or expired, or
// IDEMPOTENCY_CONFLICT if the earlier request was a different one.
func replayOrder(tx Tx, req *CreateOrderRequest, fingerprint string, now time.Time) (*Order, error) {
	rec, err := tx.FindIdempotency(req.UserID, req.IdempotencyKey)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	case !rec.ExpiresAt.After(now):
		return nil, nil
	case subtle.ConstantTimeCompare([]byte(rec.Fingerprint), []byte(fingerprint)) != 1:
		return nil, Errorf(ECONFLICT, "Idempotency-Key was already used with a different request")
	}
	return tx.FindOrderByID(rec.OrderID)
}

// normalizeOrderRequest validates req and puts its fields in canonical form.
func (s *Service) normalizeOrderRequest(req *CreateOrderRequest) error {
	if req.UserID <= 0 {
		return Errorf(EVALIDATION, "user id must be positive")
	}
	var err error
	if req.Recipient, err = NormalizeUsername(req.Recipient); err != nil {
		return err
	}
	switch req.PaymentMethod {
	case PayBalance, PayTONMemo:
	default:
		return Errorf(EVALIDATION, "payment_method must be ton_memo or balance")
	}
	switch req.PaymentCurrency {
	case "", AssetTON:
		req.PaymentCurrency = ""
	case AssetUSDT:
		if s.USDT.Off {
			return Errorf(EVALIDATION, "payment_currency USDT is not accepted here")
		}
		if req.PaymentMethod != PayTONMemo {
			return Errorf(EVALIDATION, "payment_currency USDT needs payment_method ton_memo")
		}
	default:
		return Errorf(EVALIDATION, "payment_currency must be TON or USDT")
	}
	switch req.Type {
	case OrderStars:
		req.Months = 0
	case OrderPremium:
		req.Stars = 0
	}
	if err := validateText("client_reference", req.ClientReference, MaxClientReference); err != nil {
		return err
	}
	if req.QuoteID != "" {
		if req.Type != OrderStars && req.Type != OrderPremium {
			return Errorf(EVALIDATION, "order_type must be stars or premium")
		}
		if err := validQuoteID(req.QuoteID); err != nil {
			return err
		}
	}
	if len(req.IdempotencyKey) > MaxIdempotencyKey {
		return Errorf(EVALIDATION, "Idempotency-Key must be at most %d characters", MaxIdempotencyKey)
	}
	for i := 0; i < len(req.IdempotencyKey); i++ {
		if c := req.IdempotencyKey[i]; c < 0x21 || c > 0x7e {
			return Errorf(EVALIDATION, "Idempotency-Key must be printable ASCII without spaces")
		}
	}
	return nil
}

// fingerprint identifies the request for idempotency: the caller's
// Fingerprint if given, else a hash of the normalized request, so that the
// same request written differently ("@Name" or "name") matches.
func (r *CreateOrderRequest) fingerprint() string {
	if r.Fingerprint != "" {
		sum := sha256.Sum256([]byte("caller\x00" + r.Fingerprint))
		return hex.EncodeToString(sum[:])
	}
	b := fmt.Appendf(nil, "v1\x00%s\x00%d\x00%d\x00%s\x00%s\x00%s",
		r.Type, r.Stars, r.Months, strings.ToLower(r.Recipient), r.PaymentMethod, r.ClientReference)
	if r.QuoteID != "" { // appended only when set: older fingerprints stay valid
		b = fmt.Appendf(b, "\x00quote\x00%s", r.QuoteID)
	}
	if r.PaymentCurrency != "" { // likewise
		b = fmt.Appendf(b, "\x00currency\x00%s", r.PaymentCurrency)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AnyOwner, as the userID of FindOrder, FindOrderByMemo or OrderFilter,
// finds orders whatever their owner (the admin screens).
const AnyOwner int64 = 0

// SystemActor, as the adminID of CompleteOrder or of a ledger entry, is
// the program itself (the fulfillment worker, a refund after a permanent
// failure) rather than an admin.
const SystemActor int64 = 0

// FindOrder returns an order by id. userID AnyOwner means any owner
// (admins); otherwise another user's order is NOT_FOUND.
//
// Errors: NOT_FOUND.
func (s *Service) FindOrder(ctx context.Context, userID, orderID int64) (*Order, error) {
	var order *Order
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		order, err = findOwnOrder(tx, userID, orderID)
		return err
	})
	return order, err
}

func findOwnOrder(tx Tx, userID, orderID int64) (*Order, error) {
	o, err := tx.FindOrderByID(orderID)
	if ErrorCode(err) == ENOTFOUND || (err == nil && userID != AnyOwner && o.UserID != userID) {
		return nil, Errorf(ENOTFOUND, "order %d not found", orderID)
	}
	return o, err
}

// FindOrderByMemo returns the order with a payment memo (case-insensitive).
// userID AnyOwner means any owner.
//
// Errors: NOT_FOUND.
func (s *Service) FindOrderByMemo(ctx context.Context, userID int64, memo string) (*Order, error) {
	var order *Order
	err := s.Store.View(ctx, func(tx Tx) error {
		o, err := tx.FindOrderByMemo(NormalizeMemo(memo))
		if ErrorCode(err) == ENOTFOUND || (err == nil && userID != AnyOwner && o.UserID != userID) {
			return Errorf(ENOTFOUND, "no order with this memo")
		}
		order = o
		return err
	})
	return order, err
}

// FindOrdersByReference returns all of a user's orders with a
// client_reference, newest first; none is an empty list.
//
// Errors: VALIDATION_ERROR (reference too long or not text).
func (s *Service) FindOrdersByReference(ctx context.Context, userID int64, ref string) ([]*Order, error) {
	if err := validateText("client_reference", ref, MaxClientReference); err != nil {
		return nil, err
	}
	var orders []*Order
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		orders, err = tx.FindOrdersByReference(userID, ref)
		return err
	})
	return orders, err
}

// FindOrders lists orders matching f, newest first. next is the cursor for
// the following page (pass it as f.Before), 0 when there is none.
//
// Errors: VALIDATION_ERROR (unknown status or type, negative cursor).
func (s *Service) FindOrders(ctx context.Context, f OrderFilter) (orders []*Order, next int64, err error) {
	if f.Status != "" && !f.Status.Valid() {
		return nil, 0, Errorf(EVALIDATION, "unknown status %q", TruncateUTF8(string(f.Status), 32))
	}
	if f.Type != "" && f.Type != OrderStars && f.Type != OrderPremium {
		return nil, 0, Errorf(EVALIDATION, "order_type must be stars or premium")
	}
	if f.Before < 0 {
		return nil, 0, Errorf(EVALIDATION, "invalid cursor")
	}
	f.Limit = ClampLimit(f.Limit)
	var more bool
	err = s.Store.View(ctx, func(tx Tx) (err error) {
		orders, more, err = tx.FindOrders(f)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if more && len(orders) > 0 {
		next = orders[len(orders)-1].ID
	}
	return orders, next, nil
}

// OrderStats summarizes a user's orders: counts by status, TON spent on
// orders that were not refunded, and what was delivered. It reads the
// store's per-owner counters (Tx.OrderTotals): constant time.
func (s *Service) OrderStats(ctx context.Context, userID int64) (*OrderStats, error) {
	var st *OrderStats
	err := s.Store.View(ctx, func(tx Tx) error {
		st = &OrderStats{ByStatus: make(map[OrderStatus]int, len(OrderStatuses))}
		for _, status := range OrderStatuses {
			st.ByStatus[status] = 0
		}
		totals, err := tx.OrderTotals(userID)
		if err != nil {
			return err
		}
		for status, t := range totals {
			st.Total += t.Count
			st.ByStatus[status] += t.Count
			switch status {
			case StatusPaid, StatusProcessing, StatusManual, StatusCompleted:
				st.SpentTON += t.PriceTON
			}
			if status == StatusCompleted {
				st.StarsDelivered += t.Stars
				st.MonthsDelivered += t.Months
			}
		}
		return nil
	})
	return st, err
}
