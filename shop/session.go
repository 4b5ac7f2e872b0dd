package shop

import (
	"context"
	"errors"
)

// settingFragmentSession is the setting that holds the Fragment provider's
// session cookies, as the provider sealed them: ciphertext only (AES-GCM
// under a key derived from the hot wallet's seed, which is never stored),
// so the database file and /backup never show a cookie.
const settingFragmentSession = "fragment_session"

// maxFragmentSession bounds a saved session blob.
const maxFragmentSession = 32 << 10

// LoadFragmentSession returns the Fragment session blob saved by
// SaveFragmentSession, or nil if there is none. The shop does not read it.
func (s *Service) LoadFragmentSession(ctx context.Context) ([]byte, error) {
	var b []byte
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		b, err = tx.FindSetting(settingFragmentSession)
		return err
	})
	return b, err
}

// SaveFragmentSession replaces the saved Fragment session blob; an empty
// blob forgets it. The caller seals the blob: the shop stores it as is.
func (s *Service) SaveFragmentSession(ctx context.Context, blob []byte) error {
	if len(blob) > maxFragmentSession {
		return errors.New("shop: Fragment session blob too large")
	}
	return s.Store.Update(ctx, func(tx Tx) error { return tx.PutSetting(settingFragmentSession, blob) })
}
