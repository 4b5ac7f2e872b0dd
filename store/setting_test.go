package store_test

import (
	"reflect"
	"testing"
	"time"

	"starsbot/shop"
	"starsbot/store/storetest"
)

func TestTx_Pricing(t *testing.T) {
	db := storetest.Open(t)
	view(t, db, func(tx shop.Tx) error {
		if p, err := tx.FindPricing(); p != nil || err != nil {
			t.Errorf("FindPricing on an empty store = %+v, %v; want nil, nil", p, err)
		}
		return nil
	})
	want := shop.Pricing{
		USDPerStar: 15_000,
		PremiumUSD: map[int]shop.MicroUSD{3: 11_990_000, 6: 15_990_000, 12: 28_990_000},
		FeePPM:     12345,
		StarsMin:   50,
		StarsMax:   1_000_000,
		OrderTTL:   7 * time.Minute,
	}
	update(t, db, func(tx shop.Tx) error { return tx.PutPricing(&want) })
	view(t, db, func(tx shop.Tx) error {
		got, err := tx.FindPricing()
		if err != nil || got == nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("FindPricing = %+v, %v; want %+v", got, err, want)
		}
		// The on-disk format: the JSON of pricingRecord.
		raw, err := tx.FindSetting("pricing")
		const wantRaw = `{"usd_per_star":0.015,"premium_usd":{"12":28.99,"3":11.99,"6":15.99},"fee_ppm":12345,"stars_min":50,"stars_max":1000000,"order_ttl":420000000000}`
		if err != nil || string(raw) != wantRaw {
			t.Errorf("stored pricing = %s, %v; want %s", raw, err, wantRaw)
		}
		return nil
	})
	update(t, db, func(tx shop.Tx) error { return tx.PutPricing(nil) })
	view(t, db, func(tx shop.Tx) error {
		if p, err := tx.FindPricing(); p != nil || err != nil {
			t.Errorf("FindPricing after PutPricing(nil) = %+v, %v; want nil, nil", p, err)
		}
		return nil
	})
}
