package fulfillment

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"starsbot/shop"
)

// Shop is the part of *shop.Service the worker calls.
type Shop interface {
	Queue(ctx context.Context, limit int) ([]shop.QueuedOrder, error)
	ClaimOrder(ctx context.Context, orderID int64, provider string) (*shop.Order, *shop.Delivery, error)
	SaveDelivery(ctx context.Context, d *shop.Delivery) error
	SaveDeliveries(ctx context.Context, ds []*shop.Delivery) error
	// The claims of several replicas' workers (shop/claim.go).
	ClaimOrderLeased(ctx context.Context, orderID int64, provider string, c shop.Claim) (*shop.Order, *shop.Delivery, *shop.Lease, error)
	SaveDeliveriesLeased(ctx context.Context, ds []*shop.Delivery, ls []*shop.Lease) error
	ReleaseOrder(ctx context.Context, orderID int64, l *shop.Lease) error
	HoldsOrder(ctx context.Context, orderID int64, l *shop.Lease) (bool, error)
	CompleteOrder(ctx context.Context, adminID, orderID int64, ref string) (*shop.Order, error)
	MoveToManual(ctx context.Context, orderID int64, reason string) (*shop.Order, error)
	FailOrder(ctx context.Context, orderID int64, reason string) (*shop.Order, error)
}

var _ Shop = (*shop.Service)(nil)

// Worker defaults.
const (
	DefaultMaxAttempts = 6
	DefaultBackoff     = 5 * time.Second
	DefaultMaxBackoff  = 5 * time.Minute
	DefaultInterval    = 2 * time.Second
	DefaultPauseFor    = 15 * time.Minute
	// DefaultGrace fits, with the other components' graces (they run at
	// once) and closing the store, in Docker's default 10 s stop timeout:
	// a step cut after it parks at its recorded point and resumes at the
	// next start.
	DefaultGrace = 8 * time.Second
	// DefaultLease is how long a replica's claim on an order holds without
	// a save (each save renews it): a replica that died mid-delivery holds
	// its orders no longer than this. A claim that ran out is still good
	// until another replica takes the order, so a slow step costs at most
	// a second preparation, never a second payment.
	DefaultLease = 30 * time.Second
)

// WorkerConfig is what NewWorker needs; zero optional fields take their
// defaults.
type WorkerConfig struct {
	Shop     Shop     // required
	Provider Provider // required
	Name     string   // the provider's name, recorded on deliveries; required
	Notifier Notifier // default: LogNotifier over Logger

	MaxAttempts int           // retryable failures before manual; default DefaultMaxAttempts
	Backoff     time.Duration // first retry delay, doubled each attempt; default DefaultBackoff
	MaxBackoff  time.Duration // default DefaultMaxBackoff
	Interval    time.Duration // queue scan interval when idle; default DefaultInterval
	PauseFor    time.Duration // how long an unhealthy provider is paused; default DefaultPauseFor
	// Grace is how long a delivery step in progress may go on after Run's
	// ctx ends, so that it finishes (or parks at a recorded step) instead
	// of being cut mid-request. Default DefaultGrace.
	Grace time.Duration
	// Concurrency is how many orders are delivered (for a BatchProvider:
	// prepared) at once; default 1. A BatchProvider's payments are made in
	// batches of up to its BatchLimit, one batch at a time.
	Concurrency int
	// OnBatch, if set, is called with the size of each paid batch.
	OnBatch func(n int)
	// OnDelivered, if set, is called with each completed order's time from
	// paid to completed.
	OnDelivered func(d time.Duration)

	// Replica, when set, makes this worker one of several replicas'
	// workers on one store (PostgreSQL; it names the replica in the
	// claims): each order is claimed for Lease before it is worked on
	// (shop.Service.ClaimOrderLeased), and its delivery saved only while
	// the claim holds. Run then only prepares orders, with a Handoff
	// provider (every replica runs it), and Pay pays them (the leader
	// runs it: one wallet, one seqno); Pay also resumes recorded payments
	// and delivers with any other provider. Empty: the only worker (bbolt),
	// whose Run does everything.
	Replica string
	Lease   time.Duration // default DefaultLease

	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
}

