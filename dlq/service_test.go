package dlq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// parkedCluster is a cluster with the catalog and n records parked by the
// normalize stage in the ingress DLQ.
func parkedCluster(t testing.TB, n int) (*kafkatest.Cluster, context.Context) {
	t.Helper()
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 3*time.Minute)
	cl := kc.Client(t, kgo.ProducerLinger(time.Millisecond))
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Default().WithPrefix(kc.Prefix), -1); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := range n {
		orig := &kgo.Record{Topic: kc.Prefix + topics.RMISCase, Partition: int32(i % 6), Offset: int64(i), Timestamp: time.Now(),
			Key: fmt.Appendf(nil, "patient-%d", i%40), Value: fmt.Appendf(nil, `{"n":%d}`, i),
			Headers: []kgo.RecordHeader{{Key: "ce_id", Value: fmt.Appendf(nil, "ev-%d", i)}}}
		recs = append(recs, record.Park(kc.Prefix+topics.DLQIngress, orig, record.Failure{Reason: "SNILS_CHECKSUM", Owner: "clinic", Stage: "normalize"}))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return kc, ctx
}

func newService(t testing.TB, kc *kafkatest.Cluster) *Service {
	t.Helper()
	s, err := New(Config{KafkaOpt: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)}, Prefix: kc.Prefix, Catalog: topics.Default()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// replayedEvents counts, per ce_id, the records that reached the ingress
// topic (committed ones only).
func replayedEvents(t *testing.T, ctx context.Context, s *Service) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := s.readTopics(ctx, []string{s.cfg.Prefix + topics.RMISCase}, func(r *kgo.Record) {
		for _, h := range r.Headers {
			if h.Key == "ce_id" {
				got[string(h.Value)]++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func checkOnce(t *testing.T, got map[string]int, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%d events replayed, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s replayed %d times", id, c)
		}
	}
}

var operator = Actor{Name: "test", Role: RoleOperator, Via: "test"}

// TestConcurrentReplaysSendEachRecordOnce: two processes replay the same
// records at once. The later one fences the earlier (the shared
// transactional id), which stops with an error; whatever each committed
// is marked, so a last replay sends only the rest. Every record arrives
// exactly once.
func TestConcurrentReplaysSendEachRecordOnce(t *testing.T) {
	const n = 400
	kc, ctx := parkedCluster(t, n)
	a, b := newService(t, kc), newService(t, kc)
	var wg sync.WaitGroup
	results := make([]ReplayResult, 2)
	errs := make([]error, 2)
	firstBatch := make(chan struct{})
	var once sync.Once
	wg.Add(2)
	go func() {
		defer wg.Done()
		results[0], errs[0] = a.Replay(ctx, operator, ReplayRequest{Rate: 200, Progress: func(int, int) { once.Do(func() { close(firstBatch) }) }})
	}()
	go func() {
		defer wg.Done()
		<-firstBatch // the first has committed a batch and is in its second
		results[1], errs[1] = b.Replay(ctx, operator, ReplayRequest{Rate: 1000})
	}()
	wg.Wait()
	if results[0].Replayed != 200 || !errors.Is(errs[0], ErrFenced) {
		t.Errorf("first replay: %d sent, %v; want its first batch of 200, then fenced", results[0].Replayed, errs[0])
	}
	t.Logf("first: %d sent, err %v; second: %d sent, err %v", results[0].Replayed, errs[0], results[1].Replayed, errs[1])
	last, err := a.Replay(ctx, operator, ReplayRequest{Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if total := results[0].Replayed + results[1].Replayed + last.Replayed; total != n {
		t.Errorf("replays sent %d+%d+%d records, want %d in all", results[0].Replayed, results[1].Replayed, last.Replayed, n)
	}
	if last.Skipped[skipReplayed]+last.Replayed != n {
		t.Errorf("last replay: %+v", last)
	}
	checkOnce(t, replayedEvents(t, ctx, a), n)
}

// TestInterruptedReplayResumes: a replay stopped half-way (the operator
// pressed Ctrl-C) keeps what it committed; running it again sends the
// rest, nothing twice. Progress is reported batch by batch.
func TestInterruptedReplayResumes(t *testing.T) {
	const n = 120
	kc, ctx := parkedCluster(t, n)
	s := newService(t, kc)
	stop, cancel := context.WithCancel(ctx)
	var progress []int
	res, err := s.Replay(stop, operator, ReplayRequest{Rate: 40, Progress: func(done, total int) {
		progress = append(progress, done)
		if total != n {
			t.Errorf("progress total %d, want %d", total, n)
		}
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || res.Replayed != 40 || len(progress) != 1 {
		t.Fatalf("interrupted replay: %d sent, progress %v, err %v; want the first batch of 40 and a cancellation", res.Replayed, progress, err)
	}
	rest, err := s.Replay(ctx, operator, ReplayRequest{Rate: 1000})
	if err != nil || rest.Replayed != n-40 || rest.Skipped[skipReplayed] != 40 {
		t.Fatalf("resumed replay: %+v, %v", rest, err)
	}
	checkOnce(t, replayedEvents(t, ctx, s), n)
}

// TestReplayIsPaced: a replay at 100 records a second takes about as
// long as the rate says; the pacing is what protects the stages and the
// registries from a burst after an outage.
func TestReplayIsPaced(t *testing.T) {
	const n = 150
	kc, ctx := parkedCluster(t, n)
	s := newService(t, kc)
	start := time.Now()
	res, err := s.Replay(ctx, operator, ReplayRequest{Rate: 100})
	took := time.Since(start)
	if err != nil || res.Replayed != n {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	if min := 1400 * time.Millisecond; took < min {
		t.Errorf("150 records at 100/s took %s; the pacing allows no less than %s", took, min)
	}
}

// TestDeniedActionsAreAudited: a viewer's replay and purge and an
// operator's read of the audit log are refused and each refusal is in the
// audit log.
func TestDeniedActionsAreAudited(t *testing.T) {
	kc, ctx := parkedCluster(t, 3)
	s := newService(t, kc)
	viewer := Actor{Name: "vera", Role: RoleViewer, Via: "test"}
	_, err1 := s.Replay(ctx, viewer, ReplayRequest{})
	_, err2 := s.Purge(ctx, viewer, PurgeRequest{Reason: "x"})
	_, err3 := s.Show(ctx, viewer, ID{topics.DLQIngress, 0, 0}, true)
	_, err4 := s.ReadAudit(ctx, operator, 10)
	for i, err := range []error{err1, err2, err3, err4} {
		var d *DeniedError
		if !errors.As(err, &d) {
			t.Errorf("call %d: %v, want a refusal", i, err)
		}
	}
	recs, err := s.ReadAudit(ctx, Actor{Name: "anna", Role: RoleAuditor, Via: "test"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"vera replay": true, "vera purge": true, "vera reveal": true, "test audit": true}
	for _, r := range recs {
		if r.Outcome == "denied" {
			delete(want, r.Actor+" "+r.Action)
		}
	}
	if len(want) > 0 {
		t.Errorf("refusals missing from the audit log: %v (log: %+v)", want, recs)
	}
}
