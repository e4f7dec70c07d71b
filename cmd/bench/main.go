// Command bench measures the gateway as it runs in production, a separate
// process against a real Kafka broker, and writes docs/BENCHMARKS.md:
// throughput, CPU per event, memory and latency for normalize alone,
// normalize and forward, forward with 30% of answers 503, and the drain of
// a backlog after an outage, each beside raw franz-go doing the same Kafka
// work in the same run. `make bench` runs it under kafka-local:
//
//	go run ./cmd/kafka-local exec -- go run ./cmd/bench --out docs/BENCHMARKS.md
//
// It builds the gateway from this tree, starts the registry emulator in
// its own process memory (5 ms per call), and drives both with the load
// generator.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	out         string
	events      int
	latencyRate float64
	latencyFor  time.Duration
	outage      time.Duration
	keys        int
}

func run(ctx context.Context, args []string, logw io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "docs/BENCHMARKS.md", "where to write the report")
	fs.IntVar(&o.events, "events", 100_000, "events per throughput scenario")
	fs.Float64Var(&o.latencyRate, "latency-rate", 2000, "events a second of the latency scenario")
	fs.DurationVar(&o.latencyFor, "latency-for", 30*time.Second, "how long the latency scenario sends")
	fs.DurationVar(&o.outage, "outage", time.Minute, "how long the registry is down in the drain scenario")
	fs.IntVar(&o.keys, "keys", 1_000_000, "dedup keys of the memory scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	brokers := os.Getenv(kafkatest.EnvBrokers)
	if brokers == "" {
		return fmt.Errorf("no broker: run under `go run ./cmd/kafka-local exec --`, which sets %s (make bench does)", kafkatest.EnvBrokers)
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	b := &bench{brokers: strings.Split(brokers, ","), log: log}
	bin, err := buildGateway()
	if err != nil {
		return err
	}
	b.bin = bin
	emu, err := startEmulator(log)
	if err != nil {
		return err
	}
	defer emu.close()
	b.emu = emu

	var results []result
	scenarios := []struct {
		name string
		run  func(context.Context) (result, error)
	}{
		{"normalize alone", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize alone", o.events, false, 0)
		}},
		{"normalize and forward", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize and forward", o.events, true, 0)
		}},
		{"forward with 30% 503", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize and forward, 30% of answers 503", o.events/2, true, 0.3)
		}},
		{"latency", func(ctx context.Context) (result, error) { return b.latency(ctx, o.latencyRate, o.latencyFor) }},
		{"drain", func(ctx context.Context) (result, error) { return b.drain(ctx, o.outage) }},
		{"memory", func(ctx context.Context) (result, error) { return b.memory(ctx, o.keys) }},
	}
	for _, s := range scenarios {
		log.Info("scenario", "name", s.name)
		r, err := s.run(ctx)
		if err != nil {
			// Keep what was measured, and say where it stopped.
			results = append(results, result{Name: s.name, Note: "did not finish: " + err.Error()})
			if werr := writeReport(o, results); werr != nil {
				return werr
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
		log.Info("scenario done", "name", s.name, "result", r.summary())
		results = append(results, r)
	}
	return writeReport(o, results)
}

type bench struct {
	brokers []string
	bin     string
	emu     *emu
	log     *slog.Logger
	n       int
}

// result is one scenario's figures.
type result struct {
	Name       string
	Events     int
	Seconds    float64
	Rate       float64 // events a second through the gateway
	CPUPerEv   time.Duration
	RawRate    float64 // raw franz-go, same Kafka work, same run
	RSSMiB     float64
	PeakMiB    float64
	Report     loadgen.Report
	Note       string
	Registered int
}

func (r result) summary() string {
	return fmt.Sprintf("%d events, %.0f/s (raw %.0f/s), %s CPU/event, RSS %.0f MiB, p50 %s p99 %s, invariant %v", r.Events, r.Rate, r.RawRate,
		r.CPUPerEv, r.RSSMiB, r.Report.Normalize.P50, r.Report.Normalize.P99, r.Report.OutcomesOK)
}

// gateway is `egisz-gateway run` as a child process.
type gateway struct {
	cmd    *exec.Cmd
	http   string
	prefix string
	done   chan error
}

func (b *bench) startGateway(ctx context.Context, forward bool) (*gateway, error) {
	b.n++
	g := &gateway{prefix: fmt.Sprintf("bench%d%d.", time.Now().Unix()%100000, b.n), http: freeAddr(), done: make(chan error, 1)}
	env := append(os.Environ(),
		"EGISZ_KAFKA_BROKERS="+strings.Join(b.brokers, ","), "EGISZ_TOPIC_PREFIX="+g.prefix,
		"EGISZ_INSTANCE_ID=bench", "EGISZ_HTTP_LISTEN="+g.http, "EGISZ_LOG_LEVEL=warn",
		"EGISZ_KAFKA_REPLICATION_FACTOR=1",
		// A document whose callback is lost is looked up after 30 s, not 10 min.
		"EGISZ_REMD_RECONCILE_AFTER=30s")
	if forward {
		for _, r := range []string{"REMD", "IEMK", "ERX"} {
			env = append(env, "EGISZ_FORWARD_"+r+"_URL="+b.emu.url, "EGISZ_FORWARD_"+r+"_CONCURRENCY=256",
				"EGISZ_FORWARD_"+r+"_BACKOFF_MIN=50ms", "EGISZ_FORWARD_"+r+"_BREAKER_OPEN=2s")
		}
	}
	g.cmd = exec.CommandContext(ctx, b.bin, "run")
	g.cmd.Env = env
	g.cmd.Stderr = os.Stderr
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { g.done <- g.cmd.Wait() }()
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + g.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		select {
		case err := <-g.done:
			return nil, fmt.Errorf("gateway exited: %v", err)
		default:
		}
		if time.Since(start) > 2*time.Minute {
			g.stop()
			return nil, fmt.Errorf("gateway not ready after 2 minutes")
		}
	}
}

