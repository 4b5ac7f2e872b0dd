package fulfillment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"sync"
	"time"
	"unicode"
)

// This file renews the wallet part of the Fragment session (stel_ton_token)
// from the hot wallet's seed, as S1qwy/fragment-api-py
// FragmentAPI/utils/auth.py auth_ton_proof / refresh_wallet_session do:
// load fragment.com's home page, read its api hash and the TonConnect
// challenge from `Wallet.init({"ton_proof":"…"})` (_parse_init_page), sign
// a ton_proof for fragment.com (_generate_proof), and POST
// method=checkTonProofAuth with the account, device and proof JSON; the
// answer is {"verified": true} (notes §1.3) and the new stel_ton_token
// arrives as a Set-Cookie, which the session's jar takes.

const (
	fragmentHomePage     = "/"
	fragmentProofMethod  = "checkTonProofAuth"
	fragmentProofDomain  = "fragment.com" // S1qwy auth.py _generate_proof: domain = "fragment.com"
	fragmentMaxProof     = 512            // bytes of a ton_proof challenge we sign
	fragmentRenewBackoff = time.Minute    // no new renewal this long after one failed
)

// fragmentProofRE finds the Wallet.init call (S1qwy auth.py _parse_init_page:
// `Wallet\.init\((.*?)\);`).
var fragmentProofRE = regexp.MustCompile(`Wallet\.init\((.*?)\);`)

// TonProofSigner is implemented by a Wallet that can sign a TonConnect
// ton_proof (ton.Wallet): with it the provider renews Fragment's wallet
// connection (stel_ton_token) by itself.
type TonProofSigner interface {
	// SignTonProof returns the ed25519 signature of the ton-proof-item-v2
	// message of the wallet's address, domain, ts and payload.
	SignTonProof(domain string, ts time.Time, payload string) ([]byte, error)
}

// fragmentRenewal serializes renewals and remembers a failed one.
type fragmentRenewal struct {
	mu       sync.Mutex
	failedAt time.Time
	err      error // the last failure, while younger than fragmentRenewBackoff
}

func (f *Fragment) canRenewWallet() bool {
	_, ok := f.Wallet.(TonProofSigner)
	return ok
}

// renewWallet renews the wallet connection unless a stel_ton_token was
// issued since seen (another call renewed it meanwhile). A failure is
// remembered for fragmentRenewBackoff, so that a broken renewal is not
// hammered by every recipient check.
func (f *Fragment) renewWallet(ctx context.Context, seen uint64) error {
	signer, ok := f.Wallet.(TonProofSigner)
	if !ok {
		return Errorf(Unhealthy, "Fragment has no wallet connection (stel_ton_token) for the session and this wallet cannot renew it. %s", fragmentWalletSteps)
	}
	s := f.session()
	r := &s.renew
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.issued() != seen {
		return nil
	}
	now := f.Now()
	if r.err != nil && !now.Before(r.failedAt) && now.Sub(r.failedAt) < fragmentRenewBackoff {
		return r.err
	}
	f.Logger.Info("fragment wallet connection lost; renewing it from the hot wallet's seed")
	if err := f.tonProofAuth(ctx, signer); err != nil {
		if KindOf(err) == Unhealthy {
			r.err, r.failedAt = err, now
		}
		f.Logger.Warn("fragment wallet connection not renewed", "error", err)
		return err
	}
	r.err = nil
	// The hashes were issued to the session before; reload them.
	f.mu.Lock()
	f.hashes = nil
	f.mu.Unlock()
	f.Logger.Info("fragment wallet connection renewed")
	return nil
}

// tonProofAuth runs one checkTonProofAuth exchange.
func (f *Fragment) tonProofAuth(ctx context.Context, signer TonProofSigner) error {
	fail := func(what string, cause error) error {
		return Wrap(Unhealthy, "Fragment's wallet connection could not be renewed from the hot wallet's seed: "+what+". "+fragmentWalletSteps, cause)
	}
	account, err := fragmentAccount(f.Wallet.Info())
	if err != nil {
		return err
	}
	s := f.session()
	before := s.issued()
	page, err := f.fetchPage(ctx, fragmentHomePage)
	if err != nil {
		return err
	}
	hash := fragmentHashRE.FindSubmatch(page)
	payload, ok := parseFragmentProofPayload(page)
	if hash == nil || !ok {
		return fail("the fragment.com page has no api hash or ton_proof challenge (logged out, or the page changed)", nil)
	}
	ts := f.Now()
	sig, err := signer.SignTonProof(fragmentProofDomain, ts, payload)
	if err != nil {
		return fail("the hot wallet could not sign the proof", err)
	}
	var proof struct {
		Timestamp int64 `json:"timestamp"`
		Domain    struct {
			LengthBytes int    `json:"lengthBytes"`
			Value       string `json:"value"`
		} `json:"domain"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	}
	proof.Timestamp, proof.Payload = ts.Unix(), payload
	proof.Domain.LengthBytes, proof.Domain.Value = len(fragmentProofDomain), fragmentProofDomain
	proof.Signature = base64.StdEncoding.EncodeToString(sig)
	pj, err := json.Marshal(proof)
	if err != nil {
		return fail("the proof could not be encoded", err)
	}
	form := url.Values{
		"method":  {fragmentProofMethod},
		"account": {account},
		"device":  {fragmentDevice},
		"proof":   {string(pj)},
	}
	body, err := f.post(ctx, fragmentHomePage, string(hash[1]), form)
	if err != nil {
		return err
	}
	env, err := parseFragmentEnvelope(body)
	if err != nil {
		return err
	}
	var r struct {
		Verified fragmentFlag `json:"verified"`
	}
	if json.Unmarshal(body, &r) != nil || !bool(r.Verified) {
		return fail("Fragment did not accept the proof", env.refusal())
	}
	if s.issued() == before || !s.has(fragmentWalletCookie) {
		return fail("Fragment accepted the proof but issued no stel_ton_token", nil)
	}
	return nil
}

// parseFragmentProofPayload reads the ton_proof challenge of a page.
func parseFragmentProofPayload(page []byte) (string, bool) {
	m := fragmentProofRE.FindSubmatch(page)
	if m == nil {
		return "", false
	}
	var init struct {
		TonProof string `json:"ton_proof"`
	}
	if json.Unmarshal(m[1], &init) != nil || init.TonProof == "" || len(init.TonProof) > fragmentMaxProof {
		return "", false
	}
	for _, r := range init.TonProof {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return init.TonProof, true
}
