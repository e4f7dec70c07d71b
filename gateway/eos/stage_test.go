package eos_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// copier copies every record to another topic, keeping key and headers,
// and can be told to stop the world after n records, as a crash would.
type copier struct {
	to      string
	crashAt int64
	seen    atomic.Int64
	crash   context.CancelFunc
}

func (c *copier) Transform(_ context.Context, in *kgo.Record, out *eos.Output) error {
	if n := c.seen.Add(1); c.crash != nil && n == c.crashAt {
		c.crash()
	}
	out.Emit(&kgo.Record{Topic: c.to, Key: in.Key, Value: in.Value, Headers: in.Headers})
	return nil
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func createTopics(t testing.TB, ctx context.Context, adm *kadm.Client, partitions int32, rf int16, names ...string) {
	t.Helper()
	resp, err := adm.CreateTopics(ctx, partitions, rf, nil, names...)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatal(err)
	}
	// Wait for leaders, as a real broker creates topics asynchronously.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), names...)
		if err == nil && d.Error() == nil {
			ok := true
			for _, n := range names {
				if len(d[n].Partitions) != int(partitions) {
					ok = false
				}
			}
			if ok {
				return
			}
		}
	}
	t.Fatalf("topics %v have no leaders after 30s", names)
}

func produceN(t testing.TB, ctx context.Context, cl *kgo.Client, topic string, n int, size int) {
	t.Helper()
	pad := make([]byte, size)
	for i := range pad {
		pad[i] = 'x'
	}
	var failed atomic.Value
	for i := 0; i < n; i++ {
		v := fmt.Appendf(nil, "%08d|", i)
		if len(v) < size {
			v = append(v, pad[:size-len(v)]...)
		}
		cl.Produce(ctx, &kgo.Record{
			Topic: topic, Key: fmt.Appendf(nil, "patient-%d", i%997), Value: v,
			Headers: []kgo.RecordHeader{{Key: "ce_id", Value: fmt.Appendf(nil, "id-%d", i)}},
		}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// readExactlyOnce reads topic read_committed until n distinct values have
// arrived, failing on any duplicate, and returns the longest pause between
// two records (the interruption a reader saw).
func readExactlyOnce(t testing.TB, ctx context.Context, brokers []string, topic string, n int) time.Duration {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := make(map[string]bool, n)
	var longest time.Duration
	last := time.Time{}
	for len(seen) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s before the deadline", len(seen), n, topic)
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			id := string(r.Value[:8])
			if seen[id] {
				t.Errorf("record %s read twice", id)
			}
			seen[id] = true
			if len(r.Headers) != 1 || r.Headers[0].Key != "ce_id" {
				t.Errorf("record %s lost its headers: %v", id, r.Headers)
			}
		})
		if fs.NumRecords() > 0 {
			if !last.IsZero() && now.Sub(last) > longest {
				longest = now.Sub(last)
			}
			last = now
		}
	}
	return longest
}

func TestStageMovesEveryRecordExactlyOnceAcrossACrash(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 3*time.Minute)
	in, out := kc.Name("in"), kc.Name("out")
	createTopics(t, ctx, kc.Admin(t), 6, -1, in, out)
	const n = 20000
	produceN(t, ctx, kc.Client(t, kgo.ProducerLinger(5*time.Millisecond)), in, n, 100)

	cfg := eos.Config{
		Name: "copy", Group: kc.Name("copy"), Input: []string{in}, TransactionalID: kc.Name("copy-1"),
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, MaxBatch: 500, Log: quietLog(),
	}
	// The first instance dies abruptly a third of the way through: its
	// context ends mid-batch, the transaction is never committed.
	crashCtx, crash := context.WithCancel(ctx)
	first := &copier{to: out, crashAt: n / 3, crash: crash}
	s1, err := eos.New(cfg, first)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Run(crashCtx); err != nil {
		t.Fatalf("first instance: %v", err)
	}
	if first.seen.Load() < n/3 {
		t.Fatalf("first instance saw %d records before crashing", first.seen.Load())
	}

	// Its successor takes the same transactional id and the same group.
	second := &copier{to: out}
	s2, err := eos.New(cfg, second)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s2.Run(runCtx) }()
	readExactlyOnce(t, ctx, kc.Brokers, out, n)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s2.Stats.Committed.Load() == 0 {
		t.Fatal("the successor committed nothing")
	}
	t.Logf("first instance transformed %d records before its crash; the successor %d, in %d transactions (%d aborted)",
		first.seen.Load(), second.seen.Load(), s2.Stats.Committed.Load(), s2.Stats.Aborted.Load())
}

