package shop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"
)

// QuoteRequest asks for the price of Stars (Stars set) or Premium (Months set).
type QuoteRequest struct {
	Type   OrderType
	Stars  int64
	Months int
}

// Quote is a price computed from the price list and the current rate.
// Estimates and orders use the same computation.
type Quote struct {
	Type     OrderType
	Stars    int64
	Months   int
	PriceUSD MicroUSD // list price before fee
	FeePPM   int64
	FeeTON   NanoTON // the fee part of PriceTON
	PriceTON NanoTON // what the buyer pays: a whole multiple of the price step (PRICE_STEP_TON)
	Rate     Rate
}

// Quote prices Stars or Premium at the current rate, rounded up to the
// service's price step (PriceTON).
//
// Errors: VALIDATION_ERROR (unknown type, quantity outside the limits,
// months not 3/6/12), INTERNAL_ERROR (no rate available).
func (s *Service) Quote(ctx context.Context, req QuoteRequest) (*Quote, error) {
	p := s.Pricing()
	q := &Quote{Type: req.Type, FeePPM: p.FeePPM}
	switch req.Type {
	case OrderStars:
		if req.Stars < p.StarsMin || req.Stars > p.StarsMax {
			return nil, Errorf(EVALIDATION, "quantity must be between %d and %d", p.StarsMin, p.StarsMax)
		}
		q.Stars = req.Stars
		q.PriceUSD = MicroUSD(req.Stars) * p.USDPerStar // ≤ 1e8 × a sane price: validated limits keep this far from overflow
	case OrderPremium:
		if !premiumMonthsValid(req.Months) {
			return nil, Errorf(EVALIDATION, "months must be 3, 6 or 12")
		}
		q.Months = req.Months
		q.PriceUSD = p.PremiumUSD[req.Months]
	default:
		return nil, Errorf(EVALIDATION, "order_type must be stars or premium")
	}
	rate, err := s.Rate(ctx)
	if err != nil {
		return nil, err
	}
	q.Rate = rate
	if q.PriceTON, q.FeeTON, err = PriceTON(q.PriceUSD, rate.TONUSD, p.FeePPM, s.priceStep()); err != nil {
		return nil, err
	}
	return q, nil
}

// priceStep is the step prices are rounded up to.
func (s *Service) priceStep() NanoTON {
	if s.PriceStep > 0 {
		return s.PriceStep
	}
	return DefaultPriceStep
}

// Locked quotes: a price held for one user and one item.
const (
	DefaultQuoteTTL = 60 * time.Second // QUOTE_TTL's default
	MinQuoteTTL     = 10 * time.Second // QUOTE_TTL's bounds
	MaxQuoteTTL     = 10 * time.Minute

	// QuoteRetention is how long a quote is remembered after it expires,
	// so that a late order says QUOTE_EXPIRED (or QUOTE_USED) rather than
	// NOT_FOUND. Maintenance deletes it after that.
	QuoteRetention = time.Hour

	// QuoteIDLen is the length of a quote id: 128 random bits in unpadded
	// URL-safe base64.
	QuoteIDLen = 22

	// quotePurgeChunk is how many quotes one maintenance transaction
	// deletes at most.
	quotePurgeChunk = 1000
)

// LockedQuote is a Quote held for its owner: an order for the same item
// created with its ID before ExpiresAt costs exactly PriceTON, whatever the
// price list or the rate says by then. One quote pays for one order.
type LockedQuote struct {
	Quote
	ID        string // QuoteIDLen URL-safe characters, unguessable
	UserID    int64  // the owner: nobody else can see or use it
	CreatedAt time.Time
	ExpiresAt time.Time
	OrderID   int64 // the order that used it; 0 while unused
}

// Expired reports whether the quote can no longer be used at now.
func (q *LockedQuote) Expired(now time.Time) bool { return !now.Before(q.ExpiresAt) }

// quoteTTL is how long a new quote holds.
func (s *Service) quoteTTL() time.Duration {
	if s.QuoteTTL > 0 {
		return s.QuoteTTL
	}
	return DefaultQuoteTTL
}

