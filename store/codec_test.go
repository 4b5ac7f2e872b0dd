package store

import (
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
	"time"

	"starsbot/shop"
)

// codecSamples holds one record of every stored type with every field set.
func codecSamples() []any {
	at := time.Date(2026, 12, 1, 10, 11, 12, 13, time.UTC)
	msk := at.In(time.FixedZone("", 3*3600))
	return []any{
		&userRecord{ID: 1, Username: "bob", Language: "ru", Memo: "u1", Banned: true, Balance: -5, StartPayload: "x", CreatedAt: at},
		&apiKeyRecord{Hash: "ab12", Prefix: "osk_", Hint: "1234", UserID: 2, CreatedAt: at, RevokedAt: msk},
		&orderRecord{ID: 3, UserID: 4, Status: "paid", Type: "stars", Stars: 50, Months: 3, Recipient: "@a", PriceTON: 1 << 40, PriceUSD: 7, FeeTON: 1,
			TONUSD: 3_590_000, PaymentMethod: "ton_memo", PaymentAddress: "UQ…", PaymentMemo: "m", ClientReference: "r", Source: "api",
			ExpiresAt: at, CreatedAt: at.Add(-time.Hour), PaidAt: msk, CompletedAt: at, FailureReason: "why", FulfillmentRef: "ABCDEF0123456789ab", PaidTxHash: "0123456789abcdef0123456789abcdef"},
		&ledgerRecord{ID: 5, UserID: 6, Type: "order", Amount: -9, BalanceAfter: 0, OrderID: 3, TxHash: "00ff00ff00ff00ff", AdminID: -1, Reason: "r", CreatedAt: at},
		&depositRecord{ID: 7, TxHash: "h", LT: 1 << 60, From: "f", Amount: 1, Memo: "m", Status: "credited", Reason: "x", UserID: 1, OrderID: 2, AdminID: 3, ChainTime: at, CreatedAt: at},
		&idempotencyRecord{UserID: 1, Key: "k", Fingerprint: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", OrderID: 2, ExpiresAt: at},
		&quoteRecord{ID: "q", UserID: 1, Type: "premium", Months: 6, PriceUSD: 1, FeePPM: 2, FeeTON: 3, PriceTON: 4, TONUSD: 5, RateSource: "s", RateUpdatedAt: at, CreatedAt: at},
		&queueRecord{EnqueuedAt: at},
		&cursorRecord{Account: "a", LT: 1, Hash: "h", Time: at},
		&deliveryRecord{OrderID: 1, Provider: "fragment", Step: "s", Attempts: 2, NextAttemptAt: at, LastError: "e", RequestID: "r", PayTo: "p", PayAmount: 9,
			Payload: []byte{0, 1, 2}, ConfirmMethod: "c", ConfirmParams: map[string]string{"a": "b"},
			Payout: &signedPayoutRecord{Hash: "h", BOC: []byte{3}, Wallet: "w", Seqno: 4, ValidUntil: at, SignedAt: at, Index: 1, QueryID: 2, CreatedAt: at, To: "t", Amount: 5, BodyHash: "b"},
			Paid:   &payoutResultRecord{State: shop.PayoutConfirmed, TxHash: "t", TxLT: 6, Reason: "r", Bounced: true}, Confirmed: true, Ref: "ref", UpdatedAt: at},
		&auditRecord{ID: 1, AdminID: 2, Action: "a", Args: "b", Result: "c", Time: at},
		&deliveryRecord{OrderID: 2, Payout: &signedPayoutRecord{}},
	}
}

// TestCodec_RoundTrip checks that every record decodes from the compact
// form exactly as from JSON, and that JSON records still decode.
func TestCodec_RoundTrip(t *testing.T) {
	for _, rec := range codecSamples() {
		typ := reflect.TypeOf(rec).Elem()
		b, err := encodeRecord(rec)
		if err != nil {
			t.Fatalf("%T: %v", rec, err)
		}
		j, _ := json.Marshal(rec)
		fromJSON, fromCompact := reflect.New(typ).Interface(), reflect.New(typ).Interface()
		if err := decodeRecord(j, fromJSON); err != nil {
			t.Fatalf("%T from JSON: %v", rec, err)
		}
		if err := decodeRecord(b, fromCompact); err != nil {
			t.Fatalf("%T: %v", rec, err)
		}
		// JSON shows every field, times with their zone offsets.
		a, _ := json.Marshal(fromJSON)
		c, _ := json.Marshal(fromCompact)
		if string(a) != string(c) || string(c) != string(j) {
			t.Errorf("%T: round trip\n want %s\n json %s\n  got %s", rec, j, a, c)
		}
		if len(b) >= len(j) {
			t.Errorf("%T: %d bytes compact, %d as JSON", rec, len(b), len(j))
		}
	}
}

// TestCodec_UnknownFields checks that a record written with a field this
// program does not know (a newer program, or a field since removed) decodes
// with the rest intact.
func TestCodec_UnknownFields(t *testing.T) {
	type newer struct {
		ID    int64             `json:"id"`
		Extra map[string]string `json:"extra_field"`
		Blob  string            `json:"blob"`
		Sub   *cursorRecord     `json:"sub"`
		When  time.Time         `json:"when"`
		On    bool              `json:"on"`
		Name  string            `json:"username"`
	}
	b, err := encodeRecord(&newer{ID: 9, Extra: map[string]string{"x": "y"}, Blob: "0123456789abcdef", Sub: &cursorRecord{LT: 1}, When: time.Now(), On: true, Name: "z"})
	if err != nil {
		t.Fatal(err)
	}
	var u userRecord
	if err := decodeRecord(b, &u); err != nil {
		t.Fatal(err)
	}
	if u.ID != 9 || u.Username != "z" {
		t.Errorf("decoded %+v", u)
	}
	if err := decodeRecord(b[:len(b)-1], &u); err == nil {
		t.Error("a truncated record decoded")
	}
}

// TestCodec_SelfMarshaling checks that a struct that marshals itself (its
// state in unexported fields) is stored as its JSON, not field by field.
func TestCodec_SelfMarshaling(t *testing.T) {
	type rec struct {
		When *time.Time `json:"when"`
		Big  *big.Int   `json:"big"`
		At   time.Time  `json:"at"`
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	in := &rec{When: &now, Big: big.NewInt(1 << 62), At: now}
	in.Big.Mul(in.Big, in.Big)
	b, err := encodeRecord(in)
	if err != nil {
		t.Fatal(err)
	}
	var out rec
	if err := decodeRecord(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.When.Equal(now) || out.Big.Cmp(in.Big) != 0 || !out.At.Equal(now) {
		t.Errorf("decoded %v %v %v", out.When, out.Big, out.At)
	}
}

// TestCodec_NoCollisions checks that no two fields of a stored type share
// an id (typeInfo panics otherwise).
func TestCodec_NoCollisions(t *testing.T) {
	for _, rec := range append(codecSamples(), &signedPayoutRecord{}, &payoutResultRecord{}, &pricingRecord{},
		&outboxRecord{}, &balanceChangeRecord{}, &webhookRecord{}, &webhookDeliveryRecord{}, &simRecord{}) {
		typeInfo(reflect.TypeOf(rec).Elem())
	}
}

// FuzzDecodeRecord: whatever bytes a damaged file holds, decoding them into
// any record type returns an error or a record, never panics, and what
// decodes re-encodes and decodes to the same record.
func FuzzDecodeRecord(f *testing.F) {
	for _, s := range codecSamples() {
		b, err := encodeRecord(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		j, _ := json.Marshal(s)
		f.Add(j)
	}
	f.Add([]byte{0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range codecSamples() {
			rec := reflect.New(reflect.TypeOf(s).Elem()).Interface()
			if err := decodeRecord(data, rec); err != nil {
				continue
			}
			again, err := encodeRecord(rec)
			if err != nil {
				t.Fatalf("%T decoded from %x does not encode: %v", rec, data, err)
			}
			back := reflect.New(reflect.TypeOf(s).Elem()).Interface()
			err = decodeRecord(again, back)
			j1, _ := json.Marshal(rec)
			j2, _ := json.Marshal(back)
			if err != nil || string(j1) != string(j2) {
				t.Fatalf("%T from %x: re-encoded %x decodes to %s (%v), want %s", rec, data, again, j2, err, j1)
			}
		}
	})
}
