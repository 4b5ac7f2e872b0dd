package shop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Service is the shop's one set of business operations. The bot and the
// partner API call it for everything; each operation that moves money writes
// the balance and its ledger entry in one store transaction.
type Service struct {
	Store          Store
	Rates          RateSource
	DepositAddress string           // the service wallet that receives deposits and ton_memo payments; required
	Recipients     RecipientChecker // optional: the fulfillment provider's recipient lookup, asked before an order is created
	Now            func() time.Time // default time.Now
	Logger         *slog.Logger     // default slog.Default()

	// MinDeposit is the smallest transfer the shop books (TON_MIN_DEPOSIT).
	// A smaller one, whatever its memo, is recorded as an ignored deposit
	// (dust): never credited, never alerted. 0 (the default) books every
	// positive amount.
	MinDeposit NanoTON

	pricing atomic.Pointer[Pricing]

	mu          sync.Mutex
	subscribers []func(Event)
}

// NewService returns a Service over store, with rates and a validated
// pricing. depositAddress is shown to users for top-ups and ton_memo orders.
func NewService(store Store, rates RateSource, pricing Pricing, depositAddress string) (*Service, error) {
	s := &Service{Store: store, Rates: rates, DepositAddress: depositAddress}
	if err := s.SetPricing(pricing); err != nil {
		return nil, err
	}
	return s, nil
}

// Pricing returns the price list and limits in force.
func (s *Service) Pricing() Pricing { return *s.pricing.Load() }

// SetPricing replaces the price list after validating it (VALIDATION_ERROR).
func (s *Service) SetPricing(p Pricing) error {
	if err := p.Validate(); err != nil {
		return Errorf(EVALIDATION, "%s", err.Error())
	}
	months := make(map[int]MicroUSD, len(p.PremiumUSD))
	for k, v := range p.PremiumUSD {
		months[k] = v
	}
	p.PremiumUSD = months
	s.pricing.Store(&p)
	return nil
}

// Subscribe registers fn to receive every Event after its transaction
// commits. fn must not block.
func (s *Service) Subscribe(fn func(Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subscribers = append(s.subscribers, fn)
}

func (s *Service) emit(events ...Event) {
	s.mu.Lock()
	subs := s.subscribers
	s.mu.Unlock()
	for _, e := range events {
		for _, fn := range subs {
			fn(e)
		}
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ---- users -------------------------------------------------------------

// EnsureUser returns the user with u.ID, creating it on first contact with a
// new personal deposit memo, and keeps its username current. It writes only
// when something changed.
//
// Errors: VALIDATION_ERROR (id not positive).
func (s *Service) EnsureUser(ctx context.Context, u UserUpdate) (*User, error) {
	if u.ID <= 0 {
		return nil, Errorf(EVALIDATION, "user id must be positive")
	}
	username := strings.TrimPrefix(strings.TrimSpace(u.Username), "@")
	if username != "" && !usernameRE.MatchString(username) {
		username = "" // not a name Telegram issues; store nothing rather than junk
	}
	var existing *User
	err := s.Store.View(ctx, func(tx Tx) error {
		var err error
		existing, err = tx.FindUserByID(u.ID)
		return err
	})
	if err == nil && existing.Username == username {
		return existing, nil
	} else if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, err
	}

	var user *User
	err = s.Store.Update(ctx, func(tx Tx) error {
		user = nil
		found, err := tx.FindUserByID(u.ID)
		switch {
		case err == nil:
			if found.Username == username {
				user = found
				return nil
			}
			found.Username = username
			user = found
		case ErrorCode(err) == ENOTFOUND:
			memo, err := newMemo(tx, func() string { return "AP" + randomDigits(9) })
			if err != nil {
				return err
			}
			user = &User{
				ID:           u.ID,
				Username:     username,
				Language:     NormalizeLanguage(u.LanguageCode),
				Memo:         memo,
				StartPayload: truncateUTF8(u.StartPayload, 64),
				CreatedAt:    s.now(),
			}
		default:
			return err
		}
		return tx.PutUser(user)
	})
	if err != nil {
		return nil, err
	}
	return user, nil
}

// SetLanguage changes a user's language.
//
// Errors: VALIDATION_ERROR (unknown language), NOT_FOUND (no such user).
func (s *Service) SetLanguage(ctx context.Context, userID int64, lang string) (*User, error) {
	if NormalizeLanguage(lang) != lang {
		return nil, Errorf(EVALIDATION, "language must be one of %s", strings.Join(Languages, ", "))
	}
	var user *User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if user, err = findUser(tx, userID); err != nil {
			return err
		}
		user.Language = lang
		return tx.PutUser(user)
	})
	return user, err
}

