package fulfillment

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"starsbot/shop"
)

// This file is the Fragment session: a cookie jar that starts from the
// configured FRAGMENT_COOKIES, takes every Set-Cookie Fragment answers
// with, and is saved (sealed) through a SessionStore so that a restart
// goes on with the renewed cookies. Cookie values are never logged or put
// in an error: only their names.
//
// The session has two parts (notes §1.2, §1.3, §3.5):
//   - the Telegram login: stel_ssid, stel_dt, stel_token. Only a human can
//     renew it (S1qwy/fragment-api-py FragmentAPI/utils/auth.py runs
//     Telegram OAuth for stel_token); errors about it carry the exact steps.
//   - the wallet connection: stel_ton_token, renewed from the hot wallet's
//     seed with a TonConnect proof (fragment_tonproof.go).

// Cookie names of the session.
const (
	fragmentWalletCookie = "stel_ton_token"
)

// fragmentLoginCookies are the cookies of the Telegram login, which only a
// human can renew; stel_dt is the timezone offset that comes with them.
var fragmentLoginCookies = []string{"stel_ssid", "stel_dt", "stel_token"}

// Bounds of the jar: what Fragment sets beyond them is ignored (and logged
// by name), so that a saved session stays small.
const (
	fragmentMaxCookieValue = 4096
	fragmentMaxCookies     = 64
	fragmentMaxJar         = 16 << 10 // bytes of names and values
)

// Sealing of the saved session.
const (
	// fragmentSessionKeyInfo is the HKDF info label of the key that seals
	// the saved session; changing it orphans every saved session.
	fragmentSessionKeyInfo = "starsbot/fulfillment/fragment-session/aes-256-gcm/v1"
	fragmentSessionAAD     = "starsbot fragment_session v1"
	fragmentSessionFormat  = 1
)

// The steps admins are given when a part of the session needs a human.
// They end without a period: the worker's alert goes on after them.
const (
	fragmentCopyCookies = "copy the cookies stel_ssid, stel_dt, stel_token and stel_ton_token of fragment.com (browser developer tools → Application → Cookies) " +
		"into FRAGMENT_COOKIES (or the file FRAGMENT_COOKIES_FILE) as one line of name=value pairs joined by \"; \"; 3) restart the bot"
	// fragmentLoginSteps: the Telegram login is gone.
	fragmentLoginSteps = "To fix: 1) in a browser, log in at https://fragment.com with the shop's Telegram account; 2) " + fragmentCopyCookies
	// fragmentWalletSteps: the wallet connection is gone and the bot cannot
	// renew it from the seed.
	fragmentWalletSteps = "To fix: 1) in a browser, log in at https://fragment.com with the shop's Telegram account and connect the shop's hot wallet (the TON_WALLET_MNEMONIC wallet, e.g. in Tonkeeper); 2) " + fragmentCopyCookies
	// fragmentVerifySteps: need_verify, which public clients read as KYC
	// (pyfragment, S1qwy, OneZee23) or as a lost Telegram login (an
	// unattributed client checked live): both steps.
	fragmentVerifySteps = "To fix: 1) in a browser, log in at https://fragment.com with the shop's Telegram account and open https://fragment.com/kyc/account: complete the verification if it asks for it; " +
		"2) if the account was verified already, the Telegram login is gone: " + fragmentCopyCookies
)

// SessionStore keeps the Fragment session across restarts; shop.Service
// implements it. The provider hands it sealed blobs only.
type SessionStore interface {
	// LoadFragmentSession returns the saved blob, nil if there is none.
	LoadFragmentSession(ctx context.Context) ([]byte, error)
	// SaveFragmentSession replaces the saved blob.
	SaveFragmentSession(ctx context.Context, blob []byte) error
}

var _ SessionStore = (*shop.Service)(nil)

// KeyDeriver is implemented by a Wallet that derives secret keys from its
// seed (ton.Wallet). The saved Fragment session is sealed with such a key,
// so that the database, and every backup of it, holds only ciphertext.
type KeyDeriver interface {
	DeriveKey(info string) ([]byte, error)
}

