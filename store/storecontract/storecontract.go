// Package storecontract is the contract test suite of shop.Store: one set
// of tests that every implementation passes (package store on bbolt,
// package pgstore on PostgreSQL), so that the shop behaves the same on
// either. Each implementation's tests call Run with a function that opens
// a new, empty store and checks it (its Check) when the test ends.
package storecontract

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"starsbot/shop"
)

// Store is what the suite tests: a shop.Store with its invariant check.
type Store interface {
	shop.Store
	Check(ctx context.Context) error
}

// Open opens a new, empty store for one test, closed and checked when the
// test ends.
type Open func(tb testing.TB) Store

// Run runs the suite, each test on a store of its own.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, Store)
	}{
		{"Users", testUsers},
		{"UsernameOwnership", testUsernameOwnership},
		{"MemoNamespace", testMemoNamespace},
		{"APIKeys", testAPIKeys},
		{"Orders", testOrders},
		{"OrderPages", testOrderPages},
		{"OrderWalks", testOrderWalks},
		{"OrderTotals", testOrderTotals},
		{"Ledger", testLedger},
		{"Deposits", testDeposits},
		{"DepositTotals", testDepositTotals},
		{"Idempotency", testIdempotency},
		{"QueueDeliveryAudit", testQueueDeliveryAudit},
		{"QueueClaims", testQueueClaims},
		{"QueueClaimsConcurrent", testQueueClaimsConcurrent},
		{"QuotesSettingsCursors", testQuotesSettingsCursors},
		{"Outbox", testOutbox},
		{"Webhooks", testWebhooks},
		{"WebhookDeliveries", testWebhookDeliveries},
		{"Rollback", testRollback},
		{"ViewRefusesWrites", testViewRefusesWrites},
		{"ConcurrentWriters", testConcurrentWriters},
		{"RerunSafety", testRerunSafety},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// t0 is the suite's clock: whole seconds, UTC, so that every store keeps
// it exactly.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func update(t *testing.T, st Store, fn func(shop.Tx) error) {
	t.Helper()
	if err := st.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, st Store, fn func(shop.Tx) error) {
	t.Helper()
	if err := st.View(ctx, fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// notFound fails unless err is an ENOTFOUND *shop.Error.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if shop.ErrorCode(err) != shop.ENOTFOUND {
		t.Errorf("%s: error %v, want ENOTFOUND", what, err)
	}
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !equal(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, deref(got), deref(want))
	}
}

// equal is reflect.DeepEqual that compares times with Equal (a store may
// return a time in another location).
func equal(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	} else if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == reflect.TypeFor[time.Time]() {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !equal(a.MapIndex(k), b.MapIndex(k)) {
				return false
			}
		}
		return true
	}
	if a.CanInterface() {
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return rv.Elem().Interface()
	}
	if rv.Kind() == reflect.Slice {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = deref(rv.Index(i).Interface())
		}
		return out
	}
	return v
}

func user(id int64, name, memo string) *shop.User {
	return &shop.User{ID: id, Username: name, Language: "en", Memo: memo, CreatedAt: t0}
}

func order(id, userID int64, status shop.OrderStatus) *shop.Order {
	return &shop.Order{ID: id, UserID: userID, Status: status, Type: shop.OrderStars, Stars: 100,
		PriceTON: 2 * shop.TON, FeeTON: shop.TON / 10, PaymentMethod: shop.PayBalance, Recipient: "someone", CreatedAt: t0}
}

// reserve takes order ids 1..n from a new store's sequence, for tests
// that put orders with known ids.
func reserve(t *testing.T, st Store, n int64) {
	t.Helper()
	update(t, st, func(tx shop.Tx) error {
		for want := int64(1); want <= n; want++ {
			id, err := tx.NextOrderID()
			if err != nil {
				return err
			}
			if id != want {
				return fmt.Errorf("order id %d of a new store, want %d", id, want)
			}
		}
		return nil
	})
}

// secret returns a well-formed webhook secret derived from s.
func secret(s string) shop.WebhookSecret {
	return shop.WebhookSecret(shop.WebhookSecretPrefix + base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("%032s", s))))
}

func ids[R any](rs []*R, id func(*R) int64) []int64 {
	out := []int64{}
	for _, r := range rs {
		out = append(out, id(r))
	}
	return out
}

func orderIDs(os []*shop.Order) []int64 {
	return ids(os, func(o *shop.Order) int64 { return o.ID })
}

// testUsers: Put and every Find, copies, ENOTFOUND, walks.
func testUsers(t *testing.T, st Store) {
	want := user(7, "Alice", "AP7")
	want.Balance, want.ReferredBy, want.AlertLowBalance, want.StartPayload = 0, 3, shop.TON/2, "ref3"
	update(t, st, func(tx shop.Tx) error {
		for _, u := range []*shop.User{user(9, "", ""), user(3, "carol", "AP3"), want} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(7)
		if err != nil {
			return err
		}
		same(t, "FindUserByID", u, want)
		u.Balance = 99 // a copy: changes nothing stored
		for _, name := range []string{"alice", "@ALICE", " Alice "} {
			u, err := tx.FindUserByUsername(name)
			if err != nil {
				return fmt.Errorf("username %q: %w", name, err)
			}
			same(t, "FindUserByUsername "+name, u, want)
		}
		for _, memo := range []string{"AP7", "ap7", " Ap7 "} {
			u, err := tx.FindUserByMemo(memo)
			if err != nil {
				return fmt.Errorf("memo %q: %w", memo, err)
			}
			same(t, "FindUserByMemo "+memo, u, want)
			if taken, err := tx.MemoTaken(memo); err != nil || !taken {
				t.Errorf("MemoTaken(%q) = %v, %v", memo, taken, err)
			}
		}
		if taken, err := tx.MemoTaken("AP8"); err != nil || taken {
			t.Errorf("MemoTaken(AP8) = %v, %v", taken, err)
		}
		_, err = tx.FindUserByID(8)
		notFound(t, "FindUserByID(8)", err)
		_, err = tx.FindUserByUsername("")
		notFound(t, "FindUserByUsername empty", err)
		_, err = tx.FindUserByUsername("nobody")
		notFound(t, "FindUserByUsername nobody", err)
		_, err = tx.FindUserByMemo("")
		notFound(t, "FindUserByMemo empty", err)
		var walked []int64
		if err := tx.ForEachUser(func(u *shop.User) error { walked = append(walked, u.ID); return nil }); err != nil {
			return err
		}
		same(t, "ForEachUser order", walked, []int64{3, 7, 9})
		stop := errors.New("stop")
		if err := tx.ForEachUser(func(*shop.User) error { return stop }); err != stop {
			t.Errorf("ForEachUser returned %v, want fn's error", err)
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(7)
		if err == nil && u.Balance != 0 {
			t.Errorf("changing a found user changed the store: balance %d", u.Balance)
		}
		return err
	})
	// Renaming frees the old name; a user without a memo keeps none.
	update(t, st, func(tx shop.Tx) error {
		u := user(7, "alicia", "AP7")
		return tx.PutUser(u)
	})
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindUserByUsername("alice")
		notFound(t, "old username", err)
		u, err := tx.FindUserByUsername("Alicia")
		if err == nil && u.ID != 7 {
			t.Errorf("new username names user %d", u.ID)
		}
		return err
	})
	// Walking while writing: fn may write the users it is given.
	update(t, st, func(tx shop.Tx) error {
		return tx.ForEachUser(func(u *shop.User) error {
			u.Banned = true
			return tx.PutUser(u)
		})
	})
	view(t, st, func(tx shop.Tx) error {
		return tx.ForEachUser(func(u *shop.User) error {
			if !u.Banned {
				t.Errorf("user %d not written by the walk", u.ID)
			}
			return nil
		})
	})
	if err := st.Update(ctx, func(tx shop.Tx) error { return tx.PutUser(user(0, "zero", "")) }); err == nil {
		t.Error("PutUser with id 0 succeeded")
	}
}

// testUsernameOwnership: the user most recently Put with a name owns it.
func testUsernameOwnership(t *testing.T, st Store) {
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "bob", "")); err != nil {
			return err
		}
		return tx.PutUser(user(2, "Bob", ""))
	})
	owner := func(want int64) {
		t.Helper()
		view(t, st, func(tx shop.Tx) error {
			u, err := tx.FindUserByUsername("bob")
			if want == 0 {
				notFound(t, "bob", err)
				return nil
			}
			if err == nil && u.ID != want {
				t.Errorf("bob is user %d, want %d", u.ID, want)
			}
			return err
		})
	}
	owner(2)
	update(t, st, func(tx shop.Tx) error { return tx.PutUser(user(1, "bob", "")) })
	owner(1)
	// User 2 renames: the name stays user 1's.
	update(t, st, func(tx shop.Tx) error { return tx.PutUser(user(2, "robert", "")) })
	owner(1)
	// User 1 renames: the name is free, though nobody else claimed it.
	update(t, st, func(tx shop.Tx) error { return tx.PutUser(user(1, "bobby", "")) })
	owner(0)
}