func (g *gateway) stop() {
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.done:
	case <-time.After(20 * time.Second):
		_ = g.cmd.Process.Kill()
	}
}

// cpu is the process's user and system CPU so far.
func (g *gateway) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", g.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// rss returns the resident set and its peak, MiB.
func (g *gateway) rss() (float64, float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", g.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	var now, peak float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			now = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return now, peak
}

// traffic is a load generator run against a gateway: references first,
// then the events, tracked.
type traffic struct {
	cl  *kgo.Client
	gen *loadgen.Generator
	tr  *loadgen.Tracker
}

func (b *bench) traffic(ctx context.Context, g *gateway, mix loadgen.Mix, patients int) (*traffic, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200_000))
	if err != nil {
		return nil, err
	}
	t := &traffic{cl: cl, gen: loadgen.New(loadgen.Config{Seed: 42, Prefix: g.prefix, Mix: mix, Patients: patients, PayloadPad: 1024}), tr: loadgen.NewTracker()}
	from, err := loadgen.StatusOffsets(ctx, cl, g.prefix)
	if err != nil {
		return nil, err
	}
	go func() { _ = t.tr.Run(ctx, []kgo.Opt{kgo.SeedBrokers(b.brokers...)}, g.prefix, from) }()
	if err := loadgen.Prime(ctx, cl, t.gen, t.tr); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *traffic) send(ctx context.Context, evs []loadgen.Event) {
	for _, ev := range evs {
		ev.Record.Timestamp = time.Now()
		t.tr.Sent(ev)
		t.cl.Produce(ctx, ev.Record, nil)
	}
}

