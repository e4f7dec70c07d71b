package eos

import (
	"strings"
	"testing"

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
	c := NewCollector(map[string]*Stats{"normalize": normalize, "forward-iemk": forward})
	want := `
# HELP egisz_stage_records_total Records consumed (in) and produced (out) in a stage's committed transactions.
# TYPE egisz_stage_records_total counter
egisz_stage_records_total{direction="in",stage="forward-iemk"} 700
egisz_stage_records_total{direction="in",stage="normalize"} 1200
egisz_stage_records_total{direction="out",stage="forward-iemk"} 1400
egisz_stage_records_total{direction="out",stage="normalize"} 3100
# HELP egisz_stage_transactions_total Kafka transactions of an exactly-once stage, by result (committed, aborted).
# TYPE egisz_stage_transactions_total counter
egisz_stage_transactions_total{result="aborted",stage="forward-iemk"} 0
egisz_stage_transactions_total{result="aborted",stage="normalize"} 1
egisz_stage_transactions_total{result="committed",stage="forward-iemk"} 7
egisz_stage_transactions_total{result="committed",stage="normalize"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
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
