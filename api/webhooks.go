package api

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"starsbot/shop"
)

// The webhook routes answer in plain shapes (no envelope) to both key
// kinds, and their errors in the simple shape (route.Plain).

// webhookJSON is an endpoint as the API shows it, never with its secret.
type webhookJSON struct {
	ID              string                  `json:"id"`
	URL             string                  `json:"url"`
	EventTypes      []shop.PartnerEventType `json:"event_types"`
	Enabled         bool                    `json:"enabled"`
	DisabledReason  *string                 `json:"disabled_reason"`
	CreatedAt       *string                 `json:"created_at"`
	SecretRotatedAt *string                 `json:"secret_rotated_at"`
}

// webhookCreatedJSON is a new endpoint with its secret, shown once.
type webhookCreatedJSON struct {
	*webhookJSON
	Secret string `json:"secret"`
}

func webhookView(w *shop.Webhook) *webhookJSON {
	types := w.EventTypes
	if types == nil {
		types = []shop.PartnerEventType{}
	}
	return &webhookJSON{
		ID: w.ID, URL: w.URL, EventTypes: types, Enabled: w.Enabled(),
		DisabledReason: stringJSON(w.DisabledReason), CreatedAt: timeJSON(w.CreatedAt), SecretRotatedAt: timeJSON(w.SecretRotatedAt),
	}
}

// deliveryJSON is one delivery of an event to an endpoint.
type deliveryJSON struct {
	ID             string  `json:"id"`
	WebhookID      string  `json:"webhook_id"`
	EventID        string  `json:"event_id"`
	EventType      string  `json:"event_type"`
	Status         string  `json:"status"`
	Attempts       int     `json:"attempts"`
	LastAttemptAt  *string `json:"last_attempt_at"`
	LastStatusCode *int    `json:"last_status_code"`
	LastError      *string `json:"last_error"`
	NextAttemptAt  *string `json:"next_attempt_at"`
	CreatedAt      *string `json:"created_at"`
}

const deliveryPrefix = "whd_"

func deliveryView(d *shop.WebhookDelivery) *deliveryJSON {
	v := &deliveryJSON{
		ID: deliveryPrefix + strconv.FormatUint(d.ID, 10), WebhookID: d.WebhookID, EventID: d.EventID, EventType: string(d.EventType),
		Status: string(d.Status), Attempts: d.Attempts, LastAttemptAt: timeJSON(d.LastAttemptAt),
		LastError: stringJSON(d.LastError), NextAttemptAt: timeJSON(d.NextAttemptAt), CreatedAt: timeJSON(d.CreatedAt),
	}
	if d.LastStatusCode != 0 {
		code := d.LastStatusCode
		v.LastStatusCode = &code
	}
	return v
}

type createWebhookBody struct {
	URL        *string                 `json:"url"`
	EventTypes []shop.PartnerEventType `json:"event_types"`
}

// createWebhook serves POST /api/v1/webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[createWebhookBody](w, r)
	if err != nil {
		return err
	}
	if body.URL == nil {
		return shop.Errorf(shop.EVALIDATION, "url is required")
	}
	hook, err := s.Shop.CreateWebhook(r.Context(), partner(r).ID, *body.URL, body.EventTypes)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, webhookCreatedJSON{webhookView(hook), hook.Secret.Reveal()})
	return nil
}

// listWebhooks serves GET /api/v1/webhooks.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	hooks, err := s.Shop.Webhooks(r.Context(), partner(r).ID)
	if err != nil {
		return err
	}
	out := struct {
		Webhooks []*webhookJSON `json:"webhooks"`
	}{Webhooks: make([]*webhookJSON, 0, len(hooks))}
	for _, h := range hooks {
		out.Webhooks = append(out.Webhooks, webhookView(h))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getWebhook serves GET /api/v1/webhooks/{id}.
func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.Shop.FindWebhook(r.Context(), partner(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookView(hook))
	return nil
}

// deleteWebhook serves DELETE /api/v1/webhooks/{id}.
func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.Shop.DeleteWebhook(r.Context(), partner(r).ID, id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Deleted bool   `json:"deleted"`
	}{id, true})
	return nil
}

// rotateWebhookSecret serves POST /api/v1/webhooks/{id}/rotate-secret.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.Shop.RotateWebhookSecret(r.Context(), partner(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		Secret                  string  `json:"secret"`
		PreviousSecretExpiresAt *string `json:"previous_secret_expires_at"`
	}{hook.Secret.Reveal(), timeJSON(hook.PreviousExpires)})
	return nil
}

// enableWebhook serves POST /api/v1/webhooks/{id}/enable.
func (s *Server) enableWebhook(w http.ResponseWriter, r *http.Request) error {
	hook, err := s.Shop.EnableWebhook(r.Context(), partner(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookView(hook))
	return nil
}

// testWebhook serves POST /api/v1/webhooks/{id}/test.
func (s *Server) testWebhook(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Shop.TestWebhook(r.Context(), partner(r).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, deliveryView(d))
	return nil
}

// listDeliveries serves GET /api/v1/webhooks/{id}/deliveries.
func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	limit, err := queryInt(r, "limit", 50, 1, shop.MaxPageSize)
	if err != nil {
		return err
	}
	before, err := queryInt(r, "cursor", 0, 1, math.MaxInt64)
	if err != nil {
		return shop.Errorf(shop.EVALIDATION, "cursor must be a previous page's next_cursor")
	}
	ds, next, err := s.Shop.WebhookDeliveries(r.Context(), partner(r).ID, r.PathValue("id"), uint64(before), int(limit))
	if err != nil {
		return err
	}
	out := struct {
		Deliveries []*deliveryJSON `json:"deliveries"`
		NextCursor *string         `json:"next_cursor"`
	}{Deliveries: make([]*deliveryJSON, 0, len(ds)), NextCursor: cursorJSON(next)}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, deliveryView(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// replayDelivery serves POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/replay.
func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("delivery_id")
	id, err := strconv.ParseUint(strings.TrimPrefix(raw, deliveryPrefix), 10, 64)
	if err != nil || !strings.HasPrefix(raw, deliveryPrefix) || id == 0 {
		return shop.Errorf(shop.ENOTFOUND, "delivery %s not found", clip(raw, 40))
	}
	d, err := s.Shop.ReplayWebhookDelivery(r.Context(), partner(r).ID, r.PathValue("id"), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, deliveryView(d))
	return nil
}

type replayBody struct {
	Since *string `json:"since"`
}

// replayWebhook serves POST /api/v1/webhooks/{id}/replay.
func (s *Server) replayWebhook(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[replayBody](w, r)
	if err != nil {
		return err
	}
	if body.Since == nil {
		return shop.Errorf(shop.EVALIDATION, "since is required: an RFC 3339 time such as 2026-04-16T12:00:00Z")
	}
	since, err := time.Parse(time.RFC3339, *body.Since)
	if err != nil {
		return shop.Errorf(shop.EVALIDATION, "since must be an RFC 3339 time such as 2026-04-16T12:00:00Z")
	}
	n, err := s.Shop.ReplayWebhook(r.Context(), partner(r).ID, r.PathValue("id"), since)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, struct {
		Replayed int `json:"replayed"`
	}{n})
	return nil
}
