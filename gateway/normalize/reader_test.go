package normalize_test

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// reader collects a topic's committed records in the background.
type reader struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

func newReader(t *testing.T, kc *kafkatest.Cluster, topic string) *reader {
	r := &reader{}
	cl := kc.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			r.mu.Lock()
			r.recs = append(r.recs, fs.Records()...)
			r.mu.Unlock()
		}
	}()
	return r
}

// wait returns the records once ok says they are enough, and a moment
// later, for any that should not be there.
func (r *reader) wait(t *testing.T, ctx context.Context, ok func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	snap := func() []*kgo.Record {
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]*kgo.Record(nil), r.recs...)
	}
	for !ok(snap()) {
		if ctx.Err() != nil {
			t.Fatalf("%d records before the deadline", len(snap()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return snap()
}
