package sdk

import (
	"context"
	"encoding/json"
)

// The simple contract (sk_ keys): GET /api/v1/balance, GET /api/v1/deposit
// and POST /api/v1/buy, in plain JSON shapes.

// SimpleBalance returns the balance of an sk_ key's partner. The contract
// sends it only as a JSON number; its decimal text is read exactly.
func (c *Client) SimpleBalance(ctx context.Context) (Nano, error) {
	var w struct {
		BalanceTON json.Number `json:"balance_ton"`
		Currency   string      `json:"currency"`
	}
	if err := c.do(ctx, "GET", "/api/v1/balance", nil, nil, &w, nil); err != nil {
		return 0, err
	}
	return tonAmount("balance", w.BalanceTON, nil)
}

// DepositInfo says how to top up the balance.
type DepositInfo struct {
	Wallet  string // the TON address to send to
	Memo    string // the comment the transfer must carry
	Message string
}

// SimpleDeposit returns where to send TON to top up (GET /api/v1/deposit).
func (c *Client) SimpleDeposit(ctx context.Context) (*DepositInfo, error) {
	var w struct {
		Wallet  string `json:"wallet"`
		Memo    string `json:"memo"`
		Message string `json:"message"`
	}
	if err := c.do(ctx, "GET", "/api/v1/deposit", nil, nil, &w, nil); err != nil {
		return nil, err
	}
	return &DepositInfo{Wallet: w.Wallet, Memo: w.Memo, Message: w.Message}, nil
}

// BuyRequest buys Stars from the balance.
type BuyRequest struct {
	AmountStars int64
	// ToUsername is the recipient; "" sends the stars to the partner's own
	// Telegram account.
	ToUsername string
}

// BuyResult is POST /buy's answer: the stars were sent, or the order went
// to manual delivery (Message says which).
type BuyResult struct {
	Status      string // "ok"
	OrderID     string // e.g. api_buy_123456789_100_1700000000
	AmountStars int64
	ToUsername  string // "" when sent to the partner
	Message     string
}

// Buy spends the balance on Stars (POST /api/v1/buy) and waits, on the
// server, for the delivery. It is sent with an Idempotency-Key and
// retried safely: one purchase whatever the retries. A failed delivery is
// an *APIError with CodeOrderFailed (the price is back on the balance).
func (c *Client) Buy(ctx context.Context, r BuyRequest, opts ...CallOption) (*BuyResult, error) {
	body := struct {
		AmountStars int64   `json:"amount_stars"`
		ToUsername  *string `json:"to_username,omitempty"`
	}{r.AmountStars, optional(r.ToUsername)}
	var w struct {
		Status      string  `json:"status"`
		OrderID     string  `json:"order_id"`
		AmountStars int64   `json:"amount_stars"`
		ToUsername  *string `json:"to_username"`
		Message     string  `json:"message"`
	}
	if err := c.do(ctx, "POST", "/api/v1/buy", nil, body, &w, opts); err != nil {
		return nil, err
	}
	return &BuyResult{Status: w.Status, OrderID: w.OrderID, AmountStars: w.AmountStars, ToUsername: deref(w.ToUsername), Message: w.Message}, nil
}
