package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"

	"starsbot/shop"
)

// maxSandboxDeposit caps a simulated deposit, far above any real top-up and
// far below what could overflow a balance.
const maxSandboxDeposit = 1_000_000 * shop.TON

// maxSandboxUSDT caps a simulated USDT deposit (10 million USDT).
const maxSandboxUSDT = 10_000_000 * shop.USDTUnit

// SandboxUSDT appends a simulated USDT transfer notification: units of
// USDT (6 decimals) carrying carried nanoTON, from our jetton wallet, or
// from jettonWallet when it is set (a fake jetton, refused by the
// watcher). The sandbox chain of package main implements it.
type SandboxUSDT interface {
	DepositUSDT(ctx context.Context, memo string, units int64, carried shop.NanoTON, jettonWallet, txHash string) (string, error)
}

// sandboxDepositBody is POST /sandbox/v1/deposits.
type sandboxDepositBody struct {
	Asset        *string         `json:"asset"` // "TON" (default) or "USDT"
	Memo         *string         `json:"memo"`
	AmountTON    json.RawMessage `json:"amount_ton"`  // parsed here, for a precise error
	AmountUSDT   json.RawMessage `json:"amount_usdt"` // USDT only
	JettonWallet *string         `json:"jetton_wallet"`
	TxHash       *string         `json:"tx_hash"`
}

type sandboxDepositJSON struct {
	TxHash string `json:"tx_hash"`
}

// sandboxDeposit appends a simulated transfer to the sandbox chain, which
// credits it through the same code as a real one.
func (s *Server) sandboxDeposit(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[sandboxDepositBody](w, r)
	if err != nil {
		return err
	}
	usdt := false
	if body.Asset != nil {
		switch *body.Asset {
		case "TON":
		case "USDT":
			usdt = true
		default:
			return shop.Errorf(shop.EVALIDATION, "asset must be TON or USDT")
		}
	}
	if !usdt && (body.AmountUSDT != nil || body.JettonWallet != nil) {
		return shop.Errorf(shop.EVALIDATION, "amount_usdt and jetton_wallet need \"asset\": \"USDT\"")
	}
	given := func(raw json.RawMessage) bool { return len(raw) != 0 && string(raw) != "null" }
	var amount shop.NanoTON
	switch {
	case given(body.AmountTON):
		if err := amount.UnmarshalJSON(body.AmountTON); err != nil {
			return shop.Errorf(shop.EVALIDATION, "amount_ton must be an amount of TON such as \"1.5\", with at most 9 decimal places")
		}
		if amount <= 0 || amount > maxSandboxDeposit {
			return shop.Errorf(shop.EVALIDATION, "amount_ton must be more than 0 and at most %s", maxSandboxDeposit)
		}
	case !usdt:
		return shop.Errorf(shop.EVALIDATION, "amount_ton is required, e.g. \"1.5\"")
	}
	var units int64
	if usdt {
		if !given(body.AmountUSDT) {
			return shop.Errorf(shop.EVALIDATION, "amount_usdt is required with \"asset\": \"USDT\", e.g. \"10\"")
		}
		if units, err = shop.ParseUSDTJSON(body.AmountUSDT); err != nil {
			return shop.Errorf(shop.EVALIDATION, "amount_usdt must be an amount of USDT such as \"10.5\", with at most 6 decimal places")
		}
		if units <= 0 || units > maxSandboxUSDT {
			return shop.Errorf(shop.EVALIDATION, "amount_usdt must be more than 0 and at most %s", shop.FormatUSDT(maxSandboxUSDT))
		}
	}
	var memo, hash string
	if body.Memo != nil {
		memo = *body.Memo
		if err := shop.ValidateMemo(memo); err != nil {
			return err
		}
	}
	if body.TxHash != nil && *body.TxHash != "" {
		hash = *body.TxHash
		if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
			return shop.Errorf(shop.EVALIDATION, "tx_hash must be 64 hex characters")
		}
	}
	if usdt {
		chain, ok := s.Sandbox.(SandboxUSDT)
		if !ok {
			return shop.Errorf(shop.EVALIDATION, "this sandbox takes no USDT deposits")
		}
		var jw string
		if body.JettonWallet != nil {
			jw = *body.JettonWallet
		}
		hash, err = chain.DepositUSDT(r.Context(), memo, units, amount, jw, hash)
	} else {
		hash, err = s.Sandbox.Deposit(r.Context(), memo, amount, hash)
	}
	if err != nil {
		return err
	}
	return ok(w, sandboxDepositJSON{TxHash: hash})
}
