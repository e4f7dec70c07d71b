package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/remd"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/signerconfig"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/internal/devpki"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// registryEmulator is the emulator on a real loopback HTTP server. Its
// РЭМД callbacks authenticate with pki's client certificate; the
// gateway's callback endpoint serves pki's server certificate.
type registryEmulator struct {
	*emulator.Emulator
	url string
	pki testtool.PKI
	// signing signs РЭМД's messages both ways: the gateway's key and the
	// emulator's, each trusting the other's.
	signing *devpki.Signing
}

// clientTLS is the registry's side of the callback's mTLS.
func (em *registryEmulator) clientTLS(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(em.pki.CertFile, em.pki.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(em.pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12}
}

func startTestEmulator(t testing.TB) *registryEmulator {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	signing, err := devpki.NewSigning(context.Background(), t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	re := &registryEmulator{url: "http://" + ln.Addr().String(), pki: testtool.NewPKI(t), signing: signing}
	em := emulator.NewFromConfig(emulator.Config{Log: quietLog(), CallbackTLS: re.clientTLS(t), Signer: signing.Registry, Trust: signing.Trust})
	re.Emulator = em
	srv := &http.Server{Handler: em.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		em.Close()
	})
	return re
}

func quietLog() *slog.Logger {
	level := slog.LevelWarn
	_ = level.UnmarshalText([]byte(os.Getenv("EGISZ_E2E_LOG_LEVEL")))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// forwarder is the forward stages in-process, as `run` wires them, with
// their callback endpoint on a real loopback listener.
type forwarder struct {
	workers []app.Worker
	reg     *prometheus.Registry
	http    string
	cancel  context.CancelFunc
	done    chan struct{}
}

// forwardConfig is a configuration for tests: every registry at the
// emulator, breakers and callbacks quick.
func forwardConfig(kc *kafkatest.Cluster, em *registryEmulator) config.Config {
	cfg := config.Default()
	cfg.Instance = "fwd"
	cfg.Kafka.TopicPrefix = kc.Prefix
	for _, d := range []*config.Destination{&cfg.Forward.REMD, &cfg.Forward.IEMK, &cfg.Forward.ERX} {
		d.URL = em.url
		if d == &cfg.Forward.REMD {
			d.URL += emulator.REMDPath
		}
		d.BackoffMin, d.BackoffMax = config.Duration(20*time.Millisecond), config.Duration(200*time.Millisecond)
		d.BreakerOpen = config.Duration(time.Second)
		d.Timeout = config.Duration(2 * time.Second)
		d.MaxBatch = 500
	}
	cfg.Forward.REMD.IPS = config.IPS{ClientEntityID: devpki.DevClientEntityID, InboundTrust: []string{em.signing.RegistryCertFile},
		Signer: signerconfig.Config{Kind: signerconfig.KindLocal, Local: signerconfig.Local{KeyFile: em.signing.GatewayKeyFile, CertFile: em.signing.GatewayCertFile}}}
	cfg.Forward.Callback.Wait = config.Duration(500 * time.Millisecond)
	cfg.Forward.Callback.Listen = "127.0.0.1:0"
	cfg.Forward.Callback.TLS = config.CallbackTLS{CertFile: em.pki.ServerCertFile, KeyFile: em.pki.ServerKeyFile, ClientCAFile: em.pki.CAFile}
	cfg.Forward.Retry.Tiers = testTierConfig()
	return cfg
}

func startForwarder(t testing.TB, kc *kafkatest.Cluster, cfg config.Config) *forwarder {
	t.Helper()
	return startWorkers(t, kc, cfg, forwardStages)
}

// startWorkers runs the workers of the factories in-process, as `run`
// wires them, and waits until every one is ready.
func startWorkers(t testing.TB, kc *kafkatest.Cluster, cfg config.Config, factories ...app.WorkerFactory) *forwarder {
	t.Helper()
	return startWorkersAt(t, kc, cfg, nil, factories...)
}

// startWorkersAt is startWorkers with the stages' clock set to now.
func startWorkersAt(t testing.TB, kc *kafkatest.Cluster, cfg config.Config, now func() time.Time, factories ...app.WorkerFactory) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	f := &forwarder{reg: prometheus.NewRegistry(), http: ln.Addr().String(), done: make(chan struct{})}
	deps := app.Deps{
		Config: cfg, Catalog: topics.Build(cfg.Forward.Retry.TierDelays()).WithPrefix(kc.Prefix), KafkaOpt: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)},
		Metrics: f.reg, Log: quietLog(), KafkaMetrics: func(string) kgo.Opt { return kgo.WithHooks() },
		HTTPAddr: f.http, Handle: func(p string, h http.Handler) { mux.Handle(p, h) }, DLQ: record.NewMetrics(f.reg), Now: now,
	}
	var ws []app.Worker
	for _, build := range factories {
		more, err := build(deps)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, more...)
	}
	f.workers = ws
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", w.Name(), err)
			}
		}()
	}
	go func() {
		wg.Wait()
		ctx, c := context.WithTimeout(context.Background(), time.Second)
		defer c()
		_ = srv.Shutdown(ctx)
		close(f.done)
	}()
	t.Cleanup(f.stop)
	deadline := time.Now().Add(time.Minute)
	for _, w := range ws {
		for w.Ready() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("%s not ready: %v", w.Name(), w.Ready())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return f
}