// SetBanned bans or unbans a user. A banned user can neither buy nor use
// API keys; money still reaches a banned user's balance, never lost.
//
// Errors: NOT_FOUND.
func (s *Service) SetBanned(ctx context.Context, userID int64, banned bool) (*User, error) {
	var user *User
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if user, err = findUser(tx, userID); err != nil {
			return err
		}
		user.Banned = banned
		return tx.PutUser(user)
	})
	return user, err
}

// FindUser returns a user by Telegram id.
//
// Errors: NOT_FOUND.
func (s *Service) FindUser(ctx context.Context, id int64) (*User, error) {
	var user *User
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		user, err = findUser(tx, id)
		return err
	})
	return user, err
}

// FindUserByUsername returns a user by Telegram username ("@name" or "name").
//
// Errors: VALIDATION_ERROR (not a username), NOT_FOUND.
func (s *Service) FindUserByUsername(ctx context.Context, name string) (*User, error) {
	name, err := NormalizeUsername(name)
	if err != nil {
		return nil, err
	}
	var user *User
	err = s.Store.View(ctx, func(tx Tx) (err error) {
		user, err = tx.FindUserByUsername(name)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "user @%s not found", name)
		}
		return err
	})
	return user, err
}

func findUser(tx Tx, id int64) (*User, error) {
	u, err := tx.FindUserByID(id)
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(ENOTFOUND, "user %d not found", id)
	}
	return u, err
}

// ---- pricing -----------------------------------------------------------

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
	PriceTON NanoTON // what the buyer pays
	Rate     Rate
}

// Quote prices Stars or Premium at the current rate.
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
	if q.PriceTON, q.FeeTON, err = PriceTON(q.PriceUSD, rate.TONUSD, p.FeePPM); err != nil {
		return nil, err
	}
	return q, nil
}

// Rate returns the current TON/USD rate, the one quotes use.
//
// Errors: INTERNAL_ERROR (no rate available).
func (s *Service) Rate(ctx context.Context) (Rate, error) {
	rate, err := s.Rates.Rate(ctx)
	if err != nil {
		return Rate{}, fmt.Errorf("rate: %w", err)
	}
	if rate.TONUSD <= 0 {
		return Rate{}, fmt.Errorf("rate source %q returned a non-positive rate", rate.Source)
	}
	return rate, nil
}

// CheckRecipient tells whether username can receive kind (Stars or
// Premium), asking the fulfillment provider. Without a provider lookup only
// the username's form is checked.
//
// Errors: VALIDATION_ERROR (kind, username form), INTERNAL_ERROR (the
// provider could not tell).
func (s *Service) CheckRecipient(ctx context.Context, kind OrderType, username string) (*RecipientCheck, error) {
	if kind != OrderStars && kind != OrderPremium {
		return nil, Errorf(EVALIDATION, "order_type must be stars or premium")
	}
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if s.Recipients == nil {
		return &RecipientCheck{Username: name, CanReceive: true}, nil
	}
	rc, err := s.Recipients.CheckRecipient(ctx, kind, name)
	if err != nil {
		return nil, fmt.Errorf("recipient lookup: %w", err)
	}
	rc.Username = name
	return rc, nil
}

// checkNewRecipient refuses an order for a recipient the provider says
// cannot receive it. When the provider cannot tell, the order goes ahead:
// the fulfillment worker refunds it if delivery turns out impossible.
func (s *Service) checkNewRecipient(ctx context.Context, req *CreateOrderRequest) error {
	if s.Recipients == nil {
		return nil
	}
	if req.IdempotencyKey != "" {
		// A repeat of a request that already created an order returns that
		// order whatever the provider says now.
		var seen bool
		err := s.Store.View(ctx, func(tx Tx) error {
			rec, err := tx.FindIdempotency(req.UserID, req.IdempotencyKey)
			seen = err == nil && rec.ExpiresAt.After(s.now())
			if ErrorCode(err) == ENOTFOUND {
				return nil
			}
			return err
		})
		if err != nil || seen {
			return err
		}
	}
	rc, err := s.CheckRecipient(ctx, req.Type, req.Recipient)
	if err != nil {
		s.logger().Warn("recipient lookup failed; creating the order unchecked", "recipient", req.Recipient, "error", err)
		return nil
	}
	if !rc.CanReceive {
		reason := rc.Reason
		if reason == "" {
			reason = "not found"
		}
		return Errorf(ERECIPIENT, "@%s cannot receive %s: %s", req.Recipient, req.Type, reason)
	}
	return nil
}

// ---- orders ------------------------------------------------------------

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
	Fingerprint     string        // optional: identifies the request for IdempotencyKey (the API passes a hash of the raw body); default: a hash of the normalized fields
	Source          string        // front door: "bot", "api", "simple_api"
}

