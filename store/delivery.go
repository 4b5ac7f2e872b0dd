package store

import (
	"fmt"

	"starsbot/shop"
)

// FindDelivery returns the delivery record of an order, or ENOTFOUND.
func (t *tx) FindDelivery(orderID int64) (*shop.Delivery, error) {
	r, err := get[deliveryRecord](t.bucket(bucketDeliveries), i64(orderID))
	if err != nil {
		return nil, err
	} else if r == nil {
		return nil, notFound("Delivery")
	}
	return r.delivery(), nil
}

// slimDeliveryOf slims the delivery record of an order that just finished
// (see slimDelivery), if it has one.
func (t *tx) slimDeliveryOf(orderID int64) error {
	b := t.bucket(bucketDeliveries)
	r, err := get[deliveryRecord](b, i64(orderID))
	if err != nil || r == nil {
		return err
	}
	slimDelivery(r)
	return put(b, i64(orderID), r)
}

// PutDelivery creates or replaces the delivery record of d.OrderID.
func (t *tx) PutDelivery(d *shop.Delivery) error {
	if err := t.writable("put delivery"); err != nil {
		return err
	} else if d.OrderID <= 0 {
		return fmt.Errorf("store: put delivery: order id %d", d.OrderID)
	}
	return put(t.bucket(bucketDeliveries), i64(d.OrderID), newDeliveryRecord(d))
}