// testMemoNamespace: one memo namespace for users and orders.
func testMemoNamespace(t *testing.T, st Store) {
	reserve(t, st, 2)
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "u1", "AP1")); err != nil {
			return err
		}
		o := order(1, 1, shop.StatusPendingPayment)
		o.PaymentMethod, o.PaymentMemo = shop.PayTONMemo, "STARS-abc"
		return tx.PutOrder(o)
	})
	for name, fn := range map[string]func(tx shop.Tx) error{
		"user takes a user's memo":   func(tx shop.Tx) error { return tx.PutUser(user(2, "u2", "ap1")) },
		"user takes an order's memo": func(tx shop.Tx) error { return tx.PutUser(user(2, "u2", "stars-ABC")) },
		"order takes a user's memo": func(tx shop.Tx) error {
			o := order(2, 1, shop.StatusPaid)
			o.PaymentMemo = "AP1"
			return tx.PutOrder(o)
		},
		"order takes an order's memo": func(tx shop.Tx) error {
			o := order(2, 1, shop.StatusPaid)
			o.PaymentMemo = "STARS-ABC"
			return tx.PutOrder(o)
		},
	} {
		if err := st.Update(ctx, fn); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindUserByID(2)
		notFound(t, "user 2 after refused puts", err)
		_, err = tx.FindOrderByID(2)
		notFound(t, "order 2 after refused puts", err)
		o, err := tx.FindOrderByMemo("stars-abc")
		if err != nil {
			return err
		}
		if o.ID != 1 {
			t.Errorf("memo names order %d", o.ID)
		}
		_, err = tx.FindUserByMemo("STARS-ABC")
		notFound(t, "FindUserByMemo of an order memo", err)
		_, err = tx.FindOrderByMemo("AP1")
		notFound(t, "FindOrderByMemo of a user memo", err)
		return nil
	})
	// Putting the same record again keeps its memo; changing the memo frees
	// the old one.
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "u1", "AP1")); err != nil {
			return err
		}
		o := order(1, 1, shop.StatusExpired)
		o.PaymentMemo = "STARS-def"
		return tx.PutOrder(o)
	})
	view(t, st, func(tx shop.Tx) error {
		if taken, _ := tx.MemoTaken("STARS-ABC"); taken {
			t.Error("an order's old memo is still taken")
		}
		if taken, _ := tx.MemoTaken("stars-def"); !taken {
			t.Error("an order's new memo is not taken")
		}
		return nil
	})
}

// testAPIKeys: keys by hash (any case) and by user, oldest first; partners.
func testAPIKeys(t *testing.T, st Store) {
	k1 := &shop.APIKey{Hash: "aa11", Prefix: "osk_", Hint: "osk_A…", UserID: 1, CreatedAt: t0.Add(2 * time.Second)}
	k2 := &shop.APIKey{Hash: "bb22", Prefix: "sk_", Hint: "sk_B…", UserID: 1, CreatedAt: t0.Add(time.Second)}
	k3 := &shop.APIKey{Hash: "cc33", Prefix: "osk_", Hint: "osk_C…", UserID: 2, CreatedAt: t0, RevokedAt: t0.Add(time.Hour)}
	update(t, st, func(tx shop.Tx) error {
		for _, u := range []*shop.User{user(1, "", ""), user(2, "", "")} {
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		for _, k := range []*shop.APIKey{k1, k2, k3} {
			if err := tx.PutAPIKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		k, err := tx.FindAPIKeyByHash("AA11")
		if err != nil {
			return err
		}
		same(t, "FindAPIKeyByHash", k, k1)
		_, err = tx.FindAPIKeyByHash("dd44")
		notFound(t, "unknown key", err)
		_, err = tx.FindAPIKeyByHash("")
		notFound(t, "empty hash", err)
		ks, err := tx.FindAPIKeysByUser(1)
		if err != nil {
			return err
		}
		same(t, "FindAPIKeysByUser", ks, []*shop.APIKey{k2, k1})
		tot, err := tx.UserTotals()
		same(t, "UserTotals", tot, shop.UserTotals{Users: 2, Partners: 1})
		return err
	})
	update(t, st, func(tx shop.Tx) error {
		k1.RevokedAt, k2.RevokedAt = t0, t0
		if err := tx.PutAPIKey(k1); err != nil {
			return err
		}
		return tx.PutAPIKey(k2)
	})
	view(t, st, func(tx shop.Tx) error {
		tot, err := tx.UserTotals()
		same(t, "UserTotals after revoking", tot, shop.UserTotals{Users: 2})
		return err
	})
}

// testOrders: ids, every field kept, Find by id, memo and reference.
func testOrders(t *testing.T, st Store) {
	var first, second int64
	update(t, st, func(tx shop.Tx) error {
		var err error
		if first, err = tx.NextOrderID(); err != nil {
			return err
		}
		second, err = tx.NextOrderID()
		return err
	})
	if first <= 0 || second <= first {
		t.Fatalf("NextOrderID: %d then %d, want positive and increasing", first, second)
	}
	want := &shop.Order{ID: second, UserID: 1, Status: shop.StatusPendingPayment, Type: shop.OrderPremium, Months: 6,
		Recipient: "friend", PriceTON: 7_123_456_789, PriceUSD: 12_990_000, FeeTON: 123_456_789, TONUSD: 3_210_000,
		PaymentMethod: shop.PayTONMemo, PaymentAddress: "UQaddr", PaymentMemo: "STARS-x1", ClientReference: "ref-1",
		Source: "api", ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0, PaymentCurrency: shop.AssetUSDT, PriceUSDT: 12_990_000}
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "")); err != nil {
			return err
		}
		if err := tx.PutOrder(want); err != nil {
			return err
		}
		o := order(first, 1, shop.StatusCompleted)
		o.ClientReference = "ref-1"
		if err := tx.PutOrder(o); err != nil {
			return err
		}
		o = order(0, 1, shop.StatusPaid)
		o.ID = 0
		if tx.PutOrder(o) == nil {
			t.Error("PutOrder with id 0 succeeded")
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		o, err := tx.FindOrderByID(second)
		if err != nil {
			return err
		}
		same(t, "FindOrderByID", o, want)
		o, err = tx.FindOrderByMemo("stars-X1")
		if err != nil {
			return err
		}
		same(t, "FindOrderByMemo", o, want)
		_, err = tx.FindOrderByID(second + 100)
		notFound(t, "unknown order", err)
		_, err = tx.FindOrderByMemo("STARS-none")
		notFound(t, "unknown memo", err)
		os, err := tx.FindOrdersByReference(1, "ref-1")
		if err != nil {
			return err
		}
		same(t, "FindOrdersByReference", orderIDs(os), []int64{second, first})
		for _, ref := range []string{"REF-1", "ref", ""} {
			if os, err := tx.FindOrdersByReference(1, ref); err != nil || len(os) != 0 {
				t.Errorf("FindOrdersByReference(%q) = %d orders, %v", ref, len(os), err)
			}
		}
		if os, _ := tx.FindOrdersByReference(2, "ref-1"); len(os) != 0 {
			t.Errorf("another user's reference found %d orders", len(os))
		}
		return nil
	})
}

