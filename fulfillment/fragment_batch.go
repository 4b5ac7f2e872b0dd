package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"starsbot/shop"
)

// fragmentSettleParallel bounds the best-effort confirm calls made at once
// after a batch is paid.
const fragmentSettleParallel = 8

var _ BatchProvider = (*Fragment)(nil)

// fragmentPrepared is Fragment's part of a Prepared order.
type fragmentPrepared struct {
	f    *Fragment // the session that prepared it, which settles it
	fl   fragmentFlow
	link *fragmentLink
}

// Prepare runs a Fragment delivery up to its payment (search, request,
// link, margin and validity checks) and returns what to pay, recorded on
// the order's delivery (Step "linked"). An order whose record already holds
// a payment must be resumed with Deliver instead.
func (f *Fragment) Prepare(ctx context.Context, job *Job) (*Prepared, error) {
	fl, err := f.prepare(job)
	if err != nil {
		return nil, err
	}
	if job.Delivery.HasPayment() {
		return nil, fmt.Errorf("fragment: order %d has a recorded payment; resume it with Deliver", job.Order.ID)
	}
	link, err := f.ready(ctx, job, fl)
	if err != nil {
		return nil, err
	}
	d := job.Delivery
	return &Prepared{
		Job:    job,
		Payout: shop.Payout{To: d.PayTo, Amount: d.PayAmount, Payload: d.Payload, Bounce: true, ValidUntil: link.validUntil},
		state:  &fragmentPrepared{f: f, fl: fl, link: link},
	}, nil
}

var _ Handoff = (*Fragment)(nil)

// Prepared reports whether d is recorded at step "linked" with nothing
// paid: what to pay is on it (Prepare).
func (f *Fragment) Prepared(d *shop.Delivery) bool {
	return d != nil && d.Step == fragmentStepLinked && !d.HasPayment()
}

// CanPrepare reports whether this process holds the session.
func (f *Fragment) CanPrepare() bool { return f.holds() }

// LoadPrepared rebuilds a Prepared from a delivery that Prepare (maybe in
// another replica, maybe before a crash) recorded at step "linked". The
// link's checks made after the record are made again (the margin, the
// validity: the record is saved before them), and the payload's too, which
// cost nothing. A request without a known validity, or valid for less than
// fragmentMinValidity, is prepared again (ErrPrepareAgain). The confirm
// call is the one recorded; it is made through f, if this replica holds it
// then (confirm).
func (f *Fragment) LoadPrepared(ctx context.Context, job *Job) (*Prepared, error) {
	fl, err := f.prepare(job)
	if err != nil {
		return nil, err
	}
	d := job.Delivery
	if !f.Prepared(d) {
		return nil, fmt.Errorf("fragment: order %d is not prepared (step %q)", job.Order.ID, d.Step)
	}
	if d.PayBy.IsZero() || !f.Now().Add(fragmentMinValidity).Before(d.PayBy) {
		fragmentReset(d)
		return nil, ErrPrepareAgain
	}
	comment, err := fragmentPaymentComment(d.Payload)
	if err == nil {
		err = checkFragmentComment(comment, job.Order)
	}
	if err != nil || d.PayAmount <= 0 {
		return nil, Wrap(Manual, "the recorded Fragment payment request does not match the order", err)
	}
	if _, err := parseTONAddress(d.PayTo); err != nil {
		return nil, Wrap(Manual, "the recorded Fragment payment request has an invalid address", err)
	}
	if err := f.checkMargin(job); err != nil {
		return nil, err
	}
	var confirm *fragmentConfirm
	if d.ConfirmMethod != "" {
		confirm = &fragmentConfirm{method: d.ConfirmMethod, params: d.ConfirmParams}
	}
	link := &fragmentLink{payTo: d.PayTo, amount: d.PayAmount, payload: d.Payload, comment: comment, validUntil: d.PayBy, confirm: confirm}
	return &Prepared{
		Job:    job,
		Payout: shop.Payout{To: d.PayTo, Amount: d.PayAmount, Payload: d.Payload, Bounce: true, ValidUntil: d.PayBy},
		state:  &fragmentPrepared{f: f, fl: fl, link: link},
	}, nil
}

