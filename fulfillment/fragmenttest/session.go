package fragmenttest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/ton/wallet"

	"starsbot/shop"
)

// This file is the fake's session: which cookie values it accepts, the
// Set-Cookie headers it sends, and checkTonProofAuth. Each behaviour names
// its public source (short forms: fragmenttest.go's package comment); what
// no source records is marked as the fake's own choice, and the provider
// must not depend on it.

// HomePage is fragment.com's home page, where S1qwy/fragment-api-py
// FragmentAPI/utils/auth.py auth_ton_proof reads the api hash and the
// ton_proof challenge before checkTonProofAuth.
const HomePage = "/"

// ProofDomain is the TonConnect domain a ton_proof must name
// (S1qwy auth.py _generate_proof: domain = "fragment.com").
const ProofDomain = "fragment.com"

// proofTTL is how far a proof's timestamp may be from the fake's clock;
// Fragment's tolerance is not recorded anywhere (the fake's choice).
const proofTTL = 15 * time.Minute

// session is the cookie state of one login. Callers hold Server.mu.
type session struct {
	ssid, token, tonToken string // the values accepted; tonToken "" after ExpireTONToken
	rotateEvery           int    // a new stel_ssid every n-th page load; 0: never
	loads                 int
	ssidSeq, tonSeq       int
	primed                map[shop.OrderType]bool // the buy state was updated before init (fragmenttest.go update)
	login                 int                     // 1 for the first login, n for the n-th
}

func newSession() session {
	return session{ssid: SSID, token: Token, tonToken: TONToken, primed: make(map[shop.OrderType]bool), login: 1}
}

// AddSession logs the shop's account in once more, as from another
// browser, and returns that login's Cookie header (stel_ssid, stel_dt,
// stel_token, stel_ton_token, as Cookies). The knobs (RotateSSID,
// ExpireTONToken, ExpireLogin, Cookie) act on the first login only.
//
// Source: each browser login is a cookie session of its own, with its own
// stel_ssid set by Fragment (S1qwy auth.py reads it from its jar after
// GET /), its own stel_token from the Telegram login and its own
// stel_ton_token from checkTonProofAuth; TSB (code-index id 62115643264)
// records that the api hash and ton_proof "are bound to the cookie session
// (stel_ssid)". The buy state of updateStarsBuyState is kept per login
// here, as the fake keeps it per session at all (fragmenttest.go update).
// Unrecorded: whether Fragment keeps several logins of one account alive
// at once. The fake does; the provider does not depend on it (a dropped
// login answers "Access denied", ExpireLogin's answer: the pool leaves
// that session out and goes on with the others, or pauses when none is
// left, naming the session: fulfillment.FragmentPool). The fake keeps
// one set of api hashes for all logins, its own simplification; the
// provider fetches a hash per session anyway.
func (s *Server) AddSession() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.extra) + 2
	ss := &session{
		ssid:     "fake-ssid-" + token(12, "login", n),
		token:    "fake-token-SECRET-" + token(8, "login-token", n),
		tonToken: "fake-ton-token-SECRET-" + token(8, "login-ton", n),
		primed:   make(map[shop.OrderType]bool),
		login:    n,
	}
	s.extra = append(s.extra, ss)
	return "stel_ssid=" + ss.ssid + "; stel_dt=" + DT + "; stel_token=" + ss.token + "; stel_ton_token=" + ss.tonToken
}

// sessionOf is the login r's stel_ssid names; the first login when it
// names none (checkCookies refuses such calls). Callers hold mu.
func (s *Server) sessionOf(r *http.Request) *session {
	if c, err := r.Cookie("stel_ssid"); err == nil {
		for _, ss := range s.extra {
			if c.Value == ss.ssid {
				return ss
			}
		}
	}
	return &s.sess
}

// RotateSSID makes every n-th page load (n > 0) issue a new stel_ssid with
// Set-Cookie; from then on only the new value is accepted. 0 stops it.
//
// Source: S1qwy auth.py auth_ton_proof starts a session with only stel_dt,
// then reads stel_ssid out of its cookie jar after GET / and
// checkTonProofAuth: Fragment sets stel_ssid with Set-Cookie. How often it
// renews it is not recorded; the period is the test's choice. Unrecorded
// too: that the old value is refused from then on (the fake's strictness;
// the provider always sends the newest value in its jar).
func (s *Server) RotateSSID(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess.rotateEvery = max(n, 0)
}

