package shop

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DepositTotals counts deposits and their amount over a period.
type DepositTotals struct {
	Count  int
	Amount NanoTON
}

// Stats is the shop at a glance, for admins.
type Stats struct {
	Users          int
	Partners       int           // users with at least one active API key
	DepositsToday  DepositTotals // deposits booked since midnight UTC, dust not included
	Deposits7Days  DepositTotals
	DepositsAll    DepositTotals
	Unmatched      DepositTotals // unmatched deposits waiting for an admin
	Dust           DepositTotals // ignored deposits below MinDeposit, all time (not in the totals above)
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

// AuditEntry records one admin action.
type AuditEntry struct {
	ID      uint64 // assigned by the store
	AdminID int64
	Action  string // the command, e.g. "credit"
	Args    string // its arguments as given
	Result  string // "ok", or the error
	Time    time.Time
}

// Limits on audit entries; longer texts are cut.
const (
	maxAuditAction = 64
	maxAuditText   = 512
)

// Audit appends an entry to the audit log. Texts are cut to their limits
// and the time is set.
func (s *Service) Audit(ctx context.Context, e AuditEntry) (*AuditEntry, error) {
	if e.AdminID <= 0 || strings.TrimSpace(e.Action) == "" {
		return nil, Errorf(EVALIDATION, "an audit entry needs an admin and an action")
	}
	e.ID = 0
	e.Action = truncateUTF8(e.Action, maxAuditAction)
	e.Args = truncateUTF8(strings.ToValidUTF8(e.Args, "?"), maxAuditText)
	e.Result = truncateUTF8(strings.ToValidUTF8(e.Result, "?"), maxAuditText)
	e.Time = s.now()
	err := s.Store.Update(ctx, func(tx Tx) error {
		c := e
		if err := tx.AppendAudit(&c); err != nil {
			return err
		}
		e.ID = c.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// AuditLog returns up to limit (1..MaxPageSize) entries, newest first.
func (s *Service) AuditLog(ctx context.Context, limit int) ([]*AuditEntry, error) {
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	var out []*AuditEntry
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		out, err = tx.FindAudit(limit)
		return err
	})
	return out, err
}

// SavePricing validates p, keeps it in the store (it outlives restarts and
// overrides the configured defaults until ResetPricing) and puts it in
// force.
//
// Errors: VALIDATION_ERROR.
func (s *Service) SavePricing(ctx context.Context, p Pricing) error {
	if err := p.Validate(); err != nil {
		return Errorf(EVALIDATION, "%s", err.Error())
	}
	if err := s.Store.Update(ctx, func(tx Tx) error { return tx.PutPricing(&p) }); err != nil {
		return err
	}
	return s.SetPricing(p)
}

// LoadPricing puts in force the price list an admin saved, if any, and
// reports whether there was one. main calls it at start, after NewService
// with the configured defaults.
func (s *Service) LoadPricing(ctx context.Context) (bool, error) {
	var p *Pricing
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		p, err = tx.FindPricing()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("shop: saved pricing: %w", err)
	} else if p == nil {
		return false, nil
	}
	if err := s.SetPricing(*p); err != nil {
		return false, fmt.Errorf("shop: saved pricing: %w", err)
	}
	return true, nil
}

// PricingSaved reports whether a price list saved by an admin is in the
// store, overriding the configured one.
func (s *Service) PricingSaved(ctx context.Context) (bool, error) {
	var saved bool
	err := s.Store.View(ctx, func(tx Tx) error {
		p, err := tx.FindPricing()
		saved = p != nil
		return err
	})
	return saved, err
}

// ResetPricing forgets the saved price list and puts defaults in force.
//
// Errors: VALIDATION_ERROR (defaults invalid).
func (s *Service) ResetPricing(ctx context.Context, defaults Pricing) error {
	if err := defaults.Validate(); err != nil {
		return Errorf(EVALIDATION, "%s", err.Error())
	}
	if err := s.Store.Update(ctx, func(tx Tx) error { return tx.PutPricing(nil) }); err != nil {
		return err
	}
	return s.SetPricing(defaults)
}