// testOrderPages: FindOrders filters and pages newest first.
func testOrderPages(t *testing.T, st Store) {
	statuses := []shop.OrderStatus{shop.StatusPaid, shop.StatusCompleted, shop.StatusRefunded}
	update(t, st, func(tx shop.Tx) error {
		for _, u := range []int64{1, 2} {
			if err := tx.PutUser(user(u, "", "")); err != nil {
				return err
			}
		}
		for i := range 30 {
			id, err := tx.NextOrderID()
			if err != nil {
				return err
			}
			o := order(id, int64(1+i%2), statuses[i%3])
			if i%5 == 0 {
				o.Type, o.Stars, o.Months = shop.OrderPremium, 0, 3
			}
			if err := tx.PutOrder(o); err != nil {
				return err
			}
		}
		return nil
	})
	var all []*shop.Order
	view(t, st, func(tx shop.Tx) error {
		var err error
		all, _, err = tx.FindOrders(shop.OrderFilter{Limit: shop.MaxPageSize})
		return err
	})
	if len(all) != 30 {
		t.Fatalf("FindOrders: %d orders, want 30", len(all))
	}
	match := func(f shop.OrderFilter) []int64 {
		var out []int64
		for _, o := range all {
			if (f.UserID == 0 || o.UserID == f.UserID) && (f.Status == "" || o.Status == f.Status) &&
				(f.Type == "" || o.Type == f.Type) && (f.Before == 0 || o.ID < f.Before) {
				out = append(out, o.ID)
			}
		}
		return out
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID >= all[i-1].ID {
			t.Fatalf("FindOrders not newest first: %v", orderIDs(all))
		}
	}
	filters := []shop.OrderFilter{
		{}, {UserID: 1}, {UserID: 2, Status: shop.StatusPaid}, {Status: shop.StatusCompleted},
		{Type: shop.OrderPremium}, {UserID: 1, Type: shop.OrderStars}, {UserID: 2, Status: shop.StatusRefunded, Type: shop.OrderPremium},
	}
	for _, f := range filters {
		for _, limit := range []int{1, 4, 7} {
			f := f
			f.Limit = limit
			var got []int64
			view(t, st, func(tx shop.Tx) error {
				for page := 0; page < 40; page++ {
					os, more, err := tx.FindOrders(f)
					if err != nil {
						return err
					}
					if len(os) > limit {
						t.Errorf("%+v: page of %d", f, len(os))
					}
					got = append(got, orderIDs(os)...)
					if !more {
						return nil
					}
					if len(os) == 0 {
						return fmt.Errorf("%+v: more but an empty page", f)
					}
					f.Before = os[len(os)-1].ID
				}
				return fmt.Errorf("%+v: too many pages", f)
			})
			f.Before = 0
			want := match(f)
			if len(got) != 0 || len(want) != 0 {
				same(t, fmt.Sprintf("pages of %+v", f), got, want)
			}
		}
	}
	view(t, st, func(tx shop.Tx) error {
		for _, f := range []shop.OrderFilter{{Status: "bogus"}, {Before: -1}, {UserID: 3}} {
			if os, more, err := tx.FindOrders(f); err != nil || len(os) != 0 || more {
				t.Errorf("FindOrders(%+v) = %d, %v, %v", f, len(os), more, err)
			}
		}
		os, _, err := tx.FindOrders(shop.OrderFilter{})
		if err == nil && len(os) != shop.DefaultPageSize {
			t.Errorf("Limit 0: %d orders, want %d", len(os), shop.DefaultPageSize)
		}
		return err
	})
}

// testOrderWalks: ForEachOrderByStatus (writing as it walks),
// ForEachOrderOfUser, OrdersDue.
func testOrderWalks(t *testing.T, st Store) {
	reserve(t, st, 6)
	update(t, st, func(tx shop.Tx) error {
		for _, u := range []int64{1, 2} {
			if err := tx.PutUser(user(u, "", "")); err != nil {
				return err
			}
		}
		for i := int64(1); i <= 6; i++ {
			o := order(i, 1+i%2, shop.StatusPendingPayment)
			o.PaymentMethod, o.ExpiresAt = shop.PayTONMemo, t0.Add(time.Duration(10-i)*time.Minute)
			if i == 6 {
				o.ExpiresAt = time.Time{} // no deadline: never due
			}
			if err := tx.PutOrder(o); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		due, err := tx.OrdersDue(t0.Add(7*time.Minute), 10)
		if err != nil {
			return err
		}
		same(t, "OrdersDue soonest first", due, []int64{5, 4, 3})
		due, _ = tx.OrdersDue(t0.Add(7*time.Minute), 2)
		same(t, "OrdersDue limit", due, []int64{5, 4})
		var ofUser []int64
		err = tx.ForEachOrderOfUser(2, func(o *shop.Order) error { ofUser = append(ofUser, o.ID); return nil })
		same(t, "ForEachOrderOfUser", ofUser, []int64{1, 3, 5})
		return err
	})
	update(t, st, func(tx shop.Tx) error {
		return tx.ForEachOrderByStatus(shop.StatusPendingPayment, func(o *shop.Order) error {
			if o.ID%2 == 0 {
				o.Status = shop.StatusExpired
				return tx.PutOrder(o)
			}
			return nil
		})
	})
	view(t, st, func(tx shop.Tx) error {
		var pending, expired []int64
		if err := tx.ForEachOrderByStatus(shop.StatusPendingPayment, func(o *shop.Order) error { pending = append(pending, o.ID); return nil }); err != nil {
			return err
		}
		if err := tx.ForEachOrderByStatus(shop.StatusExpired, func(o *shop.Order) error { expired = append(expired, o.ID); return nil }); err != nil {
			return err
		}
		same(t, "pending after the walk", pending, []int64{1, 3, 5})
		same(t, "expired after the walk", expired, []int64{2, 4, 6})
		due, err := tx.OrdersDue(t0.Add(time.Hour), 10)
		same(t, "OrdersDue after expiry", due, []int64{5, 3, 1})
		return err
	})
}

// testOrderTotals: counts and sums by status, per user and everyone's.
func testOrderTotals(t *testing.T, st Store) {
	reserve(t, st, 5)
	update(t, st, func(tx shop.Tx) error {
		for _, u := range []int64{1, 2} {
			if err := tx.PutUser(user(u, "", "")); err != nil {
				return err
			}
		}
		for i := int64(1); i <= 5; i++ {
			o := order(i, 1+i%2, shop.StatusCompleted)
			if i == 5 {
				o.Status, o.Type, o.Stars, o.Months = shop.StatusPaid, shop.OrderPremium, 0, 12
			}
			if err := tx.PutOrder(o); err != nil {
				return err
			}
		}
		// Replacing an order moves it between totals.
		o := order(4, 1, shop.StatusRefunded)
		return tx.PutOrder(o)
	})
	view(t, st, func(tx shop.Tx) error {
		all, err := tx.OrderTotals(shop.AnyOwner)
		if err != nil {
			return err
		}
		same(t, "OrderTotals(AnyOwner)", all, map[shop.OrderStatus]shop.OrderTotals{
			shop.StatusCompleted: {Count: 3, PriceTON: 6 * shop.TON, FeeTON: 3 * shop.TON / 10, Stars: 300},
			shop.StatusRefunded:  {Count: 1, PriceTON: 2 * shop.TON, FeeTON: shop.TON / 10, Stars: 100},
			shop.StatusPaid:      {Count: 1, PriceTON: 2 * shop.TON, FeeTON: shop.TON / 10, Months: 12},
		})
		one, err := tx.OrderTotals(2)
		same(t, "OrderTotals(2)", one, map[shop.OrderStatus]shop.OrderTotals{
			shop.StatusCompleted: {Count: 2, PriceTON: 4 * shop.TON, FeeTON: 2 * shop.TON / 10, Stars: 200},
			shop.StatusPaid:      {Count: 1, PriceTON: 2 * shop.TON, FeeTON: shop.TON / 10, Months: 12},
		})
		none, _ := tx.OrderTotals(3)
		same(t, "OrderTotals(3)", none, map[shop.OrderStatus]shop.OrderTotals{})
		return err
	})
}

// testLedger: ids, pages newest first per user.
func testLedger(t *testing.T, st Store) {
	var entries []*shop.LedgerEntry
	update(t, st, func(tx shop.Tx) error {
		entries = nil
		u1, u2 := user(1, "", ""), user(2, "", "")
		for i := range 25 {
			u := u1
			if i%5 == 4 {
				u = u2
			}
			e := &shop.LedgerEntry{UserID: u.ID, Type: shop.LedgerDeposit, Amount: shop.NanoTON(i+1) * shop.TON,
				TxHash: fmt.Sprintf("hash%d", i), AdminID: shop.SystemActor, CreatedAt: t0, Asset: shop.AssetUSDT, JettonAmount: int64(i),
				RateTONUSD: 3_590_000, RateUSDTUSD: 1_000_000, FeeTON: shop.TON / 100}
			if i%3 == 2 { // a debit: entries are signed
				e.Type, e.Amount, e.OrderID, e.Asset, e.JettonAmount, e.RateTONUSD, e.RateUSDTUSD, e.FeeTON = shop.LedgerOrder, -shop.TON, int64(i), "", 0, 0, 0, 0
			}
			u.Balance += e.Amount
			e.BalanceAfter = u.Balance
			if err := tx.AppendLedger(e); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		if err := tx.PutUser(u1); err != nil {
			return err
		}
		return tx.PutUser(u2)
	})
	// Ids are set by the time Update returns (a store may set them late),
	// increasing in the order of the appends.
	for i, e := range entries {
		if e.ID == 0 || (i > 0 && e.ID <= entries[i-1].ID) {
			t.Fatalf("AppendLedger ids after Update: entry %d has id %d, the one before %d", i, e.ID, entries[max(i-1, 0)].ID)
		}
	}
	var want []*shop.LedgerEntry
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].UserID == 1 {
			want = append(want, entries[i])
		}
	}
	view(t, st, func(tx shop.Tx) error {
		var got []*shop.LedgerEntry
		f := shop.LedgerFilter{UserID: 1, Limit: 7}
		for {
			es, more, err := tx.FindLedger(f)
			if err != nil {
				return err
			}
			got = append(got, es...)
			if !more {
				break
			}
			f.Before = es[len(es)-1].ID
		}
		same(t, "ledger pages of user 1", got, want)
		es, more, err := tx.FindLedger(shop.LedgerFilter{UserID: 3})
		if len(es) != 0 || more {
			t.Errorf("ledger of a user without entries: %d, %v", len(es), more)
		}
		return err
	})
}

