package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The raw figures are what every benchmark is judged beside: a copy that
// dropped records or a latency of records never read would flatter the
// gateway.
func TestRawTransactCopy(t *testing.T) {
	c := New(t)
	ctx := Context(t, 2*time.Minute)
	adm := c.Admin(t)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, c.Name("copy-in")); err != nil {
		t.Fatal(err)
	}

	const n = 300
	cl := c.Client(t)
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: c.Name("copy-in"), Value: make([]byte, 100+i)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	took, err := RawTransactCopy(ctx, c.Brokers, c.Name("copy"), c.Name("copy-in"), c.Name("copy-out"), n)
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if took <= 0 {
		t.Errorf("copy took %s", took)
	}
	if got := countCommitted(t, c, c.Name("copy-out"), n); got != n {
		t.Errorf("copy wrote %d records, want %d", got, n)
	}

}

// countCommitted reads topic read committed until it has want records,
// then until a second passes with no more: a record beyond want is counted
// too.
func countCommitted(t *testing.T, c *Cluster, topic string, want int) int {
	t.Helper()
	ctx := Context(t, 30*time.Second)
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got := 0
	for got < want && ctx.Err() == nil {
		got += cl.PollFetches(ctx).NumRecords()
	}
	for {
		quiet, cancel := context.WithTimeout(ctx, time.Second)
		n := cl.PollFetches(quiet).NumRecords()
		cancel()
		if n == 0 {
			return got
		}
		got += n
	}
}
