package forward

import "github.com/prometheus/client_golang/prometheus"

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

	callbacks     *prometheus.CounterVec
	reconciled    *prometheus.CounterVec
	pendingDocs   prometheus.Gauge
	pendingOldest prometheus.Gauge
	orphans       prometheus.Gauge
	orphanBytes   prometheus.Gauge
	refused       *prometheus.CounterVec
	retried       *prometheus.CounterVec
	queued        *prometheus.CounterVec
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
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_remd_callbacks_total",
			Help: "Authenticated РЭМД callbacks by result: registered, rejected, resent, repeated, orphan (no document known yet), orphan_settled, orphan_refused (over the orphans' bounds, answered 503), invalid, too_large, abandoned (РЭМД hung up before the callback was recorded; it sends it again).",
		}, []string{"result"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_remd_reconciled_total",
			Help: "Documents without a callback looked up in РЭМД, by result (registered: found and recorded; not_found; error: the lookup or its recording failed, looked up again).",
		}, []string{"result"}),
		pendingDocs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egisz_remd_pending_documents",
			Help: "Documents РЭМД accepted whose callback has not come yet.",
		}),
		pendingOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egisz_remd_pending_oldest_age_seconds",
			Help: "Age of the oldest document waiting for РЭМД's callback; 0 when none waits.",
		}),
		orphans: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egisz_remd_callback_orphans",
			Help: "РЭМД callbacks kept for documents not known (yet) here: the same on every instance, bounded by forward.remd_callback.max_orphans.",
		}),
		orphanBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egisz_remd_callback_orphan_bytes",
			Help: "Bytes of the orphaned РЭМД callbacks in the pending topic, bounded by forward.remd_callback.max_orphan_bytes.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_remd_callback_refused_total",
			Help: "Requests to РЭМД's callback endpoint refused before their body was read, by reason: no_certificate, untrusted (another CA, expired, not for clients), not_allowed (a name not in client_names).",
		}, []string{"reason"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_retry_moves_total",
			Help: "Records moved to a retry tier after a failed round of retries in place, by registry and tier topic.",
		}, []string{"registry", "tier"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_forward_queued_behind_total",
			Help: "Records sent to a retry tier only to wait behind an earlier record of their key.",
		}, []string{"registry"}),
	}
	// Series that alerts and the dashboard read exist from the start, at 0.
	for _, r := range []string{"registered", "not_found", "error"} {
		m.reconciled.WithLabelValues(r)
	}
	for _, r := range []string{"registered", "rejected", "resent", "repeated", "orphan", "orphan_settled", "orphan_refused", "invalid", "too_large", "abandoned"} {
		m.callbacks.WithLabelValues(r)
	}
	for _, r := range []string{refusedNoCertificate, refusedUntrusted, refusedNotAllowed} {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.outcomes, m.added, m.breaker, m.waited, m.paused, m.inflight,
			m.callbacks, m.reconciled, m.pendingDocs, m.pendingOldest, m.orphans, m.orphanBytes, m.refused, m.retried, m.queued)
	}
	return m
}