// testDeposits: ids, one deposit per tx hash, pages newest first.
func testDeposits(t *testing.T, st Store) {
	d1 := &shop.Deposit{TxHash: "ABCDEF01", LT: 1 << 40, From: "EQsender", Amount: 5 * shop.TON, Memo: "AP1",
		Status: shop.DepositCredited, UserID: 1, ChainTime: t0, CreatedAt: t0}
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "AP1")); err != nil {
			return err
		}
		return tx.PutDeposit(d1)
	})
	if d1.ID == 0 {
		t.Fatal("PutDeposit assigned no id")
	}
	// A second deposit with the same hash (any case) is refused, and the
	// refused transaction writes nothing.
	dup := &shop.Deposit{TxHash: "abcdef01", Amount: shop.TON, Status: shop.DepositUnmatched, CreatedAt: t0}
	if err := st.Update(ctx, func(tx shop.Tx) error { return tx.PutDeposit(dup) }); err == nil {
		t.Error("a second deposit with one tx hash was stored")
	}
	var more []*shop.Deposit
	update(t, st, func(tx shop.Tx) error {
		more = nil
		for i := range 12 {
			d := &shop.Deposit{TxHash: fmt.Sprintf("h%02d", i), Amount: shop.NanoTON(i+1) * shop.TON / 100,
				Status: []shop.DepositStatus{shop.DepositUnmatched, shop.DepositIgnored, shop.DepositCredited}[i%3], CreatedAt: t0}
			if d.Status == shop.DepositCredited {
				d.UserID = 1
			}
			if err := tx.PutDeposit(d); err != nil {
				return err
			}
			more = append(more, d)
		}
		// Replacing under its own id keeps the hash.
		d1.Status, d1.Reason = shop.DepositCredited, "again"
		return tx.PutDeposit(d1)
	})
	view(t, st, func(tx shop.Tx) error {
		d, err := tx.FindDepositByHash(" abcdef01 ")
		if err != nil {
			return err
		}
		same(t, "FindDepositByHash", d, d1)
		d, err = tx.FindDepositByID(more[3].ID)
		if err != nil {
			return err
		}
		same(t, "FindDepositByID", d, more[3])
		_, err = tx.FindDepositByHash("")
		notFound(t, "empty hash", err)
		_, err = tx.FindDepositByHash("ffff")
		notFound(t, "unknown hash", err)
		_, err = tx.FindDepositByID(more[11].ID + 100)
		notFound(t, "unknown id", err)
		all, err := tx.FindDeposits("", 0, 100)
		if err != nil {
			return err
		}
		if len(all) != 13 || all[0].ID != more[11].ID || all[12].ID != d1.ID {
			t.Errorf("FindDeposits: %d deposits, newest %d, oldest %d", len(all), all[0].ID, all[12].ID)
		}
		page, err := tx.FindDeposits(shop.DepositIgnored, more[7].ID, 2)
		if err != nil {
			return err
		}
		same(t, "FindDeposits ignored before", ids(page, func(d *shop.Deposit) int64 { return int64(d.ID) }),
			[]int64{int64(more[4].ID), int64(more[1].ID)})
		return nil
	})
	// A deposit may not take another's hash by replacement either.
	if err := st.Update(ctx, func(tx shop.Tx) error {
		d := *more[0]
		d.TxHash = "h01"
		return tx.PutDeposit(&d)
	}); err == nil {
		t.Error("a deposit took another's tx hash")
	}
}

// testDepositTotals: by status, by asset, since a time.
func testDepositTotals(t *testing.T, st Store) {
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "AP1")); err != nil {
			return err
		}
		ds := []*shop.Deposit{
			{TxHash: "a", Amount: 3 * shop.TON, Status: shop.DepositCredited, UserID: 1, CreatedAt: t0.Add(-2 * time.Hour)},
			{TxHash: "b", Amount: 4 * shop.TON, Status: shop.DepositCredited, UserID: 1, CreatedAt: t0.Add(30 * time.Minute),
				Asset: shop.AssetUSDT, JettonAmount: 10_000_000},
			{TxHash: "c", Amount: shop.TON / 100, Status: shop.DepositIgnored, CreatedAt: t0.Add(time.Minute), Asset: shop.AssetUSDT, JettonAmount: 5},
			{TxHash: "d", Amount: shop.TON, Status: shop.DepositRejected, CreatedAt: t0.Add(time.Minute), Asset: shop.AssetJetton, JettonAmount: 7},
			{TxHash: "e", Amount: 2 * shop.TON, Status: shop.DepositUnmatched, CreatedAt: t0.Add(90 * time.Minute)},
		}
		for _, d := range ds {
			if err := tx.PutDeposit(d); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		for status, want := range map[shop.DepositStatus]shop.DepositTotals{
			shop.DepositCredited:  {Count: 2, Amount: 7 * shop.TON},
			shop.DepositIgnored:   {Count: 1, Amount: shop.TON / 100},
			shop.DepositRejected:  {Count: 1, Amount: shop.TON},
			shop.DepositUnmatched: {Count: 1, Amount: 2 * shop.TON},
			shop.DepositAssigned:  {},
		} {
			got, err := tx.DepositTotals(status)
			if err != nil {
				return err
			}
			same(t, "DepositTotals "+string(status), got, want)
		}
		got, units, err := tx.AssetDepositTotals(shop.AssetUSDT)
		if err != nil {
			return err
		}
		same(t, "AssetDepositTotals(USDT)", got, shop.DepositTotals{Count: 1, Amount: 4 * shop.TON})
		if units != 10_000_000 {
			t.Errorf("USDT units %d", units)
		}
		for since, want := range map[time.Time]shop.DepositTotals{
			t0.Add(-3 * time.Hour):   {Count: 3, Amount: 9 * shop.TON},
			t0:                       {Count: 2, Amount: 6 * shop.TON},
			t0.Add(45 * time.Minute): {Count: 1, Amount: 2 * shop.TON},
			t0.Add(2 * time.Hour):    {},
		} {
			got, err := tx.DepositTotalsSince(since)
			if err != nil {
				return err
			}
			same(t, "DepositTotalsSince "+since.String(), got, want)
		}
		return nil
	})
}

// testIdempotency: records by (user, key), exact key; expiry.
func testIdempotency(t *testing.T, st Store) {
	update(t, st, func(tx shop.Tx) error {
		for i := range 5 {
			r := &shop.Idempotency{UserID: int64(1 + i%2), Key: fmt.Sprintf("Key-%d", i), Fingerprint: "fp", OrderID: int64(i + 1),
				ExpiresAt: t0.Add(time.Duration(i) * time.Minute)}
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		r, err := tx.FindIdempotency(1, "Key-2")
		if err != nil {
			return err
		}
		same(t, "FindIdempotency", r, &shop.Idempotency{UserID: 1, Key: "Key-2", Fingerprint: "fp", OrderID: 3, ExpiresAt: t0.Add(2 * time.Minute)})
		_, err = tx.FindIdempotency(1, "key-2")
		notFound(t, "key in another case", err)
		_, err = tx.FindIdempotency(2, "Key-2")
		notFound(t, "another user's key", err)
		n, err := tx.CountIdempotencyExpired(t0.Add(150*time.Second), 10)
		if n != 3 {
			t.Errorf("CountIdempotencyExpired = %d, want 3", n)
		}
		n, _ = tx.CountIdempotencyExpired(t0.Add(150*time.Second), 2)
		if n != 2 {
			t.Errorf("CountIdempotencyExpired limit 2 = %d", n)
		}
		return err
	})
	var deleted int
	update(t, st, func(tx shop.Tx) error {
		var err error
		deleted, err = tx.DeleteIdempotencyExpired(t0.Add(150*time.Second), 2)
		return err
	})
	if deleted != 2 {
		t.Errorf("DeleteIdempotencyExpired = %d, want 2", deleted)
	}
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindIdempotency(1, "Key-0")
		notFound(t, "soonest expired record", err)
		_, err = tx.FindIdempotency(1, "Key-2")
		return err
	})
}

