package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/url"
	"time"
)

// Balance is the partner's balance in the orders contract.
type Balance struct {
	Balance      Nano
	Currency     string // "TON"
	TopupAddress string // send TON here …
	TopupMemo    string // … with this comment to top the balance up
}

// Balance returns the partner's balance (GET /api/v1/balance, osk_ key;
// with an sk_ key use SimpleBalance).
func (c *Client) Balance(ctx context.Context) (*Balance, error) {
	var w struct {
		BalanceTON     json.Number `json:"balance_ton"`
		BalanceNanoTON *string     `json:"balance_nanoton"`
		Currency       string      `json:"currency"`
		TopupAddress   string      `json:"topup_address"`
		TopupMemo      string      `json:"topup_memo"`
	}
	if err := c.do(ctx, "GET", "/api/v1/balance", nil, nil, &w, nil); err != nil {
		return nil, err
	}
	b, err := tonAmount("balance", w.BalanceTON, w.BalanceNanoTON)
	if err != nil {
		return nil, err
	}
	return &Balance{Balance: b, Currency: w.Currency, TopupAddress: w.TopupAddress, TopupMemo: w.TopupMemo}, nil
}

// Transaction is one entry of the balance's ledger.
type Transaction struct {
	ID           uint64
	Type         string // deposit, order, refund, admin_credit, admin_debit
	Amount       Nano   // negative for order and admin_debit
	BalanceAfter Nano
	OrderID      int64  // 0 if none
	TxHash       string // the chain transaction of a deposit
	Reason       string
	CreatedAt    time.Time
}

type transactionWire struct {
	ID                  uint64      `json:"id"`
	Type                string      `json:"type"`
	AmountTON           json.Number `json:"amount_ton"`
	AmountNanoTON       *string     `json:"amount_nanoton"`
	BalanceAfterTON     json.Number `json:"balance_after_ton"`
	BalanceAfterNanoTON *string     `json:"balance_after_nanoton"`
	OrderID             *int64      `json:"order_id"`
	TxHash              *string     `json:"tx_hash"`
	Reason              *string     `json:"reason"`
	CreatedAt           *string     `json:"created_at"`
}

func (w *transactionWire) transaction() (*Transaction, error) {
	t := &Transaction{ID: w.ID, Type: w.Type, OrderID: deref(w.OrderID), TxHash: deref(w.TxHash), Reason: deref(w.Reason)}
	var errs [3]error
	t.Amount, errs[0] = tonAmount("amount", w.AmountTON, w.AmountNanoTON)
	t.BalanceAfter, errs[1] = tonAmount("balance_after", w.BalanceAfterTON, w.BalanceAfterNanoTON)
	t.CreatedAt, errs[2] = parseTime("created_at", w.CreatedAt)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return t, nil
}

// Transactions iterates over the balance's ledger, newest first, pageSize
// entries a request (0: the API's default, 20; at most 100).
func (c *Client) Transactions(ctx context.Context, pageSize int) iter.Seq2[*Transaction, error] {
	return paginate(func(cursor string) ([]*Transaction, string, error) {
		q := url.Values{}
		setPage(q, "cursor", cursor, pageSize)
		var page struct {
			Transactions []*transactionWire `json:"transactions"`
			NextCursor   *string            `json:"next_cursor"`
		}
		if err := c.do(ctx, "GET", "/api/v1/balance/transactions", q, nil, &page, nil); err != nil {
			return nil, "", err
		}
		out := make([]*Transaction, 0, len(page.Transactions))
		for _, w := range page.Transactions {
			t, err := w.transaction()
			if err != nil {
				return nil, "", err
			}
			out = append(out, t)
		}
		return out, deref(page.NextCursor), nil
	})
}
