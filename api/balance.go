package api

import (
	"encoding/json"
	"net/http"

	"starsbot/shop"
)

// balanceJSON is GET /balance for osk_ keys.
type balanceJSON struct {
	BalanceTON     shop.NanoTON `json:"balance_ton"`
	BalanceNanoTON nanoJSON     `json:"balance_nanoton"`
	Currency       string       `json:"currency"`
	TopupAddress   string       `json:"topup_address"`
	TopupMemo      string       `json:"topup_memo"`
}

// The balance is the one read at authentication, in the same request.
func (s *Server) balance(w http.ResponseWriter, r *http.Request) error {
	u := partner(r)
	return ok(w, balanceJSON{BalanceTON: u.Balance, BalanceNanoTON: nanoJSON(u.Balance), Currency: "TON", TopupAddress: s.Shop.DepositAddress(), TopupMemo: u.Memo})
}

// ledgerJSON is one entry of GET /balance/transactions.
type ledgerJSON struct {
	ID                  uint64          `json:"id"`
	Type                shop.LedgerType `json:"type"`
	AmountTON           shop.NanoTON    `json:"amount_ton"`
	AmountNanoTON       nanoJSON        `json:"amount_nanoton"`
	BalanceAfterTON     shop.NanoTON    `json:"balance_after_ton"`
	BalanceAfterNanoTON nanoJSON        `json:"balance_after_nanoton"`
	OrderID             *int64          `json:"order_id"`
	TxHash              *string         `json:"tx_hash"`
	Reason              *string         `json:"reason"`
	CreatedAt           *string         `json:"created_at"`
	// Asset and AmountUSDT are present only on a credit from a USDT
	// transfer (AmountTON is then its value in TON).
	Asset      *shop.Asset  `json:"asset,omitempty"`
	AmountUSDT *json.Number `json:"amount_usdt,omitempty"`
}

type ledgerListJSON struct {
	Transactions []*ledgerJSON `json:"transactions"`
	NextCursor   *string       `json:"next_cursor"`
}

func (s *Server) transactions(w http.ResponseWriter, r *http.Request) error {
	limit, before, err := pageQuery(r)
	if err != nil {
		return err
	}
	entries, next, err := s.Shop.Ledger(r.Context(), shop.LedgerFilter{UserID: partner(r).ID, Before: uint64(before), Limit: limit})
	if err != nil {
		return err
	}
	out := ledgerListJSON{Transactions: make([]*ledgerJSON, len(entries)), NextCursor: cursorJSON(next)}
	for i, e := range entries {
		v := &ledgerJSON{
			ID:                  e.ID,
			Type:                e.Type,
			AmountTON:           e.Amount,
			AmountNanoTON:       nanoJSON(e.Amount),
			BalanceAfterTON:     e.BalanceAfter,
			BalanceAfterNanoTON: nanoJSON(e.BalanceAfter),
			TxHash:              stringJSON(e.TxHash),
			Reason:              stringJSON(e.Reason),
			CreatedAt:           timeJSON(e.CreatedAt),
		}
		if e.OrderID != 0 {
			v.OrderID = &e.OrderID
		}
		if e.Asset == shop.AssetUSDT {
			asset, n := shop.AssetUSDT, json.Number(shop.FormatUSDT(e.JettonAmount))
			v.Asset, v.AmountUSDT = &asset, &n
		}
		out.Transactions[i] = v
	}
	return ok(w, out)
}
