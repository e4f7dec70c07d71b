package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// benchCluster is the cluster of a forward benchmark: the catalog with
// the test tiers, and raw-out for raw franz-go's copy of the same records.
func benchCluster(b *testing.B) (*kafkatest.Cluster, context.Context, *kgo.Client) {
	b.Helper()
	kc := kafkatest.New(b)
	ctx := context.Background()
	cl := kc.Client(b, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	adm := kadm.NewClient(cl)
	if _, err := topics.Ensure(ctx, adm, topics.Build(testTiers).WithPrefix(kc.Prefix), -1); err != nil {
		b.Fatal(err)
	}
	if resp, err := adm.CreateTopic(ctx, topics.PatientPartitions, -1, nil, kc.Prefix+"raw-out"); err != nil || resp.Err != nil {
		b.Fatalf("create raw-out: %v %v", err, resp.Err)
	}
	time.Sleep(time.Second) // a real broker creates topics asynchronously
	return kc, ctx, cl
}

// externalEmulator runs cmd/registry-emulator as its own process, so that
// the CPU this process spends is the forward stage's alone.
func externalEmulator(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "registry-emulator")
	if out, err := exec.Command("go", "build", "-o", bin, "../registry-emulator").CombinedOutput(); err != nil {
		b.Fatalf("build the emulator: %v\n%s", err, out)
	}
	addr := testtool.FreeAddr(b)
	cmd := exec.Command(bin, "--listen", addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := "http://" + addr
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get(url + "/admin/stats/iemk"); err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			b.Fatal("the emulator did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func putFaults(b *testing.B, url, registry string, f emulator.Faults) {
	body, _ := json.Marshal(f)
	req, _ := http.NewRequest(http.MethodPut, url+"/admin/faults/"+registry, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		b.Fatalf("set faults: %v %v", err, resp)
	}
	resp.Body.Close()
}

// BenchmarkForward forwards EGISZ_BENCH_EVENTS treatment cases (20,000 by
// default, about 1.4 KiB each) to ИЭМК, emulated in its own process with
// 5 ms latency per call, and reports events/s and this process's CPU per
// event beside raw franz-go's transactional copy of the same records in
// the same run. Then it sends 2,000 events/s for 5 s and reports the p50
// and p99 of outbound record to status record, and of what the gateway
// adds to the registry's 5 ms. Run with -benchtime=1x.
func BenchmarkForward(b *testing.B) {
	n := envInt("EGISZ_BENCH_EVENTS", 20_000)
	kc, ctx, cl := benchCluster(b)
	emu := externalEmulator(b)
	putFaults(b, emu, emulator.IEMK, emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond})

	in := kc.Prefix + topics.Outbound(topics.RegistryIEMK)
	recs := batchOf(b, kc.Prefix, topics.RegistryIEMK, n, "bench")
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	rawTook, err := kafkatest.RawTransactCopy(ctx, kc.Brokers, kc.Prefix+"raw", in, kc.Prefix+"raw-out", n)
	if err != nil {
		b.Fatal(err)
	}

	cfg := config.Default()
	cfg.Instance, cfg.Kafka.TopicPrefix = "bench", kc.Prefix
	cfg.Forward.Retry.Tiers = testTierConfig()
	cfg.Forward.IEMK.URL = emu
	cfg.Forward.IEMK.Concurrency = envInt("EGISZ_BENCH_CONCURRENCY", 256)
	cpu0, start := cpuTime(), time.Now()
	f := startForwarder(b, kc, cfg)
	stats := f.stage(topics.RegistryIEMK).Stats()
	for stats.In.Load() < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	took, cpu := time.Since(start), cpuTime()-cpu0
	rate, rawRate := float64(n)/took.Seconds(), float64(n)/rawTook.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(rawRate, "raw-franz-go-records/s")
	b.ReportMetric(100*rate/rawRate, "%-of-raw")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/event")
	b.ReportMetric(0, "ns/op")
	b.Logf("forward: %d events in %s (%.0f/s, %.1f µs CPU each, concurrency %d, emulator 5 ms); raw franz-go txn copy of the same records: %s (%.0f/s)",
		n, took.Round(time.Millisecond), rate, float64(cpu.Microseconds())/float64(n), cfg.Forward.IEMK.Concurrency, rawTook.Round(time.Millisecond), rawRate)

	// Latency at a steady 2,000 events/s.
	const paced, per = 10_000, 2000
	lat := batchOf(b, kc.Prefix, topics.RegistryIEMK, paced, "latency")
	sentAt := make(map[string]time.Time, paced)
	tick := time.NewTicker(10 * time.Millisecond)
	for i := 0; i < paced; i += per / 100 {
		<-tick.C
		now := time.Now()
		for _, r := range lat[i : i+per/100] {
			r.Timestamp = now
			sentAt[header(r, "ce_id")] = now
			cl.Produce(ctx, r, nil)
		}
	}
	tick.Stop()
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	var e2e []time.Duration
	status := kc.Client(b, kgo.ConsumeTopics(kc.Prefix+topics.StatusTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	deadline := time.Now().Add(2 * time.Minute)
	for len(e2e) < paced && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := status.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if at, ok := sentAt[header(r, "ce_id")]; ok {
				e2e = append(e2e, r.Timestamp.Sub(at))
			}
		})
	}
	if len(e2e) < paced {
		b.Fatalf("%d of %d latency events came back", len(e2e), paced)
	}
	slices.Sort(e2e)
	p50, p99 := e2e[len(e2e)/2], e2e[len(e2e)*99/100]
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.Logf("at %d events/s: outbound record to status p50 %s, p99 %s; added to the registry's 5 ms: p50 %s, p99 %s",
		per, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), (p50 - 5*time.Millisecond).Round(100*time.Microsecond), (p99 - 5*time.Millisecond).Round(100*time.Microsecond))
}

