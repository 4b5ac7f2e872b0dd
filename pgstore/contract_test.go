package pgstore_test

import (
	"testing"

	"starsbot/pgstore/pgtest"
	"starsbot/store/storecontract"
)

// TestContract runs the shop.Store contract suite on PostgreSQL, the
// suite package store runs on bbolt.
func TestContract(t *testing.T) {
	storecontract.Run(t, func(tb testing.TB) storecontract.Store { return pgtest.Open(tb) })
}