func (t *traffic) settle(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	shown := time.Now()
	for !t.tr.Settled() {
		if time.Since(shown) > 10*time.Second {
			shown = time.Now()
			r := t.tr.Report()
			slog.Info("waiting for outcomes", "sent", r.Sent, "answered", t.tr.Answered(), "unfinished", r.Unfinished, "outcomes", r.Outcomes, "registries", r.Registries)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			r := t.tr.Report()
			return fmt.Errorf("not settled: %d sent, %d answered, lost %d, unfinished %d", r.Sent, t.tr.Answered(), r.Lost, r.Unfinished)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// throughput sends n events as fast as the producer can and measures until
// every event has all its outcomes.
func (b *bench) throughput(ctx context.Context, name string, n int, forward bool, rate503 float64) (result, error) {
	r := result{Name: name, Events: n}
	lat := emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond, Rate503: rate503}
	for _, reg := range []string{emulator.REMD, emulator.IEMK, emulator.ERX} {
		b.emu.SetFaults(reg, lat)
	}
	defer b.emu.reset()
	// Raw franz-go first, alone on the machine: read as many records of the
	// same size and write them again in transactions.
	b.n++
	raw, err := b.rawCopy(ctx, fmt.Sprintf("raw%d%d.", time.Now().Unix()%100000, b.n), n)
	if err != nil {
		return r, err
	}
	r.RawRate = raw
	g, err := b.startGateway(ctx, forward)
	if err != nil {
		return r, err
	}
	defer g.stop()
	t, err := b.traffic(ctx, g, loadgen.DefaultMix, 50_000)
	if err != nil {
		return r, err
	}
	defer t.cl.Close()
	if !forward {
		t.tr.NormalizeOnly()
	}
	evs := make([]loadgen.Event, n)
	for i := range evs {
		evs[i] = t.gen.Next()
	}
	cpu0, start := g.cpu(), time.Now()
	t.send(ctx, evs)
	if err := t.cl.Flush(ctx); err != nil {
		return r, err
	}
	if err := t.settle(ctx, 5*time.Minute); err != nil {
		return r, err
	}
	took, cpu := time.Since(start), g.cpu()-cpu0
	r.Seconds, r.Rate, r.CPUPerEv = took.Seconds(), float64(n)/took.Seconds(), cpu/time.Duration(n)
	r.RSSMiB, r.PeakMiB = g.rss()
	r.Report = t.tr.Report()
	return r, nil
}

// rawCopy copies the n ingress records of the run from the case topic's
// partitions, all ingress topics, in franz-go's own transactional loop.
func (b *bench) rawCopy(ctx context.Context, prefix string, n int) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	// Gather the run's ingress into one topic for the copy.
	in := prefix + "raw-in"
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, topics.PatientPartitions, 1, nil, in); err != nil {
		return 0, err
	}
	pad := make([]byte, 1024)
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i % 50_000)), Value: pad}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	took, err := kafkatest.RawTransactCopy(ctx, b.brokers, prefix+"raw", in, prefix+"raw-out", n)
	if err != nil {
		return 0, err
	}
	return float64(n) / took.Seconds(), nil
}

// latency sends at a steady rate and reports the latency percentiles.
func (b *bench) latency(ctx context.Context, rate float64, d time.Duration) (result, error) {
	r := result{Name: fmt.Sprintf("latency at %.0f events/s", rate)}
	for _, reg := range []string{emulator.REMD, emulator.IEMK, emulator.ERX} {
		b.emu.SetFaults(reg, emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond})
	}
	defer b.emu.reset()
	g, err := b.startGateway(ctx, true)
	if err != nil {
		return r, err
	}
	defer g.stop()
	t, err := b.traffic(ctx, g, loadgen.DefaultMix, 50_000)
	if err != nil {
		return r, err
	}
	defer t.cl.Close()
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	cpu0, start := g.cpu(), time.Now()
	next := start
	for range n {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		ev := t.gen.Next()
		t.send(ctx, []loadgen.Event{ev})
	}
	if err := t.cl.Flush(ctx); err != nil {
		return r, err
	}
	if err := t.settle(ctx, 5*time.Minute); err != nil {
		return r, err
	}
	r.Events, r.Seconds = n, time.Since(start).Seconds()
	r.Rate = float64(n) / d.Seconds()
	r.CPUPerEv = (g.cpu() - cpu0) / time.Duration(n)
	r.RSSMiB, r.PeakMiB = g.rss()
	r.Report = t.tr.Report()
	r.Note = "registry calls take 5 ms (the emulator); latency is from the produce to the status record, both timestamps of the producers on this machine"
	return r, nil
}

