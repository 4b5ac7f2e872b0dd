package store_test

import (
	"reflect"
	"testing"

	"starsbot/shop"
	"starsbot/store/storetest"
)

// The referral counters and partner-alert preferences on the user record
// round-trip, and a user stored without them reads zeros.
func TestUser_ReferralAndAlertFields_RoundTrip(t *testing.T) {
	db := storetest.Open(t)
	u := newUser(7, "partner_x", "AP000000007")
	u.ReferredBy, u.Referrals, u.ReferralEarned = 5, 3, 125_400_000
	u.AlertLowBalance, u.AlertLowSent, u.AlertOrders, u.AlertWebhooks = 2_000_000_000, true, true, true
	update(t, db, func(tx shop.Tx) error { return tx.PutUser(u) })
	old := newUser(8, "old_user", "AP000000008")
	update(t, db, func(tx shop.Tx) error { return tx.PutUser(old) })
	view(t, db, func(tx shop.Tx) error {
		got, err := tx.FindUserByID(7)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, u) {
			t.Errorf("got %+v\nwant %+v", got, u)
		}
		got, err = tx.FindUserByID(8)
		if err == nil && (got.ReferredBy != 0 || got.Referrals != 0 || got.ReferralEarned != 0 || got.AlertLowBalance != 0 || got.AlertOrders) {
			t.Errorf("a user without the fields: %+v", got)
		}
		return err
	})
	check(t, db)
}
