package pgstore_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starsbot/pgstore"
	"starsbot/pgstore/pgtest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
)

// putUsers creates users 1..n, whom the events below belong to.
func putUsers(t *testing.T, db *pgstore.DB, n int) {
	t.Helper()
	err := db.Update(ctx, func(tx shop.Tx) error {
		for id := range int64(n) {
			if err := tx.PutUser(&shop.User{ID: id + 1, CreatedAt: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// balanceEvent returns a balance.credited event of user with id.
func balanceEvent(id string, user int64) *shop.OutboxEvent {
	return &shop.OutboxEvent{ID: id, Type: shop.PartnerBalanceCredited, UserID: user, CreatedAt: time.Now(),
		Balance: &shop.BalanceChange{Amount: shop.TON, Balance: shop.TON, Reason: "deposit"}}
}

// appendCommitted appends one event in an Update of its own and returns
// its sequence number.
func appendCommitted(t *testing.T, db *pgstore.DB, id string) uint64 {
	t.Helper()
	e := balanceEvent(id, 1)
	if err := db.Update(ctx, func(tx shop.Tx) error { return tx.AppendOutbox(e) }); err != nil {
		t.Fatal(err)
	}
	return e.Seq
}

// ids returns the events' ids in order.
func ids(es []*shop.OutboxEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// TestOutbox_HeldWriterHoldsReadersBack: a writer draws the lowest number
// and holds its transaction open while two later ones commit. A reader
// following OutboxAfter must not be shown the later two before the first:
// a cursor past them would skip it when it commits. Once it commits, the
// reader sees all three in number order.
func TestOutbox_HeldWriterHoldsReadersBack(t *testing.T) {
	db := pgtest.Open(t)
	putUsers(t, db, 1)

	drawn := make(chan uint64, 1)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseHeld := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseHeld) // before the store closes, which waits for it
	held := make(chan error, 1)
	go func() {
		runs := 0
		held <- db.Update(ctx, func(tx shop.Tx) error {
			runs++
			e := balanceEvent("evt_held", 1)
			if err := tx.AppendOutbox(e); err != nil {
				return err
			}
			// A read sends the append (queued until the next statement,
			// conn.go), so its number is drawn and the transaction holds it.
			if _, err := tx.FindUserByID(1); err != nil {
				return err
			}
			if runs == 1 {
				drawn <- e.Seq
				<-release
			}
			return nil
		})
	}()
	var first uint64
	select {
	case first = <-drawn:
	case err := <-held:
		t.Fatalf("held writer: %v", err)
	}
	second := appendCommitted(t, db, "evt_second")
	third := appendCommitted(t, db, "evt_third")
	if !(first < second && second < third) {
		t.Fatalf("numbers %d, %d, %d not in the order drawn", first, second, third)
	}

	// A reader while the first writer is open: whatever it returns, it
	// never shows a later event without the earlier one.
	read := make(chan []*shop.OutboxEvent, 1)
	readErr := make(chan error, 1)
	go func() {
		var es []*shop.OutboxEvent
		err := db.View(ctx, func(tx shop.Tx) (err error) {
			es, err = tx.OutboxAfter(0, 10)
			return err
		})
		readErr <- err
		read <- es
	}()
	checkPrefix := func(es []*shop.OutboxEvent) {
		t.Helper()
		got := ids(es)
		for i, want := range []string{"evt_held", "evt_second", "evt_third"} {
			if i == len(got) {
				return
			}
			if got[i] != want {
				t.Fatalf("reader got %v: not a prefix of [evt_held evt_second evt_third]", got)
			}
		}
	}
	select {
	case err := <-readErr:
		// Returned while the first writer is open: it may show nothing
		// of the three, never the later two alone.
		if err != nil {
			t.Fatal(err)
		}
		es := <-read
		checkPrefix(es)
		if len(es) > 0 {
			t.Fatalf("reader saw %v while the first event's writer was open", ids(es))
		}
	case <-time.After(200 * time.Millisecond):
		// Still held back, as expected; it returns after the commit.
	}
	releaseHeld()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readErr:
		if err != nil {
			t.Fatal(err)
		}
		checkPrefix(<-read)
	default:
	}

	var es []*shop.OutboxEvent
	if err := db.View(ctx, func(tx shop.Tx) (err error) { es, err = tx.OutboxAfter(0, 10); return err }); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(es), []string{"evt_held", "evt_second", "evt_third"}; !slices.Equal(got, want) {
		t.Errorf("after the commit OutboxAfter(0) = %v, want %v", got, want)
	}
}

// TestOutbox_ConcurrentWritersCursorReaders: writers append events
// concurrently (some transactions held open between their appends, some
// rolled back) while two readers follow the outbox by cursor, one with
// OutboxAfter in Views, one as the fan-out does (OutboxIndexed, OutboxAfter
// and IndexOutbox in Updates). Each reader must see every committed event
// exactly once, in strictly increasing number order, and no rolled-back one.
func TestOutbox_ConcurrentWritersCursorReaders(t *testing.T) {
	db := pgtest.Open(t)
	const users = 4
	putUsers(t, db, users)
	errRollback := errors.New("rolled back on purpose")

	var mu sync.Mutex
	committed := map[string]bool{}
	var writers sync.WaitGroup
	var done atomic.Bool
	for w := range 6 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 40 {
				var batch []string
				err := db.Update(ctx, func(tx shop.Tx) error {
					batch = batch[:0]
					for j := range 1 + rand.IntN(3) {
						e := balanceEvent(fmt.Sprintf("evt_%d_%d_%d", w, i, j), int64(1+rand.IntN(users)))
						if err := tx.AppendOutbox(e); err != nil {
							return err
						}
						batch = append(batch, e.ID)
						// A read sends the append (conn.go), drawing its
						// number; hold the transaction open: later numbers
						// commit first.
						if _, err := tx.FindUserByID(e.UserID); err != nil {
							return err
						}
						time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					}
					if i%5 == 4 {
						return errRollback
					}
					return nil
				})
				if errors.Is(err, errRollback) {
					continue
				} else if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, id := range batch {
					committed[id] = true
				}
				mu.Unlock()
			}
		}()
	}

	// follow reads pages with read until the writers are done and a page
	// started after that is empty, checking the order as it goes.
	follow := func(name string, read func(cur uint64) ([]*shop.OutboxEvent, error)) []string {
		var seen []string
		var cur uint64
		for {
			finished := done.Load()
			es, err := read(cur)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				return seen
			}
			for _, e := range es {
				if e.Seq <= cur {
					t.Errorf("%s: event %d after %d: numbers not increasing", name, e.Seq, cur)
				}
				cur = e.Seq
				seen = append(seen, e.ID)
			}
			if len(es) == 0 && finished {
				return seen
			}
		}
	}
	var readers sync.WaitGroup
	var viewSeen, fanSeen []string
	readers.Add(2)
	go func() {
		defer readers.Done()
		viewSeen = follow("OutboxAfter in View", func(cur uint64) (es []*shop.OutboxEvent, err error) {
			err = db.View(ctx, func(tx shop.Tx) error {
				es, err = tx.OutboxAfter(cur, 7)
				return err
			})
			return es, err
		})
	}()
	go func() {
		defer readers.Done()
		fanSeen = follow("fan-out in Update", func(uint64) (es []*shop.OutboxEvent, err error) {
			err = db.Update(ctx, func(tx shop.Tx) error {
				es = nil
				cur, err := tx.OutboxIndexed()
				if err != nil {
					return err
				}
				if es, err = tx.OutboxAfter(cur, 5); err != nil {
					return err
				}
				for _, e := range es {
					if err := tx.IndexOutbox(e); err != nil {
						return err
					}
				}
				return nil
			})
			return es, err
		})
	}()
	writers.Wait()
	done.Store(true)
	readers.Wait()
	if t.Failed() {
		return
	}
	if len(committed) == 0 {
		t.Fatal("no event committed")
	}
	for name, seen := range map[string][]string{"View reader": viewSeen, "fan-out reader": fanSeen} {
		got := map[string]bool{}
		for _, id := range seen {
			if got[id] {
				t.Errorf("%s: %s seen twice", name, id)
			}
			if !committed[id] {
				t.Errorf("%s: %s was not committed", name, id)
			}
			got[id] = true
		}
		for id := range committed {
			if !got[id] {
				t.Errorf("%s: committed event %s skipped", name, id)
			}
		}
	}

	// The per-user index the fan-out built holds every event, in order.
	n := 0
	err := db.View(ctx, func(tx shop.Tx) error {
		for u := range int64(users) {
			es, more, err := tx.FindOutboxByUser(u+1, 0, 1000)
			if err != nil {
				return err
			}
			if more {
				return fmt.Errorf("user %d: more than 1000 events", u+1)
			}
			for i, e := range es {
				if e.UserID != u+1 || (i > 0 && e.Seq <= es[i-1].Seq) {
					t.Errorf("user %d: event %d (user %d) out of place", u+1, e.Seq, e.UserID)
				}
			}
			n += len(es)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(committed) {
		t.Errorf("FindOutboxByUser holds %d events, %d committed", n, len(committed))
	}
}

// TestOutbox_ServiceOnPostgres: the shop's readers of the outbox on
// PostgreSQL. A webhook.test delivery names its event by the number drawn
// in the same transaction, and the dispatcher finds that event by it; the
// feed shows an event as soon as its transaction has committed.
func TestOutbox_ServiceOnPostgres(t *testing.T) {
	s := shoptest.New(t, &shoptest.Options{Postgres: true})
	svc := s.Service
	const alice = 1001
	if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: alice, Username: "alice", LanguageCode: "en"}); err != nil {
		t.Fatal(err)
	}
	svc.WebhookAllowPrivate = true
	w, err := svc.CreateWebhook(ctx, alice, "http://127.0.0.1:9/h", nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.TestWebhook(ctx, alice, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	due, err := svc.DueWebhooks(ctx, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Delivery.ID != d.ID || due[0].Event.Seq != d.EventSeq || due[0].Event.WebhookID != w.ID {
		t.Fatalf("DueWebhooks = %+v, want delivery %d of the test event %d", due, d.ID, d.EventSeq)
	}

	if _, err := svc.AdminCredit(ctx, 9, alice, shop.TON, "test"); err != nil {
		t.Fatal(err)
	}
	es, _, err := svc.Events(ctx, alice, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].Type != shop.PartnerBalanceCredited || es[0].Seq <= d.EventSeq {
		t.Fatalf("Events = %v, want the credit, after the test event %d", ids(es), d.EventSeq)
	}
}
