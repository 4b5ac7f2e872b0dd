package api

import (
	"encoding/hex"
	"encoding/json"
	"net/http"

	"starsbot/shop"
)

// maxSandboxDeposit caps a simulated deposit, far above any real top-up and
// far below what could overflow a balance.
const maxSandboxDeposit = 1_000_000 * shop.TON

// sandboxDepositBody is POST /sandbox/v1/deposits.
type sandboxDepositBody struct {
	Memo      *string         `json:"memo"`
	AmountTON json.RawMessage `json:"amount_ton"` // parsed here, for a precise error
	TxHash    *string         `json:"tx_hash"`
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
	if len(body.AmountTON) == 0 || string(body.AmountTON) == "null" {
		return shop.Errorf(shop.EVALIDATION, "amount_ton is required, e.g. \"1.5\"")
	}
	var amount shop.NanoTON
	if err := amount.UnmarshalJSON(body.AmountTON); err != nil {
		return shop.Errorf(shop.EVALIDATION, "amount_ton must be an amount of TON such as \"1.5\", with at most 9 decimal places")
	}
	if amount <= 0 || amount > maxSandboxDeposit {
		return shop.Errorf(shop.EVALIDATION, "amount_ton must be more than 0 and at most %s", maxSandboxDeposit)
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
	hash, err = s.Sandbox.Deposit(r.Context(), memo, amount, hash)
	if err != nil {
		return err
	}
	return ok(w, sandboxDepositJSON{TxHash: hash})
}