// ExpireTONToken drops the wallet connection: the current stel_ton_token
// is refused until checkTonProofAuth issues a new one. Refused calls answer
// as the sources record a lost wallet binding (see walletGone).
func (s *Server) ExpireTONToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess.tonToken = ""
}

// ExpireLogin drops the Telegram login: the current stel_token is refused
// with "Access denied" (dreminDev/telegram-fragment-api CHANGELOG 0.1.2:
// the answer to a request whose cookies did not arrive). Nothing but new
// cookies from a browser restores it: the fake never issues a stel_token.
func (s *Server) ExpireLogin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sess.token = ""
}

// Cookie returns the value of the session cookie name the fake accepts now
// ("" if none is accepted).
func (s *Server) Cookie(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch name {
	case "stel_ssid":
		return s.sess.ssid
	case "stel_dt":
		return DT
	case "stel_token":
		return s.sess.token
	case "stel_ton_token":
		return s.sess.tonToken
	}
	return ""
}

// pageCookies counts a page load and, when it is time, rotates stel_ssid
// with a Set-Cookie (see RotateSSID). Callers hold mu.
//
// The cookie's attributes (Path=/, Max-Age of 30 days, HttpOnly, Secure, no
// Domain) and its value's format are unrecorded: the fake's own. The
// provider takes any Set-Cookie for its host, deletes on Max-Age ≤ 0 or a
// past Expires, and ignores other domains (fragment_session.go
// applySetCookies).
func (s *Server) pageCookies(w http.ResponseWriter, r *http.Request) {
	ss := s.sessionOf(r)
	ss.loads++
	if ss.rotateEvery > 0 && ss.loads%ss.rotateEvery == 0 {
		ss.ssidSeq++
		ss.ssid = "fake-ssid-" + token(12, "ssid", ss.ssidSeq)
		http.SetCookie(w, &http.Cookie{Name: "stel_ssid", Value: ss.ssid, Path: "/", MaxAge: 86400 * 30, HttpOnly: true, Secure: true})
	}
}

// checkCookies checks a call's session cookies. Callers hold mu.
func (s *Server) checkCookies(r *http.Request, method string) (answer, bool) {
	if method == "checkTonProofAuth" {
		// The proof is what connects a wallet: S1qwy auth.py sends it with
		// a fresh session (stel_dt and whatever GET / set), no login.
		return answer{}, false
	}
	ss := s.sessionOf(r)
	for _, c := range []struct{ name, want string }{{"stel_ssid", ss.ssid}, {"stel_dt", DT}, {"stel_token", ss.token}} {
		if got, err := r.Cookie(c.name); err != nil || c.want == "" || got.Value != c.want {
			// answers.json #33: DRM CHANGELOG.md 0.1.2, a request whose
			// Cookie header was stripped is answered "Access denied".
			// Unrecorded: the answer when only one of these cookies is
			// missing or stale. TSB (code-index id 62115643264) records
			// {"need_verify": true, "error": "Unknown error"} for a session
			// without the Telegram login (NeedVerify serves that one); and
			// that a wrong stel_dt (a timezone offset, notes §1.2) is
			// refused at all is the fake's choice (S1Q
			// REQUIRED_COOKIE_KEYS includes it). The provider reads both
			// answers as a lost login, Unhealthy with the steps for a
			// human (fragment_session.go sessionProblem, sessionFailure).
			return jsonError("Access denied"), true
		}
	}
	if got, err := r.Cookie("stel_ton_token"); err != nil || ss.tonToken == "" || got.Value != ss.tonToken {
		return walletGone(method), true
	}
	return answer{}, false
}

// walletGone is the answer to a call whose wallet connection is gone.
func walletGone(method string) answer {
	switch method {
	case "getBuyStarsLink", "getGiftPremiumLink", "confirmReq":
		// The unattributed fragment_api.py "checked live 2026-07-22"
		// (code-index id 62115643264): link methods answer this when the
		// wallet binding of the session expired, and it re-runs
		// checkTonProofAuth. For confirmReq no source records an answer:
		// the fake's choice; the provider's confirm call is best-effort
		// and only logs a failure (fragment.go confirm), after renewing
		// the wallet as for any call (fragment_client.go call).
		return jsonError("Session expired. Please reconnect your wallet")
	}
	// dreminDev/telegram-fragment-api test/stars.service.test.ts line 106
	// and the same fragment_api.py: initBuyStarsRequest answers
	// {need_ton: true} while no wallet is confirmed (answers.json #31).
	// The fake answers every other method so too: no source records what
	// they answer (S1Q needs stel_ton_token only "for wallet/write ops",
	// notes §1.2, so the search and the state update may well succeed
	// without it). The provider does not depend on which call says it: it
	// renews the wallet on need_ton from any call, and without the cookie
	// before the first one (fragment_client.go call).
	return jsonOK(map[string]any{"need_ton": true})
}

