package state

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

// writeChangelog writes n changelog records of a store to partition 0 of
// a new topic, in transactions as the stage does, and returns the topic.
func writeChangelog(t testing.TB, kc *kafkatest.Cluster, n int) (string, *Store) {
	t.Helper()
	ctx := context.Background()
	topic := kc.Name("changelog")
	adm := kadm.NewClient(kc.Client(t))
	if _, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // a real broker creates topics asynchronously
	cl := kc.Client(t, kgo.TransactionalID(kc.Name("writer")), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	src := NewStore(0)
	now := time.Now()
	for start := 0; start < n; start += 50_000 {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := start; i < min(n, start+50_000); i++ {
			src.Decide(fmt.Sprintf("key-%d", i), uint64(i), 1, now)
		}
		for _, c := range src.TakeChanges() {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: c.Key, Value: c.Value}, nil)
		}
		src.Commit()
		if err := cl.Flush(ctx); err != nil { // EndTransaction does not flush
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	// An aborted transaction at the end: its records must not be restored.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	src.Decide("aborted-key", 1, 1, now)
	for _, c := range src.TakeChanges() {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: c.Key, Value: c.Value}, nil)
	}
	src.Abort()
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	return topic, src
}

func TestCatchUpRestoresCommittedState(t *testing.T) {
	kc := kafkatest.New(t)
	topic, src := writeChangelog(t, kc, 20_000)
	dst := NewStore(0)
	var applied int64
	err := CatchUp(context.Background(), []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, topic, dst, func(_ int32, n int64, done bool, _ time.Duration) {
		if done {
			applied = n
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if dst.Len() != src.Len() || applied != 20_000 {
		t.Fatalf("restored %d keys from %d records, want %d keys", dst.Len(), applied, src.Len())
	}
	if _, ok := dst.Dedup("aborted-key"); ok {
		t.Fatal("an aborted transaction's record was restored")
	}
	if e, ok := dst.Dedup("key-19999"); !ok || e.Fingerprint != 19999 {
		t.Fatalf("key-19999: %+v %v", e, ok)
	}
	// Catching up again reads nothing new.
	before := dst.Next
	if err := CatchUp(context.Background(), []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, topic, dst, func(int32, int64, bool, time.Duration) {}); err != nil {
		t.Fatal(err)
	}
	if dst.Next < before {
		t.Fatal("catch-up went backwards")
	}
}

// BenchmarkCatchUp restores EGISZ_BENCH_KEYS keys (1M by default) from a
// changelog on the cluster kafkatest gives. Run with -benchtime=1x.
func BenchmarkCatchUp(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("EGISZ_BENCH_KEYS")); err == nil && v > 0 {
		n = v
	}
	kc := kafkatest.New(b)
	topic, _ := writeChangelog(b, kc, n)
	b.ResetTimer()
	start := time.Now()
	dst := NewStore(0)
	if err := CatchUp(context.Background(), []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, topic, dst, func(int32, int64, bool, time.Duration) {}); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	if dst.Len() != n {
		b.Fatalf("restored %d of %d keys", dst.Len(), n)
	}
	b.ReportMetric(float64(n)/took.Seconds(), "keys/s")
	b.ReportMetric(0, "ns/op")
}
