package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// gatewayBinary builds egisz-gateway once per test run, so tests can kill it.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "egisz-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "egisz-gateway")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// gatewayProcess is `egisz-gateway run` as a child process.
type gatewayProcess struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
	log    *testtool.Buffer
}

// startGateway starts `egisz-gateway run`; env adds NAME=value settings.
func startGateway(t *testing.T, kc *kafkatest.Cluster, instance string, env ...string) *gatewayProcess {
	t.Helper()
	cmd := exec.Command(gatewayBinary(t), "run")
	cmd.Env = append(os.Environ(),
		"EGISZ_KAFKA_BROKERS="+joinBrokers(kc.Brokers),
		"EGISZ_TOPIC_PREFIX="+kc.Prefix,
		"EGISZ_INSTANCE_ID="+instance,
		"EGISZ_HTTP_LISTEN="+testtool.FreeAddr(t),
		"EGISZ_LOG_LEVEL="+envOr("EGISZ_E2E_LOG_LEVEL", "warn"),
		"EGISZ_NORMALIZE_MAX_BATCH=200",
	)
	cmd.Env = append(cmd.Env, env...)
	g := &gatewayProcess{cmd: cmd, exited: make(chan struct{}), log: &testtool.Buffer{}}
	cmd.Stdout, cmd.Stderr = g.log, g.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(g.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-g.exited
		if t.Failed() || os.Getenv("EGISZ_E2E_LOG_LEVEL") != "" {
			t.Logf("gateway %s log:\n%s", instance, g.log.String())
		}
	})
	return g
}

func joinBrokers(bs []string) string {
	out := ""
	for i, b := range bs {
		if i > 0 {
			out += ","
		}
		out += b
	}
	return out
}

// example returns a docs example as a map to change.
func example(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(topics.Example(name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

type sent struct {
	ceID, want string
}

func caseRecord(t *testing.T, prefix string, snils string, ext string, version int, extraDiag bool, ceID string) *kgo.Record {
	m := example(t, "case.json")
	p := m["patient"].(map[string]any)
	p["snils"] = snils
	delete(p, "enp")
	m["case_id"].(map[string]any)["extension"] = ext
	m["version"] = version
	if extraDiag {
		m["diagnoses"] = append(m["diagnoses"].([]any), map[string]any{"code": "E11.9", "role": "accompanying"})
	}
	b, _ := json.Marshal(m)
	return &kgo.Record{Topic: prefix + topics.RMISCase, Key: []byte(snils), Value: b, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte("ru.egisz.rmis.case.v1")},
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
	}}
}

func seedReferences(t *testing.T, ctx context.Context, cl *kgo.Client, prefix string) {
	t.Helper()
	for _, r := range []*kgo.Record{
		{Topic: prefix + topics.FRMREmployee, Key: []byte("12345678964"), Value: topics.Example("employee.json")},
		{Topic: prefix + topics.FRMOOrganization, Key: []byte("1.2.643.5.1.13.13.12.1.42.202"), Value: topics.Example("organization.json")},
	} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// mixedStream is a stream of treatment cases for n patients with
// duplicates, updates, conflicts and invalid records, with the outcome each
// must get and how many records must reach ИЭМК.
type mixedStream struct {
	events    []*kgo.Record
	want      []sent
	forwarded int
}

func newMixedStream(t *testing.T, prefix string, patients int) *mixedStream {
	m := &mixedStream{}
	add := func(r *kgo.Record, outcome string) {
		m.events = append(m.events, r)
		m.want = append(m.want, sent{string(r.Headers[1].Value), outcome})
	}
	for i := 0; i < patients; i++ {
		snils := ident.MakeSNILS(200_000_000 + i*7)
		ext := fmt.Sprintf("TAP-%d", i)
		id := func(s string) string { return fmt.Sprintf("p%d-%s", i, s) }
		switch i % 10 {
		case 0: // a broken СНИЛС: rejected
			bad := snils[:9] + fmt.Sprintf("%02d", (int(snils[9]-'0')*10+int(snils[10]-'0')+1)%100)
			add(caseRecord(t, prefix, bad, ext, 2, false, id("bad")), "rejected")
		case 1: // sent twice
			add(caseRecord(t, prefix, snils, ext, 2, false, id("orig")), "accepted")
			add(caseRecord(t, prefix, snils, ext, 2, false, id("again")), "duplicate")
			m.forwarded++
		case 2: // updated
			add(caseRecord(t, prefix, snils, ext, 2, false, id("orig")), "accepted")
			add(caseRecord(t, prefix, snils, ext, 3, true, id("v3")), "update")
			m.forwarded += 2
		case 3: // changed without a new version
			add(caseRecord(t, prefix, snils, ext, 2, false, id("orig")), "accepted")
			add(caseRecord(t, prefix, snils, ext, 2, true, id("changed")), "conflict")
			m.forwarded++
		default:
			add(caseRecord(t, prefix, snils, ext, 2, false, id("orig")), "accepted")
			m.forwarded++
		}
	}
	return m
}

// check asserts the invariant: every event exactly one outcome, the right
// one, and every accepted event in the ИЭМК outbound topic exactly once.
func (m *mixedStream) check(t *testing.T, ctx context.Context, kc *kafkatest.Cluster, status *statusReader) {
	t.Helper()
	status.waitFor(t, ctx, len(m.want))
	time.Sleep(2 * time.Second) // anything written twice would show up now
	got := status.snapshot(t, ctx)
	for _, w := range m.want {
		outs := got[w.ceID]
		if len(outs) != 1 {
			t.Errorf("%s: %d outcomes %v, want exactly one", w.ceID, len(outs), outs)
			continue
		}
		if outs[0] != w.want {
			t.Errorf("%s: outcome %s, want %s", w.ceID, outs[0], w.want)
		}
	}
	if len(got) != len(m.want) {
		t.Errorf("%d events have outcomes, %d were sent", len(got), len(m.want))
	}
	out := readAll(t, ctx, kc, kc.Prefix+topics.Outbound(topics.RegistryIEMK), m.forwarded)
	seen := map[string]bool{}
	for _, r := range out {
		var ev topics.OutboundEvent
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%s@%d", ev.DedupKey, ev.Version)
		if seen[k] {
			t.Errorf("outbound %s written twice", k)
		}
		seen[k] = true
		if string(r.Key) != ev.PatientKey {
			t.Errorf("outbound keyed %q, patient %q", r.Key, ev.PatientKey)
		}
	}
	if len(out) != m.forwarded {
		t.Errorf("%d outbound records, want %d", len(out), m.forwarded)
	}
}

func prepareCluster(t *testing.T) (*kafkatest.Cluster, context.Context, *kgo.Client) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 4*time.Minute)
	cl := kc.Client(t, kgo.ProducerLinger(2*time.Millisecond))
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Default().WithPrefix(kc.Prefix), -1); err != nil {
		t.Fatal(err)
	}
	seedReferences(t, ctx, cl, kc.Prefix)
	return kc, ctx, cl
}

