package main

import (
	"context"
	"fmt"
	"io"

	"starsbot/shop"
	"starsbot/ton"
)

// sandboxDepositAddress is the simulated chain's service wallet: a
// well-formed testnet, non-bounceable address (0Q…) of no real account,
// derived from sha256("starsbot sandbox deposit address").
const sandboxDepositAddress = "0QA3V5Wt4nKDBalItBQ3g6TDAiknFw_gT11cXzZdZFMP7uC5"

// sandboxChain is the simulated chain as the API's sandbox sees it: USDT
// deposits come from our jetton wallet for USDT_MASTER unless the request
// names another (a fake jetton).
type sandboxChain struct {
	*ton.SimChain
	usdtMaster string // "" when USDT_MASTER is none
}

// DepositUSDT appends a simulated USDT transfer notification.
func (c sandboxChain) DepositUSDT(ctx context.Context, memo string, units int64, carried shop.NanoTON, jettonWallet, txHash string) (string, error) {
	if c.usdtMaster == "" {
		return "", shop.Errorf(shop.EVALIDATION, "USDT deposits are off (USDT_MASTER is none)")
	}
	return c.SimChain.DepositUSDT(ctx, c.usdtMaster, memo, units, carried, jettonWallet, txHash)
}

// sandboxPartnerID is the Telegram user id of the partner that a pure
// sandbox (no TELEGRAM_TOKEN) creates so that its API can be called at once.
const sandboxPartnerID = 1

// printSandboxPartner creates the sandbox partner if needed, issues it a
// fresh key of each dialect (revoking the previous ones: only hashes are
// stored, so old keys cannot be shown again) and prints them with ready
// commands. The keys go to stdout, never to the log.
func printSandboxPartner(ctx context.Context, svc *shop.Service, baseURL string, w io.Writer) error {
	u, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: sandboxPartnerID, Username: "sandbox_partner", LanguageCode: "en"})
	if err != nil {
		return err
	}
	osk, _, err := svc.IssueKey(ctx, u.ID, shop.KeyPrefixOrders)
	if err != nil {
		return err
	}
	sk, _, err := svc.IssueKey(ctx, u.ID, shop.KeyPrefixSimple)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, `
Sandbox partner ready (no real money). New API keys, issued at every start:
  orders API (osk_): %[1]s
  simple API (sk_):  %[2]s
Balance %[3]s TON, top-up memo %[4]s. Try:
  curl -s %[5]s/sandbox/v1/deposits -d '{"memo":"%[4]s","amount_ton":"10"}'
  curl -s %[5]s/sandbox/v1/deposits -d '{"asset":"USDT","memo":"%[4]s","amount_usdt":"10"}'
  curl -s %[5]s/api/v1/balance -H "Authorization: Bearer %[1]s"
  curl -s %[5]s/api/v1/orders/stars -H "Authorization: Bearer %[1]s" -H "Idempotency-Key: $(uuidgen)" \
    -d '{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}'

`, osk, sk, u.Balance, u.Memo, baseURL)
	return err
}
