package pending

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// pendingCluster is a test cluster with РЭМД's pending topic, the
// catalog of its prefix, and a context that bounds the test.
func pendingCluster(t *testing.T) (*kafkatest.Cluster, context.Context, topics.Catalog) {
	t.Helper()
	c := kafkatest.New(t)
	ctx := kafkatest.Context(t, time.Minute)
	cat := topics.Default().WithPrefix(c.Prefix)
	topic := c.Prefix + topics.REMDPendingState
	tp, _ := cat.Lookup(topic)
	if _, err := c.Admin(t).CreateTopic(ctx, tp.Partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	return c, ctx, cat
}

// testStage plays the forward stage: it holds the partitions the test
// gives it, reads a callback as {"request_id", "emdr_id", "status"}
// ("error" rejects the document), and keeps the settlements whose
// records were written (counted).
type testStage struct {
	mu      sync.Mutex
	held    map[int32]bool
	settled []Settlement
	// lookups are the registry's answers by ce_id (none: NoLookup), and
	// looked the ce_ids asked about.
	lookups map[string]Lookup
	looked  []string
}

func (s *testStage) hold(parts ...int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		s.held[p] = true
	}
}

func (s *testStage) release(parts ...int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		delete(s.held, p)
	}
}

func (s *testStage) Owns(part int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held[part]
}

func (s *testStage) Settled(st Settlement, _ time.Time) ([]*kgo.Record, func()) {
	return nil, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.settled = append(s.settled, st)
	}
}

func (s *testStage) LookUp(_ context.Context, ceID string, _ []byte) Lookup {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.looked = append(s.looked, ceID)
	if lk, ok := s.lookups[ceID]; ok {
		return lk
	}
	return Lookup{Result: NoLookup}
}

func (s *testStage) ParseCallback(body []byte) (CallbackResult, error) {
	var cb struct {
		RequestID string `json:"request_id"`
		EMDRID    string `json:"emdr_id"`
		Status    string `json:"status"`
	}
	if err := json.Unmarshal(body, &cb); err != nil || cb.RequestID == "" {
		return CallbackResult{}, errors.New("no request_id")
	}
	return CallbackResult{RequestID: cb.RequestID, Registered: cb.Status != "error", RegistryID: cb.EMDRID}, nil
}

// produceWriter writes each group in one produce, durable once
// acknowledged. The forward stage gives a transactional writer that
// commits groups together; the settling tested here does not depend on
// which.
type produceWriter struct{ cl *kgo.Client }

func (w produceWriter) Write(ctx context.Context, recs []*kgo.Record) error {
	return w.cl.ProduceSync(ctx, recs...).FirstErr()
}

func (w produceWriter) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func (w produceWriter) Close() { w.cl.Close() }

// newTestPending is the pending documents of a test stage on cluster c.
func newTestPending(t *testing.T, c *kafkatest.Cluster, cat topics.Catalog, cb config.Callback, log *slog.Logger) (*Pending, *testStage) {
	t.Helper()
	topic := c.Prefix + topics.REMDPendingState
	tp, _ := cat.Lookup(topic)
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	stage := &testStage{held: map[int32]bool{}}
	p, err := New(Config{
		Topic: topic, Partitions: tp.Partitions, Outbound: c.Prefix + topics.Outbound(topics.RegistryREMD),
		Callback: cb, ClientOpts: opts, Writer: produceWriter{cl}, Metrics: NewMetrics(), Now: time.Now, Log: log,
	}, stage)
	if err != nil {
		cl.Close()
		t.Fatal(err)
	}
	return p, stage
}

// run runs p until the test ends, and waits for its table to load.
func run(t *testing.T, ctx context.Context, p *Pending) {
	t.Helper()
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- p.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-stopped })
	for p.Ready() != nil {
		if ctx.Err() != nil {
			t.Fatal("the pending table never loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// own gives the test stage partition part and waits until p settles its
// documents.
func own(t *testing.T, ctx context.Context, p *Pending, stage *testStage, part int32) {
	t.Helper()
	stage.hold(part)
	p.Assigned(ctx, []int32{part})
	for !p.owns(part) {
		if ctx.Err() != nil {
			t.Fatalf("never settles partition %d's documents", part)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
