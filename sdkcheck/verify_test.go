package sdkcheck_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"starsbot/sdk"
)

// The official test vector of Standard Webhooks: the same in every
// reference library of github.com/standard-webhooks/standard-webhooks
// (commit b2fa7b8): libraries/go/webhook_test.go TestWebhookSign,
// libraries/python/tests/test_webhooks.py test_sign_function,
// libraries/javascript/src/webhook.test.ts "sign function works".
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func vectorHeaders(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", vectorID)
	h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp))
	h.Set("webhook-signature", sig)
	return h
}

func atVector() time.Time { return time.Unix(vectorTimestamp, 0) }

func TestVerifyWebhook_OfficialVector(t *testing.T) {
	v := &sdk.Verifier{Secrets: []string{vectorSecret}, Now: atVector}
	e, err := v.Verify(vectorHeaders(vectorSignature), []byte(vectorPayload))
	if err != nil {
		t.Fatalf("official vector refused: %v", err)
	}
	if e.ID != vectorID || string(e.Data) != "" {
		t.Errorf("event %+v", e)
	}
	sig, err := sdk.SignWebhook(vectorSecret, vectorID, atVector(), []byte(vectorPayload))
	if err != nil || sig != vectorSignature {
		t.Errorf("SignWebhook = %q, %v; want the vector's %q", sig, err, vectorSignature)
	}
	// The reference libraries accept the secret without its prefix
	// (TestWebhookPrefix) and the vector's signature among others that
	// do not match, including another version (the multi-sig case of
	// libraries/go/webhook_test.go TestWebhook).
	v2 := &sdk.Verifier{Secrets: []string{strings.TrimPrefix(vectorSecret, "whsec_")}, Now: atVector}
	multi := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + vectorSignature + " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	if _, err := v2.Verify(vectorHeaders(multi), []byte(vectorPayload)); err != nil {
		t.Errorf("multi-signature header: %v", err)
	}
	// The library tests' failing cases.
	bad := map[string]func(h http.Header){
		"MissingID":         func(h http.Header) { h.Del("webhook-id") },
		"MissingTimestamp":  func(h http.Header) { h.Del("webhook-timestamp") },
		"MissingSignature":  func(h http.Header) { h.Del("webhook-signature") },
		"InvalidSignature":  func(h http.Header) { h.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=") },
		"PartialSignature":  func(h http.Header) { h.Set("webhook-signature", "v1,") },
		"OtherVersionOnly":  func(h http.Header) { h.Set("webhook-signature", strings.Replace(vectorSignature, "v1,", "v1a,", 1)) },
		"TimestampNotANum":  func(h http.Header) { h.Set("webhook-timestamp", "1614265330.5") },
		"TimestampShifted":  func(h http.Header) { h.Set("webhook-timestamp", strconv.Itoa(vectorTimestamp+1)) },
		"IDOfAnotherMesage": func(h http.Header) { h.Set("webhook-id", "msg_other") },
	}
	for name, change := range bad {
		t.Run(name, func(t *testing.T) {
			h := vectorHeaders(vectorSignature)
			change(h)
			if _, err := v.Verify(h, []byte(vectorPayload)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// sign is an implementation of the spec's v1 independent of the SDK's:
// base64(HMAC-SHA256(key, id.timestamp.body)).
func sign(t *testing.T, secret, id string, ts int64, body string) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Two secrets as starsbot makes them: whsec_ and 32 random bytes.
const (
	oldSecret = "whsec_8zB0d3QNmZtWHO5yB2qVNq0a1J7e4cYl5S9kXfW3pGs="
	newSecret = "whsec_Q2hhbmdlZCBzZWNyZXQgZm9yIHJvdGF0aW9uIHRlc3Q="
)

const orderEvent = `{"type":"order.completed","timestamp":"2026-04-16T12:00:05Z","data":{"id":10421,"status":"completed","order_type":"stars","stars_amount":100,"recipient_username":"pandus","price_ton":0.418,"price_nanoton":"418000000","payment_method":"balance","payment_address":null,"payment_memo":null,"client_reference":"invoice-42","expires_at":null,"created_at":"2026-04-16T12:00:00Z","paid_at":"2026-04-16T12:00:00Z","completed_at":"2026-04-16T12:00:05Z","failure_reason":null,"fulfillment_ref":null}}`

func delivery(t *testing.T, secrets []string, id string, ts time.Time, body string) http.Header {
	t.Helper()
	var sigs []string
	for _, s := range secrets {
		sigs = append(sigs, sign(t, s, id, ts.Unix(), body))
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", strings.Join(sigs, " "))
	return h
}

func TestVerifyWebhook(t *testing.T) {
	now := time.Date(2026, 4, 16, 12, 0, 6, 0, time.UTC)
	at := func() time.Time { return now }
	v := &sdk.Verifier{Secrets: []string{newSecret}, Now: at}

	e, err := v.Verify(delivery(t, []string{newSecret}, "evt_1", now, orderEvent), []byte(orderEvent))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "evt_1" || e.Type != sdk.EventOrderCompleted || !e.Timestamp.Equal(time.Date(2026, 4, 16, 12, 0, 5, 0, time.UTC)) {
		t.Errorf("event %+v", e)
	}
	o, err := e.Order()
	if err != nil || o.ID != 10421 || o.Status != sdk.StatusCompleted || o.Price != price100 || o.ClientReference != "invoice-42" {
		t.Errorf("order %+v, %v", o, err)
	}

	cases := []struct {
		name    string
		secrets []string // signing
		ts      time.Time
		body    string // delivered
		want    error
	}{
		{"WrongSecret", []string{oldSecret}, now, orderEvent, sdk.ErrWebhookSignature},
		{"TamperedBody", []string{newSecret}, now, strings.Replace(orderEvent, "418000000", "41800000", 1), sdk.ErrWebhookSignature},
		{"OldTimestamp", []string{newSecret}, now.Add(-sdk.DefaultWebhookTolerance - time.Second), orderEvent, sdk.ErrWebhookTimestamp},
		{"FutureTimestamp", []string{newSecret}, now.Add(sdk.DefaultWebhookTolerance + time.Second), orderEvent, sdk.ErrWebhookTimestamp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := delivery(t, c.secrets, "evt_1", c.ts, orderEvent)
			if _, err := v.Verify(h, []byte(c.body)); !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
	// Just inside the tolerance passes.
	if _, err := v.Verify(delivery(t, []string{newSecret}, "evt_1", now.Add(-sdk.DefaultWebhookTolerance), orderEvent), []byte(orderEvent)); err != nil {
		t.Errorf("at the tolerance: %v", err)
	}
	// VerifyWebhook with the real clock.
	if _, err := sdk.VerifyWebhook(newSecret, delivery(t, []string{newSecret}, "evt_2", time.Now(), orderEvent), []byte(orderEvent)); err != nil {
		t.Errorf("VerifyWebhook: %v", err)
	}
	if _, err := sdk.VerifyWebhook("whsec_!!!", delivery(t, []string{newSecret}, "evt_2", time.Now(), orderEvent), []byte(orderEvent)); !errors.Is(err, sdk.ErrWebhookSecret) {
		t.Errorf("malformed secret: %v", err)
	}
}

// During a rotation starsbot signs with the new and the old secret: a
// receiver holding either one, or both, accepts; one holding neither
// refuses.
func TestVerifyWebhook_Rotation(t *testing.T) {
	now := time.Now()
	h := delivery(t, []string{newSecret, oldSecret}, "evt_9", now, orderEvent)
	if got := len(strings.Fields(h.Get("webhook-signature"))); got != 2 {
		t.Fatalf("%d signatures", got)
	}
	for _, secrets := range [][]string{{newSecret}, {oldSecret}, {oldSecret, newSecret}} {
		if _, err := (&sdk.Verifier{Secrets: secrets}).Verify(h, []byte(orderEvent)); err != nil {
			t.Errorf("secrets %v: %v", secrets, err)
		}
	}
	if _, err := sdk.VerifyWebhook(vectorSecret, h, []byte(orderEvent)); !errors.Is(err, sdk.ErrWebhookSignature) {
		t.Errorf("an unrelated secret: %v", err)
	}
}

func TestWebhookHandler(t *testing.T) {
	var got []*sdk.Event
	fail := false
	h := sdk.WebhookHandler(&sdk.Verifier{Secrets: []string{newSecret}}, func(_ context.Context, e *sdk.Event) error {
		got = append(got, e)
		if fail {
			return errors.New("database down")
		}
		return nil
	})
	post := func(hdr http.Header, body string) int {
		r := httptest.NewRequest("POST", "/hooks/starsbot", strings.NewReader(body))
		for k, v := range hdr {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	balance := `{"type":"balance.credited","timestamp":"2026-04-16T12:00:05Z","data":{"amount_ton":1.5,"amount_nanoton":"1500000000","balance_ton":2.000000001,"balance_nanoton":"2000000001","tx_hash":"ab12","memo":"AP123","order_id":null,"reason":"deposit"}}`
	if code := post(delivery(t, []string{newSecret}, "evt_3", time.Now(), balance), balance); code != http.StatusNoContent {
		t.Errorf("valid delivery: %d", code)
	}
	if len(got) != 1 || got[0].ID != "evt_3" || got[0].Type != sdk.EventBalanceCredited {
		t.Fatalf("events %+v", got)
	}
	bc, err := got[0].BalanceChange()
	if err != nil || bc.Amount != 1_500_000_000 || bc.Balance != 2_000_000_001 || bc.Reason != "deposit" || bc.Memo != "AP123" || bc.OrderID != 0 {
		t.Errorf("balance change %+v, %v", bc, err)
	}
	if code := post(delivery(t, []string{oldSecret}, "evt_4", time.Now(), balance), balance); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", code)
	}
	if code := post(delivery(t, []string{newSecret}, "evt_5", time.Now(), balance), balance+" "); code != http.StatusUnauthorized {
		t.Errorf("tampered body: %d", code)
	}
	if len(got) != 1 {
		t.Errorf("fn called for a refused delivery: %d calls", len(got))
	}
	fail = true
	if code := post(delivery(t, []string{newSecret}, "evt_6", time.Now(), balance), balance); code != http.StatusInternalServerError {
		t.Errorf("fn failed: %d, want 500 so that starsbot retries", code)
	}
	r := httptest.NewRequest("GET", "/hooks/starsbot", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
}
