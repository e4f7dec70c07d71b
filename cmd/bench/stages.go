package main

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stageCounts are one stage's egisz_stage_* counters at a moment.
type stageCounts struct{ committed, in float64 }

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
	return parseStages(bufio.NewScanner(resp.Body))
}

// parseStages picks the stage counters out of the text exposition format.
func parseStages(sc *bufio.Scanner) (map[string]stageCounts, error) {
	out := map[string]stageCounts{}
	for sc.Scan() {
		line := sc.Text()
		var field *float64
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		stage := label(labels, "stage")
		c := out[stage]
		switch {
		case name == "egisz_stage_transactions_total" && label(labels, "result") == "committed":
			field = &c.committed
		case name == "egisz_stage_records_total" && label(labels, "direction") == "in":
			field = &c.in
		default:
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		*field = v
		out[stage] = c
	}
	return out, sc.Err()
}

// label is the value of one label in a series' label set.
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// transactions says, for the main stages, how many transactions a second
// each committed between two scrapes and how many records one held on
// average: large batches are throughput, and each is a wait for the
// records in it.
func transactions(before, after map[string]stageCounts, over time.Duration) string {
	var parts []string
	for _, stage := range slices.Sorted(maps.Keys(after)) {
		if stage != "normalize" && !strings.HasPrefix(stage, "forward-") {
			continue
		}
		txns := after[stage].committed - before[stage].committed
		if txns <= 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.1f a second of %.0f records each", stage, txns/over.Seconds(), (after[stage].in-before[stage].in)/txns))
	}
	if len(parts) == 0 {
		return ""
	}
	return "stage transactions: " + strings.Join(parts, ", ")
}
