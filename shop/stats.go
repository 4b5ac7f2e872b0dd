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
	Deposits7Days DepositTotals
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
// is since midnight UTC.
func (s *Service) Stats(ctx context.Context) (*Stats, error) {
	now := s.now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	week := now.Add(-7 * 24 * time.Hour)
	st := &Stats{OrdersByStatus: map[OrderStatus]int{}}
	err := s.Store.View(ctx, func(tx Tx) error {
		*st = Stats{OrdersByStatus: map[OrderStatus]int{}}
		err := tx.ForEachUser(func(u *User) error {
			st.Users++
			st.Liability += u.Balance
			keys, err := tx.FindAPIKeysByUser(u.ID)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if k.Active() {
					st.Partners++
					break
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, status := range OrderStatuses {
			err := tx.ForEachOrderByStatus(status, func(o *Order) error {
				st.OrdersByStatus[status]++
				if status == StatusCompleted {
					st.Revenue += o.PriceTON
					st.FeeIncome += o.FeeTON
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		var before uint64
		for {
			page, err := tx.FindDeposits("", before, MaxPageSize)
			if err != nil {
				return err
			}
			for _, d := range page {
				add := func(t *DepositTotals) { t.Count++; t.Amount += d.Amount }
				before = d.ID
				if d.Status == DepositIgnored {
					add(&st.Dust)
					continue
				}
				if d.Status == DepositRejected {
					add(&st.Rejected)
					continue
				}
				if d.Asset == AssetUSDT {
					add(&st.USDTReceived)
					st.USDTUnits += d.JettonAmount
				}
				add(&st.DepositsAll)
				if !d.CreatedAt.Before(week) {
					add(&st.Deposits7Days)
				}
				if !d.CreatedAt.Before(today) {
					add(&st.DepositsToday)
				}
				if d.Status == DepositUnmatched {
					add(&st.Unmatched)
				}
			}
			if len(page) < MaxPageSize {
				return nil
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}
