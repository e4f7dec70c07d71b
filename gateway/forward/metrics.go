package forward

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
)

// Metrics of the forward stage; one set per process, labelled by registry.
type Metrics struct {
	requests *prometheus.CounterVec   // attempts by registry and HTTP status
	latency  *prometheus.HistogramVec // one attempt
	outcomes *prometheus.CounterVec   // records by registry and outcome
	added    *prometheus.HistogramVec // the stage's own time per record: consumed to outcome, minus nothing
	breaker  *prometheus.GaugeVec
	waited   *prometheus.CounterVec
	paused   *prometheus.GaugeVec
	inflight *prometheus.GaugeVec

	pending *pending.Metrics // РЭМД's pending documents and callback endpoint
	retried *prometheus.CounterVec
	queued  *prometheus.CounterVec
}

// NewMetrics registers the forward stage's metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_requests_total",
			Help: "Attempts at a registry by registry and HTTP status code (transport_error, breaker_open when none was sent).",
		}, []string{"registry", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "egisz_forward_request_seconds",
			Help:    "Duration of one attempt at a registry.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"registry"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_outcomes_total",
			Help: "Outbound records by registry and outcome (registered, pending, rejected, failed).",
		}, []string{"registry", "outcome"}),
		added: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "egisz_forward_record_seconds",
			Help:    "Time from consuming an outbound record to its outcome being decided, retries and breaker waits included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, []string{"registry"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "egisz_forward_breaker_state",
			Help: "Circuit breaker per registry: 0 closed, 1 half-open, 2 open.",
		}, []string{"registry"}),
		waited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_rate_limit_wait_seconds_total",
			Help: "Time calls spent waiting for the registry's rate limit.",
		}, []string{"registry"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "egisz_forward_paused",
			Help: "1 while the registry's outbound partitions are paused by its open breaker.",
		}, []string{"registry"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "egisz_forward_inflight_requests",
			Help: "Calls to the registry in flight.",
		}, []string{"registry"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_retry_moves_total",
			Help: "Records moved to a retry tier after a failed round of retries in place, by registry and tier topic.",
		}, []string{"registry", "tier"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_queued_behind_total",
			Help: "Records sent to a retry tier only to wait behind an earlier record of their key.",
		}, []string{"registry"}),
	}
	m.pending = pending.NewMetrics()
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.outcomes, m.added, m.breaker, m.waited, m.paused, m.inflight, m.retried, m.queued)
		reg.MustRegister(m.pending.Collectors()...)
	}
	return m
}
