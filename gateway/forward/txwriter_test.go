package forward

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
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
	w := runTxWriter(t, ctx, []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.ProducerBatchMaxBytes(2000)}, c.Name("writer"))

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
	// Each transaction, committed or aborted, is in the duration histogram.
	h := testtool.Histogram(t, eos.NewCollector(map[string]*eos.Stats{"w": &w.stats}), "egisz_stage_transaction_duration_seconds")
	if got, want := h.GetSampleCount(), uint64(w.stats.Committed.Load()+w.stats.Aborted.Load()); got != want {
		t.Errorf("egisz_stage_transaction_duration_seconds counts %d transactions, want %d", got, want)
	}
}

// A commit whose outcome the coordinator never gave (it went away, as
// when the active controller is killed) leaves franz-go's transaction
// open. The writer aborts it, so the callbacks that follow are written
// and the failed one is not, instead of every later transaction being
// refused with "already in a transaction".
func TestTxWriterRecoversFromAnUnconfirmedCommit(t *testing.T) {
	cases := []struct {
		name string
		// fail makes the broker fail the commit, and maybe more.
		fail func(c *kfake.Cluster)
		// wantRenewed: the clients the writer had to replace.
		wantRenewed int
	}{
		{name: "commit answered with an unknown error", fail: func(c *kfake.Cluster) {
			failOnce(c, kmsg.EndTxn, func(req kmsg.Request) kmsg.Response {
				resp := req.(*kmsg.EndTxnRequest).ResponseKind().(*kmsg.EndTxnResponse)
				resp.ErrorCode = kerr.UnknownServerError.Code
				return resp
			})
		}},
		{name: "commit fails, and the abort leaves the producer id failed", wantRenewed: 1, fail: func(c *kfake.Cluster) {
			failOnce(c, kmsg.EndTxn, func(req kmsg.Request) kmsg.Response {
				resp := req.(*kmsg.EndTxnRequest).ResponseKind().(*kmsg.EndTxnResponse)
				resp.ErrorCode = kerr.UnknownServerError.Code
				// The abort of an unknown outcome reloads the producer id.
				failOnce(c, kmsg.InitProducerID, func(req kmsg.Request) kmsg.Response {
					resp := req.(*kmsg.InitProducerIDRequest).ResponseKind().(*kmsg.InitProducerIDResponse)
					resp.ErrorCode = kerr.UnknownServerError.Code
					return resp
				})
				return resp
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Faults are injected into the broker, which only kfake allows.
			fake, err := kfake.NewCluster(kfake.NumBrokers(1))
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			ctx := kafkatest.Context(t, time.Minute)
			seed := []kgo.Opt{kgo.SeedBrokers(fake.ListenAddrs()...)}
			cl, err := kgo.NewClient(seed...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			const topic = "out"
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			w := runTxWriter(t, ctx, seed, "writer")
			write := func(v string) error {
				return w.write(ctx, []*kgo.Record{{Topic: topic, Value: []byte(v)}})
			}

			if err := write("before"); err != nil {
				t.Fatalf("first write: %v", err)
			}
			tc.fail(fake)
			if err := write("lost"); err == nil {
				t.Fatal("a commit the broker failed was reported written")
			}
			for _, v := range []string{"after", "and after"} {
				if err := write(v); err != nil {
					t.Fatalf("write %q after the failed commit: %v", v, err)
				}
			}
			if got, want := committedValues(t, ctx, seed, topic, 3), []string{"before", "after", "and after"}; !slices.Equal(got, want) {
				t.Errorf("committed %q, want %q", got, want)
			}
			if got := w.stats.Aborted.Load(); got != 1 {
				t.Errorf("aborted: %d, want 1", got)
			}
			if got := w.stats.Renewed.Load(); got != int64(tc.wantRenewed) {
				t.Errorf("clients renewed: %d, want %d", got, tc.wantRenewed)
			}
		})
	}
}

// runTxWriter starts a writer of txnID that runs until the test ends.
func runTxWriter(t *testing.T, ctx context.Context, opts []kgo.Opt, txnID string) *txWriter {
	t.Helper()
	w, err := newTxWriter(opts, txnID, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = w.run(runCtx)
	}()
	t.Cleanup(func() {
		stop()
		<-stopped
		w.close()
	})
	return w
}

// failOnce answers the next request of key with what answer makes of it.
func failOnce(c *kfake.Cluster, key kmsg.Key, answer func(kmsg.Request) kmsg.Response) {
	c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
		return answer(req), nil, true
	})
}

// committedValues reads want committed records of topic.
func committedValues(t *testing.T, ctx context.Context, seed []kgo.Opt, topic string, want int) []string {
	t.Helper()
	cl, err := kgo.NewClient(append(seed, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for len(got) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	// Anything more, committed after all, would come with these.
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	return got
}

// A gateway killed in the middle of a callback transaction leaves it open,
// and no read_committed reader of the pending topic reads past it until it
// times out: the restarted instance's own pending table included, which
// callbacks wait for. In the reliability suite's SIGKILL runs that table
// took 42 s to load after a restart, and over a thousand callbacks were
// turned away meanwhile ("pending documents are still loading"). The
// writer now fences its predecessor as it starts.
func TestTxWriterFencesItsPredecessorsOpenTransactionAtOnce(t *testing.T) {
	c := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	topic, id := c.Name("pending"), c.Name("writer")
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	seed := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	// The predecessor writes a record in a transaction and dies: its
	// transaction would hold for a minute.
	dead, err := kgo.NewClient(append(seed, kgo.TransactionalID(id), kgo.TransactionTimeout(time.Minute))...)
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := dead.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := dead.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("uncommitted")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stable := func() int64 {
		ends, err := c.Admin(t).ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ends.Lookup(topic, 0)
		return o.Offset
	}
	if got := stable(); got != 0 {
		t.Fatalf("last stable offset %d with the transaction open, want 0", got)
	}

	runTxWriter(t, ctx, seed, id) // it writes nothing
	for start := time.Now(); stable() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 15*time.Second {
			t.Fatal("the predecessor's transaction still holds readers back after 15 s")
		}
	}
}
