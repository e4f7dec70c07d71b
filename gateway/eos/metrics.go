package eos

import (
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exposes the counters of a process's stages, read when scraped:
// how many transactions each committed and aborted, and how many records
// went in and out of the committed ones. Records in over transactions is
// the batch size, which says whether a stage works in large batches
// (throughput) or small ones (each transaction costs the broker a round
// of requests and a marker on every partition it wrote).
type Collector struct {
	stages map[string]*Stats
	txns   *prometheus.Desc
	recs   *prometheus.Desc
	phases *prometheus.Desc
	renews *prometheus.Desc
	took   *prometheus.Desc
	age    *prometheus.Desc
	unwr   *prometheus.Desc
}

// NewCollector collects the stages' counters, by stage name.
func NewCollector(stages map[string]*Stats) *Collector {
	return &Collector{
		stages: stages,
		txns: prometheus.NewDesc("egisz_stage_transactions_total",
			"Kafka transactions of an exactly-once stage, by result (committed, aborted).", []string{"stage", "result"}, nil),
		recs: prometheus.NewDesc("egisz_stage_records_total",
			"Records consumed (in) and produced (out) in a stage's committed transactions.", []string{"stage", "direction"}, nil),
		phases: prometheus.NewDesc("egisz_stage_seconds_total",
			"Time a stage's transactions spent in each phase: work (decoding, deciding, registry calls), write (until every record is acknowledged), end (offsets and commit or abort). Over egisz_stage_transactions_total, the mean of each.",
			[]string{"stage", "phase"}, nil),
		renews: prometheus.NewDesc("egisz_stage_sessions_renewed_total",
			"Transactional sessions a stage replaced after a transaction could not be begun or ended (the coordinator went away mid-commit, say): the stage went on, as a restart would have, without one.",
			[]string{"stage"}, nil),
		took: prometheus.NewDesc("egisz_stage_transaction_duration_seconds",
			"How long a stage's transactions took, from the records in hand to the commit or abort: a stage that stands still now and then (a broker failing over, a starved CPU) shows in the upper buckets while the mean of egisz_stage_seconds_total hardly moves.",
			[]string{"stage"}, nil),
		age: prometheus.NewDesc("egisz_stage_record_age_seconds",
			"How old each record a stage read was when the stage took it (now less the record's Kafka timestamp): its lag in time. For normalize the timestamp is the publisher's, and a publisher's clock ahead of ours counts as 0.",
			[]string{"stage"}, nil),
		unwr: prometheus.NewDesc("egisz_stage_unwritable_total",
			"Inputs whose outputs could not be written (larger than their topic takes, or refused by the broker), by what the stage did: parked (each one once, with OUTPUT_TOO_LARGE or OUTPUT_REFUSED), or isolated (transactions of one input, run to find which input of a refused batch was at fault; many of them mean a topic on the cluster takes smaller records than the catalog says).",
			[]string{"stage", "action"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.txns
	ch <- c.recs
	ch <- c.phases
	ch <- c.renews
	ch <- c.took
	ch <- c.age
	ch <- c.unwr
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, n := range slices.Sorted(maps.Keys(c.stages)) {
		s := c.stages[n]
		ch <- prometheus.MustNewConstMetric(c.txns, prometheus.CounterValue, float64(s.Committed.Load()), n, "committed")
		ch <- prometheus.MustNewConstMetric(c.txns, prometheus.CounterValue, float64(s.Aborted.Load()), n, "aborted")
		ch <- prometheus.MustNewConstMetric(c.recs, prometheus.CounterValue, float64(s.In.Load()), n, "in")
		ch <- prometheus.MustNewConstMetric(c.recs, prometheus.CounterValue, float64(s.Out.Load()), n, "out")
		ch <- prometheus.MustNewConstMetric(c.renews, prometheus.CounterValue, float64(s.Renewed.Load()), n)
		ch <- prometheus.MustNewConstMetric(c.unwr, prometheus.CounterValue, float64(s.Unwritable.Load()), n, "parked")
		ch <- prometheus.MustNewConstMetric(c.unwr, prometheus.CounterValue, float64(s.Isolated.Load()), n, "isolated")
		count, sum, buckets := s.took.snapshot(transactionBuckets)
		ch <- prometheus.MustNewConstHistogram(c.took, count, sum, buckets, n)
		count, sum, buckets = s.age.snapshot(ageBuckets)
		ch <- prometheus.MustNewConstHistogram(c.age, count, sum, buckets, n)
		for phase, d := range map[string]*atomic.Int64{"work": &s.Work, "write": &s.Write, "end": &s.End} {
			ch <- prometheus.MustNewConstMetric(c.phases, prometheus.CounterValue, time.Duration(d.Load()).Seconds(), n, phase)
		}
	}
}
