package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"starsbot/shop"
)

const starsPath = "/api/v1/orders/stars"

func TestCreateStarsOrder(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)

	t.Run("OK_Balance", func(t *testing.T) {
		h.fund(alice, shop.TON)
		d := h.post(starsPath, key, `{"recipient_username":"@Pandus","quantity":100,"payment_method":"balance"}`).data(t)
		if d["status"] != "paid" || d["recipient_username"] != "Pandus" || d["payment_method"] != "balance" {
			t.Errorf("got %v", d)
		}
		wantTypes(t, d, map[string]string{"payment_address": "null", "payment_memo": "null", "expires_at": "null", "paid_at": "string", "client_reference": "null"})
		if got := h.balance(alice); got != shop.TON-price100 {
			t.Errorf("balance %s", got)
		}
	})
	t.Run("OK_DefaultsToTONMemo", func(t *testing.T) {
		d := h.post(starsPath, key, `{"recipient_username":"https://t.me/pandus","quantity":50}`).data(t)
		if d["payment_method"] != "ton_memo" || d["status"] != "pending_payment" || d["recipient_username"] != "pandus" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		before := h.orderCount(alice)
		r := h.post(starsPath, key, `{"recipient_username":"pandus","quantity":1000000,"payment_method":"balance"}`)
		r.wantError(t, http.StatusPaymentRequired, shop.EINSUFFICIENT)
		if h.orderCount(alice) != before {
			t.Error("an order was created")
		}
	})
	t.Run("ErrRecipientNotFound", func(t *testing.T) {
		r := h.post(starsPath, key, `{"recipient_username":"sandbox_notfound","quantity":100,"payment_method":"ton_memo"}`)
		if msg := r.wantError(t, http.StatusNotFound, shop.ERECIPIENT); !strings.Contains(msg, "user not found") {
			t.Errorf("message %q", msg)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		const ok = `"recipient_username":"pandus","payment_method":"ton_memo"`
		tests := []struct{ name, body, msg string }{
			{"QuantityMissing", `{` + ok + `}`, "quantity is required"},
			{"QuantityLow", `{` + ok + `,"quantity":49}`, "quantity must be between 50 and 1000000"},
			{"QuantityHigh", `{` + ok + `,"quantity":1000001}`, "quantity must be between 50 and 1000000"},
			{"QuantityNegative", `{` + ok + `,"quantity":-100}`, "quantity must be between 50 and 1000000"},
			{"QuantityString", `{` + ok + `,"quantity":"100"}`, "quantity must be a whole number"},
			{"QuantityFraction", `{` + ok + `,"quantity":100.5}`, "quantity must be a whole number"},
			{"QuantityHuge", `{` + ok + `,"quantity":1e400}`, "quantity must be a whole number"},
			{"RecipientMissing", `{"quantity":100}`, "recipient_username is required"},
			{"RecipientShort", `{"recipient_username":"abcd","quantity":100}`, "recipient_username must be 5-32 letters, digits or underscores"},
			{"RecipientLong", `{"recipient_username":"` + strings.Repeat("a", 33) + `","quantity":100}`, "recipient_username must be 5-32 letters, digits or underscores"},
			{"RecipientBadChars", `{"recipient_username":"pan-dus","quantity":100}`, "recipient_username must be 5-32 letters, digits or underscores"},
			{"RecipientNumber", `{"recipient_username":12345,"quantity":100}`, "recipient_username must be a string"},
			{"PaymentMethod", `{"recipient_username":"pandus","quantity":100,"payment_method":"card"}`, "payment_method must be ton_memo or balance"},
			{"Currency", `{` + ok + `,"quantity":100,"payment_currency":"USD"}`, "payment_currency must be TON or USDT"},
			{"ReferenceLong", `{` + ok + `,"quantity":100,"client_reference":"` + strings.Repeat("é", 129) + `"}`, "client_reference must be at most 128 characters"},
			{"ReferenceControl", `{` + ok + `,"quantity":100,"client_reference":"a\u0007b"}`, "client_reference must not contain control characters"},
			{"UnknownField", `{` + ok + `,"quantity":100,"months":3}`, `unknown field "months"`},
			{"Malformed", `{` + ok + `,"quantity":100`, "malformed JSON: unexpected end of the body"},
			{"Syntax", `{` + ok + `,,"quantity":100}`, "malformed JSON at byte 60"},
			{"Array", `[{"quantity":100}]`, "request body must be a JSON object"},
			{"Null", `null`, "request body must be a JSON object"},
			{"Empty", ``, "request body must be a JSON object"},
			{"Trailing", `{` + ok + `,"quantity":100} {}`, "request body must hold exactly one JSON object"},
			{"BadUTF8", "{" + ok + `,"quantity":100,"client_reference":"` + "\xff\xfe" + `"}`, "request body must be valid UTF-8"},
			{"TooBig", `{` + ok + `,"quantity":100,"client_reference":"` + strings.Repeat("x", 64<<10) + `"}`, "request body must be at most 65536 bytes"},
		}
		before := h.orderCount(alice)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := h.do(req{method: "POST", path: starsPath, key: key, body: tt.body})
				if tt.body == "" {
					r = h.post(starsPath, key, "")
				}
				if msg := r.wantError(t, http.StatusBadRequest, shop.EVALIDATION); msg != tt.msg {
					t.Errorf("message %q, want %q", msg, tt.msg)
				}
			})
		}
		if h.orderCount(alice) != before {
			t.Error("a rejected request created an order")
		}
	})
}