// BenchmarkForwardOutageDrain: events arrive for the prescription registry
// at EGISZ_BENCH_INGRESS a second (20) while it is down for
// EGISZ_BENCH_OUTAGE (5m); its quota is EGISZ_BENCH_QUOTA a minute
// (6000). It reports how long the backlog takes to drain after recovery,
// beside what the quota allows: backlog / (quota − ingress). Caught up
// means no further behind than one second of arrivals.
func BenchmarkForwardOutageDrain(b *testing.B) {
	outage, err := time.ParseDuration(os.Getenv("EGISZ_BENCH_OUTAGE"))
	if err != nil || outage <= 0 {
		outage = 5 * time.Minute
	}
	ingress, quota := envInt("EGISZ_BENCH_INGRESS", 20), envInt("EGISZ_BENCH_QUOTA", 6000)
	kc := kafkatest.New(b)
	ctx := context.Background()
	cl := kc.Client(b, kgo.ProducerLinger(5*time.Millisecond))
	if _, err := topics.Ensure(ctx, kadm.NewClient(cl), topics.Build(testTiers).WithPrefix(kc.Prefix), -1); err != nil {
		b.Fatal(err)
	}
	em := startTestEmulator(b)
	cfg := forwardConfig(kc, em)
	cfg.Forward.REMD.URL, cfg.Forward.IEMK.URL = "", ""
	cfg.Forward.ERX.RatePerMinute = quota
	cfg.Forward.ERX.BreakerOpen = config.Duration(5 * time.Second)
	startForwarder(b, kc, cfg)

	total := int(outage.Seconds()*float64(ingress)) * 2 // the outage, then as long again
	recs := batchOf(b, kc.Prefix, topics.RegistryERX, total, "drain")
	em.SetFaults(emulator.ERX, emulator.Faults{Down: true})
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(ingress))
	defer tick.Stop()
	recovered, backlog := time.Time{}, 0
	for i, r := range recs {
		<-tick.C
		cl.Produce(ctx, r, nil)
		if recovered.IsZero() && time.Since(start) >= outage {
			em.SetFaults(emulator.ERX, emulator.Faults{})
			recovered, backlog = time.Now(), i+1-em.Stats(emulator.ERX).Registered
			b.Logf("registry back after %s; backlog %d", outage, backlog)
		}
		// Caught up: no more behind than a second of arrivals.
		if !recovered.IsZero() && em.Stats(emulator.ERX).Registered >= i+1-ingress {
			drain := time.Since(recovered)
			expect := time.Duration(float64(backlog) / (float64(quota)/60 - float64(ingress)) * float64(time.Second))
			b.ReportMetric(drain.Seconds(), "drain-s")
			b.ReportMetric(expect.Seconds(), "quota-bound-s")
			b.ReportMetric(0, "ns/op")
			b.Logf("backlog of %d drained in %s after a %s outage (quota %d/min, ingress %d/s; the quota allows %s)",
				backlog, drain.Round(100*time.Millisecond), outage, quota, ingress, expect.Round(100*time.Millisecond))
			return
		}
	}
	b.Fatalf("the backlog did not drain: %d of %d registered", em.Stats(emulator.ERX).Registered, total)
}

