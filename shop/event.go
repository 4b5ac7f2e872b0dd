package shop

// EventType names something that happened, for the bot's notifications and
// the fulfillment worker's wake-ups.
type EventType string

// Event types.
const (
	EventDepositCredited  EventType = "deposit_credited"  // money reached a user's balance from the chain (personal memo, order surplus, underpayment, late payment, admin assignment)
	EventOrderPaid        EventType = "order_paid"        // an order became paid and was queued for fulfillment
	EventOrderExpired     EventType = "order_expired"     // a ton_memo order's TTL passed unpaid
	EventOrderRefunded    EventType = "order_refunded"    // an order's price went back to the buyer's balance
	EventOrderCompleted   EventType = "order_completed"   // an order was delivered
	EventOrderManual      EventType = "order_manual"      // an order waits for an admin to deliver it
	EventOrderCancelled   EventType = "order_cancelled"   // a buyer cancelled an unpaid order
	EventUnmatchedDeposit EventType = "unmatched_deposit" // a transfer's memo matched nothing
	EventDepositIgnored   EventType = "deposit_ignored"   // a transfer below the minimum deposit was recorded as dust (for metrics; nobody is told)
	EventAdminCredit      EventType = "admin_credit"      // an admin credited a user
	EventWebhookFailing   EventType = "webhook_failing"   // a partner's webhook endpoint has failed every delivery for WebhookWarnAfter (WebhookID); once per failing streak
	EventWebhookDisabled  EventType = "webhook_disabled"  // a partner's webhook endpoint kept failing and was disabled (WebhookID)
)

// Event is emitted after the transaction that caused it has committed.
// Handlers run synchronously in the caller's goroutine and must not block.
type Event struct {
	Type      EventType
	UserID    int64   // the user concerned (buyer, credited user); 0 for unmatched deposits
	OrderID   int64   // the order concerned, if any
	DepositID uint64  // the deposit concerned, if any
	Amount    NanoTON // the amount credited or refunded, if any
	Balance   NanoTON // the user's balance after the event, if it changed
	WebhookID string  // the webhook endpoint concerned, if any
	// Remote: another replica made the change, and a Relay publishes it
	// here (it happened once, on that replica: counters skip it).
	Remote bool
}
