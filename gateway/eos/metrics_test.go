package eos

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectorExposesEachStagesCounters(t *testing.T) {
	normalize, forward := &Stats{}, &Stats{}
	normalize.Committed.Add(3)
	normalize.Aborted.Add(1)
	normalize.In.Add(1200)
	normalize.Out.Add(3100)
	forward.Committed.Add(7)
	forward.In.Add(700)
	forward.Out.Add(1400)
	normalize.Work.Add(int64(1500 * time.Millisecond))
	normalize.Write.Add(int64(250 * time.Millisecond))
	normalize.End.Add(int64(2 * time.Second))
	forward.Work.Add(int64(time.Minute))
	forward.Renewed.Add(2)
	forward.Unwritable.Add(1)
	normalize.Isolated.Add(4)
	c := NewCollector(map[string]*Stats{"normalize": normalize, "forward-iemk": forward})
	want := `
# HELP egisz_stage_records_total Records consumed (in) and produced (out) in a stage's committed transactions.
# TYPE egisz_stage_records_total counter
egisz_stage_records_total{direction="in",stage="forward-iemk"} 700
egisz_stage_records_total{direction="in",stage="normalize"} 1200
egisz_stage_records_total{direction="out",stage="forward-iemk"} 1400
egisz_stage_records_total{direction="out",stage="normalize"} 3100
# HELP egisz_stage_seconds_total Time a stage's transactions spent in each phase: work (decoding, deciding, registry calls), write (until every record is acknowledged), end (offsets and commit or abort). Over egisz_stage_transactions_total, the mean of each.
# TYPE egisz_stage_seconds_total counter
egisz_stage_seconds_total{phase="end",stage="forward-iemk"} 0
egisz_stage_seconds_total{phase="end",stage="normalize"} 2
egisz_stage_seconds_total{phase="work",stage="forward-iemk"} 60
egisz_stage_seconds_total{phase="work",stage="normalize"} 1.5
egisz_stage_seconds_total{phase="write",stage="forward-iemk"} 0
egisz_stage_seconds_total{phase="write",stage="normalize"} 0.25
# HELP egisz_stage_sessions_renewed_total Transactional sessions a stage replaced after a transaction could not be begun or ended (the coordinator went away mid-commit, say): the stage went on, as a restart would have, without one.
# TYPE egisz_stage_sessions_renewed_total counter
egisz_stage_sessions_renewed_total{stage="forward-iemk"} 2
egisz_stage_sessions_renewed_total{stage="normalize"} 0
# HELP egisz_stage_transactions_total Kafka transactions of an exactly-once stage, by result (committed, aborted).
# TYPE egisz_stage_transactions_total counter
egisz_stage_transactions_total{result="aborted",stage="forward-iemk"} 0
egisz_stage_transactions_total{result="aborted",stage="normalize"} 1
egisz_stage_transactions_total{result="committed",stage="forward-iemk"} 7
egisz_stage_transactions_total{result="committed",stage="normalize"} 3
# HELP egisz_stage_unwritable_total Inputs whose outputs could not be written (larger than their topic takes, or refused by the broker), by what the stage did: parked (each one once, with OUTPUT_TOO_LARGE or OUTPUT_REFUSED), or isolated (transactions of one input, run to find which input of a refused batch was at fault; many of them mean a topic on the cluster takes smaller records than the catalog says).
# TYPE egisz_stage_unwritable_total counter
egisz_stage_unwritable_total{action="isolated",stage="forward-iemk"} 0
egisz_stage_unwritable_total{action="isolated",stage="normalize"} 4
egisz_stage_unwritable_total{action="parked",stage="forward-iemk"} 1
egisz_stage_unwritable_total{action="parked",stage="normalize"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "egisz_stage_records_total", "egisz_stage_seconds_total",
		"egisz_stage_sessions_renewed_total", "egisz_stage_transactions_total", "egisz_stage_unwritable_total"); err != nil {
		t.Fatal(err)
	}
	// Read when scraped: a later commit shows at the next scrape.
	normalize.Committed.Add(1)
	again := `
# HELP egisz_stage_transactions_total Kafka transactions of an exactly-once stage, by result (committed, aborted).
# TYPE egisz_stage_transactions_total counter
egisz_stage_transactions_total{result="aborted",stage="forward-iemk"} 0
egisz_stage_transactions_total{result="aborted",stage="normalize"} 1
egisz_stage_transactions_total{result="committed",stage="forward-iemk"} 7
egisz_stage_transactions_total{result="committed",stage="normalize"} 4
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(again), "egisz_stage_transactions_total"); err != nil {
		t.Fatal(err)
	}
}

// Each transaction lands in the bucket of its duration, a bound included
// in its bucket, one longer than the last bound only in +Inf; the sum is
// the seconds they took.
func TestCollectorExposesHowLongTransactionsTook(t *testing.T) {
	s := &Stats{}
	for _, d := range []time.Duration{5 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond, 1500 * time.Millisecond, time.Minute} {
		s.ObserveTransaction(d)
	}
	c := NewCollector(map[string]*Stats{"normalize": s})
	want := `
# HELP egisz_stage_transaction_duration_seconds How long a stage's transactions took, from the records in hand to the commit or abort: a stage that stands still now and then (a broker failing over, a starved CPU) shows in the upper buckets while the mean of egisz_stage_seconds_total hardly moves.
# TYPE egisz_stage_transaction_duration_seconds histogram
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.01"} 1
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.025"} 1
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.05"} 1
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.1"} 2
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.25"} 2
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.5"} 3
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="1"} 3
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="2.5"} 4
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="5"} 4
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="10"} 4
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="30"} 4
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="+Inf"} 5
egisz_stage_transaction_duration_seconds_sum{stage="normalize"} 61.905
egisz_stage_transaction_duration_seconds_count{stage="normalize"} 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "egisz_stage_transaction_duration_seconds"); err != nil {
		t.Fatal(err)
	}
}

// A record's age lands in the bucket of its age, a bound included in its
// bucket; one stamped in the future (a publisher's clock ahead) counts as
// 0, not as a negative age.
func TestCollectorExposesHowOldRecordsWere(t *testing.T) {
	s := &Stats{}
	for _, d := range []time.Duration{-3 * time.Second, 20 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second, 10 * time.Minute, 2 * time.Hour} {
		s.ObserveAge(d)
	}
	c := NewCollector(map[string]*Stats{"forward-remd": s})
	want := `
# HELP egisz_stage_record_age_seconds How old each record a stage read was when the stage took it (now less the record's Kafka timestamp): its lag in time. For normalize the timestamp is the publisher's, and a publisher's clock ahead of ours counts as 0.
# TYPE egisz_stage_record_age_seconds histogram
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="0.025"} 2
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="0.05"} 2
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="0.1"} 3
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="0.25"} 3
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="0.5"} 3
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="1"} 3
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="2.5"} 4
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="5"} 4
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="10"} 4
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="30"} 4
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="60"} 4
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="300"} 4
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="900"} 5
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="3600"} 5
egisz_stage_record_age_seconds_bucket{stage="forward-remd",le="+Inf"} 6
egisz_stage_record_age_seconds_sum{stage="forward-remd"} 7802.12
egisz_stage_record_age_seconds_count{stage="forward-remd"} 6
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "egisz_stage_record_age_seconds"); err != nil {
		t.Fatal(err)
	}
}
