package store

import (
	"encoding/json"
	"fmt"

	"starsbot/shop"
)

// maxSetting bounds a setting's value.
const maxSetting = 64 << 10

// FindSetting returns the value of a setting, or nil if it is unset.
func (t *tx) FindSetting(key string) ([]byte, error) {
	v := t.bucket(bucketSettings).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

// PutSetting sets a setting; a nil or empty value unsets it.
func (t *tx) PutSetting(key string, value []byte) error {
	if err := t.writable("put setting"); err != nil {
		return err
	}
	if key == "" || len(value) > maxSetting {
		return fmt.Errorf("store: put setting %q: empty name or value over %d bytes", key, maxSetting)
	}
	b := t.bucket(bucketSettings)
	if len(value) == 0 {
		return b.Delete([]byte(key))
	}
	return b.Put([]byte(key), value)
}

// settingPricing is the setting that holds an admin's price list, as the
// JSON of a pricingRecord.
const settingPricing = "pricing"

// FindPricing returns the price list saved by PutPricing, or nil if there
// is none. It does not validate it.
func (t *tx) FindPricing() (*shop.Pricing, error) {
	b, err := t.FindSetting(settingPricing)
	if err != nil || b == nil {
		return nil, err
	}
	var r pricingRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	p := shop.Pricing(r)
	return &p, nil
}

// PutPricing saves p as the price list; nil forgets it.
func (t *tx) PutPricing(p *shop.Pricing) error {
	if p == nil {
		return t.PutSetting(settingPricing, nil)
	}
	b, err := json.Marshal(pricingRecord(*p))
	if err != nil {
		return err
	}
	return t.PutSetting(settingPricing, b)
}