func TestCreatePremiumOrder(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	const path = "/api/v1/orders/premium"

	t.Run("OK", func(t *testing.T) {
		d := h.post(path, key, `{"recipient_username":"pandus","months":3,"payment_method":"ton_memo","payment_currency":"TON","client_reference":"inv-7"}`).data(t)
		if d["order_type"] != "premium" || num(t, d, "months") != "3" || d["status"] != "pending_payment" ||
			!strings.HasPrefix(d["payment_memo"].(string), "PREMIUM-") {
			t.Errorf("got %v", d)
		}
		if _, has := d["stars_amount"]; has {
			t.Errorf("a premium order has stars_amount: %v", d)
		}
		// 11.99 USD at 3.59 USD/TON (3.339832870), rounded up to 0.001.
		if got := num(t, d, "price_ton"); got != "3.34" {
			t.Errorf("price_ton %s", got)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		for body, msg := range map[string]string{
			`{"recipient_username":"pandus","months":5}`:                "months must be 3, 6 or 12",
			`{"recipient_username":"pandus"}`:                           "months is required: 3, 6 or 12",
			`{"recipient_username":"pandus","months":"3"}`:              "months must be a whole number",
			`{"recipient_username":"pandus","months":3,"quantity":100}`: `unknown field "quantity"`,
			`{"months":12}`: "recipient_username is required",
			`{"recipient_username":"pandus","months":6,"payment_method":""}`: "payment_method must be ton_memo or balance",
		} {
			if got := h.post(path, key, body).wantError(t, http.StatusBadRequest, shop.EVALIDATION); got != msg {
				t.Errorf("%s: message %q, want %q", body, got, msg)
			}
		}
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		h.post(path, key, `{"recipient_username":"pandus","months":12,"payment_method":"balance"}`).wantError(t, http.StatusPaymentRequired, shop.EINSUFFICIENT)
	})
}

func TestCreateOrder_Idempotency(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, 100*shop.TON)
	body := `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`
	post := func(idem, body string) *response {
		return h.do(req{method: "POST", path: starsPath, key: key, body: body, header: map[string]string{"Idempotency-Key": idem}})
	}

	t.Run("SameBodySameOrder", func(t *testing.T) {
		first := post("key-1", body).data(t)
		again := post("key-1", body).data(t)
		// The same JSON written differently is the same body.
		spaced := post("key-1", "{\n  \"payment_method\": \"balance\", \"quantity\": 100,\n  \"recipient_username\": \"pandus\"\n}").data(t)
		if num(t, first, "id") != num(t, again, "id") || num(t, first, "id") != num(t, spaced, "id") {
			t.Errorf("ids %v %v %v", first["id"], again["id"], spaced["id"])
		}
		if got := h.balance(alice); got != 100*shop.TON-price100 {
			t.Errorf("balance %s: debited more than once", got)
		}
	})
	t.Run("DifferentBodyConflict", func(t *testing.T) {
		r := post("key-1", `{"recipient_username":"pandus","quantity":200,"payment_method":"balance"}`)
		r.wantError(t, http.StatusConflict, shop.ECONFLICT)
		// The same key on the other order type is a different request too.
		r = h.do(req{method: "POST", path: "/api/v1/orders/premium", key: key, body: `{"recipient_username":"pandus","months":3}`, header: map[string]string{"Idempotency-Key": "key-1"}})
		r.wantError(t, http.StatusConflict, shop.ECONFLICT)
	})
	t.Run("ReplayAfterStarsMinRaised", func(t *testing.T) {
		first := post("key-min", body).data(t)
		p := h.svc.Pricing()
		saved := p
		p.StarsMin = 500
		if err := h.svc.SetPricing(p); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = h.svc.SetPricing(saved) }()
		again := post("key-min", body).data(t)
		if num(t, first, "id") != num(t, again, "id") {
			t.Errorf("replay id %v, want %v", again["id"], first["id"])
		}
		post("key-min-2", body).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	})
	t.Run("KeysArePerPartner", func(t *testing.T) {
		h.fund(bob, shop.TON)
		r := h.do(req{method: "POST", path: starsPath, key: h.osk(bob), body: body, header: map[string]string{"Idempotency-Key": "key-1"}})
		if d := r.data(t); d["status"] != "paid" {
			t.Errorf("bob's order: %v", d)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		before := h.balance(alice)
		var wg sync.WaitGroup
		ids := make([]string, 16)
		for i := range ids {
			wg.Go(func() {
				r := post("key-concurrent", body)
				if r.status == http.StatusOK {
					ids[i] = fmt.Sprint(r.object(t)["data"].(map[string]any)["id"])
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id == "" || id != ids[0] {
				t.Fatalf("ids %v", ids)
			}
		}
		if got := h.balance(alice); got != before-price100 {
			t.Errorf("balance %s, want %s", got, before-price100)
		}
	})
	t.Run("ErrBadKey", func(t *testing.T) {
		post("has space", body).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		post(strings.Repeat("k", 129), body).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	})
}

func TestGetOrder(t *testing.T) {
	h := newHarness(t)
	id := num(t, h.post(starsPath, h.osk(alice), `{"recipient_username":"pandus","quantity":100}`).data(t), "id")

	t.Run("OK", func(t *testing.T) {
		if d := h.get("/api/v1/orders/"+id, h.osk(alice)).data(t); num(t, d, "id") != id {
			t.Errorf("got %v", d)
		}
	})
	t.Run("ErrNotFound_Other", func(t *testing.T) {
		h.get("/api/v1/orders/"+id, h.osk(bob)).wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	})
	t.Run("ErrNotFound_Missing", func(t *testing.T) {
		h.get("/api/v1/orders/999999", h.osk(alice)).wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	})
	t.Run("ErrValidation", func(t *testing.T) {
		for _, bad := range []string{"abc", "0", "-1", "1.5", "99999999999999999999"} {
			h.get("/api/v1/orders/"+bad, h.osk(alice)).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		}
	})
}

func TestListOrders(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, 10*shop.TON)
	var ids []string
	for i := range 5 {
		method, typ, extra := "ton_memo", "stars", `"quantity":100`
		if i%2 == 1 {
			method = "balance"
		}
		if i == 4 {
			typ, extra = "premium", `"months":3`
		}
		d := h.post("/api/v1/orders/"+typ, key, `{"recipient_username":"pandus",`+extra+`,"payment_method":"`+method+`"}`).data(t)
		ids = append(ids, num(t, d, "id"))
	}
	h.post(starsPath, h.osk(bob), `{"recipient_username":"pandus","quantity":100}`).data(t)

	t.Run("Pages", func(t *testing.T) {
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			path := "/api/v1/orders?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			d := h.get(path, key).data(t)
			for _, o := range d["orders"].([]any) {
				got = append(got, num(t, o.(map[string]any), "id"))
			}
			next, isStr := d["next_cursor"].(string)
			if !isStr {
				if d["next_cursor"] != nil {
					t.Fatalf("next_cursor %v", d["next_cursor"])
				}
				break
			}
			cursor = next
			if page > 5 {
				t.Fatal("too many pages")
			}
		}
		want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("ids %v, want %v (newest first, only alice's)", got, want)
		}
	})
	t.Run("Filters", func(t *testing.T) {
		d := h.get("/api/v1/orders?status=paid", key).data(t)
		if n := len(d["orders"].([]any)); n != 2 {
			t.Errorf("%d paid orders, want 2", n)
		}
		d = h.get("/api/v1/orders?order_type=premium", key).data(t)
		if n := len(d["orders"].([]any)); n != 1 {
			t.Errorf("%d premium orders, want 1", n)
		}
		d = h.get("/api/v1/orders?status=pending_payment&order_type=stars", key).data(t)
		if n := len(d["orders"].([]any)); n != 2 {
			t.Errorf("%d pending stars orders, want 2", n)
		}
	})
	t.Run("ErrValidation", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=101", "limit=x", "cursor=0", "cursor=-5", "cursor=abc", "status=done", "order_type=gift"} {
			h.get("/api/v1/orders?"+q, key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
		}
	})
}