// testQueueDeliveryAudit: the fulfillment queue, delivery records, audit.
func testQueueDeliveryAudit(t *testing.T, st Store) {
	reserve(t, st, 3)
	d := &shop.Delivery{OrderID: 2, Provider: "fragment", Step: "paid", Attempts: 1, NextAttemptAt: t0, RequestID: "req", Session: 1,
		PayTo: "EQpay", PayAmount: 3 * shop.TON, PayBy: t0.Add(time.Minute), Payload: []byte{1, 2, 3}, ConfirmMethod: "confirm",
		ConfirmParams: map[string]string{"a": "b"}, Payout: &shop.SignedPayout{Hash: "ff", BOC: []byte{9}, Seqno: 7, ValidUntil: t0},
		Paid: &shop.PayoutResult{TxHash: "ee", TxLT: 5}, UpdatedAt: t0}
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "")); err != nil {
			return err
		}
		for _, id := range []int64{3, 1, 2} {
			if err := tx.PutOrder(order(id, 1, shop.StatusPaid)); err != nil {
				return err
			}
			if err := tx.Enqueue(id); err != nil {
				return err
			}
		}
		if err := tx.Enqueue(3); err != nil {
			return err
		}
		if err := tx.PutDelivery(d); err != nil {
			return err
		}
		for i := range 3 {
			e := &shop.AuditEntry{AdminID: 42, Action: "credit", Args: fmt.Sprint(i), Result: "ok", Time: t0}
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
			if e.ID == 0 {
				return errors.New("AppendAudit assigned no id")
			}
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		q, err := tx.Queued(0)
		same(t, "Queued", q, []int64{1, 2, 3})
		q, _ = tx.Queued(2)
		same(t, "Queued(2)", q, []int64{1, 2})
		got, err2 := tx.FindDelivery(2)
		if err2 != nil {
			return err2
		}
		same(t, "FindDelivery", got, d)
		_, err2 = tx.FindDelivery(1)
		notFound(t, "FindDelivery(1)", err2)
		as, err2 := tx.FindAudit(2)
		if err2 != nil {
			return err2
		}
		if len(as) != 2 || as[0].Args != "2" || as[1].Args != "1" {
			t.Errorf("FindAudit(2) = %+v, want the newest two", deref(as))
		}
		return err
	})
	update(t, st, func(tx shop.Tx) error {
		if err := tx.Dequeue(2); err != nil {
			return err
		}
		return tx.Dequeue(99)
	})
	view(t, st, func(tx shop.Tx) error {
		q, err := tx.Queued(10)
		same(t, "Queued after Dequeue", q, []int64{1, 3})
		return err
	})
}