// fragmentCookie is one cookie of the jar.
type fragmentCookie struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// fragmentSession is the cookie jar and the renewal state. Safe for
// concurrent use.
type fragmentSession struct {
	configured string // hex SHA-256 of the configured Cookie header
	key        []byte // seals the saved session; nil: not saved

	mu           sync.Mutex
	cookies      []fragmentCookie
	version      uint64 // bumped by every change
	walletIssued uint64 // bumped by every Set-Cookie of a stel_ton_token

	saveMu sync.Mutex
	saved  uint64 // the version last saved

	renew fragmentRenewal // fragment_tonproof.go
}

// fragmentSessionRecord is the plaintext of a saved session.
type fragmentSessionRecord struct {
	Format     int              `json:"format"`
	Configured string           `json:"configured"` // hex SHA-256 of FRAGMENT_COOKIES when saved
	Cookies    []fragmentCookie `json:"cookies"`
}

// session returns the jar, opening it at first use: from the saved session
// when there is one for the configured cookies, else from them.
func (f *Fragment) session() *fragmentSession {
	f.sessionOnce.Do(func() { f.sess = f.openSession(context.Background()) })
	return f.sess
}

// openSession builds the jar. A saved session is used only if it was saved
// for the same FRAGMENT_COOKIES: when an admin pasted new ones, they win. A
// blob that does not open (another mnemonic, corruption) is ignored.
func (f *Fragment) openSession(ctx context.Context) *fragmentSession {
	header := strings.TrimSpace(f.Cookies)
	sum := sha256.Sum256([]byte(header))
	s := &fragmentSession{configured: hex.EncodeToString(sum[:])}
	if !strings.ContainsAny(header, "\r\n\x00") {
		if cs, err := http.ParseCookie(header); err == nil {
			for _, c := range cs {
				s.setLocked(c.Name, c.Value)
			}
		}
	}
	if f.Sessions == nil {
		return s
	}
	log := f.Logger
	kd, ok := f.Wallet.(KeyDeriver)
	if !ok {
		log.Warn("fragment session: the wallet derives no key, so renewed cookies are not saved")
		return s
	}
	key, err := kd.DeriveKey(fragmentSessionKeyInfo)
	if err != nil || len(key) != 32 {
		log.Warn("fragment session: no key to seal the session, so renewed cookies are not saved", "error", err)
		return s
	}
	s.key = key
	blob, err := f.Sessions.LoadFragmentSession(ctx)
	switch {
	case err != nil:
		log.Warn("fragment session: the saved session could not be read; using FRAGMENT_COOKIES", "error", err)
		return s
	case blob == nil:
		return s
	}
	rec, err := openFragmentSession(key, blob)
	switch {
	case err != nil:
		log.Warn("fragment session: the saved session does not decrypt (the wallet mnemonic changed?) and is ignored; using FRAGMENT_COOKIES", "error", err)
	case rec.Configured != s.configured:
		log.Info("fragment session: FRAGMENT_COOKIES changed since the session was saved; using them")
	default:
		s.cookies = nil
		for _, c := range rec.Cookies {
			s.setLocked(c.Name, c.Value)
		}
		log.Info("fragment session: restored the saved session", "cookies", s.namesLocked())
	}
	s.version, s.saved = 0, 0
	return s
}

// header is the Cookie header to send.
func (s *fragmentSession) header() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make([]string, 0, len(s.cookies))
	for _, c := range s.cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// has reports whether the jar holds a non-empty cookie name.
func (s *fragmentSession) has(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.indexLocked(name)
	return i >= 0 && s.cookies[i].Value != ""
}

// issued counts the stel_ton_token cookies Fragment has set.
func (s *fragmentSession) issued() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.walletIssued
}

// missing returns the first of names the jar lacks, "" if none.
func (s *fragmentSession) missing(names ...string) string {
	for _, n := range names {
		if !s.has(n) {
			return n
		}
	}
	return ""
}

func (s *fragmentSession) indexLocked(name string) int {
	return slices.IndexFunc(s.cookies, func(c fragmentCookie) bool { return c.Name == name })
}

