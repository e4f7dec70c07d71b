package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/gateway/app"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func benchEvents() int {
	if v, err := strconv.Atoi(os.Getenv("EGISZ_BENCH_EVENTS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNormalize runs the normalize stage over EGISZ_BENCH_EVENTS
// realistic treatment cases (1M by default; 20% are re-sends of earlier
// ones) on the cluster kafkatest gives (the real broker under make bench),
// and, in the same run over the same records, raw franz-go's transactional
// consume→produce. Run with -benchtime=1x.
func BenchmarkNormalize(b *testing.B) {
	kc, cl := prepareBench(b, topics.Example("employee.json"))
	n := benchEvents()
	ctx := context.Background()

	// Events: the example case for many patients, a fifth of them re-sent.
	var tmpl bytes.Buffer
	if err := json.Compact(&tmpl, topics.Example("case.json")); err != nil {
		b.Fatal(err)
	}
	in := kc.Prefix + topics.RMISCase
	start := time.Now()
	var size int64
	unique := n * 4 / 5
	for i := 0; i < n; i++ {
		p := i
		if i >= unique {
			p = (i - unique) * 4 // a re-send of an earlier patient's case
		}
		snils := ident.MakeSNILS(100_000_000 + p*3)
		v := bytes.Replace(tmpl.Bytes(), []byte(`"snils":"112-233-445 95"`), []byte(`"snils":"`+snils+`"`), 1)
		v = bytes.Replace(v, []byte("TAP-2024-000731"), []byte(fmt.Sprintf("TAP-%09d", p)), 1)
		size += int64(len(v))
		cl.Produce(ctx, &kgo.Record{Topic: in, Key: []byte(snils), Value: v, Headers: []kgo.RecordHeader{
			{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(fmt.Sprintf("bench-%d", i))},
			{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte("ru.egisz.rmis.case.v1")},
		}}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("produced %d events of %d bytes on average in %s", n, size/int64(n), time.Since(start).Round(time.Millisecond))

	measureNormalize(b, kc, in, n, "event", nil)
}

// prepareBench makes the catalog's topics and the raw copy's output on
// the cluster kafkatest gives, and seeds the reference feeds with the
// example organization and the doctor employee (JSON).
func prepareBench(b *testing.B, employee []byte) (*kafkatest.Cluster, *kgo.Client) {
	kc := kafkatest.New(b)
	ctx := context.Background()
	cl := kc.Client(b, kgo.ProducerLinger(10*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000))
	adm := kadm.NewClient(cl)
	if _, err := topics.Ensure(ctx, adm, topics.Default().WithPrefix(kc.Prefix), -1); err != nil {
		b.Fatal(err)
	}
	// The raw copy's output, shaped like the ingress topics.
	if resp, err := adm.CreateTopic(ctx, topics.PatientPartitions, -1, nil, kc.Prefix+"raw-out"); err != nil || resp.Err != nil {
		b.Fatalf("create raw-out: %v %v", err, resp.Err)
	}
	time.Sleep(time.Second) // a real broker creates topics asynchronously
	for _, r := range []*kgo.Record{
		{Topic: kc.Prefix + topics.FRMREmployee, Key: []byte("12345678964"), Value: employee},
		{Topic: kc.Prefix + topics.FRMOOrganization, Key: []byte("1.2.643.5.1.13.13.12.1.42.202"), Value: topics.Example("organization.json")},
	} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	return kc, cl
}

// measureNormalize copies the n records of topic in with raw franz-go's
// transactional consume→produce, then runs the normalize stage (its
// configuration edited by edit, if any) over the same records, and reports
// both rates and CPU per record (unit names the records: event, doc). It
// returns the stage's outcomes by name, to check the stage did the work
// measured rather than reject it.
func measureNormalize(b *testing.B, kc *kafkatest.Cluster, in string, n int, unit string, edit func(*config.Config)) map[string]float64 {
	ctx := context.Background()
	cpu0 := cpuTime()
	rawTook, err := kafkatest.RawTransactCopy(ctx, kc.Brokers, kc.Prefix+"raw", in, kc.Prefix+"raw-out", n)
	if err != nil {
		b.Fatal(err)
	}
	rawCPU := cpuTime() - cpu0

	cfg := config.Default()
	cfg.Kafka.Brokers = kc.Brokers
	cfg.Kafka.TopicPrefix = kc.Prefix
	cfg.Instance = "bench"
	if edit != nil {
		edit(&cfg)
	}
	reg := prometheus.NewRegistry()
	ws, err := newNormalize(app.Deps{
		Config: cfg, Catalog: topics.Default().WithPrefix(kc.Prefix), KafkaOpt: []kgo.Opt{kgo.SeedBrokers(kc.Brokers...)},
		Metrics: reg, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		KafkaMetrics: func(string) kgo.Opt { return kgo.WithHooks() },
	})
	if err != nil {
		b.Fatal(err)
	}
	w := ws[0]
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	cpu1 := cpuTime()
	start := time.Now()
	go func() { done <- w.Run(runCtx) }()
	stats := w.(*normalizeWorker).stage.Stats()
	for stats.In.Load() < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	took := time.Since(start)
	stageCPU := cpuTime() - cpu1
	stop()
	<-done

	rate, rawRate := float64(n)/took.Seconds(), float64(n)/rawTook.Seconds()
	b.ReportMetric(rate, unit+"s/s")
	b.ReportMetric(rawRate, "raw-"+unit+"s/s")
	b.ReportMetric(100*rate/rawRate, "%-of-raw")
	b.ReportMetric(float64(stageCPU.Microseconds())/float64(n), "cpu-µs/"+unit)
	b.ReportMetric(float64(rawCPU.Microseconds())/float64(n), "raw-cpu-µs/"+unit)
	b.ReportMetric(0, "ns/op")
	b.Logf("normalize: %d %ss in %s (%d transactions); raw franz-go: %s", n, unit, took.Round(time.Millisecond), stats.Committed.Load(), rawTook.Round(time.Millisecond))
	outcomes := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "egisz_normalize_outcomes_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					outcomes[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return outcomes
}