// drain takes the registries down while events keep coming at 200/s, then
// brings them back, and measures how long the backlog takes to drain.
func (b *bench) drain(ctx context.Context, outage time.Duration) (result, error) {
	r := result{Name: fmt.Sprintf("backlog drain after a %s outage", outage)}
	lat := emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond}
	g, err := b.startGateway(ctx, true)
	if err != nil {
		return r, err
	}
	defer g.stop()
	defer b.emu.reset()
	t, err := b.traffic(ctx, g, loadgen.Mix{}, 50_000)
	if err != nil {
		return r, err
	}
	defer t.cl.Close()
	for _, reg := range []string{emulator.REMD, emulator.IEMK, emulator.ERX} {
		b.emu.SetFaults(reg, emulator.Faults{Down: true})
	}
	const rate = 200
	n := int(outage.Seconds() * rate)
	for i := range n {
		t.send(ctx, []loadgen.Event{t.gen.Next()})
		if i%rate == 0 {
			time.Sleep(time.Second)
		}
	}
	if err := t.cl.Flush(ctx); err != nil {
		return r, err
	}
	for _, reg := range []string{emulator.REMD, emulator.IEMK, emulator.ERX} {
		b.emu.SetFaults(reg, lat)
	}
	start := time.Now()
	if err := t.settle(ctx, 15*time.Minute); err != nil {
		return r, err
	}
	r.Events, r.Seconds = n, time.Since(start).Seconds()
	r.Rate = float64(n) / r.Seconds
	r.Report = t.tr.Report()
	r.RSSMiB, r.PeakMiB = g.rss()
	r.Note = fmt.Sprintf("%d events sent at %d/s while every registry answered 503; the time is from the registries' return to the last registration (no rate limit; the breaker probes every 2 s)", n, rate)
	return r, nil
}

// memory loads keys distinct events (every one a new dedup key) and
// reports the gateway's resident memory.
func (b *bench) memory(ctx context.Context, keys int) (result, error) {
	r := result{Name: fmt.Sprintf("memory with %d dedup keys", keys), Events: keys}
	g, err := b.startGateway(ctx, false)
	if err != nil {
		return r, err
	}
	defer g.stop()
	t, err := b.traffic(ctx, g, loadgen.Mix{}, 200_000)
	if err != nil {
		return r, err
	}
	defer t.cl.Close()
	t.tr.NormalizeOnly()
	start := time.Now()
	const chunk = 50_000
	for sent := 0; sent < keys; sent += chunk {
		evs := make([]loadgen.Event, min(chunk, keys-sent))
		for i := range evs {
			evs[i] = t.gen.Next()
		}
		t.send(ctx, evs)
		if err := t.cl.Flush(ctx); err != nil {
			return r, err
		}
	}
	if err := t.settle(ctx, 20*time.Minute); err != nil {
		return r, err
	}
	r.Seconds = time.Since(start).Seconds()
	r.Rate = float64(keys) / r.Seconds
	runtime.GC()
	time.Sleep(2 * time.Second)
	r.RSSMiB, r.PeakMiB = g.rss()
	r.Report = t.tr.Report()
	r.Note = "normalize alone, every event a new case, document, result or prescription; RSS after the load, and its peak"
	return r, nil
}

// emu is the registry emulator on a loopback HTTP server.
type emu struct {
	*emulator.Emulator
	url string
	srv *http.Server
}

func startEmulator(log *slog.Logger) (*emu, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := emulator.New("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := &http.Server{Handler: e.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("registry emulator", "url", "http://"+ln.Addr().String())
	return &emu{Emulator: e, url: "http://" + ln.Addr().String(), srv: srv}, nil
}

func (e *emu) reset() {
	for _, r := range []string{emulator.REMD, emulator.IEMK, emulator.ERX} {
		e.SetFaults(r, emulator.Faults{})
	}
}

func (e *emu) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = e.srv.Shutdown(ctx)
	e.Close()
}

func buildGateway() (string, error) {
	dir, err := os.MkdirTemp("", "egisz-bench-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "egisz-gateway")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/egisz-gateway").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}