// setLocked sets a cookie and reports whether the jar changed; a value
// that would overflow the jar is refused.
func (s *fragmentSession) setLocked(name, value string) (changed, refused bool) {
	size := len(name) + len(value)
	for _, c := range s.cookies {
		if c.Name != name {
			size += len(c.Name) + len(c.Value)
		}
	}
	i := s.indexLocked(name)
	if name == "" || len(value) > fragmentMaxCookieValue || size > fragmentMaxJar || (i < 0 && len(s.cookies) >= fragmentMaxCookies) {
		return false, true
	}
	if i >= 0 {
		if s.cookies[i].Value == value {
			return false, false
		}
		s.cookies[i].Value = value
	} else {
		s.cookies = append(s.cookies, fragmentCookie{Name: name, Value: value})
	}
	s.version++
	return true, false
}

// deleteLocked removes a cookie and reports whether it was there.
func (s *fragmentSession) deleteLocked(name string) bool {
	i := s.indexLocked(name)
	if i < 0 {
		return false
	}
	s.cookies = slices.Delete(s.cookies, i, i+1)
	s.version++
	return true
}

func (s *fragmentSession) namesLocked() []string {
	names := make([]string, len(s.cookies))
	for i, c := range s.cookies {
		names[i] = c.Name
	}
	return names
}

// applySetCookies takes the Set-Cookie headers of one of Fragment's
// answers (any status) into the jar: a new value replaces the old one,
// Max-Age ≤ 0 or an Expires in the past deletes the cookie, and a cookie
// for another domain is ignored. A changed jar is saved. Only names are
// logged.
func (f *Fragment) applySetCookies(ctx context.Context, resp *http.Response) {
	cookies := resp.Cookies()
	if len(cookies) == 0 {
		return
	}
	host := ""
	if resp.Request != nil && resp.Request.URL != nil {
		host = resp.Request.URL.Hostname()
	}
	now := f.Now()
	s := f.session()
	var set, deleted, ignored []string
	s.mu.Lock()
	for _, c := range cookies {
		switch {
		case !fragmentDomainMatch(host, c.Domain):
			ignored = append(ignored, c.Name)
		case c.MaxAge < 0 || (c.MaxAge == 0 && !c.Expires.IsZero() && !c.Expires.After(now)):
			if s.deleteLocked(c.Name) {
				deleted = append(deleted, c.Name)
			}
		default:
			changed, refused := s.setLocked(c.Name, c.Value)
			switch {
			case refused:
				ignored = append(ignored, c.Name)
				continue
			case changed:
				set = append(set, c.Name)
			}
			if c.Name == fragmentWalletCookie && c.Value != "" {
				s.walletIssued++
			}
		}
	}
	s.mu.Unlock()
	if len(ignored) > 0 {
		f.Logger.Warn("fragment cookies ignored (another domain, or too large)", "cookies", ignored)
	}
	if len(set)+len(deleted) == 0 {
		return
	}
	f.Logger.Debug("fragment cookies renewed", "set", set, "deleted", deleted)
	f.saveSession(ctx)
}

// fragmentDomainMatch reports whether a cookie for domain (its Domain
// attribute, "" for host-only) belongs to host.
func fragmentDomainMatch(host, domain string) bool {
	domain = strings.ToLower(strings.TrimPrefix(domain, "."))
	host = strings.ToLower(host)
	return domain == "" || host == domain || strings.HasSuffix(host, "."+domain)
}