// TestNormalizeKilledMidStreamGivesEveryEventOneOutcome runs the gateway
// binary over a mixed stream, SIGKILLs it a third of the way through,
// starts another with the same instance id, and checks the invariant; then
// re-sends originals, which must be duplicates: the state was restored.
func TestNormalizeKilledMidStreamGivesEveryEventOneOutcome(t *testing.T) {
	kc, ctx, cl := prepareCluster(t)
	m := newMixedStream(t, kc.Prefix, 1500)
	first := startGateway(t, kc, "it-1")
	status := newStatusReader(t, kc)
	half := len(m.events) / 2
	produceAll(t, ctx, cl, m.events[:half])
	status.waitFor(t, ctx, len(m.want)/3)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	killedAt := status.count()
	produceAll(t, ctx, cl, m.events[half:])
	start := time.Now()
	startGateway(t, kc, "it-1")
	status.waitFor(t, ctx, len(m.want))
	t.Logf("killed after %d of %d outcomes; the successor finished the rest in %s", killedAt, len(m.want), time.Since(start).Round(time.Millisecond))

	var resend []*kgo.Record
	for i := 1; i < 1500; i += 10 {
		snils := ident.MakeSNILS(200_000_000 + i*7)
		r := caseRecord(t, kc.Prefix, snils, fmt.Sprintf("TAP-%d", i), 2, false, fmt.Sprintf("p%d-late", i))
		resend = append(resend, r)
		m.want = append(m.want, sent{string(r.Headers[1].Value), "duplicate"})
	}
	produceAll(t, ctx, cl, resend)
	m.check(t, ctx, kc, status)
}

// TestNormalizeRebalanceGivesEveryEventOneOutcome starts a second
// instance mid-stream: partitions move between instances while both
// process, batches in flight abort, and the invariant still holds.
func TestNormalizeRebalanceGivesEveryEventOneOutcome(t *testing.T) {
	kc, ctx, cl := prepareCluster(t)
	m := newMixedStream(t, kc.Prefix, 1500)
	startGateway(t, kc, "it-a")
	status := newStatusReader(t, kc)
	third := len(m.events) / 3
	produceAll(t, ctx, cl, m.events[:third])
	status.waitFor(t, ctx, len(m.want)/5)
	startGateway(t, kc, "it-b") // joins: the group rebalances mid-stream
	produceAll(t, ctx, cl, m.events[third:2*third])
	time.Sleep(300 * time.Millisecond)
	startGateway(t, kc, "it-c") // and again
	produceAll(t, ctx, cl, m.events[2*third:])
	m.check(t, ctx, kc, status)
}