// callbackURL is where the forwarder's РЭМД callback endpoint listens.
func (f *forwarder) callbackURL(t testing.TB) string {
	t.Helper()
	for _, w := range f.workers {
		if cs, ok := w.(interface{ Addr() string }); ok && w.Name() == "remd-callback" {
			return "https://" + cs.Addr() + pending.CallbackPath
		}
	}
	t.Fatal("no РЭМД callback endpoint")
	return ""
}

func (f *forwarder) stop() {
	f.cancel()
	<-f.done
}

func (f *forwarder) stage(reg topics.Registry) *forward.Stage {
	for _, w := range f.workers {
		if w.Name() == "forward-"+string(reg) {
			return w.(*forward.Stage)
		}
	}
	return nil
}

// metric reads one series of the forwarder's registry.
func (f *forwarder) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// outbound builds the outbound record the normalize stage would write for
// an example event of patient snils; ceID is also its idempotency key. A
// document is signed again for its patient (resignedDocument); produceAll
// stores its file where РЭМД fetches it.
func outbound(t testing.TB, prefix string, reg topics.Registry, kind, exampleName, snils, ceID string) *kgo.Record {
	t.Helper()
	payload := example(t, exampleName)
	payload["patient"].(map[string]any)["snils"] = snils
	if kind == "document" {
		payload["local_uid"] = uuidFor(ceID)
		payload = resignedDocument(t, testPKI(t), payload)
	}
	ev := topics.OutboundEvent{Kind: kind, PatientKey: snils, DedupKey: kind + "|" + ceID, Version: 1,
		Source: "1.2.643.5.1.13.13.12.1.42.202", ReceivedAt: topics.DateTime(time.Now().UTC().Format(time.RFC3339Nano)), Event: payload}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := topics.Default().Lookup(topics.Outbound(reg))
	return &kgo.Record{Topic: prefix + topics.Outbound(reg), Key: []byte(snils), Value: b, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte(tp.EventType)},
		{Key: topics.HeaderOriginType, Value: []byte("ru.egisz.rmis." + kind + ".v1")},
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
	}}
}

// uuidFor mints a document's localUid from its ce_id (a hash, so that
// distinct ids never share one).
func uuidFor(s string) string {
	h := fmt.Sprintf("%x", sha256.Sum256([]byte(s)))
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// batchOf makes n outbound records for reg, patients 0..n-1.
func batchOf(t testing.TB, prefix string, reg topics.Registry, n int, tag string) []*kgo.Record {
	kind, ex := map[topics.Registry][2]string{
		topics.RegistryIEMK: {"case", "case.json"}, topics.RegistryREMD: {"document", "document.json"}, topics.RegistryERX: {"prescription", "prescription.json"},
	}[reg][0], map[topics.Registry]string{topics.RegistryIEMK: "case.json", topics.RegistryREMD: "document.json", topics.RegistryERX: "prescription.json"}[reg]
	out := make([]*kgo.Record, n)
	for i := range out {
		out[i] = outbound(t, prefix, reg, kind, ex, ident.MakeSNILS(300_000_000+i*11), fmt.Sprintf("%s-%s-%d", tag, reg, i))
	}
	return out
}

// registryStatuses follows the status topic and keeps, per ce_id, the
// forward stage's statuses ("remd:registered").
type registryStatuses struct{ *statusReader }

func (s registryStatuses) terminal(reg topics.Registry) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for id, outs := range s.outs {
		for _, o := range outs {
			if strings.HasPrefix(o, string(reg)+":") && o != string(reg)+":pending" {
				out[id] = append(out[id], strings.TrimPrefix(o, string(reg)+":"))
			}
		}
	}
	return out
}

