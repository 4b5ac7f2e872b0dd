package store

import (
	"time"

	"starsbot/shop"
)

// The records below are what is stored, as JSON. They are separate from the
// shop types so that a change there cannot silently change the file format.
// Money is stored as integer nano-TON / micro-USD.

type userRecord struct {
	ID           int64     `json:"id"`
	Username     string    `json:"username,omitempty"`
	Language     string    `json:"language,omitempty"`
	Memo         string    `json:"memo,omitempty"`
	Banned       bool      `json:"banned,omitempty"`
	Balance      int64     `json:"balance_nano"`
	StartPayload string    `json:"start_payload,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`

	ReferredBy      int64 `json:"referred_by,omitempty"`
	Referrals       int64 `json:"referrals,omitempty"`
	ReferralEarned  int64 `json:"referral_earned_nano,omitempty"`
	AlertLowBalance int64 `json:"alert_low_balance_nano,omitempty"`
	AlertLowSent    bool  `json:"alert_low_sent,omitempty"`
	AlertOrders     bool  `json:"alert_orders,omitempty"`
	AlertWebhooks   bool  `json:"alert_webhooks,omitempty"`
}

func newUserRecord(u *shop.User) *userRecord {
	return &userRecord{
		ID:           u.ID,
		Username:     u.Username,
		Language:     u.Language,
		Memo:         u.Memo,
		Banned:       u.Banned,
		Balance:      int64(u.Balance),
		StartPayload: u.StartPayload,
		CreatedAt:    u.CreatedAt,

		ReferredBy:      u.ReferredBy,
		Referrals:       u.Referrals,
		ReferralEarned:  int64(u.ReferralEarned),
		AlertLowBalance: int64(u.AlertLowBalance),
		AlertLowSent:    u.AlertLowSent,
		AlertOrders:     u.AlertOrders,
		AlertWebhooks:   u.AlertWebhooks,
	}
}

func (r *userRecord) user() *shop.User {
	return &shop.User{
		ID:           r.ID,
		Username:     r.Username,
		Language:     r.Language,
		Memo:         r.Memo,
		Banned:       r.Banned,
		Balance:      shop.NanoTON(r.Balance),
		StartPayload: r.StartPayload,
		CreatedAt:    r.CreatedAt,

		ReferredBy:      r.ReferredBy,
		Referrals:       r.Referrals,
		ReferralEarned:  shop.NanoTON(r.ReferralEarned),
		AlertLowBalance: shop.NanoTON(r.AlertLowBalance),
		AlertLowSent:    r.AlertLowSent,
		AlertOrders:     r.AlertOrders,
		AlertWebhooks:   r.AlertWebhooks,
	}
}

type apiKeyRecord struct {
	Hash      string    `json:"hash"`
	Prefix    string    `json:"prefix"`
	Hint      string    `json:"hint,omitempty"`
	UserID    int64     `json:"user_id"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func newAPIKeyRecord(k *shop.APIKey) *apiKeyRecord {
	return &apiKeyRecord{
		Hash:      k.Hash,
		Prefix:    k.Prefix,
		Hint:      k.Hint,
		UserID:    k.UserID,
		CreatedAt: k.CreatedAt,
		RevokedAt: k.RevokedAt,
	}
}

func (r *apiKeyRecord) apiKey() *shop.APIKey {
	return &shop.APIKey{
		Hash:      r.Hash,
		Prefix:    r.Prefix,
		Hint:      r.Hint,
		UserID:    r.UserID,
		CreatedAt: r.CreatedAt,
		RevokedAt: r.RevokedAt,
	}
}

type orderRecord struct {
	ID              int64     `json:"id"`
	UserID          int64     `json:"user_id"`
	Status          string    `json:"status"`
	Type            string    `json:"type"`
	Stars           int64     `json:"stars,omitempty"`
	Months          int       `json:"months,omitempty"`
	Recipient       string    `json:"recipient,omitempty"`
	PriceTON        int64     `json:"price_ton_nano"`
	PriceUSD        int64     `json:"price_usd_micro"`
	FeeTON          int64     `json:"fee_ton_nano"`
	TONUSD          int64     `json:"ton_usd_micro"`
	PaymentMethod   string    `json:"payment_method,omitempty"`
	PaymentAddress  string    `json:"payment_address,omitempty"`
	PaymentMemo     string    `json:"payment_memo,omitempty"`
	ClientReference string    `json:"client_reference,omitempty"`
	Source          string    `json:"source,omitempty"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	CreatedAt       time.Time `json:"created_at,omitzero"`
	PaidAt          time.Time `json:"paid_at,omitzero"`
	CompletedAt     time.Time `json:"completed_at,omitzero"`
	FailureReason   string    `json:"failure_reason,omitempty"`
	FulfillmentRef  string    `json:"fulfillment_ref,omitempty"`
	PaidTxHash      string    `json:"paid_tx_hash,omitempty"`
	PaymentCurrency string    `json:"payment_currency,omitempty"`
	PriceUSDT       int64     `json:"price_usdt_units,omitempty"`
}

