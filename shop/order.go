package shop

import (
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

// OrderStatus is where an order is in its life.
//
//	pending_payment → paid → processing → completed
//	pending_payment → cancelled | expired
//	paid | processing → manual → completed | refunded
//	paid | processing → failed → refunded
type OrderStatus string

// Order statuses; the words are part of the partner contract.
const (
	StatusPendingPayment OrderStatus = "pending_payment"
	StatusPaid           OrderStatus = "paid"
	StatusProcessing     OrderStatus = "processing"
	StatusCompleted      OrderStatus = "completed"
	StatusCancelled      OrderStatus = "cancelled"
	StatusExpired        OrderStatus = "expired"
	StatusManual         OrderStatus = "manual"
	StatusFailed         OrderStatus = "failed"
	StatusRefunded       OrderStatus = "refunded"
)

// OrderStatuses lists every status, in lifecycle order.
var OrderStatuses = []OrderStatus{
	StatusPendingPayment, StatusPaid, StatusProcessing, StatusCompleted,
	StatusCancelled, StatusExpired, StatusManual, StatusFailed, StatusRefunded,
}

// Valid reports whether s is a known status.
func (s OrderStatus) Valid() bool {
	for _, v := range OrderStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Final reports whether no further transition can happen.
func (s OrderStatus) Final() bool {
	return s == StatusCompleted || s == StatusCancelled || s == StatusExpired || s == StatusRefunded
}

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
	PaymentAddress  string    // ton_memo: where to send TON
	PaymentMemo     string    // ton_memo: the order's own memo, e.g. "STARS-a1b2c3"
	ClientReference string    // partner's free text, ≤ 128 characters
	Source          string    // which front door created it: "bot", "api", "simple_api"
	ExpiresAt       time.Time // ton_memo: payment deadline; zero for balance orders
	CreatedAt       time.Time
	PaidAt          time.Time
	CompletedAt     time.Time
	FailureReason   string // why the order failed, went manual or was refunded
	FulfillmentRef  string // tx hash or provider reference of the delivery
	PaidTxHash      string // ton_memo: the transfer that paid it
}

// OrderFilter selects orders for a listing, newest first.
type OrderFilter struct {
	UserID int64       // owner; 0 = every owner (admin listings)
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

// NormalizeMemo is how memos are compared: trimmed and upper-cased.
func NormalizeMemo(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

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
