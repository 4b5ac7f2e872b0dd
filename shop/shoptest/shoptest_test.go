package shoptest_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store/storetest"
)

func TestNew(t *testing.T) {
	ctx := context.Background()
	s := shoptest.New(t, nil)
	if got := s.Service.Pricing(); !reflect.DeepEqual(got, shop.DefaultPricing()) {
		t.Errorf("pricing = %+v, want the default", got)
	}
	if s.Clock.Now() != shoptest.Start {
		t.Errorf("clock = %v, want %v", s.Clock.Now(), shoptest.Start)
	}
	s.Clock.Advance(time.Hour)
	u, err := s.Service.EnsureUser(ctx, shop.UserUpdate{ID: 1001, Username: "alice_1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := shoptest.Start.Add(time.Hour); !u.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want the clock's %v", u.CreatedAt, want)
	}
	if _, err := s.Service.AdminCredit(ctx, 9, 1001, shop.TON, "test"); err != nil {
		t.Fatal(err)
	}
	if n := s.Events.Count(shop.EventAdminCredit); n != 1 {
		t.Errorf("%d balance events, want 1: %+v", n, s.Events.All())
	}
	s.Events.Wait(t, shop.EventAdminCredit, 1)
	if got := s.Events.Take(); len(got) == 0 || len(s.Events.All()) != 0 {
		t.Errorf("Take = %+v, then All = %+v", got, s.Events.All())
	}
}

// TestRetryStore checks that RetryStore runs fn twice, commits only the
// second run, returns fn's error unchanged, and so shows a closure that
// keeps what it captured in its first run.
func TestRetryStore(t *testing.T) {
	ctx := context.Background()
	st := shoptest.RetryStore(storetest.Open(t))

	runs := 0
	var ids []int64 // not reset by fn: the mistake this store shows
	err := st.Update(ctx, func(tx shop.Tx) error {
		runs++
		id, err := tx.NextOrderID()
		ids = append(ids, id)
		return err
	})
	if err != nil || runs != 2 {
		t.Fatalf("Update = %v after %d runs, want nil after 2", err, runs)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 1 {
		t.Errorf("ids = %v, want [1 1]: the first run is rolled back, and the capture kept it", ids)
	}
	var next int64
	if err := st.Update(ctx, func(tx shop.Tx) (err error) { next, err = tx.NextOrderID(); return err }); err != nil || next != 2 {
		t.Errorf("next id = %d, %v, want 2: one run committed", next, err)
	}

	errBoom := errors.New("boom")
	runs = 0
	if err := st.Update(ctx, func(shop.Tx) error { runs++; return errBoom }); err != errBoom || runs != 2 {
		t.Errorf("Update = %v after %d runs, want errBoom unchanged after 2", err, runs)
	}
}

func TestEvents_Wait(t *testing.T) {
	s := shoptest.New(t, nil)
	later := shoptest.Subscribe(s.Service)
	if _, err := s.Service.EnsureUser(context.Background(), shop.UserUpdate{ID: 1001}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Service.AdminCredit(context.Background(), 9, 1001, shop.TON, "one")
		if err == nil {
			_, err = s.Service.AdminCredit(context.Background(), 9, 1001, shop.TON, "two")
		}
		done <- err
	}()
	later.Wait(t, shop.EventAdminCredit, 2)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := later.Count(shop.EventAdminCredit); n != 2 {
		t.Errorf("%d admin_credit events, want 2", n)
	}
}
