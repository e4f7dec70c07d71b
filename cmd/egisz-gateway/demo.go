package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
)

// demoEvery is how often the demo logs what its traffic got.
const demoEvery = 15 * time.Second

// runDemo feeds the dev stack a trickle of the load generator's traffic
// once the gateway is ready, so that a newcomer sees events accepted,
// refused, deduplicated and registered, in the log and in the metrics.
func runDemo(ctx context.Context, brokers []string, httpAddr string, rate float64, log *slog.Logger) {
	for !ready(ctx, httpAddr) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		log.Error("demo traffic: kafka client", "err", err)
		return
	}
	defer cl.Close()
	g := loadgen.New(loadgen.Config{Seed: uint64(time.Now().UnixNano()), Mix: loadgen.DefaultMix, Patients: 2000})
	tr := loadgen.NewTracker()
	from, err := loadgen.StatusOffsets(ctx, cl, "")
	if err != nil {
		log.Error("demo traffic", "err", err)
		return
	}
	stopTracker, err := tr.Start(ctx, opts, "", from)
	if err != nil {
		log.Error("demo traffic", "err", err)
		return
	}
	defer stopTracker()
	if err := loadgen.Prime(ctx, cl, g, tr); err != nil {
		log.Error("demo traffic", "err", err)
		return
	}
	log.Info("demo traffic starting: cases, documents, lab results, prescriptions and dispensations, with duplicates, updates, conflicts and refusals",
		"rate_per_second", rate, "watch", "kcat -b "+brokers[0]+" -C -t egisz.status.v1", "metrics", "http://"+httpAddr+"/metrics")
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	summary := time.NewTicker(demoEvery)
	defer summary.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-summary.C:
			r := tr.Report()
			log.Info("demo traffic so far", "sent", r.Sent, "outcomes", r.Outcomes, "registries", r.Registries,
				"p99_to_status", r.Normalize.P99.Round(time.Millisecond), "unexpected", r.Unexpected, "waiting", r.Lost+r.Unfinished)
		case <-tick.C:
			ev := g.Next()
			ev.Record.Timestamp = time.Now()
			tr.Sent(ev)
			cl.Produce(ctx, ev.Record, nil)
		}
	}
}

func ready(ctx context.Context, httpAddr string) bool {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
