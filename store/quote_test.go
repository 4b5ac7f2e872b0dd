package store_test

import (
	"reflect"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_Quotes(t *testing.T) {
	db := storetest.Open(t)
	update(t, db, func(tx shop.Tx) error { return tx.PutUser(newUser(1, "alice_a", "AP1")) })
	quote := func(id string, expires time.Time) *shop.LockedQuote {
		return &shop.LockedQuote{
			ID: id, UserID: 1, CreatedAt: t0, ExpiresAt: expires,
			Quote: shop.Quote{Type: shop.OrderStars, Stars: 100, PriceUSD: 1_500_000, FeePPM: 10_000, FeeTON: 4_136_900, PriceTON: 421_964_199,
				Rate: shop.Rate{TONUSD: 3_590_000, Source: "static", UpdatedAt: t0}},
		}
	}
	qs := []*shop.LockedQuote{
		quote("c", t0.Add(3*time.Second)),
		quote("a", t0.Add(1*time.Second)),
		quote("b", t0.Add(2*time.Second)),
		quote("d", t0.Add(2*time.Second)), // same expiry as b
	}
	update(t, db, func(tx shop.Tx) error {
		for _, q := range qs {
			if err := tx.PutQuote(q); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, db, func(tx shop.Tx) error {
		for _, q := range qs {
			if got, err := tx.FindQuote(q.ID); err != nil || !reflect.DeepEqual(got, q) {
				t.Errorf("FindQuote(%q) = %+v, %v; want %+v", q.ID, got, err, q)
			}
		}
		_, err := tx.FindQuote("A") // exact: ids are case-sensitive
		wantNotFound(t, "FindQuote other case", err)
		_, err = tx.FindQuote("")
		wantNotFound(t, "FindQuote empty", err)
		return nil
	})

	// Replacing a quote with a later expiry moves its index entry.
	moved := *qs[1]
	moved.ExpiresAt = t0.Add(time.Hour)
	update(t, db, func(tx shop.Tx) error { return tx.PutQuote(&moved) })
	check(t, db)

	// Bounded: at most limit, soonest first; then the rest before the cut.
	var n int
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteQuotesExpired(t0.Add(3*time.Second), 1)
		return err
	})
	if n != 1 {
		t.Errorf("deleted %d, want 1", n)
	}
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteQuotesExpired(t0.Add(3*time.Second), 100)
		return err
	})
	if n != 1 {
		t.Errorf("deleted %d, want 1 (b and d expire together, c not before the cut)", n)
	}
	view(t, db, func(tx shop.Tx) error {
		for id, want := range map[string]bool{"a": true, "b": false, "c": true, "d": false} {
			_, err := tx.FindQuote(id)
			if kept := err == nil; kept != want {
				t.Errorf("quote %s kept = %v, want %v (%v)", id, kept, want, err)
			}
		}
		return nil
	})
	update(t, db, func(tx shop.Tx) (err error) {
		n, err = tx.DeleteQuotesExpired(t0.Add(2*time.Hour), 100)
		return err
	})
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	check(t, db)

	view(t, db, func(tx shop.Tx) error {
		if err := tx.PutQuote(qs[0]); err == nil {
			t.Error("PutQuote in a read-only transaction succeeded")
		}
		return nil
	})
}