// testQueueClaims: a queued order's lease is won by one claimant at a
// time, renewed by its holder, taken by another once it ran out (or at
// once by a claimant allowed to take it over), ended by its holder only,
// rolled back with its transaction, and gone with the queue entry.
func testQueueClaims(t *testing.T, st Store) {
	reserve(t, st, 3)
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "")); err != nil {
			return err
		}
		for _, id := range []int64{1, 2, 3} {
			if err := tx.PutOrder(order(id, 1, shop.StatusPaid)); err != nil {
				return err
			}
		}
		for _, id := range []int64{1, 2} {
			if err := tx.Enqueue(id); err != nil {
				return err
			}
		}
		return nil
	})
	claim := func(what string, id int64, claimant string, now time.Time, want bool) {
		t.Helper()
		update(t, st, func(tx shop.Tx) error {
			got, err := tx.ClaimQueued(id, claimant, "", now, now.Add(time.Minute))
			if err == nil && got != want {
				t.Errorf("%s: ClaimQueued(%d, %s) = %v, want %v", what, id, claimant, got, want)
			}
			return err
		})
	}
	hold := func(what string, id int64, claimant string, until time.Time, want bool) {
		t.Helper()
		update(t, st, func(tx shop.Tx) error {
			got, err := tx.HoldQueued(id, claimant, until)
			if err == nil && got != want {
				t.Errorf("%s: HoldQueued(%d, %s) = %v, want %v", what, id, claimant, got, want)
			}
			return err
		})
	}
	claim("first claim", 1, "a", t0, true)
	claim("another claimant within the lease", 1, "b", t0.Add(59*time.Second), false)
	claim("the holder renews", 1, "a", t0.Add(30*time.Second), true) // now until t0+90s
	claim("another claimant within the renewed lease", 1, "b", t0.Add(80*time.Second), false)
	claim("an order not queued", 3, "a", t0, false)
	claim("another order", 2, "b", t0, true)
	claim("the lease ran out", 1, "b", t0.Add(90*time.Second), true)
	hold("the old holder", 1, "a", t0.Add(time.Hour), false)
	hold("the new holder, its lease run out", 1, "b", t0.Add(time.Hour), true)
	hold("nobody", 1, "", t0.Add(time.Hour), false)
	hold("an order not queued", 3, "b", t0.Add(time.Hour), false)
	claim("within the held lease", 1, "a", t0.Add(59*time.Minute), false)
	update(t, st, func(tx shop.Tx) error { return tx.ReleaseQueued(1, "a") }) // not a's: nothing
	claim("released by another than the holder", 1, "c", t0.Add(2*time.Minute), false)
	update(t, st, func(tx shop.Tx) error { return tx.ReleaseQueued(1, "b") })
	hold("released", 1, "b", t0.Add(time.Hour), false)
	claim("released by its holder", 1, "c", t0, true)

	// A claim rolled back with its transaction leaves the lease as it was.
	rollback := errors.New("rollback")
	err := st.Update(ctx, func(tx shop.Tx) error {
		if ok, err := tx.ClaimQueued(2, "d", "", t0.Add(time.Hour), t0.Add(2*time.Hour)); err != nil || !ok {
			return fmt.Errorf("claim in the rolled-back transaction: %v %v", ok, err)
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("Update = %v, want the rollback", err)
	}
	hold("after a rolled-back claim", 2, "b", t0.Add(time.Minute), true)

	// A claimant takes over the live leases of the claimants whose names
	// begin with the prefix it gives, and only those.
	claimOver := func(what string, id int64, claimant, takeover string, want bool) {
		t.Helper()
		update(t, st, func(tx shop.Tx) error {
			got, err := tx.ClaimQueued(id, claimant, takeover, t0, t0.Add(time.Hour))
			if err == nil && got != want {
				t.Errorf("%s: ClaimQueued(%d, %s, %q) = %v, want %v", what, id, claimant, takeover, got, want)
			}
			return err
		})
	}
	claimOver("a live lease of another name", 2, "payer:x", "payer:", false)
	update(t, st, func(tx shop.Tx) error { return tx.ReleaseQueued(2, "b") })
	claimOver("released", 2, "payer:x", "", true)
	claimOver("a live lease, no takeover", 2, "payer:y", "", false)
	claimOver("a live lease to take over", 2, "payer:y", "payer:", true)
	hold("taken over", 2, "payer:x", t0.Add(time.Hour), false)

	// The lease leaves the queue with the order, and a new entry has none.
	update(t, st, func(tx shop.Tx) error { return tx.Dequeue(1) })
	hold("dequeued", 1, "c", t0.Add(time.Hour), false)
	update(t, st, func(tx shop.Tx) error { return tx.Enqueue(1) })
	claim("queued again", 1, "e", t0, true)
	view(t, st, func(tx shop.Tx) error {
		q, err := tx.Queued(0)
		same(t, "Queued", q, []int64{1, 2})
		return err
	})
	if err := st.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
}

// testQueueClaimsConcurrent: claimants racing for the same orders at the
// same time win each order exactly once.
func testQueueClaimsConcurrent(t *testing.T, st Store) {
	const orders, claimants = 6, 8
	reserve(t, st, orders)
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "")); err != nil {
			return err
		}
		for id := int64(1); id <= orders; id++ {
			if err := tx.PutOrder(order(id, 1, shop.StatusPaid)); err != nil {
				return err
			}
			if err := tx.Enqueue(id); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	winners := map[int64][]string{}
	var wg sync.WaitGroup
	for c := range claimants {
		name := fmt.Sprint("replica-", c)
		wg.Go(func() {
			for id := int64(1); id <= orders; id++ {
				var won bool
				err := st.Update(ctx, func(tx shop.Tx) error {
					var err error
					won, err = tx.ClaimQueued(id, name, "", t0, t0.Add(time.Minute))
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				if won {
					mu.Lock()
					winners[id] = append(winners[id], name)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for id := int64(1); id <= orders; id++ {
		if len(winners[id]) != 1 {
			t.Errorf("order %d won by %v, want exactly one claimant", id, winners[id])
		}
	}
}

// testQuotesSettingsCursors: quotes and their expiry, settings, pricing,
// cursors.
func testQuotesSettingsCursors(t *testing.T, st Store) {
	q := func(id string, exp time.Duration) *shop.LockedQuote {
		l := &shop.LockedQuote{ID: id, UserID: 1, CreatedAt: t0, ExpiresAt: t0.Add(exp)}
		l.Type, l.Stars, l.PriceTON, l.FeeTON = shop.OrderStars, 100, 2*shop.TON, shop.TON/10
		return l
	}
	pricing := &shop.Pricing{USDPerStar: 15_000, PremiumUSD: map[int]shop.MicroUSD{3: 12_000_000, 12: 30_000_000}, FeePPM: 10_000,
		StarsMin: 50, StarsMax: 1_000_000, OrderTTL: 15 * time.Minute}
	cur := &shop.Cursor{Account: "EQacct", LT: 1 << 50, Hash: "ab", Time: t0}
	update(t, st, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "", "")); err != nil {
			return err
		}
		for _, l := range []*shop.LockedQuote{q("QuoteC", 3*time.Minute), q("QuoteA", time.Minute), q("QuoteB", 2*time.Minute)} {
			if err := tx.PutQuote(l); err != nil {
				return err
			}
		}
		if tx.PutQuote(q("", 0)) == nil {
			t.Error("PutQuote without an id succeeded")
		}
		if err := tx.PutSetting("k", []byte("v")); err != nil {
			return err
		}
		if err := tx.PutPricing(pricing); err != nil {
			return err
		}
		return tx.PutCursor(cur)
	})
	view(t, st, func(tx shop.Tx) error {
		l, err := tx.FindQuote("QuoteA")
		if err != nil {
			return err
		}
		same(t, "FindQuote", l, q("QuoteA", time.Minute))
		_, err = tx.FindQuote("quotea")
		notFound(t, "quote id in another case", err)
		v, err := tx.FindSetting("k")
		if string(v) != "v" || err != nil {
			t.Errorf("FindSetting = %q, %v", v, err)
		}
		if v, err := tx.FindSetting("none"); v != nil || err != nil {
			t.Errorf("FindSetting(none) = %q, %v", v, err)
		}
		p, err := tx.FindPricing()
		if err != nil {
			return err
		}
		same(t, "FindPricing", p, pricing)
		c, err := tx.FindCursor("EQacct")
		if err != nil {
			return err
		}
		same(t, "FindCursor", c, cur)
		_, err = tx.FindCursor("other")
		notFound(t, "FindCursor(other)", err)
		return nil
	})
	var n int
	update(t, st, func(tx shop.Tx) error {
		var err error
		if n, err = tx.DeleteQuotesExpired(t0.Add(150*time.Second), 10); err != nil {
			return err
		}
		if err := tx.PutSetting("k", nil); err != nil {
			return err
		}
		return tx.PutPricing(nil)
	})
	if n != 2 {
		t.Errorf("DeleteQuotesExpired = %d, want 2", n)
	}
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindQuote("QuoteB")
		notFound(t, "expired quote", err)
		if _, err := tx.FindQuote("QuoteC"); err != nil {
			return err
		}
		if v, _ := tx.FindSetting("k"); v != nil {
			t.Errorf("unset setting = %q", v)
		}
		if p, _ := tx.FindPricing(); p != nil {
			t.Errorf("forgotten pricing = %+v", *p)
		}
		return nil
	})
}

// testOutbox: sequence, the per-user index, pages, pruning.
func testOutbox(t *testing.T, st Store) {
	reserve(t, st, 1)
	var events []*shop.OutboxEvent
	update(t, st, func(tx shop.Tx) error {
		events = nil
		for _, u := range []int64{1, 2} {
			if err := tx.PutUser(user(u, "", "")); err != nil {
				return err
			}
		}
		o := order(1, 1, shop.StatusPaid)
		if err := tx.PutOrder(o); err != nil {
			return err
		}
		for i := range 8 {
			e := &shop.OutboxEvent{ID: fmt.Sprintf("evt_%d", i), Type: shop.PartnerOrderPaid, UserID: int64(1 + i%2),
				CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
			switch {
			case e.UserID == 1:
				e.Order = o
			case i == 7:
				e.Type, e.WebhookID = shop.PartnerEventType("webhook.test"), "wh_1"
			default:
				e.Type, e.Balance = shop.PartnerEventType("balance.credited"), &shop.BalanceChange{Amount: shop.TON, Balance: shop.TON, Reason: "deposit"}
			}
			if err := tx.AppendOutbox(e); err != nil {
				return err
			}
			if e.WebhookID != "" && e.Seq == 0 {
				// Its delivery names it in the same transaction.
				return fmt.Errorf("AppendOutbox of a webhook test event returned without its seq")
			}
			events = append(events, e)
		}
		if tx.AppendOutbox(&shop.OutboxEvent{Type: shop.PartnerOrderPaid}) == nil {
			t.Error("AppendOutbox of an event without id and user succeeded")
		}
		return nil
	})
	// The others' numbers are set by the time Update returns (a store may
	// set them late), increasing in the order of the appends.
	for i, e := range events {
		if e.Seq == 0 || (i > 0 && e.Seq <= events[i-1].Seq) {
			t.Fatalf("AppendOutbox seqs after Update: event %d has seq %d, the one before %d", i, e.Seq, events[max(i-1, 0)].Seq)
		}
	}
	view(t, st, func(tx shop.Tx) error {
		e, err := tx.FindOutboxEvent(events[0].Seq)
		if err != nil {
			return err
		}
		same(t, "FindOutboxEvent", e, events[0])
		_, err = tx.FindOutboxEvent(events[7].Seq + 100)
		notFound(t, "unknown event", err)
		after, err := tx.OutboxAfter(events[2].Seq, 3)
		if err != nil {
			return err
		}
		same(t, "OutboxAfter", after, events[3:6])
		indexed, err := tx.OutboxIndexed()
		if indexed != 0 {
			t.Errorf("OutboxIndexed before indexing = %d", indexed)
		}
		seq, err2 := tx.OutboxSeqBefore(t0.Add(150 * time.Second))
		if seq != events[2].Seq {
			t.Errorf("OutboxSeqBefore = %d, want %d", seq, events[2].Seq)
		}
		if seq, _ := tx.OutboxSeqBefore(t0); seq != 0 {
			t.Errorf("OutboxSeqBefore(first) = %d, want 0", seq)
		}
		return errors.Join(err, err2)
	})
	update(t, st, func(tx shop.Tx) error {
		for _, e := range events[:7] {
			if err := tx.IndexOutbox(e); err != nil {
				return err
			}
		}
		if tx.IndexOutbox(events[3]) == nil {
			t.Error("IndexOutbox accepted an event out of order")
		}
		return tx.IndexOutbox(events[7]) // a test event: marked, not indexed under its user
	})
	view(t, st, func(tx shop.Tx) error {
		indexed, err := tx.OutboxIndexed()
		if indexed != events[7].Seq {
			t.Errorf("OutboxIndexed = %d, want %d", indexed, events[7].Seq)
		}
		page, more, err2 := tx.FindOutboxByUser(2, 0, 2)
		same(t, "FindOutboxByUser(2) first page", page, []*shop.OutboxEvent{events[1], events[3]})
		if !more {
			t.Error("FindOutboxByUser: no more after the first page")
		}
		page, more, _ = tx.FindOutboxByUser(2, events[3].Seq, 2)
		same(t, "FindOutboxByUser(2) second page (no test event)", page, []*shop.OutboxEvent{events[5]})
		if more {
			t.Error("FindOutboxByUser: more after the last page")
		}
		return errors.Join(err, err2)
	})
	var n int
	update(t, st, func(tx shop.Tx) error {
		var err error
		n, err = tx.DeleteOutboxBefore(t0.Add(150*time.Second), 10)
		return err
	})
	if n != 3 {
		t.Errorf("DeleteOutboxBefore = %d, want 3", n)
	}
	view(t, st, func(tx shop.Tx) error {
		page, _, err := tx.FindOutboxByUser(1, 0, 10)
		same(t, "FindOutboxByUser(1) after pruning", page, []*shop.OutboxEvent{events[4], events[6]})
		return err
	})
}

// testWebhooks: endpoints by id and by user, oldest first; delete.
func testWebhooks(t *testing.T, st Store) {
	w := func(id string, userID int64, created time.Duration) *shop.Webhook {
		return &shop.Webhook{ID: id, UserID: userID, URL: "https://example.com/" + id, Secret: secret(id),
			EventTypes: []shop.PartnerEventType{shop.PartnerOrderPaid}, CreatedAt: t0.Add(created)}
	}
	w1, w2, w3 := w("wh_b", 1, time.Minute), w("wh_a", 1, 2*time.Minute), w("wh_c", 2, 0)
	w2.DisabledReason, w2.DisabledAt, w2.PreviousSecret, w2.PreviousExpires = "gone", t0, secret("old"), t0
	update(t, st, func(tx shop.Tx) error {
		for _, u := range []int64{1, 2} {
			if err := tx.PutUser(user(u, "", "")); err != nil {
				return err
			}
		}
		for _, h := range []*shop.Webhook{w1, w2, w3} {
			if err := tx.PutWebhook(h); err != nil {
				return err
			}
		}
		if tx.PutWebhook(&shop.Webhook{ID: "wh_x", UserID: 1}) == nil {
			t.Error("PutWebhook without a secret succeeded")
		}
		return nil
	})
	view(t, st, func(tx shop.Tx) error {
		h, err := tx.FindWebhook("wh_a")
		if err != nil {
			return err
		}
		same(t, "FindWebhook", h, w2)
		if h.Secret != secret("wh_a") {
			t.Errorf("secret %q not kept", h.Secret.Reveal())
		}
		_, err = tx.FindWebhook("")
		notFound(t, "FindWebhook empty", err)
		hs, err := tx.FindWebhooksByUser(1)
		same(t, "FindWebhooksByUser oldest first", hs, []*shop.Webhook{w1, w2})
		return err
	})
	update(t, st, func(tx shop.Tx) error {
		if err := tx.DeleteWebhook("wh_b"); err != nil {
			return err
		}
		return tx.DeleteWebhook("wh_none")
	})
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindWebhook("wh_b")
		notFound(t, "deleted webhook", err)
		hs, err := tx.FindWebhooksByUser(1)
		same(t, "FindWebhooksByUser after delete", hs, []*shop.Webhook{w2})
		return err
	})
}

// testWebhookDeliveries: ids, the per-endpoint log, the due list, pruning.
func testWebhookDeliveries(t *testing.T, st Store) {
	var ds []*shop.WebhookDelivery
	update(t, st, func(tx shop.Tx) error {
		ds = nil
		if err := tx.PutUser(user(1, "", "")); err != nil {
			return err
		}
		for i := range 6 {
			d := &shop.WebhookDelivery{WebhookID: []string{"wh_a", "wh_b"}[i%2], UserID: 1, EventSeq: uint64(i + 1),
				EventID: fmt.Sprintf("evt_%d", i), EventType: shop.PartnerOrderPaid, Status: shop.WebhookPending,
				NextAttemptAt: t0.Add(time.Duration(6-i) * time.Minute), CreatedAt: t0.Add(time.Duration(i) * time.Minute)}
			if err := tx.PutWebhookDelivery(d); err != nil {
				return err
			}
			if d.ID == 0 {
				return errors.New("PutWebhookDelivery assigned no id")
			}
			ds = append(ds, d)
		}
		return nil
	})
	update(t, st, func(tx shop.Tx) error {
		d := *ds[5]
		d.Status, d.Attempts, d.LastStatusCode, d.LastAttemptAt = shop.WebhookDelivered, 1, 200, t0
		if err := tx.PutWebhookDelivery(&d); err != nil {
			return err
		}
		moved := *ds[0]
		moved.WebhookID = "wh_b"
		if tx.PutWebhookDelivery(&moved) == nil {
			t.Error("a delivery moved to another webhook")
		}
		unknown := *ds[0]
		unknown.ID += 1000
		notFound(t, "PutWebhookDelivery of an unknown id", tx.PutWebhookDelivery(&unknown))
		return nil
	})
	ds[5].Status, ds[5].Attempts, ds[5].LastStatusCode, ds[5].LastAttemptAt = shop.WebhookDelivered, 1, 200, t0
	view(t, st, func(tx shop.Tx) error {
		d, err := tx.FindWebhookDelivery(ds[5].ID)
		if err != nil {
			return err
		}
		same(t, "FindWebhookDelivery", d, ds[5])
		page, more, err := tx.FindWebhookDeliveries("wh_b", 0, 2)
		same(t, "FindWebhookDeliveries first page", page, []*shop.WebhookDelivery{ds[5], ds[3]})
		if !more {
			t.Error("FindWebhookDeliveries: no more after the first page")
		}
		page, more, _ = tx.FindWebhookDeliveries("wh_b", ds[3].ID, 2)
		same(t, "FindWebhookDeliveries second page", page, []*shop.WebhookDelivery{ds[1]})
		if more {
			t.Error("FindWebhookDeliveries: more after the last page")
		}
		due, err2 := tx.DueWebhookDeliveries(t0.Add(4*time.Minute), 10, nil)
		same(t, "DueWebhookDeliveries soonest first (not delivered)", due, []*shop.WebhookDelivery{ds[4], ds[3], ds[2]})
		due, _ = tx.DueWebhookDeliveries(t0.Add(10*time.Minute), 2, func(id string) bool { return id == "wh_a" })
		same(t, "DueWebhookDeliveries skipping wh_a", due, []*shop.WebhookDelivery{ds[3], ds[1]})
		return errors.Join(err, err2)
	})
	var n int
	update(t, st, func(tx shop.Tx) error {
		var err error
		n, err = tx.DeleteWebhookDeliveriesBefore(t0.Add(150*time.Second), 10)
		return err
	})
	if n != 3 {
		t.Errorf("DeleteWebhookDeliveriesBefore = %d, want 3", n)
	}
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindWebhookDelivery(ds[0].ID)
		notFound(t, "pruned delivery", err)
		due, err := tx.DueWebhookDeliveries(t0.Add(10*time.Minute), 10, nil)
		same(t, "due after pruning", due, []*shop.WebhookDelivery{ds[4], ds[3]})
		return err
	})
}