// checkTonProofAuth connects the wallet of a TonConnect proof to the
// session and issues a new stel_ton_token.
//
// Request: S1qwy auth.py auth_ton_proof (form fields account, device,
// proof, each JSON; the proof signs the ton_proof challenge of the page the
// api hash comes from, _parse_init_page / _generate_proof). The signature
// is checked with tonutils-go's TonConnectVerifier (ton/wallet/proof.go),
// which takes the public key from walletStateInit and checks that the
// StateInit is the address's.
//
// Answer: {"verified": true} (the unattributed fragment_api.py, code-index
// id 62115643264, connect_wallet: `if not result.get("verified")`); the
// token arrives through the client's cookie jar (S1qwy auth.py reads
// stel_ton_token from session.cookies after this POST; its attributes, as
// those of stel_ssid in pageCookies, are unrecorded: the fake's own). A
// refusal is {"error": …}: that client prints result.get('error').
// Unrecorded: the refusal texts "Invalid account" and "Invalid proof", the
// fake's own; the provider must not depend on them (it reads only
// "verified" and treats any other answer as a failed renewal, Unhealthy
// with the steps: fragment_tonproof.go tonProofAuth).
func (s *Server) checkTonProofAuth(c *call) answer {
	a, valid := parseAccountDevice(c)
	if !valid {
		return jsonError("Invalid account")
	}
	var proof wallet.TonConnectProof
	if json.Unmarshal([]byte(c.form("proof")), &proof) != nil {
		return jsonError("Invalid proof")
	}
	addr, err := address.ParseRawAddr(a.Address)
	if err != nil {
		return jsonError("Invalid account")
	}
	stateInit, err := base64.StdEncoding.DecodeString(a.WalletStateInit)
	if err != nil {
		return jsonError("Invalid account")
	}
	challenge := proofPayload(c.r.URL.Query().Get("hash"))
	v := wallet.NewTonConnectVerifier(ProofDomain, proofTTL, nil)
	if err := v.VerifyProof(context.Background(), addr, proof, challenge, stateInit); err != nil {
		return jsonError("Invalid proof")
	}
	ss := s.sessionOf(c.r)
	ss.tonSeq++
	ss.tonToken = "fake-ton-token-" + token(16, "ton", ss.login, ss.tonSeq) + "-" + strconv.Itoa(ss.tonSeq)
	setCookie(c.r, &http.Cookie{Name: "stel_ton_token", Value: ss.tonToken, Path: "/", MaxAge: 86400 * 30, HttpOnly: true, Secure: true})
	return jsonOK(map[string]any{"verified": true})
}

// proofPayload is the ton_proof challenge of the page whose api hash is
// hash (in Wallet.init on that page): lower-case hex, as TSB (code-index id
// 62115643264: `Wallet.init({ton_proof: "<random_hex>", ...})`, matched
// with `"ton_proof":"([a-f0-9]+)"`) and the mock page of code-index id
// 67128787525 ("5550ffd0ff31a55ca4", 18 digits) show it. That it is
// derived from the hash is the fake's own: TSB says both are issued per
// session and page GET.
func proofPayload(hash string) string {
	sum := sha256.Sum256([]byte("proof\x00" + hash))
	return hex.EncodeToString(sum[:9])
}

// setCookiesKey keys the Set-Cookie headers an API answer collects.
type setCookiesKey struct{}

// withSetCookies lets the handlers of h add Set-Cookie headers to their
// answer with setCookie.
func withSetCookies(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var cookies []*http.Cookie
		r = r.WithContext(context.WithValue(r.Context(), setCookiesKey{}, &cookies))
		h(&cookieWriter{ResponseWriter: w, cookies: &cookies}, r)
	}
}

// setCookie adds a Set-Cookie header to the answer to r.
func setCookie(r *http.Request, c *http.Cookie) {
	if p, ok := r.Context().Value(setCookiesKey{}).(*[]*http.Cookie); ok {
		*p = append(*p, c)
	}
}

// cookieWriter writes the collected Set-Cookie headers with the status.
type cookieWriter struct {
	http.ResponseWriter
	cookies *[]*http.Cookie
	wrote   bool
}

func (w *cookieWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		for _, c := range *w.cookies {
			http.SetCookie(w.ResponseWriter, c)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cookieWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}
