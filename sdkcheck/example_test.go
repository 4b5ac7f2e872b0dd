package sdkcheck_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"starsbot/sdk"
)

// The README's "Go SDK" example: TestReadmeExample keeps the two the same.
// It is compiled with the tests, not run (it needs a server and a key).
func Example() {
	ctx := context.Background()
	c, err := sdk.New("https://api.example.com", os.Getenv("STARSBOT_KEY"), nil) // an osk_ key
	if err != nil {
		log.Fatal(err)
	}

	// Lock a price, then buy at exactly that price from the balance.
	q, err := c.CreateQuote(ctx, sdk.QuoteRequest{Type: sdk.Stars, Quantity: 100})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("100 stars cost %s TON (%d nanoTON) until %s\n", q.Price, int64(q.Price), q.ExpiresAt)
	order, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{
		Recipient: "pandus", Quantity: 100, PaymentMethod: sdk.PayBalance,
		QuoteID: q.ID, ClientReference: "invoice-42",
	}) // sent with an Idempotency-Key and retried safely: one order, whatever the network does
	switch {
	case sdk.IsQuoteExpired(err):
		log.Fatal("the quote expired: ask for a new one")
	case sdk.IsInsufficientBalance(err):
		log.Fatal("top up the balance first")
	case err != nil:
		log.Fatal(err)
	}

	// Wait for the delivery (or take webhooks, below).
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	order, err = c.WaitForOrder(wctx, order.ID, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("order", order.ID, order.Status)

	// Every completed order, page after page.
	for o, err := range c.ListOrders(ctx, sdk.OrderFilter{Status: sdk.StatusCompleted}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(o.ID, o.Recipient, o.Price)
	}

	// Receive webhooks: each request is verified (Standard Webhooks) before
	// the function sees it; an error makes starsbot deliver it again.
	verifier := &sdk.Verifier{Secrets: []string{os.Getenv("STARSBOT_WEBHOOK_SECRET")}}
	http.Handle("/hooks/starsbot", sdk.WebhookHandler(verifier, func(ctx context.Context, e *sdk.Event) error {
		switch e.Type {
		case sdk.EventOrderCompleted, sdk.EventOrderRefunded:
			o, err := e.Order()
			if err != nil {
				return err
			}
			fmt.Println(e.ID, e.Type, o.ID, o.Status)
		case sdk.EventBalanceCredited:
			b, err := e.BalanceChange()
			if err != nil {
				return err
			}
			fmt.Println("balance now", b.Balance, "TON")
		}
		return nil
	}))
	log.Fatal(http.ListenAndServe(":8443", nil))
}
