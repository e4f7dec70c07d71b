package pending

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/seam"
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
	// released are the MessageIDs of the messages the runtime did not
	// act on (Release).
	released []string
}

// Fault answers as the test adapter's protocol would: "fault: " and the
// text, with the status.
func (s *testStage) Fault(_ string, status int, text string) seam.Answer {
	return seam.Answer{Status: status, ContentType: "text/x-test-fault", Body: []byte("fault: " + text)}
}

// Release records that the runtime did not act on in.
func (s *testStage) Release(in seam.Inbound) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = append(s.released, in.MessageID)
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

// Inbound plays the registry's adapter: a message is JSON,
// {"auth", "kind", "message_id", "request_id", "relates_to", "status",
// "emdr_id", "local_uid"} (status success, error, or retry: a transient
// error the document is sent again for). auth stands for what the adapter's signature
// check found: empty is a message signed by the registry, a
// seam.AuthFailure one the adapter refuses for it. kind "file" is a file
// request; anything else a result, naming its document by request_id
// (the ce_id) or relates_to (the MessageID of the call it answers).
func (s *testStage) Inbound(_ context.Context, contentType string, body []byte) (seam.Inbound, error) {
	var m struct {
		Auth      seam.AuthFailure `json:"auth"`
		Kind      string           `json:"kind"`
		MessageID string           `json:"message_id"`
		RequestID string           `json:"request_id"`
		RelatesTo string           `json:"relates_to"`
		EMDRID    string           `json:"emdr_id"`
		Status    string           `json:"status"`
		LocalUID  string           `json:"local_uid"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return seam.Inbound{}, errors.New("not JSON")
	}
	if m.Auth != "" {
		return seam.Inbound{}, fmt.Errorf("test adapter: %w", &seam.AuthError{Failure: m.Auth})
	}
	if m.Kind == "file" {
		return seam.Inbound{Kind: seam.InboundFileRequest, MessageID: m.MessageID, LocalUID: m.LocalUID}, nil
	}
	if m.RequestID == "" && m.RelatesTo == "" {
		return seam.Inbound{}, errors.New("no request_id")
	}
	return seam.Inbound{Kind: seam.InboundResult, MessageID: m.MessageID, Result: CallbackResult{
		RequestID: m.RequestID, MessageID: m.RelatesTo, Registered: m.Status == "success" || m.Status == "",
		Retry: m.Status == "retry", RegistryID: m.EMDRID}}, nil
}

// testAnswer is the test adapter's answer, as JSON.
type testAnswer struct {
	RelatesTo string `json:"relates_to"`
	Found     bool   `json:"found"`
	LocalUID  string `json:"local_uid"`
	MediaType string `json:"media_type"`
	Data      []byte `json:"data"`
}

// Answer answers in as JSON: what it relates to, and a file request's file.
func (s *testStage) Answer(_ context.Context, in seam.Inbound, f seam.File) seam.Answer {
	b, _ := json.Marshal(testAnswer{RelatesTo: in.MessageID, Found: f.Found, LocalUID: f.LocalUID, MediaType: f.MediaType, Data: f.Data})
	return seam.Answer{Status: http.StatusOK, ContentType: "application/json", Body: b}
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