func TestStageReadyOnceJoined(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	in := kc.Name("in")
	createTopics(t, ctx, kc.Admin(t), 2, -1, in)
	s, err := eos.New(eos.Config{
		Name: "ready", Group: kc.Name("ready"), Input: []string{in}, TransactionalID: kc.Name("ready-1"),
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, Log: quietLog(),
	}, &copier{to: in})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err == nil {
		t.Fatal("ready before running")
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = s.Run(runCtx) }()
	for s.Ready() != nil {
		if ctx.Err() != nil {
			t.Fatal("never joined")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ticker copies records and, on each tick, writes one record of its own.
type ticker struct {
	copier
	ticks atomic.Int64
}

func (tk *ticker) Due() bool { return true }

func (tk *ticker) Tick(_ context.Context, out *eos.Output) error {
	n := tk.ticks.Add(1)
	out.Emit(&kgo.Record{Topic: tk.to, Key: []byte("tick"), Value: fmt.Appendf(nil, "tick %d", n)})
	return nil
}

// TestTicksAndRecordsInterleave: a stage that ticks keeps consuming
// records written before, between and after its ticks; each record is
// copied once, and each tick's record is committed.
func TestTicksAndRecordsInterleave(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	cl := kc.Client(t)
	in, out := kc.Name("in"), kc.Name("out")
	createTopics(t, ctx, kadm.NewClient(cl), 3, -1, in, out)
	tk := &ticker{copier: copier{to: out}}
	s, err := eos.New(eos.Config{Name: "tick", Group: kc.Name("g"), Input: []string{in}, TransactionalID: kc.Name("tx"),
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, TickEvery: 100 * time.Millisecond, Log: quietLog()}, tk)
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() {
		stop()
		<-done
	}()
	produceN(t, ctx, cl, in, 10, 10)
	for round := 1; round <= 3; round++ {
		start := tk.ticks.Load()
		for tk.ticks.Load() < start+2 && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		produceN(t, ctx, cl, in, 10, 10)
		for tk.seen.Load() < int64(10*(round+1)) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		if got := tk.seen.Load(); got != int64(10*(round+1)) {
			t.Fatalf("round %d: %d records copied after %d ticks, want %d", round, got, tk.ticks.Load(), 10*(round+1))
		}
	}
}

// slowPreparer is a copier whose work on each batch takes delay.
type slowPreparer struct {
	copier
	delay time.Duration
}

func (s *slowPreparer) Prepare(context.Context, []*kgo.Record) { time.Sleep(s.delay) }

// egisz_stage_seconds_total: each transaction's time is split between the
// stage's own work, writing, and ending it, and the split adds up.
func TestStageTimesEachPhase(t *testing.T) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	in, out := kc.Name("in"), kc.Name("out")
	createTopics(t, ctx, kc.Admin(t), 2, -1, in, out)
	const n, delay = 2000, 20 * time.Millisecond
	produced := time.Now()
	produceN(t, ctx, kc.Client(t, kgo.ProducerLinger(5*time.Millisecond)), in, n, 100)
	s, err := eos.New(eos.Config{
		Name: "copy", Group: kc.Name("copy"), Input: []string{in}, TransactionalID: kc.Name("copy-1"),
		ClientOpts: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, MaxBatch: 200, Log: quietLog(),
	}, &slowPreparer{copier: copier{to: out}, delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Run(runCtx) }()
	for s.Stats.In.Load() < n && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	txns := s.Stats.Committed.Load() + s.Stats.Aborted.Load()
	work, write, end := time.Duration(s.Stats.Work.Load()), time.Duration(s.Stats.Write.Load()), time.Duration(s.Stats.End.Load())
	t.Logf("%d transactions in %s: work %s, write %s, end %s", txns, took.Round(time.Millisecond), work, write, end)
	if txns == 0 || work < time.Duration(txns)*delay {
		t.Errorf("work %s over %d transactions, each of which took %s of work", work, txns, delay)
	}
	if write <= 0 || end <= 0 {
		t.Errorf("write %s, end %s: every transaction writes and ends", write, end)
	}
	if sum := work + write + end; sum > took {
		t.Errorf("the phases add up to %s, more than the %s the stage ran", sum, took)
	}
	// Every transaction is in the duration histogram, which took as long
	// as its phases.
	h := testtool.Histogram(t, eos.NewCollector(map[string]*eos.Stats{"s": &s.Stats}), "egisz_stage_transaction_duration_seconds")
	if h == nil || h.GetSampleCount() != uint64(txns) {
		t.Fatalf("histogram %v, the stage ran %d transactions", h, txns)
	}
	if d := time.Duration(h.GetSampleSum() * float64(time.Second)); d < work+write+end || d > took {
		t.Errorf("the histogram sums %s, want between the phases' %s and the %s the stage ran", d, work+write+end, took)
	}
	// Every record read is in the age histogram (a read again after an
	// abort twice), each no older than the first produce, and on average
	// older than nothing: they waited for the stage to start and for the
	// batches before theirs.
	age := testtool.Histogram(t, eos.NewCollector(map[string]*eos.Stats{"s": &s.Stats}), "egisz_stage_record_age_seconds")
	if age == nil || age.GetSampleCount() < n {
		t.Fatalf("age histogram %v, the stage read %d records", age, n)
	}
	mean := time.Duration(age.GetSampleSum() / float64(age.GetSampleCount()) * float64(time.Second))
	if oldest := time.Since(produced); mean <= 0 || mean > oldest {
		t.Errorf("records were %s old on average when taken, want more than 0 and at most the %s since the first was produced", mean, oldest)
	}
}
