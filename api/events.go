package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"starsbot/shop"
)

// eventJSON is an event of the feed (GET /api/v1/events).
type eventJSON struct {
	ID        string           `json:"id"`
	Type      string           `json:"type"`
	Timestamp *string          `json:"timestamp"`
	Data      *json.RawMessage `json:"data"`
}

// webhookBodyJSON is the body of a webhook request (Standard Webhooks).
type webhookBodyJSON struct {
	Type      string           `json:"type"`
	Timestamp *string          `json:"timestamp"`
	Data      *json.RawMessage `json:"data"`
}

// balanceCreditedJSON is the data of balance.credited.
type balanceCreditedJSON struct {
	AmountTON      shop.NanoTON `json:"amount_ton"`
	AmountNanoTON  nanoJSON     `json:"amount_nanoton"`
	BalanceTON     shop.NanoTON `json:"balance_ton"`
	BalanceNanoTON nanoJSON     `json:"balance_nanoton"`
	TxHash         *string      `json:"tx_hash"`
	Memo           *string      `json:"memo"`
	OrderID        *int64       `json:"order_id"`
	Reason         string       `json:"reason"`
	// Asset is what the transfer carried: TON, or USDT valued in TON at the
	// moment of crediting (amount_ton) less the USDT fee; AmountUSDT is the
	// USDT received, for USDT only.
	Asset      string       `json:"asset"`
	AmountUSDT *json.Number `json:"amount_usdt,omitempty"`
}

// balanceDebitedJSON is the data of balance.debited.
type balanceDebitedJSON struct {
	AmountTON      shop.NanoTON `json:"amount_ton"`
	AmountNanoTON  nanoJSON     `json:"amount_nanoton"`
	BalanceTON     shop.NanoTON `json:"balance_ton"`
	BalanceNanoTON nanoJSON     `json:"balance_nanoton"`
	Reason         string       `json:"reason"`
	Note           *string      `json:"note"`
}

// webhookTestJSON is the data of webhook.test.
type webhookTestJSON struct {
	WebhookID string `json:"webhook_id"`
	Message   string `json:"message"`
}

// eventData renders an event's data: for order.* the order exactly as
// GET /api/v1/orders/{id} shows it, as of the event.
func eventData(ev *shop.OutboxEvent) (json.RawMessage, error) {
	var v any
	switch {
	case ev.Order != nil:
		v = orderView(ev.Order)
	case ev.Type == shop.PartnerBalanceCredited && ev.Balance != nil:
		b := ev.Balance
		d := balanceCreditedJSON{
			AmountTON: b.Amount, AmountNanoTON: nanoJSON(b.Amount), BalanceTON: b.Balance, BalanceNanoTON: nanoJSON(b.Balance),
			TxHash: stringJSON(b.TxHash), Memo: stringJSON(b.Memo), Reason: b.Reason, Asset: "TON",
		}
		if b.Asset == shop.AssetUSDT {
			n := json.Number(shop.FormatUSDT(b.JettonAmount))
			d.Asset, d.AmountUSDT = string(shop.AssetUSDT), &n
		}
		if b.OrderID != 0 {
			d.OrderID = &b.OrderID
		}
		v = d
	case ev.Type == shop.PartnerBalanceDebited && ev.Balance != nil:
		b := ev.Balance
		v = balanceDebitedJSON{
			AmountTON: b.Amount, AmountNanoTON: nanoJSON(b.Amount), BalanceTON: b.Balance, BalanceNanoTON: nanoJSON(b.Balance),
			Reason: b.Reason, Note: stringJSON(b.Note),
		}
	case ev.Type == shop.PartnerWebhookTest:
		v = webhookTestJSON{WebhookID: ev.WebhookID, Message: "This is a test event from starsbot."}
	default:
		return nil, fmt.Errorf("api: event %d of type %s has no data", ev.Seq, ev.Type)
	}
	return json.Marshal(v)
}

func eventView(ev *shop.OutboxEvent) (*eventJSON, error) {
	data, err := eventData(ev)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(data)
	return &eventJSON{ID: ev.ID, Type: string(ev.Type), Timestamp: timeJSON(ev.CreatedAt), Data: &raw}, nil
}

// WebhookBody renders the body of a webhook request for ev:
// {"type","timestamp","data"} with the data the event feed shows. The
// webhook dispatcher is given it by package main.
func WebhookBody(ev *shop.OutboxEvent) ([]byte, error) {
	data, err := eventData(ev)
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(data)
	return json.Marshal(webhookBodyJSON{Type: string(ev.Type), Timestamp: timeJSON(ev.CreatedAt), Data: &raw})
}

// eventListJSON is a page of the feed.
type eventListJSON struct {
	Events     []*eventJSON `json:"events"`
	NextCursor string       `json:"next_cursor"`
	HasMore    bool         `json:"has_more"`
}

// events serves GET /api/v1/events: the caller's events after a cursor,
// in commit order.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", shop.DefaultEventPage, 1, shop.MaxEventPage)
	if err != nil {
		return err
	}
	var after uint64
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil || after > math.MaxInt64 {
			return shop.Errorf(shop.EVALIDATION, "after must be a cursor from a previous page's next_cursor")
		}
	}
	evs, more, err := s.Shop.Events(r.Context(), partner(r).ID, after, int(limit))
	if err != nil {
		return err
	}
	out := eventListJSON{Events: make([]*eventJSON, 0, len(evs)), NextCursor: strconv.FormatUint(after, 10), HasMore: more}
	for _, ev := range evs {
		v, err := eventView(ev)
		if err != nil {
			return err
		}
		out.Events = append(out.Events, v)
		out.NextCursor = strconv.FormatUint(ev.Seq, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
