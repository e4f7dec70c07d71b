package normalize

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	outcomes       *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	restoreKeys    prometheus.Counter
	restoreSeconds prometheus.Histogram
	timers         *prometheus.CounterVec
	rerouted       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, n *Stage) metrics {
	m := metrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_normalize_outcomes_total",
			Help: "Ingress events by source topic and outcome (new, update, duplicate, conflict, rejected).",
		}, []string{"topic", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_normalize_rejections_total",
			Help: "Reasons of rejected ingress events, by source topic and reason code.",
		}, []string{"topic", "reason"}),
		restoreKeys: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "egisz_state_restore_records_total",
			Help: "Changelog records applied while restoring the dedup state.",
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "egisz_state_restore_seconds",
			Help:    "How long restoring one partition's dedup state took.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9),
		}),
		timers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_state_timers_fired_total",
			Help: "Timed state entries that fell due and were handed to the domain, by table (rx: prescriptions expiring).",
		}, []string{"table"}),
		rerouted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "egisz_normalize_rerouted_total",
			Help: "Ingress records that came on another partition than their key's (a publisher not partitioning with murmur2) and were taken to their key's partition, by source topic.",
		}, []string{"topic"}),
	}
	if reg == nil {
		return m
	}
	m.timers.WithLabelValues("rx")
	reg.MustRegister(m.outcomes, m.rejected, m.restoreKeys, m.restoreSeconds, m.timers, m.rerouted,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "egisz_state_keys",
			Help: "Dedup keys held by this instance's normalize state.",
		}, func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			total := 0
			for _, s := range n.stores {
				total += s.Len()
			}
			return float64(total)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "egisz_state_timers",
			Help: "Timed state entries waiting to fall due (open prescriptions) held by this instance.",
		}, func() float64 {
			n.mu.Lock()
			defer n.mu.Unlock()
			total := 0
			for _, s := range n.stores {
				total += s.Timers()
			}
			return float64(total)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "egisz_state_restoring_partitions",
			Help: "Partitions whose dedup state is being restored now.",
		}, func() float64 { return float64(n.restoring.Load()) }),
	)
	return m
}
