package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"starsbot/shop"
)

// Metrics are the API's Prometheus metrics, served at GET /metrics.
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	orders    *prometheus.CounterVec
	events    *prometheus.CounterVec
	authFail  *prometheus.CounterVec
	throttled prometheus.Counter
	registry  *prometheus.Registry
	handler   http.Handler
}

// NewMetrics registers the API's metrics, the shop's event counters and the
// Go runtime and process collectors on a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starsbot_http_requests_total",
			Help: "Partner API requests by route, method and HTTP status.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "starsbot_http_request_duration_seconds",
			Help:    "Partner API request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starsbot_api_orders_created_total",
			Help: "Orders created through the partner API by type, payment method and dialect.",
		}, []string{"order_type", "payment_method", "dialect"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starsbot_shop_events_total",
			Help: "Shop events: deposits credited, orders paid, expired, refunded, unmatched deposits, admin credits.",
		}, []string{"type"}),
		authFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "starsbot_api_auth_failures_total",
			Help: "Partner API requests that failed to authenticate, by reason: missing_key, invalid_key (unknown, malformed, revoked, banned owner), wrong_dialect.",
		}, []string{"reason"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "starsbot_api_auth_throttled_total",
			Help: "Partner API requests refused with 429 because their client address failed to authenticate too often.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.orders, m.events, m.authFail, m.throttled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m
}

// Registerer is for other components' metrics (the chain watcher's lag).
// It is the registry /metrics serves.
func (m *Metrics) Registerer() prometheus.Registerer { return m.registry }

// ObserveEvent counts a shop event; pass it to shop.Service.Subscribe.
func (m *Metrics) ObserveEvent(e shop.Event) {
	m.events.WithLabelValues(string(e.Type)).Inc()
}

func (s *Server) observe(method, route string, code int, d time.Duration) {
	if s.Metrics == nil {
		return
	}
	s.Metrics.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	if d > 0 {
		s.Metrics.duration.WithLabelValues(route, method).Observe(d.Seconds())
	}
}

func (s *Server) countAuthFailure(reason string) {
	if s.Metrics != nil {
		s.Metrics.authFail.WithLabelValues(reason).Inc()
	}
}

func (s *Server) countThrottled() {
	if s.Metrics != nil {
		s.Metrics.throttled.Inc()
	}
}

func (s *Server) countOrder(o *shop.Order, dialect string) {
	if s.Metrics == nil {
		return
	}
	s.Metrics.orders.WithLabelValues(string(o.Type), string(o.PaymentMethod), dialect).Inc()
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	s.Metrics.handler.ServeHTTP(w, r)
	return nil
}
