package stack

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Traffic is load generator traffic against one deployment (a topic
// prefix), every event tracked to its outcomes in egisz.status.v1.
type Traffic struct {
	Client *kgo.Client
	Gen    *loadgen.Generator
	Track  *loadgen.Tracker
	stop   context.CancelFunc

	mu       sync.Mutex
	produced int
	failed   error // the first produce Kafka refused
}

// StartTraffic publishes the reference feeds and identities the events are
// judged against and starts tracking statuses; the gateway must be running.
func StartTraffic(ctx context.Context, brokers []string, cfg loadgen.Config) (*Traffic, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(200_000),
		// Poison input includes values of several MiB.
		kgo.ProducerBatchMaxBytes(topics.LargeRecordBytes))
	if err != nil {
		return nil, fmt.Errorf("traffic client: %w", err)
	}
	t := &Traffic{Client: cl, Gen: loadgen.New(cfg), Track: loadgen.NewTracker()}
	from, err := loadgen.StatusOffsets(ctx, cl, cfg.Prefix)
	if err != nil {
		cl.Close()
		return nil, err
	}
	stop, err := t.Track.Start(context.Background(), []kgo.Opt{kgo.SeedBrokers(brokers...)}, cfg.Prefix, from)
	if err != nil {
		cl.Close()
		return nil, err
	}
	t.stop = stop
	if err := loadgen.Prime(ctx, cl, t.Gen, t.Track); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Send produces the events, stamped and tracked. The produce of each is
// checked (Flush reports the first Kafka refused), so an event that never
// reached the gateway is an error of the run and not a loss.
func (t *Traffic) Send(ctx context.Context, evs ...loadgen.Event) {
	for _, ev := range evs {
		ev.Record.Timestamp = time.Now()
		t.Track.Sent(ev)
		t.Client.Produce(ctx, ev.Record, t.produced1)
	}
}

func (t *Traffic) produced1(r *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.produced++
	} else if t.failed == nil {
		t.failed = fmt.Errorf("produce to %s: %w", r.Topic, err)
	}
}

// Produced is how many events Kafka has acknowledged.
func (t *Traffic) Produced() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.produced
}

// Flush waits for every produce and reports the first that failed.
func (t *Traffic) Flush(ctx context.Context) error {
	if err := t.Client.Flush(ctx); err != nil {
		return fmt.Errorf("flush traffic: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// Settle waits until every event sent has all its outcomes, logging
// progress every 10 s.
func (t *Traffic) Settle(ctx context.Context, within time.Duration, log *slog.Logger) error {
	deadline := time.Now().Add(within)
	shown := time.Now()
	for !t.Track.Settled() {
		if time.Since(shown) > 10*time.Second {
			shown = time.Now()
			r := t.Track.Report()
			log.Info("waiting for outcomes", "sent", r.Sent, "answered", t.Track.Answered(), "unfinished", r.Unfinished, "outcomes", r.Outcomes, "registries", r.Registries)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			r := t.Track.Report()
			return fmt.Errorf("not settled within %s: %d sent, %d answered, lost %d, unfinished %d", within, r.Sent, t.Track.Answered(), r.Lost, r.Unfinished)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Close stops tracking and closes the client.
func (t *Traffic) Close() {
	t.stop()
	t.Client.Close()
}