// testRollback: an error from fn commits nothing and comes back unchanged.
func testRollback(t *testing.T, st Store) {
	boom := errors.New("boom")
	err := st.Update(ctx, func(tx shop.Tx) error {
		if err := tx.PutUser(user(1, "ann", "AP1")); err != nil {
			return err
		}
		if err := tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Type: shop.LedgerDeposit, Amount: shop.TON, BalanceAfter: shop.TON, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.PutDeposit(&shop.Deposit{TxHash: "h1", Amount: shop.TON, Status: shop.DepositCredited, UserID: 1, CreatedAt: t0}); err != nil {
			return err
		}
		if err := tx.AppendOutbox(&shop.OutboxEvent{ID: "evt_1", Type: shop.PartnerOrderPaid, UserID: 1, CreatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update returned %v, want fn's error unchanged", err)
	}
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindUserByID(1)
		notFound(t, "user of a rolled-back update", err)
		_, err = tx.FindUserByUsername("ann")
		notFound(t, "username of a rolled-back update", err)
		if taken, _ := tx.MemoTaken("AP1"); taken {
			t.Error("memo of a rolled-back update is taken")
		}
		_, err = tx.FindDepositByHash("h1")
		notFound(t, "deposit of a rolled-back update", err)
		if es, _, _ := tx.FindLedger(shop.LedgerFilter{UserID: 1}); len(es) != 0 {
			t.Errorf("%d ledger entries of a rolled-back update", len(es))
		}
		if es, _ := tx.OutboxAfter(0, 10); len(es) != 0 {
			t.Errorf("%d outbox events of a rolled-back update", len(es))
		}
		return nil
	})
	// A shop error from fn is returned as is too.
	shopErr := shop.Errorf(shop.ECONFLICT, "no")
	if err := st.Update(ctx, func(shop.Tx) error { return shopErr }); err != shopErr {
		t.Errorf("Update returned %v, want the *shop.Error unchanged", err)
	}
}

// testViewRefusesWrites: every write method fails in View and writes
// nothing.
func testViewRefusesWrites(t *testing.T, st Store) {
	update(t, st, func(tx shop.Tx) error { return tx.PutUser(user(1, "", "")) })
	writes := map[string]func(shop.Tx) error{
		"PutUser":     func(tx shop.Tx) error { return tx.PutUser(user(2, "", "")) },
		"PutAPIKey":   func(tx shop.Tx) error { return tx.PutAPIKey(&shop.APIKey{Hash: "aa", UserID: 1}) },
		"NextOrderID": func(tx shop.Tx) error { _, err := tx.NextOrderID(); return err },
		"PutOrder":    func(tx shop.Tx) error { return tx.PutOrder(order(1, 1, shop.StatusPaid)) },
		"AppendLedger": func(tx shop.Tx) error {
			return tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Type: shop.LedgerDeposit, Amount: shop.TON, BalanceAfter: shop.TON})
		},
		"PutDeposit": func(tx shop.Tx) error {
			return tx.PutDeposit(&shop.Deposit{TxHash: "h", Status: shop.DepositUnmatched})
		},
		"PutIdempotency":           func(tx shop.Tx) error { return tx.PutIdempotency(&shop.Idempotency{UserID: 1, Key: "k"}) },
		"DeleteIdempotencyExpired": func(tx shop.Tx) error { _, err := tx.DeleteIdempotencyExpired(t0, 10); return err },
		"Enqueue":                  func(tx shop.Tx) error { return tx.Enqueue(1) },
		"Dequeue":                  func(tx shop.Tx) error { return tx.Dequeue(1) },
		"ClaimQueued":              func(tx shop.Tx) error { _, err := tx.ClaimQueued(1, "a", "", t0, t0); return err },
		"HoldQueued":               func(tx shop.Tx) error { _, err := tx.HoldQueued(1, "a", t0); return err },
		"ReleaseQueued":            func(tx shop.Tx) error { return tx.ReleaseQueued(1, "a") },
		"PutDelivery":              func(tx shop.Tx) error { return tx.PutDelivery(&shop.Delivery{OrderID: 1}) },
		"AppendAudit":              func(tx shop.Tx) error { return tx.AppendAudit(&shop.AuditEntry{Action: "x"}) },
		"PutQuote":                 func(tx shop.Tx) error { return tx.PutQuote(&shop.LockedQuote{ID: "q", UserID: 1}) },
		"DeleteQuotesExpired":      func(tx shop.Tx) error { _, err := tx.DeleteQuotesExpired(t0, 10); return err },
		"PutSetting":               func(tx shop.Tx) error { return tx.PutSetting("k", []byte("v")) },
		"PutPricing":               func(tx shop.Tx) error { return tx.PutPricing(&shop.Pricing{}) },
		"PutCursor":                func(tx shop.Tx) error { return tx.PutCursor(&shop.Cursor{Account: "a"}) },
		"AppendOutbox": func(tx shop.Tx) error {
			return tx.AppendOutbox(&shop.OutboxEvent{ID: "evt", Type: shop.PartnerOrderPaid, UserID: 1})
		},
		"IndexOutbox":        func(tx shop.Tx) error { return tx.IndexOutbox(&shop.OutboxEvent{Seq: 1, UserID: 1}) },
		"DeleteOutboxBefore": func(tx shop.Tx) error { _, err := tx.DeleteOutboxBefore(t0, 10); return err },
		"PutWebhook": func(tx shop.Tx) error {
			return tx.PutWebhook(&shop.Webhook{ID: "wh", UserID: 1, Secret: secret("x")})
		},
		"DeleteWebhook": func(tx shop.Tx) error { return tx.DeleteWebhook("wh") },
		"PutWebhookDelivery": func(tx shop.Tx) error {
			return tx.PutWebhookDelivery(&shop.WebhookDelivery{WebhookID: "wh", UserID: 1, Status: shop.WebhookPending})
		},
		"DeleteWebhookDeliveriesBefore": func(tx shop.Tx) error { _, err := tx.DeleteWebhookDeliveriesBefore(t0, 10); return err },
	}
	for name, write := range writes {
		var inner error
		err := st.View(ctx, func(tx shop.Tx) error {
			inner = write(tx)
			return nil
		})
		if err != nil {
			t.Errorf("%s: View returned %v", name, err)
		}
		if inner == nil {
			t.Errorf("%s succeeded in View", name)
		}
	}
	view(t, st, func(tx shop.Tx) error {
		_, err := tx.FindUserByID(2)
		notFound(t, "user written in View", err)
		if q, _ := tx.Queued(0); len(q) != 0 {
			t.Errorf("queue written in View: %v", q)
		}
		return nil
	})
}

