// Package app is the gateway process: it connects to Kafka, ensures the
// topic catalog, starts the pipeline's workers, serves health, readiness and
// metrics, and shuts everything down in order when its context ends.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/health"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/gateway/lag"
	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Worker is one long-running part of the pipeline (a consumer group, a
// forwarder). Ready returns nil once the worker has joined its group and
// can make progress; its error text says what it is waiting for.
type Worker interface {
	Name() string
	Run(ctx context.Context) error
	Ready() error
}

// Deps is what a worker needs from the process.
type Deps struct {
	Config   config.Config
	Catalog  topics.Catalog
	KafkaOpt []kgo.Opt // brokers, TLS, SASL: every client's options
	Metrics  prometheus.Registerer
	Log      *slog.Logger
	// HTTPAddr is where the gateway's HTTP endpoint listens (host:port).
	HTTPAddr string
	// Handle serves a worker's endpoint (РЭМД's callback) on the gateway's
	// HTTP listener beside health and metrics.
	Handle func(pattern string, h http.Handler)
	// DLQ counts parked records; shared by every stage.
	DLQ *record.Metrics
	// KafkaMetrics returns the option that exports a long-lived client's
	// own metrics (franz-go's kprom) under the label client=name. A kprom
	// instance serves one client, so every such client asks for its own.
	KafkaMetrics func(name string) kgo.Opt
	// Now is the clock of the stages' decisions; time.Now when nil. Tests
	// move it to see what time does (a prescription expiring).
	Now func() time.Time
}

// WorkerFactory builds a part of the pipeline's workers once the topics exist.
type WorkerFactory func(Deps) ([]Worker, error)

// Gateway is a configured gateway process.
type Gateway struct {
	cfg     config.Config
	log     *slog.Logger
	version string
	workers []WorkerFactory

	// Listening is closed once the HTTP endpoint listens; HTTPAddr is then set.
	Listening chan struct{}
	HTTPAddr  string
}

// New returns a gateway that will run the given workers.
func New(cfg config.Config, log *slog.Logger, version string, workers ...WorkerFactory) *Gateway {
	return &Gateway{cfg: cfg, log: log, version: version, workers: workers, Listening: make(chan struct{})}
}

// Run runs the gateway until ctx ends or a worker fails. A cluster that
// cannot be reached comes back as *kafkaclient.UnreachableError, one that
// refuses the SASL login as *kafkaclient.HandshakeError.
func (g *Gateway) Run(ctx context.Context) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "egisz_build_info",
			Help:        "Build information of the running gateway; always 1.",
			ConstLabels: prometheus.Labels{"version": g.version, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	kafkaMetrics := func(name string) kgo.Opt {
		return kgo.WithHooks(kprom.NewMetrics("egisz_kafka", kprom.Registerer(reg), kprom.Gatherer(reg),
			kprom.WithStaticLabel(prometheus.Labels{"client": name}),
			// Records and bytes per topic; not per broker, which only multiplies series.
			kprom.FetchAndProduceDetail(kprom.ByTopic, kprom.Records, kprom.Batches, kprom.UncompressedBytes)))
	}

	opts, err := kafkaclient.Options(g.cfg.Kafka)
	if err != nil {
		return err
	}
	if g.cfg.Kafka.PlainPasswordInClear() {
		g.log.Warn("kafka.sasl.allow_plaintext: SASL PLAIN sends the Kafka password in clear, without TLS; anyone on the path can read it")
	}
	opts = append(opts, kafkaclient.Logger(g.log))
	cat := topics.Build(g.cfg.Forward.Retry.TierDelays()).WithPrefix(g.cfg.Kafka.TopicPrefix)
	// Batches as large as each topic takes: an oversized ingress record is
	// parked whole in the dead-letter topic, which takes it.
	// franz-go counts a few bytes more than the broker (recsize.ProducerLimit):
	// without them it would refuse a record right at a topic's limit.
	// Once the topics are ensured, limits holds the catalog with the
	// cluster's smaller limits where it could not raise them.
	var limits atomic.Pointer[topics.Catalog]
	limits.Store(&cat)
	opts = append(opts, kgo.ProducerBatchMaxBytesFn(func(topic string) int32 { return recsize.ProducerLimit(limits.Load().BatchMaxBytes(topic)) }))
	admCl, err := kgo.NewClient(append(opts, kafkaMetrics("admin"))...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer admCl.Close()
	if err := kafkaclient.Ping(ctx, g.cfg.Kafka, admCl, g.cfg.Kafka.DialTimeout.D()); err != nil {
		return err
	}

	ready := health.NewReadiness()
	var topicsErr error = errors.New("not yet ensured")
	var topicsMu sync.Mutex
	ready.Add("topics", func() error {
		topicsMu.Lock()
		defer topicsMu.Unlock()
		return topicsErr
	})

	ln, err := net.Listen("tcp", g.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen %s: %w", g.cfg.HTTP.Listen, err)
	}
	mux := http.NewServeMux()
	if g.cfg.HTTP.Pprof {
		mux.Handle("/", health.HandlerWithProfiles(ready, reg))
	} else {
		mux.Handle("/", health.Handler(ready, reg))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	g.HTTPAddr = ln.Addr().String()
	g.log.Info("health, readiness and metrics listening",
		"healthz", "http://"+g.HTTPAddr+"/healthz", "readyz", "http://"+g.HTTPAddr+"/readyz", "metrics", "http://"+g.HTTPAddr+"/metrics")
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	close(g.Listening)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	rep, err := topics.Ensure(ctx, kadm.NewClient(admCl), cat, int16(g.cfg.Kafka.ReplicationFactor))
	if err != nil {
		return fmt.Errorf("topic catalog: %w", err)
	}
	g.log.Info("topic catalog ensured", "created", len(rep.Created), "present", len(rep.Present), "total", len(cat))
	if len(rep.Raised) > 0 {
		g.log.Warn("raised max.message.bytes to the catalog's", "topics", rep.Raised)
	}
	small := make([]string, len(rep.TooSmall))
	for i, d := range rep.TooSmall {
		small[i] = d.String()
		g.log.Warn("a topic takes smaller records than the catalog says; records between the two limits are parked, not written",
			"topic", d.Topic, "max_message_bytes", d.Have, "catalog", d.Want, "raise_with", d.RaiseCommand(), "err", d.RaiseErr)
	}
	ready.Note("topic limits", func() string { return strings.Join(small, "; ") })
	// The stages measure their outputs against what the cluster takes.
	limited := cat.Limited(rep.TooSmall)
	limits.Store(&limited)
	topicsMu.Lock()
	topicsErr = nil
	topicsMu.Unlock()

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "egisz_ready",
		Help: "1 when every part of the gateway is ready (as /readyz answers 200), else 0.",
	}, func() float64 {
		if ok, _ := ready.Report(); ok {
			return 1
		}
		return 0
	}))
	reg.MustRegister(lag.NewCollector(kadm.NewClient(admCl), cat, lag.Groups(g.cfg.Kafka.TopicPrefix, g.cfg.Forward.Retry.TierDelays()), g.log))
	deps := Deps{Config: g.cfg, Catalog: limited, KafkaOpt: opts, Metrics: reg, Log: g.log, KafkaMetrics: kafkaMetrics, DLQ: record.NewMetrics(reg),
		HTTPAddr: g.HTTPAddr, Handle: func(pattern string, h http.Handler) { mux.Handle(pattern, h) }}
	var workers []Worker
	for _, build := range g.workers {
		ws, err := build(deps)
		if err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		workers = append(workers, ws...)
	}
	// Workers that run an exactly-once stage count their transactions.
	stages := map[string]*eos.Stats{}
	for _, w := range workers {
		if st, ok := w.(interface{ Stats() *eos.Stats }); ok {
			stages[w.Name()] = st.Stats()
		}
		if ws, ok := w.(interface{ WriterStats() map[string]*eos.Stats }); ok {
			maps.Copy(stages, ws.WriterStats())
		}
	}
	reg.MustRegister(eos.NewCollector(stages))
	errs := make(chan error, len(workers))
	var wg sync.WaitGroup
	for _, w := range workers {
		ready.Add(w.Name(), w.Ready)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(wctx); err != nil && wctx.Err() == nil {
				errs <- fmt.Errorf("worker %s: %w", w.Name(), err)
			}
		}()
	}
	g.log.Info("gateway running", "workers", len(workers))

	var runErr error
	select {
	case <-ctx.Done():
		g.log.Info("shutting down", "reason", context.Cause(ctx))
	case runErr = <-errs:
		g.log.Error("worker failed; shutting down", "err", runErr)
	case err := <-httpDone:
		runErr = fmt.Errorf("http server: %w", err)
	}
	stop()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(g.cfg.Shutdown.D()):
		return errors.Join(runErr, fmt.Errorf("workers did not stop within shutdown_timeout %s", g.cfg.Shutdown))
	}
	return runErr
}