// BenchmarkRetryUnaffectedKeys forwards EGISZ_BENCH_EVENTS cases (20,000)
// for as many patients to ИЭМК at 5 ms a call, first with every patient
// healthy, then with 10% of them answered 503 (their records go round
// the retry tiers), and reports the throughput of the other 90% beside
// the healthy run and raw franz-go's transactional copy of the records.
// Default in-place retries (4 attempts, 200 ms to 5 s apart). Run with
// -benchtime=1x.
func BenchmarkRetryUnaffectedKeys(b *testing.B) {
	n := envInt("EGISZ_BENCH_EVENTS", 20_000)
	run := func(b *testing.B, parkedShare int) (rate float64, raw float64) {
		kc, ctx, cl := benchCluster(b)
		em := startTestEmulator(b)
		recs := batchOf(b, kc.Prefix, topics.RegistryIEMK, n, "unaffected")
		var down []string
		for i, r := range recs {
			if parkedShare > 0 && i%(100/parkedShare) == 0 {
				down = append(down, string(r.Key))
			}
		}
		em.SetFaults(emulator.IEMK, emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond, Unavailable: down})
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		rawTook, err := kafkatest.RawTransactCopy(ctx, kc.Brokers, kc.Prefix+"raw", kc.Prefix+topics.Outbound(topics.RegistryIEMK), kc.Prefix+"raw-out", n)
		if err != nil {
			b.Fatal(err)
		}
		cfg := config.Default()
		cfg.Instance, cfg.Kafka.TopicPrefix = "bench", kc.Prefix
		cfg.Forward.IEMK.URL = em.url
		cfg.Forward.IEMK.Concurrency = 256
		cfg.Forward.Retry.Tiers = testTierConfig()
		healthy := n - len(down)
		start := time.Now()
		startForwarder(b, kc, cfg)
		for em.Stats(emulator.IEMK).Registered < healthy {
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(start)
		b.Logf("%d%% of patients unavailable: %d other events registered in %s (%.0f/s); raw franz-go txn copy of all %d records %s (%.0f/s)",
			parkedShare, healthy, took.Round(time.Millisecond), float64(healthy)/took.Seconds(), n, rawTook.Round(time.Millisecond), float64(n)/rawTook.Seconds())
		return float64(healthy) / took.Seconds(), float64(n) / rawTook.Seconds()
	}
	var none, parked, rawNone, rawParked float64
	b.Run("none-parked", func(b *testing.B) { none, rawNone = run(b, 0) })
	b.Run("10pct-parked", func(b *testing.B) { parked, rawParked = run(b, 10) })
	b.ReportMetric(none, "healthy-events/s")
	b.ReportMetric(parked, "unaffected-events/s-with-10%-parked")
	b.ReportMetric(100*parked/none, "%-of-healthy")
	b.ReportMetric((rawNone+rawParked)/2, "raw-franz-go-records/s")
	b.ReportMetric(0, "ns/op")
}
