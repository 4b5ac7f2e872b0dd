package api

import (
	"net/http"
	"strings"

	"starsbot/shop"
)

// access says who may call a route.
type access int

const (
	public     access = iota // no key
	ordersOnly               // osk_ keys
	simpleOnly               // sk_ keys
	bothKeys                 // either; the key picks the handler
)

// handler serves one request; a returned error is written in the request's
// dialect.
type handler func(w http.ResponseWriter, r *http.Request) error

// route is one method and path of the API.
type route struct {
	Method string
	Path   string
	Access access
	Orders handler // osk_ keys, and public routes
	Simple handler // sk_ keys
	Plain  bool    // errors in the simple shape whatever the key (the webhook and event routes)
}

// partnerRoute is a route of the partner platform (webhooks, the event
// feed): either key, plain answers, errors in the simple shape.
func partnerRoute(method, path string, h handler) route {
	return route{Method: method, Path: path, Access: bothKeys, Orders: h, Simple: h, Plain: true}
}

// routes lists every route the server serves, in the order of the
// contracts. The OpenAPI test compares it with openapi.json.
func (s *Server) routes() []route {
	rs := []route{
		{Method: "POST", Path: "/api/v1/orders/stars", Access: ordersOnly, Orders: s.createStarsOrder},
		{Method: "POST", Path: "/api/v1/orders/premium", Access: ordersOnly, Orders: s.createPremiumOrder},
		{Method: "GET", Path: "/api/v1/orders/{id}", Access: ordersOnly, Orders: s.getOrder},
		{Method: "GET", Path: "/api/v1/orders", Access: ordersOnly, Orders: s.listOrders},
		{Method: "GET", Path: "/api/v1/orders/by-memo/{memo}", Access: ordersOnly, Orders: s.getOrderByMemo},
		{Method: "GET", Path: "/api/v1/orders/by-reference/{ref}", Access: ordersOnly, Orders: s.getOrdersByReference},
		{Method: "GET", Path: "/api/v1/orders/stats/summary", Access: ordersOnly, Orders: s.orderStats},
		{Method: "POST", Path: "/api/v1/orders/{id}/cancel", Access: ordersOnly, Orders: s.cancelOrder},
		{Method: "GET", Path: "/api/v1/pricing/ton-rate", Access: ordersOnly, Orders: s.tonRate},
		{Method: "GET", Path: "/api/v1/pricing/fee", Access: ordersOnly, Orders: s.fee},
		{Method: "GET", Path: "/api/v1/pricing/estimate/stars", Access: ordersOnly, Orders: s.estimateStars},
		{Method: "GET", Path: "/api/v1/pricing/estimate/premium", Access: ordersOnly, Orders: s.estimatePremium},
		{Method: "POST", Path: "/api/v1/quotes", Access: ordersOnly, Orders: s.createQuote},
		{Method: "GET", Path: "/api/v1/recipients/stars", Access: ordersOnly, Orders: s.recipientStars},
		{Method: "GET", Path: "/api/v1/recipients/premium", Access: ordersOnly, Orders: s.recipientPremium},
		{Method: "GET", Path: "/api/v1/balance", Access: bothKeys, Orders: s.balance, Simple: s.simpleBalance},
		{Method: "GET", Path: "/api/v1/balance/transactions", Access: ordersOnly, Orders: s.transactions},
		{Method: "GET", Path: "/api/v1/health", Access: public, Orders: s.health},
		{Method: "GET", Path: "/api/v1/deposit", Access: simpleOnly, Simple: s.simpleDeposit},
		{Method: "POST", Path: "/api/v1/buy", Access: simpleOnly, Simple: s.simpleBuy},
		{Method: "GET", Path: "/api/v1/openapi.json", Access: public, Orders: s.openAPI},
		partnerRoute("GET", "/api/v1/events", s.events),
		partnerRoute("POST", "/api/v1/webhooks", s.createWebhook),
		partnerRoute("GET", "/api/v1/webhooks", s.listWebhooks),
		partnerRoute("GET", "/api/v1/webhooks/{id}", s.getWebhook),
		partnerRoute("DELETE", "/api/v1/webhooks/{id}", s.deleteWebhook),
		partnerRoute("POST", "/api/v1/webhooks/{id}/rotate-secret", s.rotateWebhookSecret),
		partnerRoute("POST", "/api/v1/webhooks/{id}/enable", s.enableWebhook),
		partnerRoute("POST", "/api/v1/webhooks/{id}/test", s.testWebhook),
		partnerRoute("GET", "/api/v1/webhooks/{id}/deliveries", s.listDeliveries),
		partnerRoute("POST", "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay", s.replayDelivery),
		partnerRoute("POST", "/api/v1/webhooks/{id}/replay", s.replayWebhook),
	}
	if s.Sandbox != nil {
		rs = append(rs, route{Method: "POST", Path: "/sandbox/v1/deposits", Access: public, Orders: s.sandboxDeposit})
	}
	if s.Metrics != nil {
		rs = append(rs, route{Method: "GET", Path: "/metrics", Access: public, Orders: s.metrics})
	}
	return rs
}

// buildHandler registers every route on a ServeMux, with JSON answers for
// unknown paths (404) and wrong methods (405) in place of the mux's text.
func (s *Server) buildHandler() http.Handler {
	s.limiters = newLimiters(s.RateLimit, s.RateBurst)
	s.failures = newAuthFailures(s.AuthFailRate, s.AuthFailBurst, maxAuthFailAddrs)
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.Method+" "+rt.Path, s.serveRoute(rt))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := s.Mounts[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		s.unmatched(w, r, mux)
	})
}

// unmatched answers a request no route takes: 405 with Allow when the path
// exists under other methods, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	var allow []string
	for _, m := range []string{"GET", "POST", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	d := dialectOrders
	if strings.HasPrefix(bearer(r), "sk_") {
		d = dialectSimple
	}
	route := "unmatched"
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.observe(r.Method, route, http.StatusMethodNotAllowed, 0)
		s.writeError(w, r, d, route, shop.Errorf(codeMethodNotAllowed, "method %s is not allowed here; use %s", r.Method, strings.Join(allow, " or ")))
		return
	}
	s.observe(r.Method, route, http.StatusNotFound, 0)
	s.writeError(w, r, d, route, shop.Errorf(shop.ENOTFOUND, "no such endpoint"))
}
