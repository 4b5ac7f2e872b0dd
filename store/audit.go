package store

import (
	"starsbot/shop"
)

// AppendAudit stores a new audit entry under the next id and sets e.ID.
func (t *tx) AppendAudit(e *shop.AuditEntry) error {
	if err := t.writable("append audit"); err != nil {
		return err
	}
	b := t.bucket(bucketAudit)
	id, err := b.NextSequence()
	if err != nil {
		return err
	}
	r := &auditRecord{ID: id, AdminID: e.AdminID, Action: e.Action, Args: e.Args, Result: e.Result, Time: e.Time}
	if err := put(b, u64(id), r); err != nil {
		return err
	}
	e.ID = id
	return nil
}

// FindAudit returns up to limit audit entries, newest first.
func (t *tx) FindAudit(limit int) ([]*shop.AuditEntry, error) {
	var out []*shop.AuditEntry
	c := t.bucket(bucketAudit).Cursor()
	for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
		r, err := decode[auditRecord](k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, &shop.AuditEntry{ID: r.ID, AdminID: r.AdminID, Action: r.Action, Args: r.Args, Result: r.Result, Time: r.Time})
	}
	return out, nil
}