func (s registryStatuses) waitTerminal(t *testing.T, ctx context.Context, reg topics.Registry, n int) map[string][]string {
	t.Helper()
	for {
		got := s.terminal(reg)
		if len(got) >= n {
			time.Sleep(time.Second) // anything written twice would show up now
			return s.terminal(reg)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d events have a final status before the deadline", reg, len(got), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exactlyOnce checks the invariant for reg's events: each has exactly
// one final status, the wanted one, and the registry registered each key
// once (re-sends it recognised as such are allowed).
func exactlyOnce(t *testing.T, got map[string][]string, recs []*kgo.Record, want string, em *registryEmulator, reg topics.Registry) {
	t.Helper()
	for _, r := range recs {
		id := header(r, "ce_id")
		if outs := got[id]; len(outs) != 1 || outs[0] != want {
			t.Errorf("%s: final statuses %v, want exactly one %s", id, outs, want)
		}
	}
	st := em.Stats(string(reg))
	if want == "registered" && st.Registered != len(recs) {
		t.Errorf("%s registered %d events, want %d", reg, st.Registered, len(recs))
	}
	for k, n := range st.ByKey {
		if n != 1 {
			t.Errorf("%s accepted key %s %d times", reg, k, n)
		}
	}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

func forwardCluster(t *testing.T) (*kafkatest.Cluster, context.Context, *kgo.Client) {
	kc := kafkatest.New(t)
	ctx := kafkatest.Context(t, 4*time.Minute)
	cl := kc.Client(t, kgo.ProducerLinger(2*time.Millisecond))
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Build(testTiers).WithPrefix(kc.Prefix), -1); err != nil {
		t.Fatal(err)
	}
	return kc, ctx, cl
}

// testTiers are short retry tiers, so that tests see records come back.
var testTiers = []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}

// testTierConfig is testTiers as the configuration spells them.
func testTierConfig() []config.Duration {
	out := make([]config.Duration, len(testTiers))
	for i, d := range testTiers {
		out[i] = config.Duration(d)
	}
	return out
}

// TestForwardHealthyRegistersEveryEventOnce: with the registries healthy,
// every outbound event of every registry is registered exactly once, РЭМД
// documents through the callback, and no document stays pending.
func TestForwardHealthyRegistersEveryEventOnce(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	em.SetFaults(emulator.REMD, emulator.Faults{CallbackDelay: 50 * time.Millisecond})
	cfg := forwardConfig(kc, em)
	// The check below is that a healthy РЭМД gets no re-sends; the
	// emulator's РЭМД verifies and signs each message (ГОСТ) in this
	// process, and under -race on a busy machine an answer can take over
	// the tests' 2 s: a timeout, and a re-send the registry did nothing to
	// cause (make test's race pass saw 18).
	cfg.Forward.REMD.Timeout = config.Duration(10 * time.Second)
	f := startForwarder(t, kc, cfg)
	status := registryStatuses{newStatusReader(t, kc)}
	sets := map[topics.Registry][]*kgo.Record{}
	for reg, n := range map[topics.Registry]int{topics.RegistryIEMK: 300, topics.RegistryREMD: 150, topics.RegistryERX: 150} {
		sets[reg] = batchOf(t, kc.Prefix, reg, n, "healthy")
		produceAll(t, ctx, cl, sets[reg])
	}
	for reg, recs := range sets {
		got := status.waitTerminal(t, ctx, reg, len(recs))
		exactlyOnce(t, got, recs, "registered", em, reg)
	}
	if st := em.Stats(emulator.REMD); st.Callbacks != 150 || st.Resent != 0 {
		t.Errorf("РЭМД: %d callbacks, %d re-sends; want 150 and 0", st.Callbacks, st.Resent)
	}
	f.stage(topics.RegistryREMD).Callback().Measure()
	if n := f.metric(t, "egisz_remd_pending_documents"); n != 0 {
		t.Errorf("%v documents still pending", n)
	}
	if dl := readAll(t, ctx, kc, kc.Prefix+topics.RegistryDLQ(topics.RegistryIEMK), 0); len(dl) != 0 {
		t.Errorf("%d records in the ИЭМК DLQ, want none", len(dl))
	}
}

// TestForwardThrough503s: with 30% of answers 503, everything still
// arrives, exactly once at the registry.
func TestForwardThrough503s(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	em.SetFaults(emulator.IEMK, emulator.Faults{Rate503: 0.3})
	em.SetFaults(emulator.REMD, emulator.Faults{Rate503: 0.3})
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	iemk := batchOf(t, kc.Prefix, topics.RegistryIEMK, 400, "flaky")
	remd := batchOf(t, kc.Prefix, topics.RegistryREMD, 100, "flaky")
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		got := status.terminal(topics.RegistryREMD)
		for _, r := range remd {
			id := header(r, "ce_id")
			if len(got[id]) == 0 {
				e, ok := f.stage(topics.RegistryREMD).Callback().Get(id)
				t.Logf("%s has no final status; statuses %v; pending entry %v %+v; emulator accepted it %d times; %d records parked; re-sends seen %d",
					id, status.snapshot(t, nil)[id], ok, e, em.Stats(emulator.REMD).ByKey[uuidFor(id)], f.parked().Len(), em.Stats(emulator.REMD).Resent)
			}
		}
	})
	produceAll(t, ctx, cl, append(iemk, remd...))
	exactlyOnce(t, status.waitTerminal(t, ctx, topics.RegistryIEMK, len(iemk)), iemk, "registered", em, topics.RegistryIEMK)
	exactlyOnce(t, status.waitTerminal(t, ctx, topics.RegistryREMD, len(remd)), remd, "registered", em, topics.RegistryREMD)
	st := em.Stats(emulator.IEMK)
	t.Logf("ИЭМК: %d requests, %d answered 503, %d registered, %d re-sends; %v attempts refused by the breaker",
		st.Requests, st.Faulted, st.Registered, st.Resent, f.metric(t, "egisz_forward_requests_total", "registry", "iemk", "code", "breaker_open"))
	if st.Faulted < 60 {
		t.Errorf("only %d faults injected; the test did not exercise retries", st.Faulted)
	}
}

