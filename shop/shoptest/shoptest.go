// Package shoptest runs a shop.Service for tests, as tailscale/setec's
// setectest does for its server: the service on a real bbolt store in the
// test's temporary directory, checked with store.Check when the test ends,
// with a settable clock and a record of the events it emits.
//
//	s := shoptest.New(t, nil)
//	u, err := s.Service.EnsureUser(ctx, shop.UserUpdate{ID: 1001})
//	s.Clock.Advance(time.Hour)
//	for _, ev := range s.Events.Take() { … }
//
// It is for the tests of packages that use shop; shop's own internal tests
// (package shop) cannot import it, since it imports store, which imports
// shop.
package shoptest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"starsbot/pgstore/pgtest"
	"starsbot/shop"
	"starsbot/store"
	"starsbot/store/storetest"
)

// The defaults of Options.
const (
	// DepositAddress is the shop's deposit address.
	DepositAddress = "UQBFJTkJ5hZdH7i6rWQTnm43zn6h2dPBV9lFZ2e98WvWABy_"
	// Rate is the TON/USD rate, 3.59 USD/TON: 100 stars at the default
	// pricing cost 0.417827299 TON, 0.418 rounded up to the default
	// price step.
	Rate = shop.MicroUSD(3_590_000)
)

// Start is the clock's default first reading.
var Start = time.Date(2026, 4, 16, 12, 0, 0, 0, time.UTC)

// Options adjust New. The zero value (or nil) gives the defaults.
type Options struct {
	// Start is the clock's first reading and the time the static rate was
	// quoted; default Start.
	Start time.Time
	// Rate is the static TON/USD rate; default Rate. Rates, when set,
	// replaces it.
	Rate  shop.MicroUSD
	Rates shop.RateSource
	// Pricing is the price list in force; default shop.DefaultPricing().
	Pricing *shop.Pricing
	// DepositAddress is the shop's deposit address; default DepositAddress.
	DepositAddress string
	// DB is the store to run on, which the caller checks and closes; by
	// default a new one from storetest.Open, checked and closed when the
	// test ends.
	DB *store.DB
	// Retry makes every Update of the service run its fn twice, the first
	// run rolled back: see RetryStore.
	Retry bool
	// Postgres runs the service on PostgreSQL (package pgstore) instead of
	// bbolt: a new schema on TEST_DATABASE_URL (pgtest.Open), checked and
	// dropped when the test ends; DB must be nil, and Shop.DB is nil.
	Postgres bool
}

// Store is a shop.Store with its invariant check: *store.DB or
// *pgstore.DB.
type Store interface {
	shop.Store
	Check(ctx context.Context) error
}

// Shop is a shop.Service under test.
type Shop struct {
	DB      *store.DB     // nil with Options.Postgres
	Store   Store         // the store the service runs on: DB, or PostgreSQL
	Service *shop.Service // its Now is Clock.Now
	Clock   *Clock
	Events  *Events // every event the service emits, from New on
}

// New returns a Service on a store, with the clock at opts.Start and the
// event record subscribed.
func New(tb testing.TB, opts *Options) *Shop {
	tb.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Start.IsZero() {
		o.Start = Start
	}
	if o.Rate == 0 {
		o.Rate = Rate
	}
	if o.Rates == nil {
		o.Rates = shop.StaticRate{TONUSD: o.Rate, Since: o.Start}
	}
	if o.Pricing == nil {
		p := shop.DefaultPricing()
		o.Pricing = &p
	}
	if o.DepositAddress == "" {
		o.DepositAddress = DepositAddress
	}
	var checked Store
	var st shop.Store
	switch {
	case o.Postgres && o.DB != nil:
		tb.Fatal("shoptest: Options.Postgres with Options.DB")
	case o.Postgres:
		db := pgtest.Open(tb)
		checked, st = db, db
		if o.Retry {
			st = rerunStore{db}
		}
	default:
		if o.DB == nil {
			o.DB = storetest.Open(tb)
		}
		checked, st = o.DB, o.DB
		if o.Retry {
			st = RetryStore(o.DB)
		}
	}
	svc, err := shop.NewService(st, o.Rates, *o.Pricing, o.DepositAddress)
	if err != nil {
		tb.Fatalf("shoptest: %v", err)
	}
	s := &Shop{DB: o.DB, Store: checked, Service: svc, Clock: NewClock(o.Start), Events: Subscribe(svc)}
	svc.Now = s.Clock.Now
	return s
}

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// WaitTimeout is how long Events.Wait waits before it fails the test.
const WaitTimeout = 10 * time.Second