// Worker delivers paid orders: it takes them from the shop's durable queue
// one at a time, claims each (processing), hands it to the Provider and
// records the outcome. Retryable failures back off exponentially with
// jitter; after MaxAttempts the order goes manual. Permanent failures
// refund the buyer. Manual and Unhealthy failures hand the order to the
// admins; Unhealthy also pauses the provider for PauseFor, during which new
// orders go straight to manual instead of stalling. The first delivery
// after that in which the provider answers (any outcome but Unhealthy)
// tells the admins it works again. Orders left processing by a crash are
// resumed from their saved delivery step.
type Worker struct {
	WorkerConfig // as NewWorker completed it; read-only

	poke    chan struct{}
	payPoke chan struct{} // Pay's, with a Replica

	mu          sync.Mutex
	pausedUntil time.Time
	pauseReason string
	unhealthy   bool // admins were told the provider is unhealthy, and not yet that it works again
	// throttledUntil holds back new deliveries after the provider said it
	// is overloaded (HTTP 429, 5xx), for the whole provider, not per order;
	// throttles counts them in a row.
	throttledUntil time.Time
	throttles      int
	// The queue as last scanned, for QueueStats.
	queueDepth int
	oldestPaid time.Time
}

// NewWorker returns a worker of cfg.Provider. It fails if Shop, Provider
// or Name is missing.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	switch {
	case cfg.Shop == nil:
		return nil, errors.New("fulfillment: Worker needs a Shop")
	case cfg.Provider == nil:
		return nil, errors.New("fulfillment: Worker needs a Provider")
	case cfg.Name == "":
		return nil, errors.New("fulfillment: Worker needs the provider's Name")
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.PauseFor <= 0 {
		cfg.PauseFor = DefaultPauseFor
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Notifier == nil {
		cfg.Notifier = LogNotifier{Logger: cfg.Logger}
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	return &Worker{WorkerConfig: cfg, poke: make(chan struct{}, 1), payPoke: make(chan struct{}, 1)}, nil
}

// Poke makes a running worker look at the queue now (main calls it when an
// order is paid). It never blocks.
func (w *Worker) Poke() {
	poke(w.poke)
	poke(w.payPoke)
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Health reports whether the provider is working, and why not.
func (w *Worker) Health() (ok bool, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.Now().Before(w.pausedUntil) {
		return false, w.pauseReason
	}
	return true, ""
}

// Notice returns what the provider says admins should know although it
// works (e.g. Fragment's linked wallet is not the hot wallet), or "".
func (w *Worker) Notice() string {
	if n, ok := w.Provider.(interface{ Notice() string }); ok {
		return n.Notice()
	}
	return ""
}

// Run delivers queued orders until ctx is done; with a Replica, it only
// prepares them (see WorkerConfig.Replica). A store error is logged and
// retried at the next scan.
func (w *Worker) Run(ctx context.Context) error {
	return w.loop(ctx, w.poke, w.RunOnce)
}

// Pay pays the orders the replicas prepared, resumes recorded payments and
// delivers with providers that cannot hand off, until ctx is done: the
// payer of a worker with a Replica, which only the leader runs (the hot
// wallet has one seqno). Its ctx is the leader's: a deposed leader's saves
// are refused (shop.ErrDeposed), so nothing it signs after is broadcast.
func (w *Worker) Pay(ctx context.Context) error {
	if w.Replica == "" {
		return errors.New("fulfillment: Pay is the payer of several replicas' workers (WorkerConfig.Replica); Run pays without one")
	}
	return w.loop(ctx, w.payPoke, w.PayOnce)
}

// loop runs once every Interval, or at once when poked, until ctx is done.
func (w *Worker) loop(ctx context.Context, poked <-chan struct{}, once func(context.Context) (int, error)) error {
	for {
		if _, err := once(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Error("fulfillment queue", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poked:
		case <-time.After(w.Interval):
		}
	}
}

// A worker's role in a scan of the queue.
type role int

const (
	roleAll     role = iota // the only worker: prepares and pays
	rolePrepare             // one replica's: prepares, hands off for payment
	rolePay                 // the leader's: pays what is prepared, resumes payments
)

func (r role) String() string {
	switch r {
	case rolePrepare:
		return "preparer"
	case rolePay:
		return "payer"
	}
	return "worker"
}

// QueueStats returns the fulfillment queue's depth and how long its oldest
// order has waited since it was paid, as of the last scan.
func (w *Worker) QueueStats() (depth int, oldest time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.queueDepth > 0 && !w.oldestPaid.IsZero() {
		oldest = w.Now().Sub(w.oldestPaid)
	}
	return w.queueDepth, oldest
}

// RunOnce takes every queued order that is due, oldest first and
// interleaved by owner (fairOrder), and returns how many it attempted. Up
// to Concurrency orders are worked on at once; a BatchProvider's prepared
// orders are paid in batches as they become ready. While the provider is
// throttled, the orders not yet started keep their place for the next
// scan.
//
// With a Replica it only prepares: it takes the due orders nothing has
// been paid for and that are not prepared yet, if the provider is a
// Handoff that can prepare here, and releases each once it is prepared,
// for the payer (PayOnce).
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	if w.Replica != "" {
		return w.runOnce(ctx, rolePrepare)
	}
	return w.runOnce(ctx, roleAll)
}

// PayOnce is RunOnce of the payer (see Pay): it takes the due orders with
// a recorded payment or prepared for payment (with a Handoff provider;
// with any other, every due order).
func (w *Worker) PayOnce(ctx context.Context) (int, error) {
	if w.Replica == "" {
		return 0, errors.New("fulfillment: PayOnce needs a Replica")
	}
	return w.runOnce(ctx, rolePay)
}

func (w *Worker) runOnce(ctx context.Context, r role) (int, error) {
	ho, handoff := w.Provider.(Handoff)
	if r == rolePrepare && (!handoff || !ho.CanPrepare()) {
		return 0, nil
	}
	// The whole queue: a page of orders all waiting out their backoff must
	// not hide the due ones behind it.
	queue, err := w.Shop.Queue(ctx, 0)
	if err != nil {
		return 0, err
	}
	w.noteQueue(queue)
	var due []shop.QueuedOrder
	for _, q := range queue {
		if q.Delivery != nil && w.Now().Before(q.Delivery.NextAttemptAt) {
			continue
		}
		switch {
		case r == rolePrepare && (q.Delivery.HasPayment() || ho.Prepared(q.Delivery)):
			continue // the payer's
		case r == rolePay && handoff && !q.Delivery.HasPayment() && !ho.Prepared(q.Delivery):
			continue // the preparers'
		}
		due = append(due, q)
	}
	due = fairOrder(due)
	// Recorded payments first: the wallet must see a message it signed
	// before a crash before it signs another for the same seqno.
	slices.SortStableFunc(due, func(a, b shop.QueuedOrder) int {
		return cmp.Compare(btoi(a.Delivery == nil || a.Delivery.Payout == nil), btoi(b.Delivery == nil || b.Delivery.Payout == nil))
	})

	bp, batching := w.Provider.(BatchProvider)
	paying := batching && r != rolePrepare
	var ready chan *Prepared
	if paying {
		ready = make(chan *Prepared)
	}
	var (
		wg     sync.WaitGroup
		errMu  sync.Mutex
		first  error
		n      int
		sem    = make(chan struct{}, w.Concurrency)
		report = func(err error) {
			if err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
		}
	)
	launched := make(chan struct{})
	go func() {
		defer func() {
			wg.Wait()
			if ready != nil {
				close(ready)
			}
			close(launched)
		}()
		for _, q := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			errMu.Lock()
			stop := first != nil
			errMu.Unlock()
			if stop || ctx.Err() != nil || w.throttled() {
				<-sem
				return
			}
			n++
			wg.Add(1)
			go func(id int64) {
				defer wg.Done()
				p, err := w.start(ctx, bp, id, r)
				<-sem
				report(err)
				if p != nil {
					ready <- p
				}
			}(q.OrderID)
		}
	}()
	if paying {
		report(w.payReady(ctx, bp, ready))
	}
	<-launched // n is written only by the launcher
	errMu.Lock()
	defer errMu.Unlock()
	return n, first
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// noteQueue keeps the queue's depth and oldest paid time for QueueStats.
func (w *Worker) noteQueue(queue []shop.QueuedOrder) {
	var oldest time.Time
	for _, q := range queue {
		if !q.PaidAt.IsZero() && (oldest.IsZero() || q.PaidAt.Before(oldest)) {
			oldest = q.PaidAt
		}
	}
	w.mu.Lock()
	w.queueDepth, w.oldestPaid = len(queue), oldest
	w.mu.Unlock()
}

// fairOrder orders due orders oldest first, taking one order of each owner
// in turn, so that one partner's burst cannot starve the others: owners
// take turns in the order of their oldest due order.
func fairOrder(qs []shop.QueuedOrder) []shop.QueuedOrder {
	var owners []int64
	byOwner := make(map[int64][]shop.QueuedOrder)
	for _, q := range qs { // the queue is oldest first
		if _, seen := byOwner[q.UserID]; !seen {
			owners = append(owners, q.UserID)
		}
		byOwner[q.UserID] = append(byOwner[q.UserID], q)
	}
	out := make([]shop.QueuedOrder, 0, len(qs))
	for len(out) < len(qs) {
		for _, u := range owners {
			if rest := byOwner[u]; len(rest) > 0 {
				out = append(out, rest[0])
				byOwner[u] = rest[1:]
			}
		}
	}
	return out
}

// start claims one order and works on it: with a BatchProvider, a new
// delivery is prepared and returned for payment; anything else (a
// recorded payment to resume, another provider) is delivered at once.
// With a Replica the claim is leased, and the role decides: a preparer
// prepares and releases the order for the payer; the payer pays what is
// prepared (LoadPrepared), resumes payments and delivers with other
// providers. It returns only store errors.
func (w *Worker) start(ctx context.Context, bp BatchProvider, orderID int64, r role) (*Prepared, error) {
	order, d, lease, err := w.claim(ctx, orderID, r)
	if shop.ErrorCode(err) == shop.EINVALIDSTATE {
		w.Logger.Debug("queued order is no longer deliverable", "order_id", orderID, "error", err)
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("claim order %d: %w", orderID, err)
	} else if order == nil {
		w.Logger.Debug("queued order is claimed by another replica", "order_id", orderID, "role", r)
		return nil, nil
	}
	job := &Job{Order: order, Delivery: d, SaveFunc: w.Shop.SaveDelivery, lease: lease}
	if lease != nil {
		job.SaveFunc = func(ctx context.Context, d *shop.Delivery) error {
			return w.Shop.SaveDeliveriesLeased(ctx, []*shop.Delivery{d}, []*shop.Lease{lease})
		}
	}
	healthy, pauseReason := w.Health()
	if !healthy && d.Payout == nil {
		// Nothing paid yet and the provider cannot work: admins now,
		// rather than a silent stall. A recorded payout is always
		// resumed: money may be on its way.
		return nil, w.moveToManual(ctx, job, "the provider is paused: "+pauseReason)
	}
	if bp == nil || paymentRecorded(job) {
		if r == rolePrepare { // a claim refuses it; never resumed here
			w.release(ctx, job)
			return nil, nil
		}
		ref, err := w.run(ctx, job, func(ctx context.Context) (string, error) { return w.Provider.Deliver(ctx, job) })
		return nil, w.finish(ctx, job, healthy, ref, err)
	}
	ho, handoff := bp.(Handoff)
	switch {
	case r == rolePrepare && ho.Prepared(d):
		// Prepared since the scan, by another replica: the payer's.
		w.release(ctx, job)
		return nil, nil
	case r == rolePay && handoff && !ho.Prepared(d):
		// Not prepared (yet, or again): the preparers'.
		w.release(ctx, job)
		return nil, nil
	case r == rolePay && handoff:
		p, err := ho.LoadPrepared(ctx, job)
		switch {
		case err == nil:
			return p, nil
		case !errors.Is(err, ErrPrepareAgain):
			return nil, w.finish(ctx, job, healthy, "", err)
		case !ho.CanPrepare():
			// Reset for the preparers (LoadPrepared forgot the request).
			if err := job.SaveFunc(ctx, job.Delivery); err != nil {
				return nil, w.finish(ctx, job, healthy, "", err)
			}
			w.release(ctx, job)
			return nil, nil
		}
		// Expired: prepare it again here, and pay it.
	}
	var p *Prepared
	_, err = w.run(ctx, job, func(ctx context.Context) (string, error) {
		var err error
		p, err = bp.Prepare(ctx, job)
		return "", err
	})
	if err != nil {
		return nil, w.finish(ctx, job, healthy, "", err)
	}
	if r == rolePrepare {
		// Recorded at its prepared step: the payer's now.
		w.release(ctx, job)
		poke(w.payPoke)
		return nil, nil
	}
	return p, nil
}

// claim claims an order: leased with a Replica (order nil when another
// claim holds it), else ClaimOrder's.
func (w *Worker) claim(ctx context.Context, orderID int64, r role) (*shop.Order, *shop.Delivery, *shop.Lease, error) {
	if w.Replica == "" {
		o, d, err := w.Shop.ClaimOrder(ctx, orderID, w.Name)
		return o, d, nil, err
	}
	return w.Shop.ClaimOrderLeased(ctx, orderID, w.Name, shop.Claim{Replica: w.Replica, Lease: w.Lease, Pays: r == rolePay})
}

// release ends job's lease, if it has one, so that another claim may take
// the order at once.
func (w *Worker) release(ctx context.Context, job *Job) {
	if job.lease == nil {
		return
	}
	if err := w.Shop.ReleaseOrder(context.WithoutCancel(ctx), job.Order.ID, job.lease); err != nil {
		w.Logger.Warn("could not release the claim on an order; it lapses", "order_id", job.Order.ID, "lease", w.Lease, "error", err)
	}
}

// holds reports whether job may still finish its order: always without a
// lease; with one, while it holds the order (the check renews it). A
// replica that lost an order to another leaves it to that one.
func (w *Worker) holds(ctx context.Context, job *Job) (bool, error) {
	if job.lease == nil {
		return true, nil
	}
	held, err := w.Shop.HoldsOrder(context.WithoutCancel(ctx), job.Order.ID, job.lease)
	if err != nil {
		return false, fmt.Errorf("check the claim on order %d: %w", job.Order.ID, err)
	}
	if !held {
		w.Logger.Info("another replica took the order; leaving it to it", "order_id", job.Order.ID)
	}
	return held, nil
}

// saveBatch is the save of a batch's payment: SaveDeliveries, or with
// leases, SaveDeliveriesLeased with each order's.
func (w *Worker) saveBatch(batch []*Prepared) func(context.Context, []*shop.Delivery) error {
	if w.Replica == "" {
		return w.Shop.SaveDeliveries
	}
	leases := make(map[int64]*shop.Lease, len(batch))
	for _, p := range batch {
		leases[p.Job.Order.ID] = p.Job.lease
	}
	return func(ctx context.Context, ds []*shop.Delivery) error {
		ls := make([]*shop.Lease, len(ds))
		for i, d := range ds {
			ls[i] = leases[d.OrderID]
		}
		return w.Shop.SaveDeliveriesLeased(ctx, ds, ls)
	}
}

// payReady pays prepared orders as they arrive: each batch takes every
// order ready when the previous batch is done (at most BatchLimit), so
// that preparation and payment overlap. It returns the first store error.
func (w *Worker) payReady(ctx context.Context, bp BatchProvider, ready <-chan *Prepared) error {
	limit := max(bp.BatchLimit(), 1)
	var first error
	for p := range ready {
		batch := []*Prepared{p}
	drain:
		for len(batch) < limit {
			select {
			case p, ok := <-ready:
				if !ok {
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		var outs []Outcome
		w.run(ctx, batch[0].Job, func(ctx context.Context) (string, error) {
			outs = bp.PayBatch(ctx, batch, w.saveBatch(batch))
			return "", nil
		})
		if w.OnBatch != nil {
			w.OnBatch(len(batch))
		}
		healthy, _ := w.Health()
		for i, p := range batch {
			o := Outcome{Err: Errorf(Retryable, "internal error in the provider")}
			if i < len(outs) {
				o = outs[i]
			}
			if err := w.finish(ctx, p.Job, healthy, o.Ref, o.Err); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// finish records the outcome of one delivery attempt: complete, refund,
// manual, pause, or a retry with backoff. healthy is the provider's health
// when the attempt started. It returns only store errors.
func (w *Worker) finish(ctx context.Context, job *Job, healthy bool, ref string, err error) error {
	order := job.Order
	log := w.Logger.With("order_id", order.ID, "provider", w.Name)
	if job.lease != nil && errors.Is(err, shop.ErrLeaseLost) {
		// Another replica claimed the order (this one's lease ran out):
		// nothing was saved, and the order is that one's now.
		log.Info("another replica took the order; leaving it to it", "error", err)
		w.release(ctx, job) // the batch's other orders, still this one's
		return nil
	}
	// A payout resumed during a pause proves nothing about new
	// deliveries, which stay paused.
	if healthy && answered(ctx, err) {
		w.recovered(ctx)
	}
	if err == nil {
		w.unthrottle()
		if held, herr := w.holds(ctx, job); !held {
			return herr
		}
		o, err := w.Shop.CompleteOrder(context.WithoutCancel(ctx), shop.SystemActor, order.ID, ref)
		if err != nil {
			return fmt.Errorf("complete order %d: %w", order.ID, err)
		}
		if w.OnDelivered != nil && !order.PaidAt.IsZero() {
			w.OnDelivered(o.CompletedAt.Sub(order.PaidAt))
		}
		log.Info("order delivered", "ref", ref)
		return nil
	}

	kind, reason := KindOf(err), ReasonOf(err)
	switch kind {
	case Permanent:
		if held, herr := w.holds(ctx, job); !held {
			return herr
		}
		// The shop refuses to refund an order a payment may have left
		// for (shop.Delivery.PaymentMayBeOut): it then goes to the admins.
		_, ferr := w.Shop.FailOrder(context.WithoutCancel(ctx), order.ID, reason)
		if shop.ErrorCode(ferr) == shop.EINVALIDSTATE {
			log.Warn("order needs an admin", "reason", reason, "error", err, "refund_refused", ferr)
			return w.moveToManual(ctx, job, reason)
		} else if ferr != nil {
			return fmt.Errorf("fail order %d: %w", order.ID, ferr)
		}
		log.Info("order cannot be delivered; refunded", "reason", reason, "error", err)
		return nil
	case Manual:
		log.Warn("order needs an admin", "reason", reason, "error", err)
		return w.moveToManual(ctx, job, reason)
	case Unhealthy:
		log.Error("provider unhealthy; pausing it", "reason", reason, "error", err)
		w.pause(ctx, reason)
		return w.moveToManual(ctx, job, reason)
	}

	// Retryable.
	d := job.Delivery
	// A retry may be another replica's: the claim ends with this attempt.
	defer w.release(ctx, job)
	if ctx.Err() != nil {
		// Shutting down: the order stays processing at its recorded step
		// and resumes on the next start; the attempt does not count.
		log.Info("delivery parked for shutdown", "step", d.Step)
		return nil
	}
	if Overloaded(err) {
		// The provider, not the order: hold every delivery back, and keep
		// this order's place (the attempt does not count).
		until := w.throttle()
		d.NextAttemptAt = until
		log.Info("provider overloaded; holding deliveries back", "until", until, "reason", reason, "error", err)
		return w.save(ctx, job)
	}
	d.Attempts++
	d.LastError = reason
	if d.Attempts >= w.MaxAttempts {
		log.Warn("delivery failed too often; handing the order to admins", "attempts", d.Attempts, "reason", reason, "error", err)
		if err := w.save(ctx, job); err != nil {
			return err
		}
		return w.moveToManual(ctx, job, fmt.Sprintf("delivery failed %d times: %s", d.Attempts, reason))
	}
	delay := w.backoff(d.Attempts)
	d.NextAttemptAt = w.Now().Add(delay)
	log.Info("delivery failed; will retry", "attempt", d.Attempts, "retry_in", delay.Round(time.Millisecond), "reason", reason, "error", err)
	return w.save(ctx, job)
}

// save records job's delivery; a lease lost meanwhile is not an error:
// the order is another replica's.
func (w *Worker) save(ctx context.Context, job *Job) error {
	err := job.SaveFunc(ctx, job.Delivery)
	if job.lease != nil && errors.Is(err, shop.ErrLeaseLost) {
		w.Logger.Info("another replica took the order; leaving it to it", "order_id", job.Order.ID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("save delivery of order %d: %w", job.Order.ID, err)
	}
	return nil
}

// throttled reports whether new deliveries are held back.
func (w *Worker) throttled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Now().Before(w.throttledUntil)
}

// throttle holds new deliveries back for the backoff of the overload
// signals in a row, and returns until when.
func (w *Worker) throttle() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.throttles++
	until := w.Now().Add(w.backoff(w.throttles))
	if until.After(w.throttledUntil) {
		w.throttledUntil = until
	}
	return w.throttledUntil
}

// unthrottle ends a run of overload signals.
func (w *Worker) unthrottle() {
	w.mu.Lock()
	w.throttles = 0
	w.mu.Unlock()
}

// run runs a provider step with a context that outlives ctx by Grace, so
// that a shutdown lets the step in progress finish or park; a panic is a
// retryable error.
func (w *Worker) run(ctx context.Context, job *Job, step func(ctx context.Context) (string, error)) (ref string, err error) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	// Cancelling dctx again after it ended is harmless.
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(w.Grace, cancel) })
	defer stop()
	defer func() {
		if p := recover(); p != nil {
			w.Logger.Error("provider panicked", "order_id", job.Order.ID, "panic", p)
			ref, err = "", Errorf(Retryable, "internal error in the provider")
		}
	}()
	return step(dctx)
}

// moveToManual hands job's order to the admins and alerts them, unless
// another replica took it.
func (w *Worker) moveToManual(ctx context.Context, job *Job, reason string) error {
	order := job.Order
	if held, err := w.holds(ctx, job); !held {
		return err
	}
	o, err := w.Shop.MoveToManual(context.WithoutCancel(ctx), order.ID, reason)
	if err != nil {
		return fmt.Errorf("move order %d to manual: %w", order.ID, err)
	}
	w.Notifier.Alert(ctx, shop.Alert{
		Kind:    shop.AlertManualNeeded,
		OrderID: o.ID,
		Amount:  o.PriceTON,
		Message: fmt.Sprintf("Order %d needs manual delivery: %s for @%s, paid %s TON. Reason: %s", o.ID, describe(o), o.Recipient, o.PriceTON, reason),
	})
	return nil
}

// pause stops deliveries for PauseFor and alerts admins once per pause.
func (w *Worker) pause(ctx context.Context, reason string) {
	d := w.PauseFor
	w.mu.Lock()
	already := w.Now().Before(w.pausedUntil)
	w.pausedUntil, w.pauseReason = w.Now().Add(d), reason
	if !already {
		w.unhealthy = true
	}
	w.mu.Unlock()
	if !already {
		w.Notifier.Alert(ctx, shop.Alert{
			Kind:    shop.AlertProviderUnhealthy,
			Message: fmt.Sprintf("The %s provider is unhealthy and paused for %s: %s. Orders go to manual delivery meanwhile.", w.Name, d, reason),
		})
	}
}

// answered reports whether a delivery's outcome shows the provider at
// work: any but Unhealthy, except a retryable failure during a shutdown,
// which may be the shutdown's own doing.
func answered(ctx context.Context, err error) bool {
	switch {
	case err == nil:
		return true
	case KindOf(err) == Unhealthy:
		return false
	case KindOf(err) == Retryable:
		return ctx.Err() == nil
	}
	return true
}

// recovered tells admins, once after each unhealthy alert, that the
// provider works again.
func (w *Worker) recovered(ctx context.Context) {
	w.mu.Lock()
	was := w.unhealthy
	w.unhealthy = false
	w.mu.Unlock()
	if was {
		w.Logger.Info("provider works again", "provider", w.Name)
		w.Notifier.Alert(ctx, shop.Alert{
			Kind:    shop.AlertProviderHealthy,
			Message: fmt.Sprintf("The %s provider works again; deliveries resumed.", w.Name),
		})
	}
}

// backoff is the delay before retry number attempt (1, 2, …): Backoff
// doubled per attempt, capped at MaxBackoff, with ±25% jitter.
func (w *Worker) backoff(attempt int) time.Duration {
	base, maxd := w.Backoff, w.MaxBackoff
	d := base
	for i := 1; i < attempt && d < maxd; i++ {
		d *= 2
	}
	d = min(d, maxd)
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

// describe says what an order buys, e.g. "100 Stars" or "Premium for 3 months".
func describe(o *shop.Order) string {
	if o.Type == shop.OrderPremium {
		return fmt.Sprintf("Premium for %d months", o.Months)
	}
	return fmt.Sprintf("%d Stars", o.Stars)
}

// LogNotifier writes alerts to a log; it stands in for the bot.
type LogNotifier struct {
	Logger *slog.Logger // default slog.Default()
}

// Alert logs a at warning level.
func (n LogNotifier) Alert(ctx context.Context, a shop.Alert) {
	l := n.Logger
	if l == nil {
		l = slog.Default()
	}
	l.WarnContext(ctx, "admin alert", "kind", a.Kind, "order_id", a.OrderID, "message", a.Message)
}
