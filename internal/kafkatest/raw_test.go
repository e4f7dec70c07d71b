package kafkatest

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The raw figures are what every benchmark is judged beside: a copy that
// dropped records or a latency of records never read would flatter the
// gateway.
func TestRawTransactCopyAndLatency(t *testing.T) {
	c := New(t)
	ctx := Context(t, 2*time.Minute)
	adm := c.Admin(t)
	for _, topic := range []string{c.Name("copy-in"), c.Name("lat-in")} {
		if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
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

	start := time.Now()
	lat, err := RawTransactLatency(ctx, c.Brokers, c.Name("lat"), c.Name("lat-in"), c.Name("lat-out"), 500, n, 1024)
	if err != nil {
		t.Fatalf("latency: %v", err)
	}
	if len(lat) != n {
		t.Fatalf("%d latencies, want %d", len(lat), n)
	}
	// Paced at 500 a second, n records cannot all be read sooner than n/500 s.
	if took := time.Since(start); took < time.Duration(n)*time.Second/500 {
		t.Errorf("read %d records in %s: not paced", n, took)
	}
	for i, d := range lat {
		if d <= 0 || d > time.Minute {
			t.Fatalf("latency %d is %s", i, d)
		}
	}
}

// countCommitted reads topic to its end, read committed, waiting for at
// most want records.
func countCommitted(t *testing.T, c *Cluster, topic string, want int) int {
	t.Helper()
	ctx := Context(t, 30*time.Second)
	cl := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got := 0
	for got < want && ctx.Err() == nil {
		got += cl.PollFetches(ctx).NumRecords()
	}
	return got
}

// A record that cannot be produced ends the latency run with the produce's
// error, not with the caller's deadline.
func TestRawTransactLatencyFailsOnAFailedProduce(t *testing.T) {
	c := New(t)
	ctx := Context(t, 2*time.Minute)
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, c.Name("big-in")); err != nil {
		t.Fatal(err)
	}
	// Larger than the client's largest batch (1 MB): refused before it leaves.
	_, err := RawTransactLatency(ctx, c.Brokers, c.Name("big"), c.Name("big-in"), c.Name("big-out"), 100, 10, 2<<20)
	if err == nil || !strings.Contains(err.Error(), "produce to "+c.Name("big-in")) {
		t.Fatalf("latency of records that cannot be produced: %v; want the produce's error", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("returned only at the deadline: %v", err)
	}
}
