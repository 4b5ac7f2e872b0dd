package sdk

// Webhook verification, per Standard Webhooks 1.0
// (https://www.standardwebhooks.com/; the spec is
// github.com/standard-webhooks/standard-webhooks spec/standard-webhooks.md,
// "Signature scheme", "Webhook headers" and "Verifying signatures"):
//
//   - the headers webhook-id, webhook-timestamp (unix seconds) and
//     webhook-signature, a space-separated list of "<version>,<base64>";
//   - v1 = base64 (standard, padded) of HMAC-SHA256(key, id + "." +
//     timestamp + "." + body), where key is the base64 after "whsec_" in
//     the secret;
//   - compare in constant time, try every signature (secret rotation sends
//     two), ignore other versions (v1a is asymmetric), and refuse a
//     timestamp outside a tolerance (the reference libraries use 5
//     minutes either way, libraries/go/webhook.go).
//
// As the reference libraries do, a secret is accepted with or without its
// "whsec_" prefix, and its base64 with or without padding
// (libraries/python/tests/test_webhooks.py,
// test_signature_verification_with_unpadded_secret).

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultWebhookTolerance is how far a webhook's timestamp may be from the
// receiver's clock, either way.
const DefaultWebhookTolerance = 5 * time.Minute

// Errors of webhook verification.
var (
	ErrWebhookSecret    = errors.New("sdk: malformed webhook secret (want whsec_<base64>)")
	ErrWebhookHeaders   = errors.New("sdk: webhook-id, webhook-timestamp or webhook-signature header missing or malformed")
	ErrWebhookTimestamp = errors.New("sdk: webhook timestamp outside the tolerance (replayed, or the clock is off)")
	ErrWebhookSignature = errors.New("sdk: no valid webhook signature")
	ErrWebhookBody      = errors.New("sdk: webhook body is not a JSON event")
)

// Verifier checks starsbot's webhook requests.
type Verifier struct {
	// Secrets are the endpoint's whsec_ secrets: one, or two while a
	// receiver switches after RotateWebhookSecret. A request passes when
	// any of its signatures was made with any of them.
	Secrets []string
	// Tolerance is the largest distance between webhook-timestamp and
	// Now, either way; 0 = DefaultWebhookTolerance.
	Tolerance time.Duration
	// Now is the receiver's clock; nil = time.Now.
	Now func() time.Time
}

// VerifyWebhook checks a webhook request's signature and timestamp with
// secret and returns its event (ID from the webhook-id header).
func VerifyWebhook(secret string, headers http.Header, body []byte) (*Event, error) {
	return (&Verifier{Secrets: []string{secret}}).Verify(headers, body)
}

// Verify checks a webhook request and returns its event. Decode the body
// only after it passed: the signature covers the exact bytes.
func (v *Verifier) Verify(headers http.Header, body []byte) (*Event, error) {
	id := headers.Get("webhook-id")
	tsText := headers.Get("webhook-timestamp")
	sigs := headers.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return nil, ErrWebhookHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return nil, ErrWebhookHeaders
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultWebhookTolerance
	}
	if d := now().Sub(time.Unix(ts, 0)); d > tol || d < -tol {
		return nil, ErrWebhookTimestamp
	}
	if len(v.Secrets) == 0 {
		return nil, ErrWebhookSecret
	}
	keys := make([][]byte, 0, len(v.Secrets))
	for _, s := range v.Secrets {
		k, err := webhookKey(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if !signed(keys, id, tsText, body, sigs) {
		return nil, ErrWebhookSignature
	}
	var w eventWire
	if err := decodeEvent(body, &w); err != nil {
		return nil, err
	}
	e, err := w.event()
	if err != nil {
		return nil, errors.Join(ErrWebhookBody, err)
	}
	e.ID = id
	return e, nil
}

// signed reports whether any v1 entry of the signature header is the
// HMAC of the message under any key, comparing in constant time.
func signed(keys [][]byte, id, ts string, body []byte, header string) bool {
	macs := make([][]byte, len(keys))
	for i, k := range keys {
		macs[i] = sign(k, id, ts, body)
	}
	ok := false
	for _, entry := range strings.Fields(header) {
		version, sig, found := strings.Cut(entry, ",")
		if !found || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			continue
		}
		for _, m := range macs {
			if hmac.Equal(got, m) {
				ok = true
			}
		}
	}
	return ok
}

func sign(key []byte, id, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// webhookKey decodes a whsec_ secret into its HMAC key.
func webhookKey(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(secret, "whsec_")
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		k, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(k) == 0 {
		return nil, ErrWebhookSecret
	}
	return k, nil
}

// SignWebhook returns the webhook-signature header value ("v1,<base64>")
// starsbot would send for this message: for tests of a receiver.
func SignWebhook(secret, id string, timestamp time.Time, body []byte) (string, error) {
	k, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(sign(k, id, strconv.FormatInt(timestamp.Unix(), 10), body)), nil
}

// decodeEvent reads a webhook body {"type","timestamp","data"}.
func decodeEvent(body []byte, w *eventWire) error {
	if err := json.Unmarshal(body, w); err != nil {
		return errors.Join(ErrWebhookBody, err)
	}
	return nil
}

// MaxWebhookBody is the largest body WebhookHandler reads.
const MaxWebhookBody = 1 << 20

// WebhookHandler returns an http.Handler for starsbot's webhook requests:
// it verifies each with v and passes its event to fn. It answers 204 when
// fn returns nil, 500 when fn fails (starsbot then delivers the event
// again later), 400 on an unreadable body, and 401 on a failed
// verification, never calling fn. fn may see one event more than once (at
// least once delivery): use Event.ID to skip repeats.
func WebhookHandler(v *Verifier, fn func(ctx context.Context, e *Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		e, err := v.Verify(r.Header, body)
		switch {
		case errors.Is(err, ErrWebhookBody):
			http.Error(w, "malformed event", http.StatusBadRequest)
			return
		case err != nil:
			http.Error(w, "webhook verification failed", http.StatusUnauthorized)
			return
		}
		if err := fn(r.Context(), e); err != nil {
			http.Error(w, "not processed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
