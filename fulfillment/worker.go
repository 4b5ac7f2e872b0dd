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

	poke chan struct{}

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
	return &Worker{WorkerConfig: cfg, poke: make(chan struct{}, 1)}, nil
}

// Poke makes a running worker look at the queue now (main calls it when an
// order is paid). It never blocks.
func (w *Worker) Poke() {
	select {
	case w.poke <- struct{}{}:
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

// Run delivers queued orders until ctx is done. A store error is logged
// and retried at the next scan.
func (w *Worker) Run(ctx context.Context) error {
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.Logger.Error("fulfillment queue", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.poke:
		case <-time.After(w.Interval):
		}
	}
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
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	// The whole queue: a page of orders all waiting out their backoff must
	// not hide the due ones behind it.
	queue, err := w.Shop.Queue(ctx, 0)
	if err != nil {
		return 0, err
	}
	w.noteQueue(queue)
	var due []shop.QueuedOrder
	for _, q := range queue {
		if q.Delivery == nil || !w.Now().Before(q.Delivery.NextAttemptAt) {
			due = append(due, q)
		}
	}
	due = fairOrder(due)
	// Recorded payments first: the wallet must see a message it signed
	// before a crash before it signs another for the same seqno.
	slices.SortStableFunc(due, func(a, b shop.QueuedOrder) int {
		return cmp.Compare(btoi(a.Delivery == nil || a.Delivery.Payout == nil), btoi(b.Delivery == nil || b.Delivery.Payout == nil))
	})

	bp, batching := w.Provider.(BatchProvider)
	var ready chan *Prepared
	if batching {
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
				p, err := w.start(ctx, bp, id)
				<-sem
				report(err)
				if p != nil {
					ready <- p
				}
			}(q.OrderID)
		}
	}()
	if batching {
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
// recorded payment to resume, another provider) is delivered at once. It
// returns only store errors.
func (w *Worker) start(ctx context.Context, bp BatchProvider, orderID int64) (*Prepared, error) {
	order, d, err := w.Shop.ClaimOrder(ctx, orderID, w.Name)
	if shop.ErrorCode(err) == shop.EINVALIDSTATE {
		w.Logger.Debug("queued order is no longer deliverable", "order_id", orderID, "error", err)
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("claim order %d: %w", orderID, err)
	}
	healthy, pauseReason := w.Health()
	if !healthy && d.Payout == nil {
		// Nothing paid yet and the provider cannot work: admins now,
		// rather than a silent stall. A recorded payout is always
		// resumed: money may be on its way.
		return nil, w.moveToManual(ctx, order, "the provider is paused: "+pauseReason)
	}
	job := &Job{Order: order, Delivery: d, SaveFunc: w.Shop.SaveDelivery}
	if bp == nil || d.Payout != nil || d.Paid != nil || d.Confirmed {
		ref, err := w.run(ctx, job, func(ctx context.Context) (string, error) { return w.Provider.Deliver(ctx, job) })
		return nil, w.finish(ctx, job, healthy, ref, err)
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
	return p, nil
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
			outs = bp.PayBatch(ctx, batch, w.Shop.SaveDeliveries)
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
	// A payout resumed during a pause proves nothing about new
	// deliveries, which stay paused.
	if healthy && answered(ctx, err) {
		w.recovered(ctx)
	}
	if err == nil {
		w.unthrottle()
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
		// The shop refuses to refund an order a payment may have left
		// for (shop.Delivery.PaymentMayBeOut): it then goes to the admins.
		_, ferr := w.Shop.FailOrder(context.WithoutCancel(ctx), order.ID, reason)
		if shop.ErrorCode(ferr) == shop.EINVALIDSTATE {
			log.Warn("order needs an admin", "reason", reason, "error", err, "refund_refused", ferr)
			return w.moveToManual(ctx, order, reason)
		} else if ferr != nil {
			return fmt.Errorf("fail order %d: %w", order.ID, ferr)
		}
		log.Info("order cannot be delivered; refunded", "reason", reason, "error", err)
		return nil
	case Manual:
		log.Warn("order needs an admin", "reason", reason, "error", err)
		return w.moveToManual(ctx, order, reason)
	case Unhealthy:
		log.Error("provider unhealthy; pausing it", "reason", reason, "error", err)
		w.pause(ctx, reason)
		return w.moveToManual(ctx, order, reason)
	}

	// Retryable.
	d := job.Delivery
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
		if err := w.Shop.SaveDelivery(ctx, d); err != nil {
			return fmt.Errorf("save delivery of order %d: %w", order.ID, err)
		}
		return nil
	}
	d.Attempts++
	d.LastError = reason
	if d.Attempts >= w.MaxAttempts {
		log.Warn("delivery failed too often; handing the order to admins", "attempts", d.Attempts, "reason", reason, "error", err)
		if err := w.Shop.SaveDelivery(ctx, d); err != nil {
			return fmt.Errorf("save delivery of order %d: %w", order.ID, err)
		}
		return w.moveToManual(ctx, order, fmt.Sprintf("delivery failed %d times: %s", d.Attempts, reason))
	}
	delay := w.backoff(d.Attempts)
	d.NextAttemptAt = w.Now().Add(delay)
	log.Info("delivery failed; will retry", "attempt", d.Attempts, "retry_in", delay.Round(time.Millisecond), "reason", reason, "error", err)
	if err := w.Shop.SaveDelivery(ctx, d); err != nil {
		return fmt.Errorf("save delivery of order %d: %w", order.ID, err)
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

// moveToManual hands an order to the admins and alerts them.
func (w *Worker) moveToManual(ctx context.Context, order *shop.Order, reason string) error {
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
