package forward

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

// The callback writer's transactions are counted like a stage's
// (egisz_stage_*{stage="forward-remd-callbacks"}): callbacks in, records
// out, and a transaction that fails as aborted.
func TestTxWriterCountsItsTransactions(t *testing.T) {
	c := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	topic := c.Name("out")
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	w, err := newTxWriter([]kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ProducerBatchMaxBytes(2000)}, c.Name("writer"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = w.run(runCtx) }()

	rec := func(size int) *kgo.Record { return &kgo.Record{Topic: topic, Value: make([]byte, size)} }
	var wg sync.WaitGroup
	for _, n := range []int{1, 2, 3} {
		wg.Go(func() {
			recs := make([]*kgo.Record, n)
			for i := range recs {
				recs[i] = rec(10)
			}
			if err := w.write(ctx, recs); err != nil {
				t.Errorf("write %d records: %v", n, err)
			}
		})
	}
	wg.Wait()
	if got := w.stats.In.Load(); got != 3 {
		t.Errorf("in: %d groups, want 3", got)
	}
	if got := w.stats.Out.Load(); got != 6 {
		t.Errorf("out: %d records, want 6", got)
	}
	if got := w.stats.Committed.Load(); got < 1 || got > 3 {
		t.Errorf("committed: %d transactions, want 1 to 3", got)
	}
	// A record the client refuses to produce aborts its transaction.
	if err := w.write(ctx, []*kgo.Record{rec(10), rec(5000)}); err == nil {
		t.Fatal("a record over the batch limit was written")
	}
	if got := w.stats.Aborted.Load(); got != 1 {
		t.Errorf("aborted: %d, want 1", got)
	}
	if got := w.stats.In.Load(); got != 3 {
		t.Errorf("in after the abort: %d, want still 3", got)
	}
}
