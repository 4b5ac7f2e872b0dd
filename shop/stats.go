package shop

import (
	"context"
	"time"
)

// DepositTotals counts deposits and their amount over a period.
type DepositTotals struct {
	Count  int
	Amount NanoTON
}

// Stats is the shop at a glance, for admins.
type Stats struct {
	Users         int
	Partners      int           // users with at least one active API key
	DepositsToday DepositTotals // deposits booked since midnight UTC, dust not included
	Deposits7Days DepositTotals // since the whole hour 7 days ago
	DepositsAll   DepositTotals
	Unmatched     DepositTotals // unmatched deposits waiting for an admin
	Dust          DepositTotals // ignored deposits below MinDeposit, all time (not in the totals above)
	// Rejected counts jetton notifications not from our USDT jetton
	// wallet (fake jettons), all time; Amount is the TON they carried.
	// Not in the totals above.
	Rejected DepositTotals
	// USDTReceived is every USDT deposit that was not dust, all time:
	// Count, the USDT units (USDTUnits) and their value credited in TON
	// (Amount). They are also in the totals above.
	USDTReceived   DepositTotals
	USDTUnits      int64
	OrdersByStatus map[OrderStatus]int
	Revenue        NanoTON // sum of the prices of completed orders
	FeeIncome      NanoTON // the fee part of that revenue
	Liability      NanoTON // sum of user balances: what the shop owes its users
}

// Stats computes the shop's statistics in one read transaction. "Today"
// is since midnight UTC. It reads counters that the store keeps with every
// change (Tx.UserTotals, OrderTotals, DepositTotals, DepositTotalsSince),
// so it takes the same time for ten orders or ten million.
func (s *Service) Stats(ctx context.Context) (*Stats, error) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	// "7 days" starts at the whole hour 7 days ago (up to an hour more
	// than 168 h), like "today" at midnight: both then read only the
	// store's hourly counters, never the deposits of a partial hour, so
	// the cost does not grow with the deposit rate.
	week := now.Add(-7 * 24 * time.Hour).Truncate(time.Hour)
	st := &Stats{OrdersByStatus: map[OrderStatus]int{}}
	err := s.Store.View(ctx, func(tx Tx) error {
		*st = Stats{OrdersByStatus: map[OrderStatus]int{}}
		users, err := tx.UserTotals()
		if err != nil {
			return err
		}
		st.Users, st.Partners, st.Liability = users.Users, users.Partners, users.Liability
		orders, err := tx.OrderTotals(AnyOwner)
		if err != nil {
			return err
		}
		for status, t := range orders {
			if t.Count > 0 {
				st.OrdersByStatus[status] = t.Count
			}
		}
		st.Revenue, st.FeeIncome = orders[StatusCompleted].PriceTON, orders[StatusCompleted].FeeTON
		for _, status := range []DepositStatus{DepositCredited, DepositOrderPaid, DepositUnmatched, DepositAssigned, DepositIgnored, DepositRejected} {
			t, err := tx.DepositTotals(status)
			if err != nil {
				return err
			}
			switch status {
			case DepositIgnored:
				st.Dust = t
				continue
			case DepositRejected:
				st.Rejected = t
				continue
			case DepositUnmatched:
				st.Unmatched = t
			}
			st.DepositsAll.Count += t.Count
			st.DepositsAll.Amount += t.Amount
		}
		if st.USDTReceived, st.USDTUnits, err = tx.AssetDepositTotals(AssetUSDT); err != nil {
			return err
		}
		if st.Deposits7Days, err = tx.DepositTotalsSince(week); err != nil {
			return err
		}
		st.DepositsToday, err = tx.DepositTotalsSince(today)
		return err
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
