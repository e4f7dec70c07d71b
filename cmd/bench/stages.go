package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// stageCounts are one stage's egisz_stage_* counters at a moment; work,
// write and end are its seconds in each phase of its transactions, and
// over250ms and over1s how many of them took longer than that (from
// egisz_stage_transaction_duration_seconds): the stalls behind a p99.
type stageCounts struct {
	committed, in, out, work, write, end, over250ms, over1s float64
	// age: egisz_stage_record_age_seconds, cumulative by bucket in the
	// order exposed, and how many records it counted.
	age      [16]bucket
	ageCount float64
}

// bucket is a histogram bucket: its upper bound and cumulative count.
type bucket struct{ le, n float64 }

// ageAt is the upper bound of the bucket the q-quantile of the records'
// ages falls in; +Inf past the last bound, and false when none counted.
func (c stageCounts) ageAt(q float64) (float64, bool) {
	if c.ageCount <= 0 {
		return 0, false
	}
	for _, b := range c.age {
		if b.le == 0 && b.n == 0 {
			break
		}
		if b.n >= q*c.ageCount {
			return b.le, true
		}
	}
	return math.Inf(1), true
}

// scrapeStages reads every stage's committed transactions and records in
// from the gateway's /metrics.
func scrapeStages(ctx context.Context, addr string) (map[string]stageCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape stages: %w", err)
	}
	defer resp.Body.Close()
	return parseStages(resp.Body)
}

// parseStages picks the stage counters out of the text exposition format.
func parseStages(r io.Reader) (map[string]stageCounts, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	out := map[string]stageCounts{}
	each := func(family, label, value string, set func(*stageCounts, float64)) {
		for _, m := range mfs[family].GetMetric() {
			if labelOf(m, label) == value {
				stage := labelOf(m, "stage")
				c := out[stage]
				set(&c, m.GetCounter().GetValue()+m.GetUntyped().GetValue()) // untyped without a # TYPE line
				out[stage] = c
			}
		}
	}
	each("egisz_stage_transactions_total", "result", "committed", func(c *stageCounts, v float64) { c.committed = v })
	each("egisz_stage_records_total", "direction", "in", func(c *stageCounts, v float64) { c.in = v })
	each("egisz_stage_records_total", "direction", "out", func(c *stageCounts, v float64) { c.out = v })
	each("egisz_stage_seconds_total", "phase", "work", func(c *stageCounts, v float64) { c.work = v })
	each("egisz_stage_seconds_total", "phase", "write", func(c *stageCounts, v float64) { c.write = v })
	each("egisz_stage_seconds_total", "phase", "end", func(c *stageCounts, v float64) { c.end = v })
	eachHistogram := func(family string, set func(*stageCounts, *dto.Histogram)) {
		for _, m := range mfs[family].GetMetric() {
			stage := labelOf(m, "stage")
			c := out[stage]
			set(&c, m.GetHistogram())
			out[stage] = c
		}
	}
	eachHistogram("egisz_stage_record_age_seconds", func(c *stageCounts, h *dto.Histogram) {
		c.ageCount = float64(h.GetSampleCount())
		for i, b := range h.GetBucket() {
			if i < len(c.age) {
				c.age[i] = bucket{le: b.GetUpperBound(), n: float64(b.GetCumulativeCount())}
			}
		}
	})
	eachHistogram("egisz_stage_transaction_duration_seconds", func(c *stageCounts, h *dto.Histogram) {
		c.over250ms, c.over1s = float64(h.GetSampleCount()), float64(h.GetSampleCount())
		for _, b := range h.GetBucket() {
			switch b.GetUpperBound() {
			case 0.25:
				c.over250ms -= float64(b.GetCumulativeCount())
			case 1:
				c.over1s -= float64(b.GetCumulativeCount())
			}
		}
	})
	return out, nil
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// delta is each stage's counters over a stretch: after less before.
func delta(before, after map[string]stageCounts) map[string]stageCounts {
	out := map[string]stageCounts{}
	for name, a := range after {
		b := before[name]
		d := stageCounts{committed: a.committed - b.committed, in: a.in - b.in, out: a.out - b.out,
			work: a.work - b.work, write: a.write - b.write, end: a.end - b.end,
			over250ms: a.over250ms - b.over250ms, over1s: a.over1s - b.over1s, ageCount: a.ageCount - b.ageCount}
		for i := range a.age {
			d.age[i] = bucket{le: a.age[i].le, n: a.age[i].n - b.age[i].n}
		}
		out[name] = d
	}
	return out
}

// transactions says, for the main stages, how many transactions a second
// each committed over a stretch (moved: its delta), how many records one
// held on average, and where its time went: large batches are
// throughput, and each is a wait for the records in it. The phases are
// of every transaction, aborted ones included.
func transactions(moved map[string]stageCounts, over time.Duration) string {
	var parts []string
	for _, stage := range slices.Sorted(maps.Keys(moved)) {
		if stage != "normalize" && !strings.HasPrefix(stage, "forward-") {
			continue
		}
		c := moved[stage]
		if c.committed <= 0 {
			continue
		}
		part := fmt.Sprintf("%s %.1f a second of %.0f records each", stage, c.committed/over.Seconds(), c.in/c.committed)
		if c.work+c.write+c.end > 0 {
			ms := func(s float64) float64 { return s * 1000 / c.committed }
			part += fmt.Sprintf(" (%.0f ms of work, %.0f writing, %.0f ending it", ms(c.work), ms(c.write), ms(c.end))
			if c.over250ms > 0 {
				part += fmt.Sprintf("; %.0f over 250 ms, %.0f over 1 s", c.over250ms, c.over1s)
			}
			if le, ok := c.ageAt(0.99); ok {
				part += "; 99% of its records taken " + ageWithin(le)
			}
			part += ")"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return "stage transactions: " + strings.Join(parts, ", ")
}

// ageWithin words a bucket's upper bound as how old records were at most.
func ageWithin(le float64) string {
	switch {
	case math.IsInf(le, 1):
		return "over an hour old"
	case le < 1:
		return fmt.Sprintf("within %.0f ms", le*1000)
	}
	return fmt.Sprintf("within %g s", le)
}
