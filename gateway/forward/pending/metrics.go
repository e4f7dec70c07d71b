package pending

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/egisz-gateway/egisz-gateway/seam"
)

// Metrics of РЭМД's pending documents and its callback endpoint; one set
// per process.
type Metrics struct {
	callbacks   *prometheus.CounterVec
	reconciled  *prometheus.CounterVec
	docs        prometheus.Gauge
	oldest      prometheus.Gauge
	orphans     prometheus.Gauge
	orphanBytes prometheus.Gauge
	refused     *prometheus.CounterVec
	files       *prometheus.CounterVec
}

// Outcomes of a file request, as counted.
const (
	fileServed   = "served"    // the document's file was sent
	fileNotFound = "not_found" // the store does not hold it; answered so
	fileError    = "error"     // the store failed; answered 503, the registry asks again
)

// NewMetrics makes the metrics, unregistered: Collectors are what to
// register.
func NewMetrics() *Metrics {
	m := &Metrics{
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_remd_callbacks_total",
			Help: "Authenticated РЭМД callbacks by result: registered, rejected, resent, repeated (a settled document's result again), stale (a result of an earlier sending of a document sent again since), orphan (no document known yet), orphan_settled, orphan_refused (over the orphans' bounds, answered 503), invalid, too_large, abandoned (РЭМД hung up before the callback was recorded; it sends it again).",
		}, []string{"result"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_remd_reconciled_total",
			Help: "Documents without a callback looked up in РЭМД, by result (registered: found and recorded; not_found; error: the lookup or its recording failed, looked up again).",
		}, []string{"result"}),
		docs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "egisz_remd_pending_documents",
			Help: "Documents РЭМД accepted whose callback has not come yet.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
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
			Help: "Requests to РЭМД's callback endpoint refused, by reason: without a trusted client certificate, before their body was read: no_certificate, untrusted (another CA, expired, not for clients), not_allowed (a name not in client_names); messages not signed by a certificate trusted for РЭМД (forward.remd.ips.inbound_trust): unsigned, bad_signature, untrusted, expired, replayed.",
		}, []string{"reason"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_remd_file_requests_total",
			Help: "РЭМД's authenticated requests for a document's file (getDocumentFile), by outcome: served, not_found (the document store does not hold it; answered as РЭМД expects), error (the store failed; answered 503, РЭМД asks again).",
		}, []string{"outcome"}),
	}
	// Series that alerts and the dashboard read exist from the start, at 0.
	for _, r := range []string{"registered", "not_found", "error"} {
		m.reconciled.WithLabelValues(r)
	}
	for _, r := range []string{"registered", "rejected", "resent", "repeated", "stale", "orphan", "orphan_settled", "orphan_refused", "invalid", "too_large", "abandoned"} {
		m.callbacks.WithLabelValues(r)
	}
	for _, r := range []string{refusedNoCertificate, refusedUntrusted, refusedNotAllowed} {
		m.refused.WithLabelValues(r)
	}
	for _, f := range seam.AuthFailures {
		m.refused.WithLabelValues(string(f))
	}
	for _, o := range []string{fileServed, fileNotFound, fileError} {
		m.files.WithLabelValues(o)
	}
	return m
}

// Collectors are the metrics to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.callbacks, m.reconciled, m.docs, m.oldest, m.orphans, m.orphanBytes, m.refused, m.files}
}

// measure sets the pending count, the oldest pending age and the
// orphans' use.
func (p *Pending) measure() {
	n, oldest := 0, time.Time{}
	p.table.Range(func(_ string, e *Entry) bool {
		if e.State == StatePending {
			n++
			if oldest.IsZero() || e.SentAt.Before(oldest) {
				oldest = e.SentAt
			}
		}
		return true
	})
	p.m.docs.Set(float64(n))
	count, bytes := p.orphans.Use()
	p.m.orphans.Set(float64(count))
	p.m.orphanBytes.Set(float64(bytes))
	if n == 0 {
		p.m.oldest.Set(0)
	} else {
		p.m.oldest.Set(p.cfg.Now().Sub(oldest).Seconds())
	}
}

// Measure updates the pending gauges now (tests).
func (p *Pending) Measure() { p.measure() }