// CreateOrder prices and creates an order. A balance order is paid at once:
// the balance is debited, the ledger written and the order queued for
// fulfillment in one transaction. A ton_memo order gets its own memo and the
// deposit address and waits for payment until its TTL.
//
// With an IdempotencyKey, a repeat of the same request by the same user
// within 24 h returns the order the first one created, and a different
// request under the same key fails.
//
// When the service has a recipient lookup, a recipient the provider says
// cannot receive the order is refused before anything is written.
//
// Errors: VALIDATION_ERROR, NOT_FOUND (no such user), UNAUTHORIZED (user
// banned), RECIPIENT_NOT_FOUND, INSUFFICIENT_BALANCE, IDEMPOTENCY_CONFLICT,
// INTERNAL_ERROR.
func (s *Service) CreateOrder(ctx context.Context, req CreateOrderRequest) (*Order, error) {
	if err := s.normalizeOrderRequest(&req); err != nil {
		return nil, err
	}
	quote, err := s.Quote(ctx, QuoteRequest{Type: req.Type, Stars: req.Stars, Months: req.Months})
	if err != nil {
		return nil, err
	}
	if err := s.checkNewRecipient(ctx, &req); err != nil {
		return nil, err
	}
	fingerprint := req.fingerprint()
	ttl := s.Pricing().OrderTTL

	var order *Order
	var paid bool
	err = s.Store.Update(ctx, func(tx Tx) error {
		order, paid = nil, false
		now := s.now()
		if req.IdempotencyKey != "" {
			rec, err := tx.FindIdempotency(req.UserID, req.IdempotencyKey)
			if err == nil && rec.ExpiresAt.After(now) {
				if subtle.ConstantTimeCompare([]byte(rec.Fingerprint), []byte(fingerprint)) != 1 {
					return Errorf(ECONFLICT, "Idempotency-Key was already used with a different request")
				}
				order, err = tx.FindOrderByID(rec.OrderID)
				return err
			} else if err != nil && ErrorCode(err) != ENOTFOUND {
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
		switch req.PaymentMethod {
		case PayBalance:
			if user.Balance < order.PriceTON {
				return Errorf(EINSUFFICIENT, "insufficient balance: the order costs %s TON, the balance is %s TON", order.PriceTON, user.Balance)
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
			order.PaymentAddress = s.DepositAddress
			order.ExpiresAt = now.Add(ttl)
			if err := tx.PutOrder(order); err != nil {
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
	switch req.Type {
	case OrderStars:
		req.Months = 0
	case OrderPremium:
		req.Stars = 0
	}
	if err := validateText("client_reference", req.ClientReference, MaxClientReference); err != nil {
		return err
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
	sum := sha256.Sum256(fmt.Appendf(nil, "v1\x00%s\x00%d\x00%d\x00%s\x00%s\x00%s",
		r.Type, r.Stars, r.Months, strings.ToLower(r.Recipient), r.PaymentMethod, r.ClientReference))
	return hex.EncodeToString(sum[:])
}

// validateText checks a free-text field: valid UTF-8, no control characters,
// at most max characters.
func validateText(field, s string, max int) error {
	if !utf8.ValidString(s) {
		return Errorf(EVALIDATION, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(s) > max {
		return Errorf(EVALIDATION, "%s must be at most %d characters", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return Errorf(EVALIDATION, "%s must not contain control characters", field)
		}
	}
	return nil
}

// markPaid moves order to paid, stores it and queues it for fulfillment.
func (s *Service) markPaid(tx Tx, order *Order, txHash string) error {
	order.Status = StatusPaid
	order.PaidAt = s.now()
	order.PaidTxHash = txHash
	if err := tx.PutOrder(order); err != nil {
		return err
	}
	return tx.Enqueue(order.ID)
}

// CancelOrder cancels an unpaid order of its owner. Cancelling an order
// that is already cancelled returns it unchanged, so a retried cancel
// succeeds.
//
// Errors: NOT_FOUND (no such order, or not the user's),
// ORDER_NOT_CANCELLABLE (neither pending_payment nor cancelled).
func (s *Service) CancelOrder(ctx context.Context, userID, orderID int64) (*Order, error) {
	var order *Order
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = findOwnOrder(tx, userID, orderID); err != nil {
			return err
		}
		if order.Status == StatusCancelled {
			return nil
		}
		if order.Status != StatusPendingPayment {
			return Errorf(ENOTCANCELLABLE, "order %d is %s; only pending_payment orders can be cancelled", order.ID, order.Status)
		}
		order.Status = StatusCancelled
		return tx.PutOrder(order)
	})
	return order, err
}

// ExpireOrders moves every pending_payment order whose TTL has passed to
// expired and forgets idempotency keys older than 24 h. It returns how many
// orders expired. A payment that arrives later still reaches the buyer's
// balance (see CreditDeposit).
func (s *Service) ExpireOrders(ctx context.Context) (int, error) {
	now := s.now()
	var due []int64
	err := s.Store.View(ctx, func(tx Tx) error {
		due = due[:0]
		return tx.ForEachOrderByStatus(StatusPendingPayment, func(o *Order) error {
			if !o.ExpiresAt.IsZero() && !now.Before(o.ExpiresAt) {
				due = append(due, o.ID)
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	var expired []*Order
	err = s.Store.Update(ctx, func(tx Tx) error {
		expired = expired[:0]
		for _, id := range due {
			o, err := tx.FindOrderByID(id)
			if err != nil {
				return err
			}
			if o.Status != StatusPendingPayment { // paid or cancelled meanwhile
				continue
			}
			o.Status = StatusExpired
			if err := tx.PutOrder(o); err != nil {
				return err
			}
			expired = append(expired, o)
		}
		_, err := tx.DeleteIdempotencyExpired(now)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, o := range expired {
		s.emit(Event{Type: EventOrderExpired, UserID: o.UserID, OrderID: o.ID})
	}
	return len(expired), nil
}

// RunMaintenance calls ExpireOrders every interval until ctx is done.
// Failures are logged and retried at the next tick.
func (s *Service) RunMaintenance(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.ExpireOrders(ctx); err != nil && ctx.Err() == nil {
			s.logger().Error("expire orders", "error", err)
		} else if n > 0 {
			s.logger().Info("orders expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Refund returns a paid order's price to its buyer's balance with a refund
// ledger entry, and marks it refunded. adminID is 0 when the system refunds
// (a permanent fulfillment failure). Orders in paid, manual or failed can be
// refunded; an order being processed must first reach one of those.
//
// Errors: VALIDATION_ERROR (no reason), NOT_FOUND, INVALID_STATE.
func (s *Service) Refund(ctx context.Context, adminID, orderID int64, reason string) (*Order, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, Errorf(EVALIDATION, "a refund needs a reason")
	}
	if err := validateText("reason", reason, 256); err != nil {
		return nil, err
	}
	var order *Order
	var balance NanoTON
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = findOwnOrder(tx, 0, orderID); err != nil {
			return err
		}
		switch order.Status {
		case StatusPaid, StatusManual, StatusFailed:
		default:
			return Errorf(EINVALIDSTATE, "order %d is %s; only paid, manual or failed orders can be refunded", order.ID, order.Status)
		}
		balance, err = s.refund(tx, order, adminID, reason)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventOrderRefunded, UserID: order.UserID, OrderID: order.ID, Amount: order.PriceTON, Balance: balance})
	return order, nil
}

// refund credits order's price back to its buyer with a refund ledger
// entry, marks it refunded with reason and takes it off the queue. The
// caller has checked that the order may be refunded.
func (s *Service) refund(tx Tx, order *Order, adminID int64, reason string) (NanoTON, error) {
	user, err := findUser(tx, order.UserID)
	if err != nil {
		return 0, err
	}
	balance, err := s.post(tx, user, &LedgerEntry{Type: LedgerRefund, Amount: order.PriceTON, OrderID: order.ID, AdminID: adminID, Reason: reason})
	if err != nil {
		return 0, err
	}
	order.Status = StatusRefunded
	order.FailureReason = reason
	if err := tx.PutOrder(order); err != nil {
		return 0, err
	}
	return balance, tx.Dequeue(order.ID)
}

// FindOrder returns an order by id. userID 0 means any owner (admins);
// otherwise another user's order is NOT_FOUND.
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
	if ErrorCode(err) == ENOTFOUND || (err == nil && userID != 0 && o.UserID != userID) {
		return nil, Errorf(ENOTFOUND, "order %d not found", orderID)
	}
	return o, err
}

// FindOrderByMemo returns the order with a payment memo (case-insensitive).
// userID 0 means any owner.
//
// Errors: NOT_FOUND.
func (s *Service) FindOrderByMemo(ctx context.Context, userID int64, memo string) (*Order, error) {
	var order *Order
	err := s.Store.View(ctx, func(tx Tx) error {
		o, err := tx.FindOrderByMemo(NormalizeMemo(memo))
		if ErrorCode(err) == ENOTFOUND || (err == nil && userID != 0 && o.UserID != userID) {
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
		return nil, 0, Errorf(EVALIDATION, "unknown status %q", truncateUTF8(string(f.Status), 32))
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
// orders that were not refunded, and what was delivered.
func (s *Service) OrderStats(ctx context.Context, userID int64) (*OrderStats, error) {
	st := &OrderStats{ByStatus: make(map[OrderStatus]int, len(OrderStatuses))}
	for _, status := range OrderStatuses {
		st.ByStatus[status] = 0
	}
	err := s.Store.View(ctx, func(tx Tx) error {
		return tx.ForEachOrderOfUser(userID, func(o *Order) error {
			st.Total++
			st.ByStatus[o.Status]++
			switch o.Status {
			case StatusPaid, StatusProcessing, StatusManual, StatusCompleted:
				st.SpentTON += o.PriceTON
			}
			if o.Status == StatusCompleted {
				st.StarsDelivered += o.Stars
				st.MonthsDelivered += int64(o.Months)
			}
			return nil
		})
	})
	return st, err
}

// ---- money ---------------------------------------------------------------

// post applies a ledger entry to user's balance: it refuses a negative
// result (INSUFFICIENT_BALANCE) or an overflow, appends the entry with its
// BalanceAfter and stores the user. It is the only place a balance changes.
func (s *Service) post(tx Tx, user *User, e *LedgerEntry) (NanoTON, error) {
	if e.Amount == 0 {
		return 0, errors.New("ledger entry of zero")
	}
	if e.Amount > 0 && user.Balance > math.MaxInt64-e.Amount {
		return 0, errors.New("balance overflow")
	}
	after := user.Balance + e.Amount
	if after < 0 {
		return 0, Errorf(EINSUFFICIENT, "insufficient balance: %s TON needed, the balance is %s TON", -e.Amount, user.Balance)
	}
	e.UserID = user.ID
	e.BalanceAfter = after
	e.CreatedAt = s.now()
	if err := tx.AppendLedger(e); err != nil {
		return 0, err
	}
	user.Balance = after
	return after, tx.PutUser(user)
}

// AdminCredit adds amount to a user's balance with an admin_credit ledger
// entry naming the admin and the reason.
//
// Errors: VALIDATION_ERROR (amount not positive, no reason), NOT_FOUND.
func (s *Service) AdminCredit(ctx context.Context, adminID, userID int64, amount NanoTON, reason string) (*LedgerEntry, error) {
	return s.adminPost(ctx, adminID, userID, LedgerAdminCredit, amount, reason)
}

// AdminDebit removes amount from a user's balance with an admin_debit
// ledger entry; it never makes a balance negative.
//
// Errors: VALIDATION_ERROR, NOT_FOUND, INSUFFICIENT_BALANCE.
func (s *Service) AdminDebit(ctx context.Context, adminID, userID int64, amount NanoTON, reason string) (*LedgerEntry, error) {
	return s.adminPost(ctx, adminID, userID, LedgerAdminDebit, -amount, reason)
}

func (s *Service) adminPost(ctx context.Context, adminID, userID int64, typ LedgerType, amount NanoTON, reason string) (*LedgerEntry, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case amount == 0 || (typ == LedgerAdminCredit) != (amount > 0):
		return nil, Errorf(EVALIDATION, "amount must be positive")
	case reason == "":
		return nil, Errorf(EVALIDATION, "a reason is required")
	}
	if err := validateText("reason", reason, 256); err != nil {
		return nil, err
	}
	var entry *LedgerEntry
	err := s.Store.Update(ctx, func(tx Tx) error {
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		entry = &LedgerEntry{Type: typ, Amount: amount, AdminID: adminID, Reason: reason}
		_, err = s.post(tx, user, entry)
		return err
	})
	if err != nil {
		return nil, err
	}
	if typ == LedgerAdminCredit {
		s.emit(Event{Type: EventAdminCredit, UserID: userID, Amount: amount, Balance: entry.BalanceAfter})
	}
	return entry, nil
}

// Ledger lists a user's ledger entries, newest first. next is the cursor for
// the following page (pass it as f.Before), 0 when there is none.
func (s *Service) Ledger(ctx context.Context, f LedgerFilter) (entries []*LedgerEntry, next uint64, err error) {
	f.Limit = ClampLimit(f.Limit)
	var more bool
	err = s.Store.View(ctx, func(tx Tx) (err error) {
		entries, more, err = tx.FindLedger(f)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if more && len(entries) > 0 {
		next = entries[len(entries)-1].ID
	}
	return entries, next, nil
}

// ---- deposits ------------------------------------------------------------

// Limits on what the chain may hand us.
const (
	maxMemoBytes   = 512
	maxTxHashBytes = 128
	maxAddrBytes   = 128
)

// CreditDeposit books an incoming transfer, exactly once per transaction
// hash, and, when cur is not nil, saves the watcher's cursor in the same
// store transaction so that a crash neither skips nor doubles a deposit.
//
// A transfer of less than MinDeposit is dust (1-nanoTON spam carries
// advertising comments to busy wallets): it is recorded as an ignored
// deposit with Reason ReasonDust, so that it is counted and listed but
// never credited, never pays an order and never alerts anyone; only an
// EventDepositIgnored is emitted.
//
// Otherwise the memo (trimmed, case-insensitive) decides where the money goes:
//   - a user's personal memo: the whole amount to that user's balance;
//   - a pending order's memo, amount ≥ price, sent before the order
//     expired: the order is paid and queued, any surplus goes to the
//     buyer's balance;
//   - an order's memo otherwise (underpaid, late, cancelled, already paid):
//     the whole amount goes to the buyer's balance;
//   - anything else, a transfer without a memo included: an unmatched
//     deposit, kept for an admin to assign, with the transfer's
//     NoMemoReason as its Reason.
//
// A transaction hash seen before returns the deposit recorded then and
// changes nothing (but the cursor).
//
// Errors: VALIDATION_ERROR (bad hash, non-positive amount, oversized
// fields).
func (s *Service) CreditDeposit(ctx context.Context, t Transfer, cur *Cursor) (*Deposit, error) {
	deps, err := s.CreditDeposits(ctx, []Transfer{t}, cur)
	if err != nil {
		return nil, err
	}
	return deps[0], nil
}

// CreditDeposits books transfers in one store transaction, in order, each as
// CreditDeposit would, and saves cur (when not nil) in the same
// transaction. The chain watcher uses it to catch up many transfers with one
// commit. If any transfer is invalid nothing is booked.
//
// Errors: VALIDATION_ERROR (naming the first invalid transfer).
func (s *Service) CreditDeposits(ctx context.Context, ts []Transfer, cur *Cursor) ([]*Deposit, error) {
	ts = slices.Clone(ts)
	for i := range ts {
		if err := ts[i].normalize(); err != nil {
			if len(ts) > 1 {
				return nil, Errorf(EVALIDATION, "transfer %d (%s): %s", i, truncateUTF8(ts[i].Hash, 16), ErrorMessage(err))
			}
			return nil, err
		}
	}
	if cur != nil {
		c := *cur
		c.Hash = strings.ToLower(c.Hash)
		cur = &c
	}
	var deps []*Deposit
	var events []Event
	err := s.Store.Update(ctx, func(tx Tx) error {
		deps, events = deps[:0], events[:0]
		if cur != nil {
			if err := tx.PutCursor(cur); err != nil {
				return err
			}
		}
		for i := range ts {
			dep, evs, err := s.credit(tx, &ts[i])
			if err != nil {
				return err
			}
			deps, events = append(deps, dep), append(events, evs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(events...)
	return deps, nil
}

// normalize validates a transfer from the chain and puts it in canonical
// form.
func (t *Transfer) normalize() error {
	t.Hash = strings.ToLower(strings.TrimSpace(t.Hash))
	if t.Hash == "" || len(t.Hash) > maxTxHashBytes {
		return Errorf(EVALIDATION, "tx hash must be 1-%d hex characters", maxTxHashBytes)
	}
	if _, err := hex.DecodeString(t.Hash); err != nil {
		return Errorf(EVALIDATION, "tx hash must be hex")
	}
	if t.Amount <= 0 {
		return Errorf(EVALIDATION, "deposit amount must be positive")
	}
	if len(t.From) > maxAddrBytes {
		return Errorf(EVALIDATION, "sender address too long")
	}
	t.Memo = truncateUTF8(strings.ToValidUTF8(t.Memo, "\uFFFD"), maxMemoBytes)
	switch {
	case strings.TrimSpace(t.Memo) != "":
		t.NoMemoReason = ""
	case t.NoMemoReason == "":
	case !slices.Contains(noMemoReasons, t.NoMemoReason):
		t.NoMemoReason = NoMemoOther // not ours to store verbatim
	}
	return nil
}

// credit books one normalized transfer in tx, exactly once per hash, and
// returns its deposit and the events to emit after commit.
func (s *Service) credit(tx Tx, t *Transfer) (*Deposit, []Event, error) {
	if old, err := tx.FindDepositByHash(t.Hash); err == nil {
		return old, nil, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, nil, err
	}
	var events []Event
	now := s.now()
	dep := &Deposit{TxHash: t.Hash, LT: t.LT, From: t.From, Amount: t.Amount, Memo: t.Memo, ChainTime: t.Time.UTC(), CreatedAt: now}
	if t.Amount < s.MinDeposit {
		// Dust: before any memo is looked at, so that it can neither
		// credit a balance nor pay (or count towards) an order.
		dep.Status, dep.Reason = DepositIgnored, ReasonDust
		if err := tx.PutDeposit(dep); err != nil {
			return nil, nil, err
		}
		return dep, []Event{{Type: EventDepositIgnored, DepositID: dep.ID, Amount: dep.Amount}}, nil
	}
	memo := NormalizeMemo(t.Memo)

	credit := func(user *User, amount NanoTON, orderID int64) error {
		balance, err := s.post(tx, user, &LedgerEntry{Type: LedgerDeposit, Amount: amount, TxHash: t.Hash, OrderID: orderID})
		if err != nil {
			return err
		}
		events = append(events, Event{Type: EventDepositCredited, UserID: user.ID, OrderID: orderID, Amount: amount, Balance: balance})
		return nil
	}

	if memo == "" {
		dep.Status, dep.Reason = DepositUnmatched, t.NoMemoReason
	} else if user, err := tx.FindUserByMemo(memo); err == nil {
		dep.Status, dep.UserID = DepositCredited, user.ID
		if err := credit(user, t.Amount, 0); err != nil {
			return nil, nil, err
		}
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, nil, err
	} else if order, err := tx.FindOrderByMemo(memo); err == nil {
		owner, err := findUser(tx, order.UserID)
		if err != nil {
			return nil, nil, err
		}
		dep.UserID, dep.OrderID, dep.Status = owner.ID, order.ID, DepositCredited
		sentAt := dep.ChainTime
		if sentAt.IsZero() {
			sentAt = now
		}
		onTime := (order.Status == StatusPendingPayment || order.Status == StatusExpired) && sentAt.Before(order.ExpiresAt)
		surplus := t.Amount
		if onTime && t.Amount >= order.PriceTON {
			dep.Status = DepositOrderPaid
			surplus = t.Amount - order.PriceTON
			if err := s.markPaid(tx, order, t.Hash); err != nil {
				return nil, nil, err
			}
			events = append(events, Event{Type: EventOrderPaid, UserID: order.UserID, OrderID: order.ID})
		}
		if surplus > 0 {
			if err := credit(owner, surplus, order.ID); err != nil {
				return nil, nil, err
			}
		}
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, nil, err
	} else {
		dep.Status = DepositUnmatched
	}
	if err := tx.PutDeposit(dep); err != nil {
		return nil, nil, err
	}
	if dep.Status == DepositUnmatched {
		events = append(events, Event{Type: EventUnmatchedDeposit, Amount: dep.Amount})
	}
	for i := range events {
		events[i].DepositID = dep.ID
	}
	return dep, events, nil
}

// AssignDeposit credits an unmatched deposit to a user, once, on an admin's
// decision.
//
// Errors: NOT_FOUND (deposit or user), INVALID_STATE (not unmatched).
func (s *Service) AssignDeposit(ctx context.Context, adminID int64, depositID uint64, userID int64) (*Deposit, error) {
	var dep *Deposit
	var balance NanoTON
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		dep, err = tx.FindDepositByID(depositID)
		if ErrorCode(err) == ENOTFOUND {
			return Errorf(ENOTFOUND, "deposit %d not found", depositID)
		} else if err != nil {
			return err
		}
		if dep.Status != DepositUnmatched {
			return Errorf(EINVALIDSTATE, "deposit %d is %s, not unmatched", dep.ID, dep.Status)
		}
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		if balance, err = s.post(tx, user, &LedgerEntry{Type: LedgerDeposit, Amount: dep.Amount, TxHash: dep.TxHash, AdminID: adminID, Reason: "assigned unmatched deposit"}); err != nil {
			return err
		}
		dep.Status, dep.UserID, dep.AdminID = DepositAssigned, user.ID, adminID
		return tx.PutDeposit(dep)
	})
	if err != nil {
		return nil, err
	}
	s.emit(Event{Type: EventDepositCredited, UserID: userID, DepositID: dep.ID, Amount: dep.Amount, Balance: balance})
	return dep, nil
}

// FindDeposit returns a deposit by id.
//
// Errors: NOT_FOUND.
func (s *Service) FindDeposit(ctx context.Context, id uint64) (*Deposit, error) {
	var dep *Deposit
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		dep, err = tx.FindDepositByID(id)
		if ErrorCode(err) == ENOTFOUND {
			err = Errorf(ENOTFOUND, "deposit %d not found", id)
		}
		return err
	})
	return dep, err
}

// FindDeposits lists deposits, newest first, optionally only those with
// status; before is a deposit id cursor (0 = newest).
func (s *Service) FindDeposits(ctx context.Context, status DepositStatus, before uint64, limit int) ([]*Deposit, error) {
	var deps []*Deposit
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		deps, err = tx.FindDeposits(status, before, ClampLimit(limit))
		return err
	})
	return deps, err
}

// Cursor returns the chain watcher's saved position on account.
//
// Errors: NOT_FOUND (first start).
func (s *Service) Cursor(ctx context.Context, account string) (*Cursor, error) {
	var cur *Cursor
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		cur, err = tx.FindCursor(account)
		return err
	})
	return cur, err
}

// SaveCursor saves the watcher's position after transactions that credit
// nothing (CreditDeposit saves it together with a credit).
func (s *Service) SaveCursor(ctx context.Context, cur *Cursor) error {
	return s.Store.Update(ctx, func(tx Tx) error { return tx.PutCursor(cur) })
}

// ---- API keys ------------------------------------------------------------

// IssueKey creates a new API key for a user with prefix "osk_" or "sk_" and
// returns its plaintext, which is never stored and cannot be shown again.
// The user's previous active key with the same prefix is revoked.
//
// Errors: VALIDATION_ERROR (prefix), NOT_FOUND (user), UNAUTHORIZED (banned).
func (s *Service) IssueKey(ctx context.Context, userID int64, prefix string) (string, *APIKey, error) {
	if prefix != KeyPrefixOrders && prefix != KeyPrefixSimple {
		return "", nil, Errorf(EVALIDATION, "key prefix must be %s or %s", KeyPrefixOrders, KeyPrefixSimple)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", nil, err
	}
	plaintext := prefix + base64.RawURLEncoding.EncodeToString(secret)
	var key *APIKey
	err := s.Store.Update(ctx, func(tx Tx) error {
		user, err := findUser(tx, userID)
		if err != nil {
			return err
		}
		if user.Banned {
			return Errorf(EUNAUTHORIZED, "this account is banned")
		}
		now := s.now()
		if _, err := revokeKeys(tx, userID, prefix, now); err != nil {
			return err
		}
		key = &APIKey{Hash: HashKey(plaintext), Prefix: prefix, Hint: plaintext[:len(prefix)+4] + "…", UserID: userID, CreatedAt: now}
		return tx.PutAPIKey(key)
	})
	if err != nil {
		return "", nil, err
	}
	return plaintext, key, nil
}

// RevokeKey revokes a user's active keys with prefix ("" = all prefixes)
// and returns how many it revoked.
//
// Errors: VALIDATION_ERROR (prefix), NOT_FOUND (no active key).
func (s *Service) RevokeKey(ctx context.Context, userID int64, prefix string) (int, error) {
	if prefix != "" && prefix != KeyPrefixOrders && prefix != KeyPrefixSimple {
		return 0, Errorf(EVALIDATION, "key prefix must be %s or %s", KeyPrefixOrders, KeyPrefixSimple)
	}
	var n int
	err := s.Store.Update(ctx, func(tx Tx) (err error) {
		if n, err = revokeKeys(tx, userID, prefix, s.now()); err == nil && n == 0 {
			err = Errorf(ENOTFOUND, "no active API key")
		}
		return err
	})
	return n, err
}

func revokeKeys(tx Tx, userID int64, prefix string, now time.Time) (int, error) {
	keys, err := tx.FindAPIKeysByUser(userID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if k.Active() && (prefix == "" || k.Prefix == prefix) {
			k.RevokedAt = now
			if err := tx.PutAPIKey(k); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n, nil
}

// Keys returns a user's API keys (hashes and hints only), oldest first.
func (s *Service) Keys(ctx context.Context, userID int64) ([]*APIKey, error) {
	var keys []*APIKey
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		keys, err = tx.FindAPIKeysByUser(userID)
		return err
	})
	return keys, err
}

// Authenticate resolves a plaintext API key to its active key and owner.
// Every failure gives the same UNAUTHORIZED message so that callers learn
// nothing about which keys exist.
//
// Errors: UNAUTHORIZED (unknown, malformed or revoked key, banned owner).
func (s *Service) Authenticate(ctx context.Context, plaintext string) (*User, *APIKey, error) {
	invalid := Errorf(EUNAUTHORIZED, "invalid API key")
	if KeyPrefix(plaintext) == "" || len(plaintext) > 128 {
		return nil, nil, invalid
	}
	hash := HashKey(plaintext)
	var user *User
	var key *APIKey
	err := s.Store.View(ctx, func(tx Tx) error {
		var err error
		key, err = tx.FindAPIKeyByHash(hash)
		if ErrorCode(err) == ENOTFOUND {
			return invalid
		} else if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) != 1 || !key.Active() {
			return invalid
		}
		if user, err = findUser(tx, key.UserID); ErrorCode(err) == ENOTFOUND {
			return invalid
		} else if err != nil {
			return err
		}
		if user.Banned {
			return Errorf(EUNAUTHORIZED, "this account is banned")
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return user, key, nil
}

// ---- helpers -------------------------------------------------------------

// newMemo draws memos from gen until one is free.
func newMemo(tx Tx, gen func() string) (string, error) {
	for range 20 {
		memo := gen()
		taken, err := tx.MemoTaken(memo)
		if err != nil {
			return "", err
		}
		if !taken {
			return memo, nil
		}
	}
	return "", errors.New("could not find a free memo")
}

func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b)
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
