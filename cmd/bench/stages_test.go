package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

const exposition = `# HELP egisz_stage_transactions_total Kafka transactions of an exactly-once stage, by result (committed, aborted).
# TYPE egisz_stage_transactions_total counter
egisz_stage_transactions_total{result="aborted",stage="normalize"} 2
egisz_stage_transactions_total{result="committed",stage="forward-iemk"} 10
egisz_stage_transactions_total{result="committed",stage="normalize"} 20
egisz_stage_transactions_total{result="committed",stage="retry-iemk-30s"} 0
egisz_stage_records_total{direction="in",stage="forward-iemk"} 1000
egisz_stage_records_total{direction="in",stage="normalize"} 4000
egisz_stage_records_total{direction="out",stage="normalize"} 13000
egisz_stage_seconds_total{phase="work",stage="normalize"} 1.5
egisz_stage_seconds_total{phase="write",stage="normalize"} 0.5
egisz_stage_seconds_total{phase="end",stage="normalize"} 2
egisz_forward_outcomes_total{outcome="registered",registry="iemk"} 900
# HELP egisz_stage_transaction_duration_seconds How long a stage's transactions took.
# TYPE egisz_stage_transaction_duration_seconds histogram
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.1"} 12
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="0.25"} 17
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="1"} 21
egisz_stage_transaction_duration_seconds_bucket{stage="normalize",le="+Inf"} 22
egisz_stage_transaction_duration_seconds_sum{stage="normalize"} 4
egisz_stage_transaction_duration_seconds_count{stage="normalize"} 22
# HELP egisz_stage_record_age_seconds How old each record a stage read was when the stage took it.
# TYPE egisz_stage_record_age_seconds histogram
egisz_stage_record_age_seconds_bucket{stage="normalize",le="0.1"} 3000
egisz_stage_record_age_seconds_bucket{stage="normalize",le="1"} 3960
egisz_stage_record_age_seconds_bucket{stage="normalize",le="+Inf"} 4000
egisz_stage_record_age_seconds_sum{stage="normalize"} 900
egisz_stage_record_age_seconds_count{stage="normalize"} 4000
`

func TestParseStages(t *testing.T) {
	got, err := parseStages(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]stageCounts{
		"normalize": {committed: 20, in: 4000, out: 13000, work: 1.5, write: 0.5, end: 2, over250ms: 5, over1s: 1,
			age: [16]bucket{{0.1, 3000}, {1, 3960}, {math.Inf(1), 4000}}, ageCount: 4000},
		"forward-iemk":   {committed: 10, in: 1000},
		"retry-iemk-30s": {},
	}
	if len(got) != len(want) {
		t.Fatalf("stages %v, want %v", got, want)
	}
	for s, w := range want {
		if got[s] != w {
			t.Errorf("%s: %+v, want %+v", s, got[s], w)
		}
	}
	if _, err := parseStages(strings.NewReader(`egisz_stage_records_total{direction="in",stage="normalize"} x`)); err == nil {
		t.Error("a value that is not a number parsed")
	}
}

func TestTransactions(t *testing.T) {
	before := map[string]stageCounts{"normalize": {committed: 20, in: 4000}, "forward-iemk": {committed: 10, in: 1000}}
	for _, tc := range []struct {
		name  string
		after map[string]stageCounts
		want  string
	}{
		{"both moved", map[string]stageCounts{"normalize": {committed: 40, in: 34000}, "forward-iemk": {committed: 20, in: 6000}, "retry-iemk-30s": {committed: 3, in: 3}},
			"stage transactions: forward-iemk 1.0 a second of 500 records each, normalize 2.0 a second of 1500 records each"},
		{"one idle", map[string]stageCounts{"normalize": {committed: 30, in: 5000}, "forward-iemk": {committed: 10, in: 1000}},
			"stage transactions: normalize 1.0 a second of 100 records each"},
		{"with phases", map[string]stageCounts{"normalize": {committed: 30, in: 5000, work: 0.25, write: 0.1, end: 0.6}, "forward-iemk": {committed: 10, in: 1000}},
			"stage transactions: normalize 1.0 a second of 100 records each (25 ms of work, 10 writing, 60 ending it)"},
		{"with stalls", map[string]stageCounts{"normalize": {committed: 30, in: 5000, work: 0.25, write: 0.1, end: 0.6, over250ms: 3, over1s: 1}, "forward-iemk": {committed: 10, in: 1000}},
			"stage transactions: normalize 1.0 a second of 100 records each (25 ms of work, 10 writing, 60 ending it; 3 over 250 ms, 1 over 1 s)"},
		{"with the records' age", map[string]stageCounts{"normalize": {committed: 30, in: 5000, work: 0.25, write: 0.1, end: 0.6,
			age: [16]bucket{{0.1, 3000}, {1, 3980}, {math.Inf(1), 4000}}, ageCount: 4000}, "forward-iemk": {committed: 10, in: 1000}},
			"stage transactions: normalize 1.0 a second of 100 records each (25 ms of work, 10 writing, 60 ending it; 99% of its records taken within 1 s)"},
		{"none moved", before, ""},
	} {
		if got := transactions(delta(before, tc.after), 10*time.Second); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The age quantile is the bound of the bucket it falls in: +Inf when past
// the last bound, and nothing when no record was counted.
func TestAgeAt(t *testing.T) {
	c := stageCounts{age: [16]bucket{{0.025, 50}, {0.25, 90}, {1, 99}, {3600, 99.5}, {math.Inf(1), 100}}, ageCount: 100}
	for _, tc := range []struct {
		q    float64
		want float64
		word string
	}{{0.5, 0.025, "within 25 ms"}, {0.6, 0.25, "within 250 ms"}, {0.99, 1, "within 1 s"}, {0.999, math.Inf(1), "over an hour old"}} {
		got, ok := c.ageAt(tc.q)
		if !ok || got != tc.want || ageWithin(got) != tc.word {
			t.Errorf("q %v: %v %v %q, want %v %q", tc.q, got, ok, ageWithin(got), tc.want, tc.word)
		}
	}
	if _, ok := (stageCounts{}).ageAt(0.99); ok {
		t.Error("an age quantile of no records")
	}
}
