package store_test

import (
	"testing"

	"starsbot/store/storecontract"
	"starsbot/store/storetest"
)

// TestContract runs the shop.Store contract suite on bbolt; pgstore runs
// the same suite on PostgreSQL.
func TestContract(t *testing.T) {
	storecontract.Run(t, func(tb testing.TB) storecontract.Store { return storetest.Open(tb) })
}