func newOrderRecord(o *shop.Order) *orderRecord {
	return &orderRecord{
		ID:              o.ID,
		UserID:          o.UserID,
		Status:          string(o.Status),
		Type:            string(o.Type),
		Stars:           o.Stars,
		Months:          o.Months,
		Recipient:       o.Recipient,
		PriceTON:        int64(o.PriceTON),
		PriceUSD:        int64(o.PriceUSD),
		FeeTON:          int64(o.FeeTON),
		TONUSD:          int64(o.TONUSD),
		PaymentMethod:   string(o.PaymentMethod),
		PaymentAddress:  o.PaymentAddress,
		PaymentMemo:     o.PaymentMemo,
		ClientReference: o.ClientReference,
		Source:          string(o.Source),
		ExpiresAt:       o.ExpiresAt,
		CreatedAt:       o.CreatedAt,
		PaidAt:          o.PaidAt,
		CompletedAt:     o.CompletedAt,
		FailureReason:   o.FailureReason,
		FulfillmentRef:  o.FulfillmentRef,
		PaidTxHash:      o.PaidTxHash,
		PaymentCurrency: string(o.PaymentCurrency),
		PriceUSDT:       o.PriceUSDT,
	}
}

func (r *orderRecord) order() *shop.Order {
	return &shop.Order{
		ID:              r.ID,
		UserID:          r.UserID,
		Status:          shop.OrderStatus(r.Status),
		Type:            shop.OrderType(r.Type),
		Stars:           r.Stars,
		Months:          r.Months,
		Recipient:       r.Recipient,
		PriceTON:        shop.NanoTON(r.PriceTON),
		PriceUSD:        shop.MicroUSD(r.PriceUSD),
		FeeTON:          shop.NanoTON(r.FeeTON),
		TONUSD:          shop.MicroUSD(r.TONUSD),
		PaymentMethod:   shop.PaymentMethod(r.PaymentMethod),
		PaymentAddress:  r.PaymentAddress,
		PaymentMemo:     r.PaymentMemo,
		ClientReference: r.ClientReference,
		Source:          shop.OrderSource(r.Source),
		ExpiresAt:       r.ExpiresAt,
		CreatedAt:       r.CreatedAt,
		PaidAt:          r.PaidAt,
		CompletedAt:     r.CompletedAt,
		FailureReason:   r.FailureReason,
		FulfillmentRef:  r.FulfillmentRef,
		PaidTxHash:      r.PaidTxHash,
		PaymentCurrency: shop.Asset(r.PaymentCurrency),
		PriceUSDT:       r.PriceUSDT,
	}
}

type ledgerRecord struct {
	ID           uint64    `json:"id"`
	UserID       int64     `json:"user_id"`
	Type         string    `json:"type"`
	Amount       int64     `json:"amount_nano"`
	BalanceAfter int64     `json:"balance_after_nano"`
	OrderID      int64     `json:"order_id,omitempty"`
	TxHash       string    `json:"tx_hash,omitempty"`
	AdminID      int64     `json:"admin_id,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`
	Asset        string    `json:"asset,omitempty"`
	JettonAmount int64     `json:"jetton_amount,omitempty"`
	RateTONUSD   int64     `json:"rate_ton_usd_micro,omitempty"`
	RateUSDTUSD  int64     `json:"rate_usdt_usd_micro,omitempty"`
	FeeTON       int64     `json:"fee_nano,omitempty"`
}

func newLedgerRecord(e *shop.LedgerEntry) *ledgerRecord {
	return &ledgerRecord{
		ID:           e.ID,
		UserID:       e.UserID,
		Type:         string(e.Type),
		Amount:       int64(e.Amount),
		BalanceAfter: int64(e.BalanceAfter),
		OrderID:      e.OrderID,
		TxHash:       e.TxHash,
		AdminID:      e.AdminID,
		Reason:       e.Reason,
		CreatedAt:    e.CreatedAt,
		Asset:        string(e.Asset),
		JettonAmount: e.JettonAmount,
		RateTONUSD:   int64(e.RateTONUSD),
		RateUSDTUSD:  int64(e.RateUSDTUSD),
		FeeTON:       int64(e.FeeTON),
	}
}