// TestForwardOutagePausesAndDrains: in a full outage the breaker opens,
// consumption pauses (lag grows, nothing floods the DLQ, calls stop but
// for probes), and after recovery the backlog drains exactly once.
func TestForwardOutagePausesAndDrains(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	cfg := forwardConfig(kc, em)
	cfg.Forward.IEMK.BreakerFailures = 3
	f := startForwarder(t, kc, cfg)
	status := registryStatuses{newStatusReader(t, kc)}
	warm := batchOf(t, kc.Prefix, topics.RegistryIEMK, 20, "before")
	produceAll(t, ctx, cl, warm)
	status.waitTerminal(t, ctx, topics.RegistryIEMK, len(warm))

	em.SetFaults(emulator.IEMK, emulator.Faults{Down: true})
	backlog := batchOf(t, kc.Prefix, topics.RegistryIEMK, 300, "outage")
	produceAll(t, ctx, cl, backlog)
	for f.metric(t, "egisz_forward_paused", "registry", "iemk") != 1 {
		if ctx.Err() != nil {
			t.Fatal("the breaker never paused ИЭМК's partitions")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // calls that were on the wire when it opened
	before := em.Stats(emulator.IEMK).Requests
	time.Sleep(4 * time.Second) // four breaker periods
	during := em.Stats(emulator.IEMK).Requests - before
	if during > 6 {
		t.Errorf("%d calls in 4 s of open breaker (1 s open periods); want only probes", during)
	}
	lag := groupLag(t, ctx, cl, kc.Prefix+"egisz-forward-iemk", kc.Prefix+topics.Outbound(topics.RegistryIEMK))
	if lag < 250 {
		t.Errorf("lag %d during the outage; the backlog should wait in Kafka", lag)
	}
	if dl := readAll(t, ctx, kc, kc.Prefix+topics.RegistryDLQ(topics.RegistryIEMK), 0); len(dl) != 0 {
		t.Errorf("%d records in the DLQ during the outage; want none", len(dl))
	}
	t.Logf("outage: %d calls in 4 s, lag %d", during, lag)

	recovered := time.Now()
	em.SetFaults(emulator.IEMK, emulator.Faults{})
	got := status.waitTerminal(t, ctx, topics.RegistryIEMK, len(warm)+len(backlog))
	t.Logf("backlog of %d drained %.1fs after recovery", len(backlog), time.Since(recovered).Seconds()-1)
	exactlyOnce(t, got, append(warm, backlog...), "registered", em, topics.RegistryIEMK)
}

func groupLag(t *testing.T, ctx context.Context, cl *kgo.Client, group, topic string) int64 {
	t.Helper()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := committed.Lookup(topic, o.Partition)
		at := c.At
		if at < 0 {
			at = 0
		}
		lag += o.Offset - at
	})
	return lag
}

// TestForwardPermanentRejectionsPark: rejections land in the registry's
// DLQ byte for byte with the registry's code and Russian text, and the
// source's status carries the reasons; ИЭМК answers at once, РЭМД in its
// callback.
func TestForwardPermanentRejectionsPark(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	iemk := batchOf(t, kc.Prefix, topics.RegistryIEMK, 10, "reject")
	remd := batchOf(t, kc.Prefix, topics.RegistryREMD, 10, "reject")
	badIEMK := map[string]string{}
	badREMD := map[string]string{}
	for i := 0; i < 3; i++ {
		badIEMK[string(iemk[i].Key)] = "XDSUnknownPatientId"
		badREMD[string(remd[i].Key)] = "PATIENT_MPI_MISMATCH"
	}
	em.SetFaults(emulator.IEMK, emulator.Faults{Reject: badIEMK})
	em.SetFaults(emulator.REMD, emulator.Faults{Reject: badREMD})
	startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	produceAll(t, ctx, cl, append(iemk, remd...))

	for _, tc := range []struct {
		reg  topics.Registry
		recs []*kgo.Record
		bad  map[string]string
	}{{topics.RegistryIEMK, iemk, badIEMK}, {topics.RegistryREMD, remd, badREMD}} {
		got := status.waitTerminal(t, ctx, tc.reg, len(tc.recs))
		parked := readAll(t, ctx, kc, kc.Prefix+topics.RegistryDLQ(tc.reg), len(tc.bad))
		if len(parked) != len(tc.bad) {
			t.Errorf("%s: %d records parked, want %d", tc.reg, len(parked), len(tc.bad))
		}
		byID := map[string]*kgo.Record{}
		for _, p := range parked {
			byID[header(p, "ce_id")] = p
		}
		for _, r := range tc.recs {
			id := header(r, "ce_id")
			code, bad := tc.bad[string(r.Key)]
			want := "registered"
			if bad {
				want = "rejected"
			}
			if outs := got[id]; len(outs) != 1 || outs[0] != want {
				t.Errorf("%s %s: statuses %v, want %s", tc.reg, id, outs, want)
			}
			if !bad {
				continue
			}
			p := byID[id]
			if p == nil {
				t.Errorf("%s %s: not parked", tc.reg, id)
				continue
			}
			if !bytes.Equal(p.Value, r.Value) || string(p.Key) != string(r.Key) {
				t.Errorf("%s %s: parked record differs from the outbound one", tc.reg, id)
			}
			msg := header(p, record.HMessage)
			if header(p, record.HReason) != code || !strings.ContainsAny(msg, "абвгдеёжзийклмнопрстуфхцчшщыэюя") ||
				header(p, record.HStage) != "forward" || header(p, record.HDestination) != string(tc.reg) || header(p, record.HRetryable) != "false" {
				t.Errorf("%s %s: DLQ headers reason=%q message=%q stage=%q destination=%q retryable=%q", tc.reg, id,
					header(p, record.HReason), msg, header(p, record.HStage), header(p, record.HDestination), header(p, record.HRetryable))
			}
		}
	}
	var st topics.Status
	found := false
	for _, r := range readAll(t, ctx, kc, kc.Prefix+topics.StatusTopic, 0) {
		if json.Unmarshal(r.Value, &st) == nil && st.Outcome == "rejected" && st.Registry == "remd" {
			found = true
			if len(st.Reasons) == 0 || st.Reasons[0].Code != "PATIENT_MPI_MISMATCH" || st.Reasons[0].MessageRU == "" || st.Reasons[0].MessageEN == "" {
				t.Errorf("rejected status reasons %+v; want the registry's code with Russian and English text", st.Reasons)
			}
			break
		}
	}
	if !found {
		t.Error("no rejected РЭМД status")
	}
}

