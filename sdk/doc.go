// Package sdk is the Go client of the starsbot partner API: both contracts
// (the orders API with osk_ keys, the simple API with sk_ keys), locked
// quotes, webhook endpoints, the event feed and the verification of the
// webhooks starsbot sends (Standard Webhooks 1.0).
//
// It is its own module (starsbot/sdk) and uses the standard library only,
// so that importing it adds no dependency to a partner's build.
//
//	c, err := sdk.New("https://api.example.com", os.Getenv("STARSBOT_KEY"), nil)
//	q, err := c.CreateQuote(ctx, sdk.QuoteRequest{Type: sdk.Stars, Quantity: 100})
//	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{
//		Recipient: "durov", Quantity: 100, PaymentMethod: sdk.PayBalance, QuoteID: q.ID,
//	})
//	o, err = c.WaitForOrder(ctx, o.ID, nil)
//
// Money is exact: TON amounts are Nano (integer nanoTON), read from the
// API's *_nanoton integer strings, or from the exact decimal text of a
// *_ton number where the API has no twin (the simple contract); no amount
// passes through a float64. Dollar amounts are MicroUSD.
//
// Every POST carries an Idempotency-Key, made once per call and sent again
// on each retry (or the caller's own, WithIdempotencyKey). Requests are
// retried after network errors, 5xx answers and 429 (after its
// Retry-After), a bounded number of times with exponential backoff and
// jitter, never past the context's deadline. The server answers a retried
// order creation or /buy with the order the first attempt created, so a
// lost answer never makes a second order. Other POSTs are retried too; for
// those the server does not promise to deduplicate (a quote, a test event,
// a replay, a new webhook endpoint) a retry after a lost answer may repeat
// the action: pass WithMaxAttempts(1) where that matters.
//
// Errors the API returns are *APIError (errors.As), with the API's code:
// CodeQuoteExpired, CodeInsufficientBalance and the others, and helpers
// such as IsNotFound.
package sdk