// Events records the events of a Service, in the order emitted. It is safe
// for concurrent use.
type Events struct {
	mu      sync.Mutex
	list    []shop.Event
	changed chan struct{} // closed and cleared at every event; nil until waited on
}

// Subscribe returns a new record of the events svc emits from now on.
func Subscribe(svc *shop.Service) *Events {
	e := &Events{}
	svc.Subscribe(e.add)
	return e
}

func (e *Events) add(ev shop.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// All returns the events recorded and not yet taken.
func (e *Events) All() []shop.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]shop.Event(nil), e.list...)
}

// Take returns the events recorded and not yet taken, and forgets them.
func (e *Events) Take() []shop.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.list
	e.list = nil
	return list
}

// Count returns how many of the events not yet taken are of type t.
func (e *Events) Count(t shop.EventType) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.list {
		if ev.Type == t {
			n++
		}
	}
	return n
}

// Wait waits until n events of type t are recorded and not yet taken, woken
// by each event, and fails the test after WaitTimeout.
func (e *Events) Wait(tb testing.TB, t shop.EventType, n int) {
	tb.Helper()
	timeout := time.NewTimer(WaitTimeout)
	defer timeout.Stop()
	for {
		e.mu.Lock()
		got := 0
		for _, ev := range e.list {
			if ev.Type == t {
				got++
			}
		}
		if got >= n {
			e.mu.Unlock()
			return
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		ch := e.changed
		e.mu.Unlock()
		select {
		case <-ch:
		case <-timeout.C:
			tb.Fatalf("shoptest: %d %s events after %v, want %d", got, t, WaitTimeout, n)
		}
	}
}

// RetryStore returns db as a shop.Store whose Update makes db run fn twice,
// as db does whenever another update of fn's commit group fails: the first
// run fails inside its group, so db rolls it back and runs fn again alone,
// and what the second run returns is Update's result. A fn that does not
// reset at its start what it captures, as shop.Store.Update requires, sees
// its first run's results again.
func RetryStore(db *store.DB) shop.Store { return retryStore{db} }

type retryStore struct{ *store.DB }

// errRetry fails the first run of each fn under RetryStore. Update never
// returns it while store.DB re-runs a failed fn alone.
var errRetry = errors.New("shoptest: first run, rolled back to force a retry")

func (s retryStore) Update(ctx context.Context, fn func(shop.Tx) error) error {
	first := true
	return s.DB.Update(ctx, func(tx shop.Tx) error {
		if first {
			first = false
			_ = fn(tx) // whatever it returns, it is rolled back
			return errRetry
		}
		return fn(tx)
	})
}

// rerunStore is RetryStore for a store without group commit (PostgreSQL):
// each Update runs fn once in a transaction that it rolls back, then runs
// it again for real. The store returns fn's error unchanged, so the first
// run's errRetry tells that it ran.
type rerunStore struct{ Store }

func (s rerunStore) Update(ctx context.Context, fn func(shop.Tx) error) error {
	err := s.Store.Update(ctx, func(tx shop.Tx) error {
		_ = fn(tx) // whatever it returns, it is rolled back
		return errRetry
	})
	if err != errRetry {
		return err
	}
	return s.Store.Update(ctx, fn)
}