// TestForwardRateLimitHolds: a quota of 50 a minute holds at the registry
// within 2%, measured between the first and the last arrival.
func TestForwardRateLimitHolds(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	cfg := forwardConfig(kc, em)
	cfg.Forward.ERX.RatePerMinute = 50
	startForwarder(t, kc, cfg)
	status := registryStatuses{newStatusReader(t, kc)}
	recs := batchOf(t, kc.Prefix, topics.RegistryERX, 8, "quota")
	produceAll(t, ctx, cl, recs)
	exactlyOnce(t, status.waitTerminal(t, ctx, topics.RegistryERX, len(recs)), recs, "registered", em, topics.RegistryERX)
	times := em.Stats(emulator.ERX).Times
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	span := times[len(times)-1].Sub(times[0])
	rate := float64(len(times)-1) / span.Minutes()
	t.Logf("%d requests over %s: %.2f a minute", len(times), span.Round(time.Millisecond), rate)
	if rate > 50*1.02 || rate < 50*0.98 {
		t.Errorf("rate %.2f a minute, want 50 within 2%%", rate)
	}
}

// TestForwardPendingSurvivesRestartAndReconciles: documents accepted by
// РЭМД whose callbacks are lost while the gateway is down stay pending in
// the compacted topic across a restart, and are then looked up in РЭМД
// and registered.
func TestForwardPendingSurvivesRestartAndReconciles(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	em.SetFaults(emulator.REMD, emulator.Faults{RateDropCallbk: 1}) // РЭМД never calls back
	cfg := forwardConfig(kc, em)
	cfg.Forward.Callback.ReconcileAfter = config.Duration(2 * time.Second)
	f := startForwarder(t, kc, cfg)
	status := registryStatuses{newStatusReader(t, kc)}
	docs := batchOf(t, kc.Prefix, topics.RegistryREMD, 20, "restart")
	produceAll(t, ctx, cl, docs)
	for f.stage(topics.RegistryREMD).Callback().Measure(); f.metric(t, "egisz_remd_pending_documents") < 20; f.stage(topics.RegistryREMD).Callback().Measure() {
		if ctx.Err() != nil {
			t.Fatal("documents never became pending")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// РЭМД registers them all (fetching each file from the gateway) before
	// the gateway stops: a file it could not fetch would be a rejection
	// whose result is dropped too, and such a document stays pending for
	// an operator (EGISZ.md §3), which is not what this test is about.
	for em.Stats(emulator.REMD).Registered < len(docs) {
		if ctx.Err() != nil {
			t.Fatalf("РЭМД registered %d of %d documents", em.Stats(emulator.REMD).Registered, len(docs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.stop()
	if got := status.terminal(topics.RegistryREMD); len(got) != 0 {
		t.Fatalf("%d documents settled without a callback before the restart", len(got))
	}
	f = startForwarder(t, kc, cfg)
	cb := f.stage(topics.RegistryREMD).Callback()
	if e, ok := cb.Get(header(docs[0], "ce_id")); !ok || e.State != pending.StatePending {
		t.Fatalf("after the restart the document is %+v, want pending", e)
	}
	got := status.waitTerminal(t, ctx, topics.RegistryREMD, len(docs))
	exactlyOnce(t, got, docs, "registered", em, topics.RegistryREMD)
	if n := f.metric(t, "egisz_remd_reconciled_total", "result", "registered"); n != 20 {
		t.Errorf("%v documents reconciled, want 20", n)
	}
}

// TestForwardLateRepeatedAndEarlyCallbacks: a callback that comes before
// the gateway has recorded the document settles it when the record comes;
// a repeated callback changes nothing but the entry's last-callback time.
func TestForwardLateRepeatedAndEarlyCallbacks(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	em.SetFaults(emulator.REMD, emulator.Faults{RateDropCallbk: 1}) // this test is РЭМД's callback
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	docs := batchOf(t, kc.Prefix, topics.RegistryREMD, 2, "callbacks")
	early, normal := docs[0], docs[1]
	registry := &http.Client{Transport: &http.Transport{TLSClientConfig: em.clientTLS(t)}}
	post := func(ceID, emdrID string) int {
		msg := signedResult(t, em, f.callbackURL(t), ceID, emdrID)
		resp, err := registry.Post(f.callbackURL(t), wssec.SOAP12.ContentType(), bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Early: РЭМД answers before the record is even consumed.
	if code := post(header(early, "ce_id"), "16.62.26.11.000000001"); code != http.StatusOK {
		t.Fatalf("early callback answered %d", code)
	}
	produceAll(t, ctx, cl, []*kgo.Record{early, normal})
	cb := f.stage(topics.RegistryREMD).Callback()
	for {
		if e, ok := cb.Get(header(normal, "ce_id")); ok && e.State == pending.StatePending {
			if e.Record == nil || string(e.Record.Value) != string(normal.Value) {
				t.Fatalf("pending entry without its outbound record: %+v", e.Record)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the document never became pending")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 0; i < 3; i++ { // the first settles it; the others are repeats
		if code := post(header(normal, "ce_id"), "16.62.26.11.000000002"); code != http.StatusOK {
			t.Fatalf("callback answered %d", code)
		}
	}
	got := status.waitTerminal(t, ctx, topics.RegistryREMD, 2)
	for id, want := range map[string]string{header(early, "ce_id"): "16.62.26.11.000000001", header(normal, "ce_id"): "16.62.26.11.000000002"} {
		if len(got[id]) != 1 || got[id][0] != "registered" {
			t.Errorf("%s: %v, want one registered", id, got[id])
		}
		if e, _ := cb.Get(id); e == nil || e.RegistryID != want {
			t.Errorf("%s: entry %+v, want emdrId %s", id, e, want)
		} else if e.Record != nil {
			t.Errorf("%s: the registered entry still carries the outbound record (%d bytes of value)", id, len(e.Record.Value))
		}
	}
	for cb.Measure(); f.metric(t, "egisz_remd_callbacks_total", "result", "repeated") != 2; {
		if ctx.Err() != nil {
			t.Fatalf("repeated callbacks counted %v, want 2", f.metric(t, "egisz_remd_callbacks_total", "result", "repeated"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Repeats are counted, not written: the entry stays as the first
	// callback settled it.
	if e, _ := cb.Get(header(normal, "ce_id")); e == nil || e.Callbacks != 1 || e.State != pending.StateRegistered {
		t.Errorf("entry %+v, want registered by its first callback", e)
	}
}

// signedResult is РЭМД's sendRegisterDocumentResult for the event ceID,
// registered as emdrID, as the emulator sends it: the result relates to
// the MessageID of the event's registerDocument (seam.MessageID) and is
// signed under WS-Security with the registry's key, which the gateway
// trusts.
// An empty emdrID makes it a rejection for SIGNATURE_INVALID instead.
func signedResult(t *testing.T, em *registryEmulator, to, ceID, emdrID string) []byte {
	t.Helper()
	var body strings.Builder
	fmt.Fprintf(&body, `<%s xmlns="%s">`, remd.ElemCallback, remd.NamespaceCallback)
	if emdrID == "" {
		fmt.Fprintf(&body, `<relatesToMessage>%s</relatesToMessage><status>%s</status>`, seam.MessageID(ceID, 0), remd.StatusError)
		body.WriteString(`<errors><item><code>SIGNATURE_INVALID</code><message>forged</message></item></errors>`)
	} else {
		fmt.Fprintf(&body, `<relatesToMessage>%s</relatesToMessage><status>%s</status>`, seam.MessageID(ceID, 0), remd.StatusSuccess)
		fmt.Fprintf(&body, `<registryItem><emdrId>%s</emdrId><registrationDateTime>%s</registrationDateTime></registryItem>`, emdrID, time.Now().Format(time.RFC3339))
	}
	fmt.Fprintf(&body, `</%s>`, remd.ElemCallback)
	msg, err := wssec.Sign(context.Background(), em.signing.Registry, wssec.Envelope{Version: wssec.SOAP12, Addressing: wssec.Addressing{
		Action: remd.ActionCallback, MessageID: seam.MessageID("test-result/"+ceID+"/"+time.Now().String(), 0), To: to, RelatesTo: seam.MessageID(ceID, 0),
	}, Body: []byte(body.String())}, wssec.SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// TestForwardRebalanceRegistersEachOnce: a second instance joins the
// forward groups mid-stream; partitions move with records in flight, and
// still every event gets one final status and each key is registered
// once at the registry (a re-send it recognises is allowed).
func TestForwardRebalanceRegistersEachOnce(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	em.SetFaults(emulator.IEMK, emulator.Faults{LatencyMin: 2 * time.Millisecond, LatencyMax: 10 * time.Millisecond})
	em.SetFaults(emulator.REMD, emulator.Faults{LatencyMin: 2 * time.Millisecond, LatencyMax: 10 * time.Millisecond})
	cfg := forwardConfig(kc, em)
	cfg.Forward.IEMK.Concurrency, cfg.Forward.REMD.Concurrency = 8, 8
	startForwarder(t, kc, cfg)
	status := registryStatuses{newStatusReader(t, kc)}
	iemk := batchOf(t, kc.Prefix, topics.RegistryIEMK, 1500, "rebalance")
	remd := batchOf(t, kc.Prefix, topics.RegistryREMD, 300, "rebalance")
	produceAll(t, ctx, cl, append(iemk, remd...))
	waitFor(t, ctx, "a third of ИЭМК's events", func() bool { return em.Stats(emulator.IEMK).Registered >= len(iemk)/3 })
	second := cfg
	second.Instance = "fwd-2"
	startForwarder(t, kc, second)
	exactlyOnce(t, status.waitTerminal(t, ctx, topics.RegistryIEMK, len(iemk)), iemk, "registered", em, topics.RegistryIEMK)
	exactlyOnce(t, status.waitTerminal(t, ctx, topics.RegistryREMD, len(remd)), remd, "registered", em, topics.RegistryREMD)
	t.Logf("ИЭМК: %d registered, %d re-sends recognised as such; РЭМД: %d registered, %d re-sends",
		em.Stats(emulator.IEMK).Registered, em.Stats(emulator.IEMK).Resent, em.Stats(emulator.REMD).Registered, em.Stats(emulator.REMD).Resent)
}

// TestForwardForgedCallbacksNeverSettle: РЭМД (the emulator) registers
// documents and calls back 300 ms later over mTLS, while a forger posts
// "rejected" results for every document to the callback endpoint before
// the documents are sent, while they are pending and alongside the
// registry's answers, without a client certificate and with one of another
// CA. Every forged callback is refused and counted; every document is
// registered exactly once, from the registry's answer; nothing is kept as
// an orphan.
func TestForwardForgedCallbacksNeverSettle(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	em.SetFaults(emulator.REMD, emulator.Faults{CallbackDelay: 300 * time.Millisecond})
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	docs := batchOf(t, kc.Prefix, topics.RegistryREMD, 30, "forged")

	other := testtool.NewPKI(t)
	otherCert, err := tls.LoadX509KeyPair(other.CertFile, other.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	trusting := em.clientTLS(t) // the registry's: its roots trust the endpoint
	forgers := map[string]*http.Client{
		"no_certificate": {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trusting.RootCAs, MinVersion: tls.VersionTLS12}}},
		"untrusted":      {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trusting.RootCAs, Certificates: []tls.Certificate{otherCert}, MinVersion: tls.VersionTLS12}}},
	}
	url := f.callbackURL(t)
	forgedResults := map[string][]byte{} // signed here: forgeAll runs in a goroutine too
	for _, d := range docs {
		forgedResults[header(d, "ce_id")] = signedResult(t, em, url, header(d, "ce_id"), "")
	}
	var forged sync.Map // reason -> *atomic count, checked against the metric
	forgeAll := func() {
		for reason, c := range forgers {
			for _, d := range docs {
				// Even a rejection signed with the registry's own key is
				// refused without the registry's client certificate.
				resp, err := c.Post(url, wssec.SOAP12.ContentType(), bytes.NewReader(forgedResults[header(d, "ce_id")]))
				if err != nil {
					t.Errorf("forged post: %v", err)
					return
				}
				resp.Body.Close()
				if want := map[string]int{"no_certificate": http.StatusUnauthorized, "untrusted": http.StatusForbidden}[reason]; resp.StatusCode != want {
					t.Errorf("forged callback (%s) answered %d, want %d", reason, resp.StatusCode, want)
				}
				n, _ := forged.LoadOrStore(reason, new(int64))
				*n.(*int64)++ // one goroutine forges at a time
			}
		}
	}
	forgeAll() // before the documents exist
	produceAll(t, ctx, cl, docs)
	stopForging := make(chan struct{})
	forging := make(chan struct{})
	go func() { // while they are pending, and racing the registry's answers
		defer close(forging)
		for {
			select {
			case <-stopForging:
				return
			default:
				forgeAll()
			}
		}
	}()
	got := status.waitTerminal(t, ctx, topics.RegistryREMD, len(docs))
	close(stopForging)
	<-forging
	exactlyOnce(t, got, docs, "registered", em, topics.RegistryREMD)
	forged.Range(func(k, v any) bool {
		if n := f.metric(t, "egisz_remd_callback_refused_total", "reason", k.(string)); n != float64(*v.(*int64)) {
			t.Errorf("refused{reason=%s} = %v, want the %d forged", k, n, *v.(*int64))
		}
		return true
	})
	f.stage(topics.RegistryREMD).Callback().Measure()
	if n := f.metric(t, "egisz_remd_callback_orphans"); n != 0 {
		t.Errorf("%v orphans kept, want none", n)
	}
	if n := f.metric(t, "egisz_remd_callbacks_total", "result", "rejected"); n != 0 {
		t.Errorf("%v callbacks rejected a document", n)
	}
	// The refusals are in the audit log: the first of each source at once,
	// the rest summed into the next record a minute later (not reached here).
	var audited []topics.AuditRecord
	for _, r := range readAll(t, ctx, kc, kc.Prefix+topics.AuditTopic, 1) {
		var rec topics.AuditRecord
		if json.Unmarshal(r.Value, &rec) == nil && rec.Action == "callback" {
			audited = append(audited, rec)
		}
	}
	if len(audited) != 1 || audited[0].Outcome != "denied" || audited[0].Count != 1 || !strings.HasPrefix(audited[0].Via, "remd-callback 127.0.0.1") {
		t.Errorf("audit records of refused callbacks %+v, want one, denied, count 1, from 127.0.0.1", audited)
	}
}

// TestForwardUnsendableRequestsParkWithoutTheBreaker: records whose call
// Go's HTTP client would refuse (a CR/LF in the ce_id, an oversized one)
// are parked as the gateway's own failure, FORWARD_UNBUILDABLE, without a
// request; the breaker never counts them, and the valid records behind
// them are registered. A probe kept ИЭМК's breaker open for minutes with 40.
func TestForwardUnsendableRequestsParkWithoutTheBreaker(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	good := batchOf(t, kc.Prefix, topics.RegistryIEMK, 10, "good")
	var bad []*kgo.Record
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("crlf-%d\r\nX-Injected: 1", i)
		if i == 0 {
			id = strings.Repeat("a", 1000)
		}
		bad = append(bad, outbound(t, kc.Prefix, topics.RegistryIEMK, "case", "case.json", ident.MakeSNILS(400_000_000+i*11), id))
	}
	produceAll(t, ctx, cl, append(bad, good...))
	got := status.waitTerminal(t, ctx, topics.RegistryIEMK, len(bad)+len(good))
	exactlyOnce(t, got, good, "registered", em, topics.RegistryIEMK)
	for _, r := range bad {
		if outs := got[header(r, "ce_id")]; len(outs) != 1 || outs[0] != "rejected" {
			t.Errorf("%.20q: statuses %v, want rejected", header(r, "ce_id"), outs)
		}
	}
	parked := readAll(t, ctx, kc, kc.Prefix+topics.RegistryDLQ(topics.RegistryIEMK), len(bad))
	for _, p := range parked {
		if header(p, record.HReason) != forward.ReasonUnbuildable || !strings.Contains(header(p, record.HMessage), "ce_id") {
			t.Errorf("parked with reason %q, message %q; want %s naming the ce_id", header(p, record.HReason), header(p, record.HMessage), forward.ReasonUnbuildable)
		}
	}
	if len(parked) != len(bad) {
		t.Errorf("%d records parked, want %d", len(parked), len(bad))
	}
	if n := em.Stats(string(topics.RegistryIEMK)).Registered; n != len(good) {
		t.Errorf("ИЭМК registered %d, want the %d valid records only", n, len(good))
	}
	if s := f.metric(t, "egisz_forward_breaker_state", "registry", "iemk"); s != 0 {
		t.Errorf("the ИЭМК breaker is %v, want closed (0)", s)
	}
}

// TestForwardLocalUIDOfAnotherDocumentParks: a document whose localUid
// РЭМД already holds for another document (another kind: the MIS reused
// the id) is answered NOT_UNIQUE_PROVIDED_ID, and the lookup by this
// document finds nothing. No result will come for a refused registration,
// so it parks with РЭМД's reason instead of waiting pending for ever.
func TestForwardLocalUIDOfAnotherDocumentParks(t *testing.T) {
	kc, ctx, cl := forwardCluster(t)
	em := startTestEmulator(t)
	f := startForwarder(t, kc, forwardConfig(kc, em))
	status := registryStatuses{newStatusReader(t, kc)}
	first := outbound(t, kc.Prefix, topics.RegistryREMD, "document", "document.json", ident.MakeSNILS(300_000_000), "uid-first")
	produceAll(t, ctx, cl, []*kgo.Record{first})
	if got := status.waitTerminal(t, ctx, topics.RegistryREMD, 1); len(got[header(first, "ce_id")]) != 1 || got[header(first, "ce_id")][0] != "registered" {
		t.Fatalf("the first document: %v, want registered", got)
	}

	// Another document under the first one's localUid, of another kind.
	second := outbound(t, kc.Prefix, topics.RegistryREMD, "document", "document.json", ident.MakeSNILS(300_000_011), "uid-second")
	var ev topics.OutboundEvent
	if err := json.Unmarshal(second.Value, &ev); err != nil {
		t.Fatal(err)
	}
	payload := ev.Event.(map[string]any)
	payload["local_uid"] = uuidFor("uid-first")
	payload["kind"] = "7"
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	second.Value = b
	produceAll(t, ctx, cl, []*kgo.Record{second})
	got := status.waitTerminal(t, ctx, topics.RegistryREMD, 2)
	if outs := got[header(second, "ce_id")]; len(outs) != 1 || outs[0] != "rejected" {
		t.Fatalf("the second document: %v, want rejected", outs)
	}
	parked := readAll(t, ctx, kc, kc.Prefix+topics.RegistryDLQ(topics.RegistryREMD), 1)
	if len(parked) != 1 {
		t.Fatalf("parked %d records, want the second document only", len(parked))
	}
	if header(parked[0], "ce_id") != header(second, "ce_id") || header(parked[0], record.HReason) != "NOT_UNIQUE_PROVIDED_ID" {
		t.Fatalf("parked %s with reason %q; want the second with NOT_UNIQUE_PROVIDED_ID", header(parked[0], "ce_id"), header(parked[0], record.HReason))
	}
	cb := f.stage(topics.RegistryREMD).Callback()
	if e, ok := cb.Get(header(second, "ce_id")); ok && e != nil && e.State == pending.StatePending {
		t.Fatalf("the second document is pending: %+v", e)
	}
}
