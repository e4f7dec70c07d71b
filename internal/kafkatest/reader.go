package kafkatest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader collects a topic's committed records in the background, from its
// start, until the test ends.
type Reader struct {
	mu   sync.Mutex
	recs []*kgo.Record
}

// NewReader starts reading topic of c as read_committed.
func NewReader(t testing.TB, c *Cluster, topic string) *Reader {
	t.Helper()
	r := &Reader{}
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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

// Wait returns the records read once ok says they are enough, and a
// moment later, so that any that should not be there show too. It fails
// the test when ctx ends first.
func (r *Reader) Wait(t testing.TB, ctx context.Context, ok func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	for !ok(r.snapshot()) {
		if ctx.Err() != nil {
			t.Fatalf("%d records before the deadline", len(r.snapshot()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return r.snapshot()
}

func (r *Reader) snapshot() []*kgo.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*kgo.Record(nil), r.recs...)
}
