package shop

import (
	"context"
	"errors"
	"fmt"
)

// settingFragmentSession is the setting that holds the Fragment provider's
// session cookies, as the provider sealed them: ciphertext only (AES-GCM
// under a key derived from the hot wallet's seed, which is never stored),
// so the database file and /backup never show a cookie.
const settingFragmentSession = "fragment_session"

// maxFragmentSession bounds a saved session blob.
const maxFragmentSession = 32 << 10

// maxFragmentSessions bounds the sessions FRAGMENT_COOKIES may hold
// (config checks the same bound).
const maxFragmentSessions = 16

// LoadFragmentSession returns the Fragment session blob saved by
// SaveFragmentSession, or nil if there is none. The shop does not read it.
func (s *Service) LoadFragmentSession(ctx context.Context) ([]byte, error) {
	return s.FragmentSession(0).LoadFragmentSession(ctx)
}

// SaveFragmentSession replaces the saved Fragment session blob; an empty
// blob forgets it. The caller seals the blob: the shop stores it as is.
func (s *Service) SaveFragmentSession(ctx context.Context, blob []byte) error {
	return s.FragmentSession(0).SaveFragmentSession(ctx, blob)
}

// FragmentSessionSlot keeps the saved blob of one Fragment session: the
// i-th line of FRAGMENT_COOKIES when it holds several.
type FragmentSessionSlot struct {
	svc     *Service
	setting string
}

// FragmentSession returns the slot of session i (0 for the first, which is
// the setting a single session has always used). i is clamped to the
// bound of sessions.
func (s *Service) FragmentSession(i int) *FragmentSessionSlot {
	i = min(max(i, 0), maxFragmentSessions-1)
	setting := settingFragmentSession
	if i > 0 {
		setting = fmt.Sprintf("%s_%d", settingFragmentSession, i+1)
	}
	return &FragmentSessionSlot{svc: s, setting: setting}
}

// LoadFragmentSession returns the slot's saved blob, nil if none.
func (f *FragmentSessionSlot) LoadFragmentSession(ctx context.Context) ([]byte, error) {
	var b []byte
	err := f.svc.Store.View(ctx, func(tx Tx) (err error) {
		b, err = tx.FindSetting(f.setting)
		return err
	})
	return b, err
}

// SaveFragmentSession replaces the slot's blob; empty forgets it.
func (f *FragmentSessionSlot) SaveFragmentSession(ctx context.Context, blob []byte) error {
	if len(blob) > maxFragmentSession {
		return errors.New("shop: Fragment session blob too large")
	}
	return f.svc.Store.Update(ctx, func(tx Tx) error { return tx.PutSetting(f.setting, blob) })
}