// LockQuote prices Stars or Premium as Quote does and holds that price for
// userID for QuoteTTL: CreateOrderRequest.QuoteID charges exactly it.
//
// Errors: VALIDATION_ERROR (as Quote), NOT_FOUND (no such user),
// UNAUTHORIZED (user banned), INTERNAL_ERROR (no rate available).
func (s *Service) LockQuote(ctx context.Context, userID int64, req QuoteRequest) (*LockedQuote, error) {
	if userID <= 0 {
		return nil, Errorf(EVALIDATION, "user id must be positive")
	}
	q, err := s.Quote(ctx, req)
	if err != nil {
		return nil, err
	}
	id := newQuoteID()
	var lq *LockedQuote
	err = s.Store.Update(ctx, func(tx Tx) error {
		lq = nil
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		if user.Banned {
			return Errorf(EUNAUTHORIZED, "this account is banned")
		}
		now := s.now()
		q := &LockedQuote{Quote: *q, ID: id, UserID: userID, CreatedAt: now, ExpiresAt: now.Add(s.quoteTTL())}
		if err := tx.PutQuote(q); err != nil {
			return err
		}
		lq = q
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lq, nil
}

// FindQuote returns one of userID's quotes, used, expired or not, while it
// is remembered (QuoteRetention after it expires).
//
// Errors: VALIDATION_ERROR (not a quote id), NOT_FOUND (no such quote, or
// another user's).
func (s *Service) FindQuote(ctx context.Context, userID int64, id string) (*LockedQuote, error) {
	if err := validQuoteID(id); err != nil {
		return nil, err
	}
	var q *LockedQuote
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		q, err = findOwnQuote(tx, userID, id)
		return err
	})
	return q, err
}

// findOwnQuote returns userID's quote id; another user's is NOT_FOUND, as
// an unknown one: an id says nothing about its owner's quotes.
func findOwnQuote(tx Tx, userID int64, id string) (*LockedQuote, error) {
	q, err := tx.FindQuote(id)
	if ErrorCode(err) == ENOTFOUND || (err == nil && q.UserID != userID) {
		return nil, Errorf(ENOTFOUND, "quote %s not found (quotes are forgotten %s after they expire)", id, QuoteRetention)
	}
	return q, err
}

// useQuote checks that order, about to be created by CreateOrder, may use
// quote id, and prices it with the quote: the item must be the quote's,
// the quote unused and unexpired. It marks the quote used by the order.
// Runs inside the order's transaction.
func useQuote(tx Tx, now time.Time, id string, order *Order) error {
	q, err := findOwnQuote(tx, order.UserID, id)
	if err != nil {
		return err
	}
	if q.Type != order.Type || q.Stars != order.Stars || q.Months != order.Months {
		return Errorf(EVALIDATION, "quote %s is for %s, not %s", id, quoteItem(q.Type, q.Stars, q.Months), quoteItem(order.Type, order.Stars, order.Months))
	}
	if q.OrderID != 0 {
		return Errorf(EQUOTEUSED, "quote %s was already used by order %d; request a new quote", id, q.OrderID)
	}
	if q.Expired(now) {
		return Errorf(EQUOTEEXPIRED, "quote %s expired at %s; request a new quote", id, q.ExpiresAt.UTC().Format(time.RFC3339))
	}
	order.PriceTON, order.PriceUSD, order.FeeTON, order.TONUSD = q.PriceTON, q.PriceUSD, q.FeeTON, q.Rate.TONUSD
	q.OrderID = order.ID
	return tx.PutQuote(q)
}

// quoteItem names an item in an error message.
func quoteItem(t OrderType, stars int64, months int) string {
	switch t {
	case OrderStars:
		return fmt.Sprintf("%d stars", stars)
	case OrderPremium:
		return fmt.Sprintf("%d months of premium", months)
	}
	return "no item"
}

// newQuoteID returns 128 random bits as QuoteIDLen URL-safe characters.
func newQuoteID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validQuoteID checks the form of a quote id given by a client.
func validQuoteID(id string) error {
	if len(id) != QuoteIDLen {
		return Errorf(EVALIDATION, "quote_id must be the %d-character id POST /quotes returned", QuoteIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return Errorf(EVALIDATION, "quote_id must be the %d-character id POST /quotes returned", QuoteIDLen)
		}
	}
	return nil
}

// PurgeQuotes deletes the quotes that expired more than QuoteRetention
// ago, at most 1000 per transaction, and returns how many.
func (s *Service) PurgeQuotes(ctx context.Context) (int, error) {
	before := s.now().Add(-QuoteRetention)
	total := 0
	for {
		var n int
		err := s.Store.Update(ctx, func(tx Tx) (err error) {
			n, err = tx.DeleteQuotesExpired(before, quotePurgeChunk)
			return err
		})
		total += n
		if err != nil || n < quotePurgeChunk {
			return total, err
		}
	}
}