func (r *ledgerRecord) entry() *shop.LedgerEntry {
	return &shop.LedgerEntry{
		ID:           r.ID,
		UserID:       r.UserID,
		Type:         shop.LedgerType(r.Type),
		Amount:       shop.NanoTON(r.Amount),
		BalanceAfter: shop.NanoTON(r.BalanceAfter),
		OrderID:      r.OrderID,
		TxHash:       r.TxHash,
		AdminID:      r.AdminID,
		Reason:       r.Reason,
		CreatedAt:    r.CreatedAt,
		Asset:        shop.Asset(r.Asset),
		JettonAmount: r.JettonAmount,
		RateTONUSD:   shop.MicroUSD(r.RateTONUSD),
		RateUSDTUSD:  shop.MicroUSD(r.RateUSDTUSD),
		FeeTON:       shop.NanoTON(r.FeeTON),
	}
}

type depositRecord struct {
	ID        uint64    `json:"id"`
	TxHash    string    `json:"tx_hash"`
	LT        uint64    `json:"lt"`
	From      string    `json:"from,omitempty"`
	Amount    int64     `json:"amount_nano"`
	Memo      string    `json:"memo,omitempty"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	UserID    int64     `json:"user_id,omitempty"`
	OrderID   int64     `json:"order_id,omitempty"`
	AdminID   int64     `json:"admin_id,omitempty"`
	ChainTime time.Time `json:"chain_time,omitzero"`
	CreatedAt time.Time `json:"created_at,omitzero"`

	Asset        string `json:"asset,omitempty"`
	JettonAmount int64  `json:"jetton_amount,omitempty"`
	JettonWallet string `json:"jetton_wallet,omitempty"`
	RateTONUSD   int64  `json:"rate_ton_usd_micro,omitempty"`
	RateUSDTUSD  int64  `json:"rate_usdt_usd_micro,omitempty"`
	FeeTON       int64  `json:"fee_nano,omitempty"`
}

func newDepositRecord(d *shop.Deposit) *depositRecord {
	return &depositRecord{
		ID:        d.ID,
		TxHash:    d.TxHash,
		LT:        d.LT,
		From:      d.From,
		Amount:    int64(d.Amount),
		Memo:      d.Memo,
		Status:    string(d.Status),
		Reason:    d.Reason,
		UserID:    d.UserID,
		OrderID:   d.OrderID,
		AdminID:   d.AdminID,
		ChainTime: d.ChainTime,
		CreatedAt: d.CreatedAt,

		Asset:        string(d.Asset),
		JettonAmount: d.JettonAmount,
		JettonWallet: d.JettonWallet,
		RateTONUSD:   int64(d.RateTONUSD),
		RateUSDTUSD:  int64(d.RateUSDTUSD),
		FeeTON:       int64(d.FeeTON),
	}
}

func (r *depositRecord) deposit() *shop.Deposit {
	return &shop.Deposit{
		ID:        r.ID,
		TxHash:    r.TxHash,
		LT:        r.LT,
		From:      r.From,
		Amount:    shop.NanoTON(r.Amount),
		Memo:      r.Memo,
		Status:    shop.DepositStatus(r.Status),
		Reason:    r.Reason,
		UserID:    r.UserID,
		OrderID:   r.OrderID,
		AdminID:   r.AdminID,
		ChainTime: r.ChainTime,
		CreatedAt: r.CreatedAt,

		Asset:        shop.Asset(r.Asset),
		JettonAmount: r.JettonAmount,
		JettonWallet: r.JettonWallet,
		RateTONUSD:   shop.MicroUSD(r.RateTONUSD),
		RateUSDTUSD:  shop.MicroUSD(r.RateUSDTUSD),
		FeeTON:       shop.NanoTON(r.FeeTON),
	}
}

type idempotencyRecord struct {
	UserID      int64     `json:"user_id"`
	Key         string    `json:"key"`
	Fingerprint string    `json:"fingerprint"`
	OrderID     int64     `json:"order_id"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

func newIdempotencyRecord(r *shop.Idempotency) *idempotencyRecord {
	return &idempotencyRecord{
		UserID:      r.UserID,
		Key:         r.Key,
		Fingerprint: r.Fingerprint,
		OrderID:     r.OrderID,
		ExpiresAt:   r.ExpiresAt,
	}
}

func (r *idempotencyRecord) idempotency() *shop.Idempotency {
	return &shop.Idempotency{
		UserID:      r.UserID,
		Key:         r.Key,
		Fingerprint: r.Fingerprint,
		OrderID:     r.OrderID,
		ExpiresAt:   r.ExpiresAt,
	}
}

type quoteRecord struct {
	ID            string    `json:"id"`
	UserID        int64     `json:"user_id"`
	Type          string    `json:"type"`
	Stars         int64     `json:"stars,omitempty"`
	Months        int       `json:"months,omitempty"`
	PriceUSD      int64     `json:"price_usd_micro"`
	FeePPM        int64     `json:"fee_ppm"`
	FeeTON        int64     `json:"fee_ton_nano"`
	PriceTON      int64     `json:"price_ton_nano"`
	TONUSD        int64     `json:"ton_usd_micro"`
	RateSource    string    `json:"rate_source,omitempty"`
	RateUpdatedAt time.Time `json:"rate_updated_at,omitzero"`
	CreatedAt     time.Time `json:"created_at,omitzero"`
	ExpiresAt     time.Time `json:"expires_at"`
	OrderID       int64     `json:"order_id,omitempty"`
}

func newQuoteRecord(q *shop.LockedQuote) *quoteRecord {
	return &quoteRecord{
		ID:            q.ID,
		UserID:        q.UserID,
		Type:          string(q.Type),
		Stars:         q.Stars,
		Months:        q.Months,
		PriceUSD:      int64(q.PriceUSD),
		FeePPM:        q.FeePPM,
		FeeTON:        int64(q.FeeTON),
		PriceTON:      int64(q.PriceTON),
		TONUSD:        int64(q.Rate.TONUSD),
		RateSource:    q.Rate.Source,
		RateUpdatedAt: q.Rate.UpdatedAt,
		CreatedAt:     q.CreatedAt,
		ExpiresAt:     q.ExpiresAt,
		OrderID:       q.OrderID,
	}
}

func (r *quoteRecord) quote() *shop.LockedQuote {
	return &shop.LockedQuote{
		Quote: shop.Quote{
			Type:     shop.OrderType(r.Type),
			Stars:    r.Stars,
			Months:   r.Months,
			PriceUSD: shop.MicroUSD(r.PriceUSD),
			FeePPM:   r.FeePPM,
			FeeTON:   shop.NanoTON(r.FeeTON),
			PriceTON: shop.NanoTON(r.PriceTON),
			Rate:     shop.Rate{TONUSD: shop.MicroUSD(r.TONUSD), Source: r.RateSource, UpdatedAt: r.RateUpdatedAt},
		},
		ID:        r.ID,
		UserID:    r.UserID,
		CreatedAt: r.CreatedAt,
		ExpiresAt: r.ExpiresAt,
		OrderID:   r.OrderID,
	}
}

type queueRecord struct {
	EnqueuedAt time.Time `json:"enqueued_at"`
	// The lease of the claim working on the order (shop.Tx.ClaimQueued).
	Claimant   string    `json:"claimant,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

type cursorRecord struct {
	Account string    `json:"account"`
	LT      uint64    `json:"lt"`
	Hash    string    `json:"hash"`
	Time    time.Time `json:"time,omitzero"`
}

func newCursorRecord(c *shop.Cursor) *cursorRecord {
	return &cursorRecord{Account: c.Account, LT: c.LT, Hash: c.Hash, Time: c.Time}
}

func (r *cursorRecord) cursor() *shop.Cursor {
	return &shop.Cursor{Account: r.Account, LT: r.LT, Hash: r.Hash, Time: r.Time}
}

type signedPayoutRecord struct {
	Hash       string    `json:"hash"`
	BOC        []byte    `json:"boc"`
	Wallet     string    `json:"wallet"`
	Seqno      uint32    `json:"seqno"`
	ValidUntil time.Time `json:"valid_until"`
	SignedAt   time.Time `json:"signed_at"`
	// A message's place of this payout and its highload_v3 identity (zero
	// in older records; the wallet reads them from the BOC).
	Index     int       `json:"index,omitempty"`
	QueryID   uint32    `json:"query_id,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	// What the message pays (absent in records made before they were
	// kept: then any sent message confirms).
	To       string       `json:"to,omitempty"`
	Amount   shop.NanoTON `json:"amount,omitempty"`
	BodyHash string       `json:"body_hash,omitempty"`
}

type payoutResultRecord struct {
	State   shop.PayoutState `json:"state"`
	TxHash  string           `json:"tx_hash,omitempty"`
	TxLT    uint64           `json:"tx_lt,omitempty"`
	Reason  string           `json:"reason,omitempty"`
	Bounced bool             `json:"bounced,omitempty"`
}

type deliveryRecord struct {
	OrderID       int64               `json:"order_id"`
	Provider      string              `json:"provider"`
	Step          string              `json:"step,omitempty"`
	Attempts      int                 `json:"attempts,omitempty"`
	NextAttemptAt time.Time           `json:"next_attempt_at,omitzero"`
	LastError     string              `json:"last_error,omitempty"`
	RequestID     string              `json:"request_id,omitempty"`
	Session       int                 `json:"session,omitempty"`
	PayTo         string              `json:"pay_to,omitempty"`
	PayAmount     shop.NanoTON        `json:"pay_amount,omitempty"`
	PayBy         time.Time           `json:"pay_by,omitzero"`
	Payload       []byte              `json:"payload,omitempty"`
	ConfirmMethod string              `json:"confirm_method,omitempty"`
	ConfirmParams map[string]string   `json:"confirm_params,omitempty"`
	Payout        *signedPayoutRecord `json:"payout,omitempty"`
	Paid          *payoutResultRecord `json:"paid,omitempty"`
	Confirmed     bool                `json:"confirmed,omitempty"`
	Ref           string              `json:"ref,omitempty"`
	UpdatedAt     time.Time           `json:"updated_at,omitzero"`
}

func newDeliveryRecord(d *shop.Delivery) *deliveryRecord {
	r := &deliveryRecord{
		OrderID: d.OrderID, Provider: d.Provider, Step: d.Step, Attempts: d.Attempts,
		NextAttemptAt: d.NextAttemptAt, LastError: d.LastError, RequestID: d.RequestID, Session: d.Session,
		PayTo: d.PayTo, PayAmount: d.PayAmount, PayBy: d.PayBy, Payload: d.Payload, Confirmed: d.Confirmed,
		Ref: d.Ref, UpdatedAt: d.UpdatedAt, ConfirmMethod: d.ConfirmMethod, ConfirmParams: d.ConfirmParams,
	}
	if p := d.Payout; p != nil {
		r.Payout = &signedPayoutRecord{Hash: p.Hash, BOC: p.BOC, Wallet: p.Wallet, Seqno: p.Seqno, ValidUntil: p.ValidUntil, SignedAt: p.SignedAt,
			Index: p.Index, QueryID: p.QueryID, CreatedAt: p.CreatedAt, To: p.To, Amount: p.Amount, BodyHash: p.BodyHash}
	}
	if p := d.Paid; p != nil {
		r.Paid = &payoutResultRecord{State: p.State, TxHash: p.TxHash, TxLT: p.TxLT, Reason: p.Reason, Bounced: p.Bounced}
	}
	return r
}

func (r *deliveryRecord) delivery() *shop.Delivery {
	d := &shop.Delivery{
		OrderID: r.OrderID, Provider: r.Provider, Step: r.Step, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt, LastError: r.LastError, RequestID: r.RequestID, Session: r.Session,
		PayTo: r.PayTo, PayAmount: r.PayAmount, PayBy: r.PayBy, Payload: r.Payload, Confirmed: r.Confirmed,
		Ref: r.Ref, UpdatedAt: r.UpdatedAt, ConfirmMethod: r.ConfirmMethod, ConfirmParams: r.ConfirmParams,
	}
	if p := r.Payout; p != nil {
		d.Payout = &shop.SignedPayout{Hash: p.Hash, BOC: p.BOC, Wallet: p.Wallet, Seqno: p.Seqno, ValidUntil: p.ValidUntil, SignedAt: p.SignedAt,
			Index: p.Index, QueryID: p.QueryID, CreatedAt: p.CreatedAt, To: p.To, Amount: p.Amount, BodyHash: p.BodyHash}
	}
	if p := r.Paid; p != nil {
		d.Paid = &shop.PayoutResult{State: p.State, TxHash: p.TxHash, TxLT: p.TxLT, Reason: p.Reason, Bounced: p.Bounced}
	}
	return d
}

type auditRecord struct {
	ID      uint64    `json:"id"`
	AdminID int64     `json:"admin_id"`
	Action  string    `json:"action"`
	Args    string    `json:"args,omitempty"`
	Result  string    `json:"result,omitempty"`
	Time    time.Time `json:"time"`
}

// pricingRecord is an admin's price list, kept as the setting
// settingPricing.
type pricingRecord struct {
	USDPerStar shop.MicroUSD         `json:"usd_per_star"`
	PremiumUSD map[int]shop.MicroUSD `json:"premium_usd"`
	FeePPM     int64                 `json:"fee_ppm"`
	StarsMin   int64                 `json:"stars_min"`
	StarsMax   int64                 `json:"stars_max"`
	OrderTTL   time.Duration         `json:"order_ttl"`
}