// BatchLimit is how many orders one wallet message pays: the wallet's
// limit, or 1 for a wallet that cannot batch.
func (f *Fragment) BatchLimit() int {
	if bw, ok := f.Wallet.(BatchWallet); ok && bw.BatchLimit() > 0 {
		return bw.BatchLimit()
	}
	return 1
}

// PayBatch pays prepared orders with one wallet message, recorded on every
// order it pays (one store transaction) before it is broadcast, and settles
// each order by its own out-message. A batch the wallet cannot pay in full
// is split; a single order it cannot pay is Unhealthy (the hot wallet is
// short), as a payment the chain refused for lack of funds.
func (f *Fragment) PayBatch(ctx context.Context, batch []*Prepared, save func(context.Context, []*shop.Delivery) error) []Outcome {
	out := make([]Outcome, len(batch))
	bw, ok := f.Wallet.(BatchWallet)
	if !ok {
		for i, p := range batch {
			fp := p.state.(*fragmentPrepared)
			res, err := fp.f.pay(ctx, p.Job, p.Payout.ValidUntil)
			if err != nil {
				out[i] = Outcome{Err: err}
				continue
			}
			ref, err := fp.f.settle(ctx, p.Job, fp.fl, res, fp.link.confirm)
			out[i] = Outcome{Ref: ref, Err: err}
		}
		return out
	}
	ps := make([]shop.Payout, len(batch))
	for i, p := range batch {
		ps[i] = p.Payout
	}
	record := func(ctx context.Context, sps []*shop.SignedPayout) error {
		if len(sps) != len(batch) {
			return fmt.Errorf("fragment: wallet signed %d payouts for %d orders", len(sps), len(batch))
		}
		ds := make([]*shop.Delivery, len(batch))
		steps := make([]string, len(batch))
		for i, p := range batch {
			d := p.Job.Delivery
			steps[i] = d.Step
			d.Payout, d.Step = sps[i], fragmentStepSigned
			ds[i] = d
		}
		if err := save(ctx, ds); err != nil {
			// Not recorded, so never broadcast: forget it.
			for i, p := range batch {
				p.Job.Delivery.Payout, p.Job.Delivery.Step = nil, steps[i]
			}
			return err
		}
		return nil
	}
	results, err := bw.SendBatch(ctx, ps, record)
	recorded := batch[0].Job.Delivery.Payout != nil
	switch {
	case err != nil && !recorded && errors.Is(err, shop.ErrUnaffordable) && len(batch) == 1:
		out[0] = Outcome{Err: Wrap(Unhealthy, "hot wallet could not pay: its balance is too low", err)}
		return out
	case err != nil && !recorded && errors.Is(err, shop.ErrUnaffordable):
		// Never sign what the wallet cannot pay in full: halve the batch.
		half := len(batch) / 2
		f.Logger.Warn("hot wallet cannot pay the whole batch; splitting it", "orders", len(batch))
		copy(out, f.PayBatch(ctx, batch[:half], save))
		copy(out[half:], f.PayBatch(ctx, batch[half:], save))
		return out
	case err != nil && !recorded:
		for i := range out {
			out[i] = Outcome{Err: Wrap(Retryable, "could not send the payment to Fragment, will retry", err)}
		}
		return out
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, fragmentSettleParallel)
	for i, p := range batch {
		var res *shop.PayoutResult
		if i < len(results) {
			res = results[i]
		}
		if res == nil {
			reason := "payment to Fragment sent, outcome unknown; will check"
			if err != nil {
				out[i] = Outcome{Err: Wrap(Retryable, reason, err)}
			} else {
				out[i] = Outcome{Err: Errorf(Retryable, "%s", reason)}
			}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, p *Prepared, res *shop.PayoutResult) {
			defer func() { <-sem; wg.Done() }()
			fp := p.state.(*fragmentPrepared)
			ref, serr := fp.f.settle(ctx, p.Job, fp.fl, res, fp.link.confirm)
			if serr != nil && err != nil && res.State == shop.PayoutPending {
				serr = Wrap(Retryable, "payment to Fragment pending, will check again", err)
			}
			out[i] = Outcome{Ref: ref, Err: serr}
		}(i, p, res)
	}
	wg.Wait()
	return out
}