func TestFindOrdersByMemoAndReference(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	body := `{"recipient_username":"pandus","quantity":100,"client_reference":"invoice-42"}`
	first := h.post(starsPath, key, body).data(t)
	second := h.post(starsPath, key, body).data(t)
	h.post(starsPath, h.osk(bob), body).data(t)
	memo := first["payment_memo"].(string)

	t.Run("ByMemo", func(t *testing.T) {
		d := h.get("/api/v1/orders/by-memo/"+memo, key).data(t)
		if d["id"].(fmt.Stringer).String() != first["id"].(fmt.Stringer).String() {
			t.Errorf("got %v", d)
		}
		// Memos match case-insensitively, as on the chain.
		h.get("/api/v1/orders/by-memo/"+strings.ToUpper(memo), key).data(t)
	})
	t.Run("ByMemo_ErrNotFound", func(t *testing.T) {
		h.get("/api/v1/orders/by-memo/"+memo, h.osk(bob)).wantError(t, http.StatusNotFound, shop.ENOTFOUND)
		h.get("/api/v1/orders/by-memo/STARS-000000", key).wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	})
	t.Run("ByReference", func(t *testing.T) {
		d := h.get("/api/v1/orders/by-reference/invoice-42", key).data(t)
		orders := d["orders"].([]any)
		if len(orders) != 2 || num(t, orders[0].(map[string]any), "id") != num(t, second, "id") {
			t.Errorf("got %v", d)
		}
		d = h.get("/api/v1/orders/by-reference/no-such-ref", key).data(t)
		if orders := d["orders"].([]any); len(orders) != 0 {
			t.Errorf("got %v", d)
		}
		// A reference with a slash, escaped in the path.
		h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"client_reference":"a/b c"}`).data(t)
		d = h.get("/api/v1/orders/by-reference/a%2Fb%20c", key).data(t)
		if orders := d["orders"].([]any); len(orders) != 1 {
			t.Errorf("got %v", d)
		}
	})
	t.Run("ByReference_ErrValidation", func(t *testing.T) {
		h.get("/api/v1/orders/by-reference/"+strings.Repeat("r", 129), key).wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	})
}

func TestOrderStats(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, 10*shop.TON)
	h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`).data(t)
	id := num(t, h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100}`).data(t), "id")
	h.post("/api/v1/orders/"+id+"/cancel", key, "").data(t)

	d := h.get("/api/v1/orders/stats/summary", key).data(t)
	wantTypes(t, d, map[string]string{"total_orders": "number", "by_status": "object", "total_spent_ton": "number", "total_spent_nanoton": "string", "stars_delivered": "number", "premium_months_delivered": "number"})
	wantNanoTwins(t, d)
	by := d["by_status"].(map[string]any)
	if num(t, d, "total_orders") != "2" || fmt.Sprint(by["paid"]) != "1" || fmt.Sprint(by["cancelled"]) != "1" ||
		len(by) != len(shop.OrderStatuses) || num(t, d, "total_spent_ton") != price100.String() {
		t.Errorf("got %v", d)
	}
	d = h.get("/api/v1/orders/stats/summary", h.osk(bob)).data(t)
	if num(t, d, "total_orders") != "0" {
		t.Errorf("bob sees %v", d)
	}
}

func TestCancelOrder(t *testing.T) {
	h := newHarness(t)
	key := h.osk(alice)
	h.fund(alice, shop.TON)
	id := num(t, h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100}`).data(t), "id")
	paid := num(t, h.post(starsPath, key, `{"recipient_username":"pandus","quantity":100,"payment_method":"balance"}`).data(t), "id")

	t.Run("ErrNotFound_Other", func(t *testing.T) {
		h.post("/api/v1/orders/"+id+"/cancel", h.osk(bob), "").wantError(t, http.StatusNotFound, shop.ENOTFOUND)
	})
	t.Run("OK", func(t *testing.T) {
		if d := h.post("/api/v1/orders/"+id+"/cancel", key, "").data(t); d["status"] != "cancelled" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("Retry", func(t *testing.T) {
		if d := h.post("/api/v1/orders/"+id+"/cancel", key, "").data(t); d["status"] != "cancelled" {
			t.Errorf("got %v", d)
		}
	})
	t.Run("ErrNotCancellable", func(t *testing.T) {
		h.post("/api/v1/orders/"+paid+"/cancel", key, "").wantError(t, http.StatusConflict, shop.ENOTCANCELLABLE)
	})
	t.Run("ErrValidation", func(t *testing.T) {
		h.post("/api/v1/orders/x/cancel", key, "").wantError(t, http.StatusBadRequest, shop.EVALIDATION)
	})
	if got := h.balance(alice); got != shop.TON-price100 {
		t.Errorf("balance %s", got)
	}
}