// saveSession seals the jar and saves it, if it changed since the last
// save. A failure is logged: the session goes on in memory.
func (f *Fragment) saveSession(ctx context.Context) {
	s := f.session()
	if f.Sessions == nil || s.key == nil {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	version := s.version
	rec := fragmentSessionRecord{Format: fragmentSessionFormat, Configured: s.configured, Cookies: slices.Clone(s.cookies)}
	names := s.namesLocked()
	s.mu.Unlock()
	if version == s.saved {
		return
	}
	blob, err := sealFragmentSession(s.key, &rec)
	if err == nil {
		err = f.Sessions.SaveFragmentSession(context.WithoutCancel(ctx), blob)
	}
	if err != nil {
		f.Logger.Warn("fragment session: the renewed cookies could not be saved; they are kept in memory", "error", err)
		return
	}
	s.saved = version
	f.Logger.Debug("fragment session saved", "cookies", names)
}

// sealFragmentSession encrypts rec with AES-256-GCM under key: a format
// byte, then the random nonce, the ciphertext and the tag.
func sealFragmentSession(key []byte, rec *fragmentSessionRecord) ([]byte, error) {
	plain, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	aead, err := fragmentSessionAEAD(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal([]byte{fragmentSessionFormat}, nil, plain, []byte(fragmentSessionAAD)), nil
}

// openFragmentSession decrypts and parses a sealed session.
func openFragmentSession(key, blob []byte) (*fragmentSessionRecord, error) {
	if len(blob) == 0 || blob[0] != fragmentSessionFormat {
		return nil, errors.New("unknown format")
	}
	aead, err := fragmentSessionAEAD(key)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nil, blob[1:], []byte(fragmentSessionAAD))
	if err != nil {
		return nil, errors.New("does not decrypt with this wallet's key")
	}
	var rec fragmentSessionRecord
	if err := json.Unmarshal(plain, &rec); err != nil || rec.Format != fragmentSessionFormat {
		return nil, fmt.Errorf("unreadable session record")
	}
	return &rec, nil
}

func fragmentSessionAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// checkSession makes sure the jar holds what a call needs. The Telegram
// login needs a human; a missing wallet connection is renewed by the first
// call when the wallet can sign a TON proof.
func (f *Fragment) checkSession() error {
	s := f.session()
	if name := s.missing(fragmentLoginCookies...); name != "" {
		return Errorf(Unhealthy, "the Fragment cookies lack %s (the Telegram login). %s", name, fragmentLoginSteps)
	}
	if !s.has(fragmentWalletCookie) && !f.canRenewWallet() {
		return Errorf(Unhealthy, "the Fragment cookies lack %s (the wallet connection) and this wallet cannot renew it. %s", fragmentWalletCookie, fragmentWalletSteps)
	}
	return nil
}

// fragmentProblem is what an answer says about the session.
type fragmentProblem int

const (
	fragmentNoProblem   fragmentProblem = iota
	fragmentStale                       // "Bad request", "Session expired": a fresh api hash may do
	fragmentWalletStale                 // "Session expired. Please reconnect your wallet": a fresh hash, then the wallet
	fragmentWalletGone                  // need_ton: no wallet connected
	fragmentLoginGone                   // "Access denied"
	fragmentVerify                      // need_verify
)

// sessionProblem classifies an answer (notes §3.1).
func (e *fragmentEnvelope) sessionProblem() fragmentProblem {
	t := strings.ToLower(e.text())
	switch {
	case bool(e.NeedVerify):
		return fragmentVerify
	case bool(e.NeedTON):
		return fragmentWalletGone
	case strings.Contains(t, "reconnect your wallet"):
		return fragmentWalletStale
	case e.sessionExpired():
		return fragmentStale
	case strings.Contains(t, "access denied"):
		return fragmentLoginGone
	}
	return fragmentNoProblem
}

// sessionFailure is the Unhealthy error of a session problem that needs a
// human, with the steps; nil for any other answer.
func (e *fragmentEnvelope) sessionFailure(p fragmentProblem) error {
	switch p {
	case fragmentVerify:
		return Wrap(Unhealthy, "Fragment answered need_verify: the account needs KYC verification, or its Telegram login is gone. "+fragmentVerifySteps, e.refusal())
	case fragmentLoginGone:
		return Wrap(Unhealthy, "Fragment denied access: the Telegram login (stel_token) is gone or refused. "+fragmentLoginSteps, e.refusal())
	case fragmentStale:
		return Wrap(Unhealthy, "Fragment session expired even with a fresh api hash: the cookies need renewing. "+fragmentLoginSteps, e.refusal())
	}
	return nil
}
