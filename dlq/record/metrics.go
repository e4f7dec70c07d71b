package record

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts records parked in the dead-letter topics. One instance
// serves the whole process, since every stage parks into the same series.
type Metrics struct {
	parked *prometheus.CounterVec
}

// NewMetrics registers egisz_dlq_records_total on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{parked: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "egisz_dlq_records_total",
		Help: "Records parked in a dead-letter topic, by topic, reason code and the owner who must act.",
	}, []string{"topic", "reason", "owner"})}
	if reg != nil {
		reg.MustRegister(m.parked)
	}
	return m
}

// Parked counts one parked record. A nil Metrics counts nothing.
func (m *Metrics) Parked(topic, reason, owner string) {
	if m == nil {
		return
	}
	m.parked.WithLabelValues(topic, reason, owner).Inc()
}
