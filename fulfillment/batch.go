package fulfillment

import (
	"context"

	"starsbot/shop"
)

// This file is the batched side of delivery: a provider whose orders are
// paid from the hot wallet splits a delivery in two, so that the worker
// can prepare many orders at once and pay them together.
//
//   - Prepare runs everything up to the payment (for Fragment: search,
//     request, link), records what is to be paid on the order's delivery
//     record (Step "linked": PayTo, PayAmount, Payload), and returns it.
//   - PayBatch pays several prepared orders with one wallet message: the
//     signed message is recorded on every order it pays, in one store
//     transaction, before it is broadcast; each order is then settled by
//     its own out-message in the resulting transaction.
//
// An order whose delivery record already holds a payment (after a crash)
// is never prepared again: the worker resumes it with Deliver.

// BatchProvider is a Provider whose payments can be batched.
type BatchProvider interface {
	Provider
	// Prepare readies job for payment and returns it. A failure is an
	// *Error, as Deliver's; nothing is paid by Prepare.
	Prepare(ctx context.Context, job *Job) (*Prepared, error)
	// PayBatch pays prepared orders (at most BatchLimit) and returns one
	// outcome per order, in order: the delivery reference, or an *Error as
	// Deliver's. save records all deliveries in one store transaction.
	PayBatch(ctx context.Context, batch []*Prepared, save func(context.Context, []*shop.Delivery) error) []Outcome
	// BatchLimit is the most orders one PayBatch may pay.
	BatchLimit() int
}

// Handoff is a BatchProvider whose prepared orders another process may
// pay: what Prepare records on the delivery is all the payment needs.
// With several replicas every replica prepares and the leader pays
// (Worker.Pay).
type Handoff interface {
	BatchProvider
	// Prepared reports whether d is recorded ready for payment (prepared,
	// nothing paid), valid or not.
	Prepared(d *shop.Delivery) bool
	// LoadPrepared rebuilds, from job's delivery as Prepare recorded it,
	// the Prepared that Prepare returned, after checking again that it
	// may be paid. A request that expired (or will before it can be paid)
	// is ErrPrepareAgain, with job.Delivery reset to be prepared again;
	// any other failure is an *Error, as Prepare's.
	LoadPrepared(ctx context.Context, job *Job) (*Prepared, error)
	// CanPrepare reports whether this process may prepare orders now
	// (Fragment: it holds a session).
	CanPrepare() bool
}

// ErrPrepareAgain is LoadPrepared's answer for a recorded payment request
// that can no longer be paid: the order is prepared again.
var ErrPrepareAgain = Errorf(Retryable, "the provider's payment request expired before payment; preparing the order again")

// Prepared is an order ready to be paid.
type Prepared struct {
	Job    *Job
	Payout shop.Payout // what to pay, as recorded on Job.Delivery
	state  any         // the provider's own (e.g. Fragment's confirm call)
}

// Outcome is the result of one order's delivery.
type Outcome struct {
	Ref string
	Err error
}

// BatchWallet is a Wallet that pays many payouts with one message.
type BatchWallet interface {
	Wallet
	// BatchLimit is the most payouts one message may carry.
	BatchLimit() int
	// SendBatch pays ps with one message: it signs it, calls record with
	// one SignedPayout per payout (broadcasting only if record succeeded),
	// and waits for every payout's outcome or for ctx to end (the
	// unfinished ones are then Pending). It refuses, before signing, a
	// batch the wallet cannot pay in full (shop.ErrUnaffordable).
	SendBatch(ctx context.Context, ps []shop.Payout, record func(context.Context, []*shop.SignedPayout) error) ([]*shop.PayoutResult, error)
}