// produceAll produces rs, each РЭМД outbound document after its file's
// record in the document store (withStoredDocuments).
func produceAll(t *testing.T, ctx context.Context, cl *kgo.Client, rs []*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(ctx, withStoredDocuments(t, rs)...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// statusReader follows the status topic (read_committed) in the background.
type statusReader struct {
	mu   sync.Mutex
	outs map[string][]string
	n    int
}

func newStatusReader(t *testing.T, kc *kafkatest.Cluster) *statusReader {
	s := &statusReader{outs: map[string][]string{}}
	cl := kc.Client(t, kgo.ConsumeTopics(kc.Prefix+topics.StatusTopic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			s.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				var st topics.Status
				if json.Unmarshal(r.Value, &st) == nil {
					o := st.Outcome
					if st.Registry != "" { // the forward stage's: "iemk:registered"
						o = st.Registry + ":" + o
					}
					s.outs[st.CEID] = append(s.outs[st.CEID], o)
					s.n++
				}
			})
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *statusReader) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *statusReader) waitFor(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for s.count() < n {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d outcomes before the deadline", s.count(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *statusReader) snapshot(t *testing.T, _ context.Context) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]string, len(s.outs))
	for k, v := range s.outs {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// readAll reads a topic read_committed until it has n records, then a
// moment longer for any extra.
func readAll(t *testing.T, ctx context.Context, kc *kafkatest.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := kc.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	deadline := time.Time{}
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) >= n && deadline.IsZero() {
			deadline = time.Now().Add(time.Second)
		}
		if (!deadline.IsZero() && time.Now().After(deadline)) || ctx.Err() != nil {
			return out
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// TestNormalizeCrossPatientDuplicateSurvivesKillAndRebalance sends one
// case for patient A, kills the gateway, starts two instances (the
// partitions, and the business id's owner with them, may move), and sends
// the same case (same MO and case id) for patient B: a conflict,
// CROSS_PATIENT_DUPLICATE, parked with both patients masked, and ИЭМК
// receives the case once, for A. Without the owner check B's case is a new
// dedup key and is accepted and forwarded: seed error 5.
func TestNormalizeCrossPatientDuplicateSurvivesKillAndRebalance(t *testing.T) {
	kc, ctx, cl := prepareCluster(t)
	a, b := ident.MakeSNILS(310_000_001), ident.MakeSNILS(310_000_002)
	first := startGateway(t, kc, "xp-1")
	status := newStatusReader(t, kc)
	produceAll(t, ctx, cl, []*kgo.Record{caseRecord(t, kc.Prefix, a, "XP-1", 2, false, "xp-a")})
	status.waitFor(t, ctx, 1)
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	startGateway(t, kc, "xp-1")
	startGateway(t, kc, "xp-2")
	produceAll(t, ctx, cl, []*kgo.Record{
		caseRecord(t, kc.Prefix, b, "XP-1", 2, false, "xp-b"),       // A's case under B
		caseRecord(t, kc.Prefix, b, "XP-2", 2, false, "xp-b-own"),   // B's own case
		caseRecord(t, kc.Prefix, a, "XP-1", 3, true, "xp-a-update"), // A's case, updated
	})
	m := &mixedStream{want: []sent{{"xp-a", "accepted"}, {"xp-b", "conflict"}, {"xp-b-own", "accepted"}, {"xp-a-update", "update"}}, forwarded: 3}
	m.check(t, ctx, kc, status)

	parked := readAll(t, ctx, kc, kc.Prefix+topics.DLQIngress, 1)
	if len(parked) != 1 {
		t.Fatalf("%d parked records, want 1", len(parked))
	}
	hs := map[string]string{}
	for _, h := range parked[0].Headers {
		hs[h.Key] = string(h.Value)
	}
	msg := hs["dlq.message"]
	if hs["dlq.reason"] != "CROSS_PATIENT_DUPLICATE" || string(parked[0].Key) != b {
		t.Errorf("parked %q with reason %q, want B's case with CROSS_PATIENT_DUPLICATE", parked[0].Key, hs["dlq.reason"])
	}
	for _, snils := range []string{a, b} {
		if !strings.Contains(msg, ident.MaskSNILS(snils)) || strings.Contains(msg, snils) {
			t.Errorf("dlq.message %q: want %s masked, never in clear", msg, snils)
		}
	}

	// Sent again once the refusal is back in B's partition (the dedup
	// entry it wrote there is deleted: a tombstone in the changelog):
	// refused again, not a duplicate of something never forwarded.
	kafkatest.NewReader(t, kc, kc.Prefix+topics.NormalizeState).Wait(t, ctx, func(rs []*kgo.Record) bool {
		for _, r := range rs {
			if r.Value == nil {
				return true
			}
		}
		return false
	})
	produceAll(t, ctx, cl, []*kgo.Record{caseRecord(t, kc.Prefix, b, "XP-1", 2, false, "xp-b-again")})
	m.want = append(m.want, sent{"xp-b-again", "conflict"})
	m.check(t, ctx, kc, status)
}
