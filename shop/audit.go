package shop

import (
	"context"
	"strings"
	"time"
)

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
	e.Action = TruncateUTF8(e.Action, maxAuditAction)
	e.Args = TruncateUTF8(strings.ToValidUTF8(e.Args, "?"), maxAuditText)
	e.Result = TruncateUTF8(strings.ToValidUTF8(e.Result, "?"), maxAuditText)
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