// testConcurrentWriters: 50 writers credit one balance with a ledger entry
// each; the balance is exact and the store checks clean.
func testConcurrentWriters(t *testing.T, st Store) {
	const writers = 50
	update(t, st, func(tx shop.Tx) error { return tx.PutUser(user(1, "", "AP1")) })
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			errs <- st.Update(ctx, func(tx shop.Tx) error {
				u, err := tx.FindUserByID(1)
				if err != nil {
					return err
				}
				u.Balance += shop.TON
				if err := tx.AppendLedger(&shop.LedgerEntry{UserID: 1, Type: shop.LedgerDeposit, Amount: shop.TON,
					BalanceAfter: u.Balance, CreatedAt: t0}); err != nil {
					return err
				}
				return tx.PutUser(u)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	view(t, st, func(tx shop.Tx) error {
		u, err := tx.FindUserByID(1)
		if err == nil && u.Balance != writers*shop.TON {
			t.Errorf("balance %v after %d credits of 1 TON", u.Balance, writers)
		}
		return err
	})
	if err := st.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
}

// testRerunSafety: concurrent Updates whose fn captures a result and
// resets it at its start (as shop.Store requires) see exactly their own
// committed writes, however often a store runs fn.
func testRerunSafety(t *testing.T, st Store) {
	const writers = 20
	update(t, st, func(tx shop.Tx) error { return tx.PutUser(user(1, "", "")) })
	var wg sync.WaitGroup
	got := make([]int64, writers)
	runs := make([]int, writers)
	for i := range writers {
		wg.Go(func() {
			err := st.Update(ctx, func(tx shop.Tx) error {
				runs[i]++
				got[i] = 0 // reset what fn captures
				id, err := tx.NextOrderID()
				if err != nil {
					return err
				}
				if err := tx.PutOrder(order(id, 1, shop.StatusPaid)); err != nil {
					return err
				}
				// Everyone touches one row too, so that writers conflict.
				u, err := tx.FindUserByID(1)
				if err != nil {
					return err
				}
				u.Referrals++
				if err := tx.PutUser(u); err != nil {
					return err
				}
				got[i] = id
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[int64]bool{}
	view(t, st, func(tx shop.Tx) error {
		for i, id := range got {
			if seen[id] {
				t.Errorf("writer %d: order %d captured twice", i, id)
			}
			seen[id] = true
			if _, err := tx.FindOrderByID(id); err != nil {
				t.Errorf("writer %d: captured order %d: %v", i, id, err)
			}
		}
		os, _, err := tx.FindOrders(shop.OrderFilter{Limit: shop.MaxPageSize})
		if len(os) != writers {
			t.Errorf("%d orders committed, want %d", len(os), writers)
		}
		u, err2 := tx.FindUserByID(1)
		if err2 == nil && u.Referrals != writers {
			t.Errorf("counter %d after %d writers", u.Referrals, writers)
		}
		return errors.Join(err, err2)
	})
	total := 0
	for _, n := range runs {
		total += n
	}
	t.Logf("%d writers, fn ran %d times", writers, total)
}

// ChatStateStore is the bot's per-chat flow state, which both stores keep
// beside shop.Store.
type ChatStateStore interface {
	LoadChatState(ctx context.Context, chatID int64) ([]byte, error)
	SaveChatState(ctx context.Context, chatID int64, data []byte) error
	TakeChatState(ctx context.Context, chatID int64, want []byte) (bool, error)
}

// RunTakeChatState checks the compare-and-delete of a chat's state: a
// changed state is not taken, and of many concurrent takers of one state
// exactly one wins (two replicas handling one repeated Telegram update).
func RunTakeChatState(t *testing.T, db ChatStateStore) {
	st := []byte(`{"step":"admin_op","op":{"nonce":"n1"}}`)
	if err := db.SaveChatState(ctx, 7, st); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.TakeChatState(ctx, 7, []byte(`{"step":"other"}`)); ok || err != nil {
		t.Fatalf("a different state was taken: %v, %v", ok, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := db.TakeChatState(ctx, 7, st); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d takers won, want 1", wins.Load())
	}
	if got, _ := db.LoadChatState(ctx, 7); got != nil {
		t.Fatalf("state left after take: %q", got)
	}
}
