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
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/emulator"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/internal/stack"
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
	latencyWarm time.Duration
	outage      time.Duration
	keys        int
	only        string
	profile     string
	profileSecs int
	baseline    string
}

func run(ctx context.Context, args []string, logw io.Writer) error {
	var o options
	// The scenarios read o and b when they run, after both are set.
	b := &bench{}
	set := map[string]bool{} // the flags given, filled once parsed
	scenarios := []struct {
		name string
		run  func(context.Context) (result, error)
	}{
		{"normalize", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize alone", o.events, false, 0, "")
		}},
		{"documents", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize alone, signed documents only", o.events/10, false, 0, "document")
		}},
		{"forward", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize and forward", o.events, true, 0, "")
		}},
		{"remd", func(ctx context.Context) (result, error) { return b.remd(ctx, o.events/10, o.baseline) }},
		{"503", func(ctx context.Context) (result, error) {
			return b.throughput(ctx, "normalize and forward, 30% of answers 503", o.events/2, true, 0.3, "")
		}},
		{"latency", func(ctx context.Context) (result, error) {
			rate, why := b.measured.latencyRate(o.latencyRate, set["latency-rate"])
			r, err := b.latency(ctx, rate, o.latencyWarm, o.latencyFor)
			r.Note = joinNote(why, r.Note)
			return r, err
		}},
		{"drain", func(ctx context.Context) (result, error) { return b.drain(ctx, o.outage) }},
		{"memory", func(ctx context.Context) (result, error) {
			keys, why := b.measured.memoryKeys(o.keys, set["keys"])
			r, err := b.memory(ctx, keys)
			r.Note = joinNote(why, r.Note)
			return r, err
		}},
	}
	// crypto needs no broker: it times ГОСТ signatures in this process.
	names := []string{"crypto"}
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&o.out, "out", "docs/BENCHMARKS.md", "where to write the report; - for standard output (the default with --only, so that a partial run leaves the report alone)")
	fs.IntVar(&o.events, "events", 100_000, "events per throughput scenario")
	fs.Float64Var(&o.latencyRate, "latency-rate", 2000, "events a second of the latency scenario; unless given, at most 70% of what this run measured (sizing.go)")
	fs.DurationVar(&o.latencyFor, "latency-for", 30*time.Second, "how long the latency scenario sends, timed")
	fs.DurationVar(&o.latencyWarm, "latency-warm", 5*time.Second, "how long the latency scenario sends at its rate before it times events")
	fs.DurationVar(&o.outage, "outage", time.Minute, "how long the registry is down in the drain scenario")
	fs.IntVar(&o.keys, "keys", 1_000_000, "dedup keys of the memory scenario; unless given, at most what normalize takes in 3 minutes at the rate this run measured (sizing.go)")
	fs.StringVar(&o.only, "only", "", "run only these scenarios, comma-separated ("+strings.Join(names, ",")+"); all when empty")
	fs.StringVar(&o.profile, "profile", "", "write CPU profiles of each scenario's measured window into this directory: the bench process's and the gateway's")
	fs.StringVar(&o.baseline, "baseline", baselineCommit, "run the remd scenario also on this commit, the JSON protocol's last, in a temporary git worktree; empty for none")
	fs.IntVar(&o.profileSecs, "profile-seconds", 15, "how long the gateway's profile runs, from the start of the measured window")
	err := fs.Parse(args)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.only != "" && !set["out"] {
		o.out = "-"
	}
	only := map[string]bool{}
	for _, id := range strings.Split(o.only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			if !slices.Contains(names, id) {
				return fmt.Errorf("--only %s: no such scenario; there are %s", id, strings.Join(names, ", "))
			}
			only[id] = true
		}
	}
	var sigs []cryptoRow
	if len(only) == 0 || only["crypto"] {
		if sigs, err = measureCrypto(); err != nil {
			return err
		}
		if len(only) == 1 {
			return writeReport(o, nil, sigs)
		}
	}
	brokers := os.Getenv(kafkatest.EnvBrokers)
	if brokers == "" {
		return fmt.Errorf("no broker: run under `go run ./cmd/kafka-local exec --`, which sets %s (make bench does)", kafkatest.EnvBrokers)
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	b.brokers, b.log = strings.Split(brokers, ","), log
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
		b.prof = &profiler{dir: o.profile, seconds: o.profileSecs, log: log}
	}
	bin, err := buildGateway(ctx)
	if err != nil {
		return err
	}
	b.bin = bin
	emu, err := stack.StartEmulator()
	if err != nil {
		return err
	}
	defer emu.Close()
	log.Info("registry emulator", "url", emu.URL)
	b.emu = emu

	if err := b.warmUp(ctx); err != nil {
		return err
	}
	var results []result
	for _, s := range scenarios {
		if len(only) > 0 && !only[s.name] {
			continue
		}
		log.Info("scenario", "name", s.name)
		r, err := s.run(ctx)
		if err != nil {
			// Keep what was measured, and say where it stopped.
			results = append(results, result{Name: s.name, Note: "did not finish: " + err.Error()})
			if werr := writeReport(o, results, sigs); werr != nil {
				return werr
			}
			return fmt.Errorf("%s: %w", s.name, err)
		}
		log.Info("scenario done", "name", s.name, "result", r.summary())
		results = append(results, r)
		switch s.name {
		case "normalize":
			b.measured.normalize = r.Rate
		case "forward":
			b.measured.forward = r.Rate
		}
	}
	return writeReport(o, results, sigs)
}

// joinNote puts a scenario's sizing note before what it noted itself.
func joinNote(sizing, note string) string {
	if sizing == "" {
		return note
	}
	if note == "" {
		return sizing
	}
	return sizing + " " + note
}

// payloadBytes pads events to about 1 KiB, the size the targets are set
// for; raw franz-go's records are of the same size.
const payloadBytes = 1024

type bench struct {
	measured capacity  // what the scenarios run so far took, to size later ones
	prof     *profiler // nil unless --profile
	brokers  []string
	bin      string
	emu      *stack.Emulator
	log      *slog.Logger
	n        int
	seeds    uint64 // the load generator seeds given out so far
}

// result is one scenario's figures.
type result struct {
	Name     string
	Events   int
	Seconds  float64
	Rate     float64 // events a second through the gateway
	CPUPerEv time.Duration
	Cores    cores // where the machine's CPU went meanwhile
	// The broker's CPU per event over the gateway's run, and over raw
	// franz-go's doing the same Kafka work; 0 when not measured.
	BrokerPerEv, RawBrokerPerEv time.Duration
	RawRate                     float64       // raw franz-go, same Kafka work, same run
	RawP50                      time.Duration // raw franz-go's latency to its first hop's statuses
	RawP99                      time.Duration
	RawRegP50                   time.Duration // and to its registries' hops' statuses
	RawRegP99                   time.Duration
	RawWork                     string // what raw franz-go did per event, beside the gateway
	RSSMiB                      float64
	PeakMiB                     float64
	Report                      loadgen.Report
	Note                        string
	Txns                        string // the stages' transactions a second and their mean batch
	Registered                  int
	REMD                        *remdComparison // the remd scenario's, beside the baseline's
}

func (r result) summary() string {
	return fmt.Sprintf("%d events, %.0f/s (raw %.0f/s), %s CPU/event, cores gateway/bench/broker/rest %s, broker CPU/event gateway/raw %s, RSS %.0f MiB, p50 %s p99 %s, invariant %v", r.Events, r.Rate, r.RawRate,
		r.CPUPerEv, r.Cores, brokerCell(r), r.RSSMiB, r.Report.Normalize.P50, r.Report.Normalize.P99, r.Report.OutcomesOK)
}

// prefix names a run's topics and groups: unique within the bench, and
// apart from an earlier bench's on the same broker.
func (b *bench) prefix(kind string) string {
	b.n++
	return fmt.Sprintf("%s%d%d.", kind, time.Now().Unix()%100000, b.n)
}

func (b *bench) startGateway(ctx context.Context, forward bool) (*stack.Gateway, error) {
	cfg := stack.GatewayConfig{Bin: b.bin, Brokers: b.brokers, Prefix: b.prefix("bench"),
		Instance: "bench", Log: os.Stderr,
		// Production's tiers wait 30 s, 5 min and 1 h: a record of the 503
		// scenario that fails its retries in place would hold the run for
		// minutes while the gateway does nothing. The path is the same.
		Env: []string{"EGISZ_RETRY_TIERS=2s,10s,30s"}}
	if b.prof != nil {
		cfg.Env = append(cfg.Env, "EGISZ_HTTP_PPROF=true")
	}
	if forward {
		cfg.RegistryURL, cfg.CallbackPKI = b.emu.URL, b.emu.PKI
	}
	return stack.StartGateway(ctx, cfg, 2*time.Minute)
}

func (b *bench) traffic(ctx context.Context, g *stack.Gateway, seed uint64, mix loadgen.Mix, patients int) (*stack.Traffic, error) {
	return stack.StartTraffic(ctx, b.brokers, trafficConfig(g.Prefix(), seed, mix, patients))
}

// seed is the next scenario's load generator seed. Every scenario has its
// own: the scenarios share one emulator, and the same seed would make the
// same document localUids, which РЭМД refuses for another document
// (NOT_UNIQUE_PROVIDED_ID) once an earlier scenario registered them.
func (b *bench) seed() uint64 {
	b.seeds++
	return 41 + b.seeds
}

// trafficConfig is the load generator of a scenario: its seed, and the
// payload size of every scenario; raw franz-go is fed events of the same
// generator, seed and mix.
func trafficConfig(prefix string, seed uint64, mix loadgen.Mix, patients int) loadgen.Config {
	return loadgen.Config{Seed: seed, Prefix: prefix, Mix: mix, Patients: patients, PayloadPad: payloadBytes}
}

// throughput sends n events as fast as the producer can and measures until
// every event has all its outcomes; then raw franz-go does the same Kafka
// work alone on the machine. With only set, the n events are all of that
// kind (the generator's others are skipped): "document" times the checks of
// signed СЭМД, each CDA parsed and its ГОСТ signatures verified.
func (b *bench) throughput(ctx context.Context, name string, n int, forward bool, rate503 float64, only string) (result, error) {
	r := result{Name: name, Events: n}
	lat := emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond, Rate503: rate503}
	b.emu.SetAll(lat)
	defer b.emu.SetAll(emulator.Faults{})
	g, err := b.startGateway(ctx, forward)
	if err != nil {
		return r, err
	}
	defer g.Stop()
	t, err := b.traffic(ctx, g, b.seed(), loadgen.DefaultMix, 50_000)
	if err != nil {
		return r, err
	}
	defer t.Close()
	if !forward {
		t.Track.NormalizeOnly()
	}
	evs := nextEventsOf(t.Gen, n, only)
	w := b.measure(ctx, name, g, true)
	defer w.stop()
	if err := sendWindowed(ctx, t, evs); err != nil {
		return r, err
	}
	if err := t.Settle(ctx, 5*time.Minute, b.log); err != nil {
		return r, err
	}
	w.end(ctx, &r, n)
	r.Rate = float64(n) / r.Seconds
	r.RSSMiB, r.PeakMiB = g.RSS()
	r.Report = t.Track.Report()
	if only == "document" {
		r.Note = "every event a signed СЭМД of 10 to 20 KiB (the load generator's documents, the default mix of trouble): its CDA parsed and checked against the event, its two detached CMS signatures (ГОСТ Р 34.10-2012, 256 bits) verified with their chains to the test CA; events/s is documents a second and CPU per event is CPU per document"
	}
	if rate503 > 0 {
		r.Note = fmt.Sprintf("%.0f%% of the emulator's answers are 503; a record retries in place, then goes through the retry tiers, shortened for the bench to 2 s, 10 s and 30 s", 100*rate503)
	}
	g.Stop()
	t.Close()
	rw := startCPU(nil)
	raw, p, err := b.rawSameWork(ctx, w.moved, kafkatest.Feed{N: n, Size: payloadBytes, Values: feedValues(evs)})
	if err != nil {
		return r, err
	}
	r.RawBrokerPerEv = rw.brokerPerEvent(n)
	r.RawRate = float64(n) / raw.Took.Seconds()
	r.RawWork = sameWorkNote(p, raw, w.moved, n)
	return r, nil
}

// rawCopy copies n records carrying values in turn, partitioned as the
// ingress is, in franz-go's own transactional loop.
func (b *bench) rawCopy(ctx context.Context, prefix string, n int, values [][]byte) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	// Gather the run's ingress into one topic for the copy.
	in, err := rawIn(ctx, cl, prefix)
	if err != nil {
		return 0, err
	}
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i % 50_000)), Value: values[i%len(values)]}, nil)
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

// rawIn creates the topic raw franz-go reads, partitioned like the
// gateway's ingress.
func rawIn(ctx context.Context, cl *kgo.Client, prefix string) (string, error) {
	in := prefix + "raw-in"
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, topics.PatientPartitions, 1, nil, in); err != nil {
		return "", fmt.Errorf("create %s: %w", in, err)
	}
	// Produced into before it is served, the topic would hold the copy's
	// first fetch back 5 s.
	return in, topics.WaitUsable(ctx, adm, in)
}

// latency sends at a steady rate, warm first and then for d, and reports
// the latency percentiles of the events sent after the warm-up: the first
// seconds of new stages and topics are slow on both sides, and the target
// is the steady state's. The warm-up lasts at least warm and then until
// the gateway keeps up (caughtUp); a started gateway has a backlog of the
// events sent while it joined its groups, and events timed in it measure
// the start, not the rate. Then raw franz-go does the same Kafka work fed
// at the same rate, warmed up as long.
func (b *bench) latency(ctx context.Context, rate float64, warm, d time.Duration) (result, error) {
	r := result{Name: fmt.Sprintf("latency at %.0f events/s", rate)}
	b.emu.SetAll(emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond})
	defer b.emu.SetAll(emulator.Faults{})
	g, err := b.startGateway(ctx, true)
	if err != nil {
		return r, err
	}
	defer g.Stop()
	t, err := b.traffic(ctx, g, b.seed(), loadgen.DefaultMix, 50_000)
	if err != nil {
		return r, err
	}
	defer t.Close()
	interval := time.Duration(float64(time.Second) / rate)
	w := b.measure(ctx, r.Name, g, true)
	defer w.stop()
	next, n := w.start, 0
	var sent []loadgen.Event // the first rawValues, for raw franz-go's feed
	send := func() {
		time.Sleep(time.Until(next))
		next = next.Add(interval)
		ev := t.Gen.Next()
		if len(sent) < rawValues {
			sent = append(sent, ev)
		}
		t.Send(ctx, ev)
		n++
	}
	checkEvery := max(1, int(rate/10)) // events: ten checks a second
	keptUp := false
	for ; ; send() {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		if n%checkEvery != 0 || time.Since(w.start) < warm {
			continue
		}
		if t.Track.AnsweredBefore(time.Now().Add(-caughtUp)) {
			keptUp = true
			break
		}
		if time.Since(w.start) >= warm+maxCatchUp {
			b.log.Warn("the gateway did not catch up within the warm-up; timing anyway", "warm", warm+maxCatchUp)
			break
		}
	}
	warmed := time.Since(w.start)
	warmNote := fmt.Sprintf("at least %s, and then until the gateway kept up (every event sent more than %s earlier had its normalize status; a starting gateway has a backlog of the events sent while it joined its groups)", warm, caughtUp)
	if !keptUp {
		warmNote = fmt.Sprintf("the gateway did not keep up within that time (every event sent more than %s earlier with its normalize status), so the figures include its backlog", caughtUp)
	}
	t.Track.TimeFrom(time.Now())
	for range int(rate * d.Seconds()) {
		send()
	}
	if err := t.Flush(ctx); err != nil {
		return r, err
	}
	if err := t.Settle(ctx, 5*time.Minute, b.log); err != nil {
		return r, err
	}
	r.Events = n
	w.end(ctx, &r, n)
	r.Rate = rate
	r.RSSMiB, r.PeakMiB = g.RSS()
	r.Report = t.Track.Report()
	g.Stop()
	t.Close()
	rw := startCPU(nil)
	raw, p, err := b.rawSameWork(ctx, w.moved, kafkatest.Feed{N: n, Size: payloadBytes, Values: feedValues(sent), Rate: rate, Warm: warmed})
	if err != nil {
		return r, err
	}
	r.RawBrokerPerEv = rw.brokerPerEvent(n)
	var regs []time.Duration
	for hop, lat := range raw.Latency {
		if hop != "normalize" {
			regs = append(regs, lat...)
		}
	}
	norm, reg := loadgen.Percentiles(raw.Latency["normalize"]), loadgen.Percentiles(regs)
	r.RawP50, r.RawP99, r.RawRegP50, r.RawRegP99 = norm.P50, norm.P99, reg.P50, reg.P99
	r.RawWork = sameWorkNote(p, raw, w.moved, n)
	r.Note = fmt.Sprintf("the gateway used %.2f of the machine's %d cores at this rate, the broker, the emulator and the load generator the rest (the cores column), so the figure is taken near the machine's capacity and varies from run to run. ", r.Cores.Gateway, runtime.NumCPU()) +
		fmt.Sprintf("Events are sent at this rate for %s before they are timed: %s; then timed for %s (%.0f timed); ", warmed.Round(100*time.Millisecond), warmNote, d, rate*d.Seconds()) +
		"Registry calls take 5 ms (the emulator); latency is from the produce to when a reader of `egisz.status.v1` (read committed, on this machine) saw the status. " +
		fmt.Sprintf("Of the latency to the normalize status, p50 %s and p99 %s were to the gateway's produce of the status (its record's timestamp, the end of the work of the transaction that decided the event), the rest writing, committing and reading it. ", ms(r.Report.NormalizeProduced.P50), ms(r.Report.NormalizeProduced.P99)) +
		"The raw figures are the same hops fed at the same rate: to the statuses of its normalize hop, and of its registries' hops"
	return r, nil
}

// caughtUp is how far behind the gateway may be, and still be said to
// keep up, at the end of the latency scenario's warm-up: every event sent
// longer ago than this has its normalize status. maxCatchUp is how long
// the warm-up waits for that past its minimum before timing anyway.
const (
	caughtUp   = time.Second
	maxCatchUp = time.Minute
)

// drain takes the registries down while events keep coming at 200/s, then
// brings them back, and measures how long the backlog takes to drain.
func (b *bench) drain(ctx context.Context, outage time.Duration) (result, error) {
	r := result{Name: fmt.Sprintf("backlog drain after a %s outage", outage)}
	lat := emulator.Faults{LatencyMin: 5 * time.Millisecond, LatencyMax: 5 * time.Millisecond}
	const rate = 200
	n := int(outage.Seconds() * rate)
	// Raw franz-go first: copy a backlog of as many records, the events
	// the gateway will be sent (the same generator, seed and mix).
	seed := b.seed()
	gen := loadgen.New(trafficConfig("", seed, loadgen.Mix{}, 50_000))
	raw, err := b.rawCopy(ctx, b.prefix("raw"), n, feedValues(nextEvents(gen, min(n, rawValues))))
	if err != nil {
		return r, err
	}
	r.RawRate = raw
	g, err := b.startGateway(ctx, true)
	if err != nil {
		return r, err
	}
	defer g.Stop()
	defer b.emu.SetAll(emulator.Faults{})
	t, err := b.traffic(ctx, g, seed, loadgen.Mix{}, 50_000)
	if err != nil {
		return r, err
	}
	defer t.Close()
	b.emu.SetAll(emulator.Faults{Down: true})
	for i := range n {
		t.Send(ctx, t.Gen.Next())
		if i%rate == 0 {
			time.Sleep(time.Second)
		}
	}
	if err := t.Flush(ctx); err != nil {
		return r, err
	}
	b.emu.SetAll(lat)
	w := b.measure(ctx, r.Name, g, false)
	defer w.stop()
	if err := t.Settle(ctx, 15*time.Minute, b.log); err != nil {
		return r, err
	}
	r.Events = n
	w.end(ctx, &r, n)
	r.Rate = float64(n) / r.Seconds
	r.Report = t.Track.Report()
	r.RSSMiB, r.PeakMiB = g.RSS()
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
	defer g.Stop()
	t, err := b.traffic(ctx, g, b.seed(), loadgen.Mix{}, 200_000)
	if err != nil {
		return r, err
	}
	defer t.Close()
	t.Track.NormalizeOnly()
	evs := nextEvents(t.Gen, keys)
	w := b.measure(ctx, r.Name, g, false)
	defer w.stop()
	if err := sendWindowed(ctx, t, evs); err != nil {
		return r, err
	}
	if err := t.Settle(ctx, 20*time.Minute, b.log); err != nil {
		return r, err
	}
	w.end(ctx, &r, keys)
	r.Rate = float64(keys) / r.Seconds
	runtime.GC()
	time.Sleep(2 * time.Second)
	r.RSSMiB, r.PeakMiB = g.RSS()
	r.Report = t.Track.Report()
	r.Note = "normalize alone, every event a new case, document, result or prescription; RSS after the load, and its peak"
	return r, nil
}

// rawValues is how many of a scenario's events raw franz-go's feed carries,
// in turn: enough for its batches to hold as many different events, and so
// compress, as the gateway's did.
const rawValues = 10_000

// feedValues are the values of up to rawValues of evs, for raw franz-go's
// feed: the same bytes the gateway was fed.
func feedValues(evs []loadgen.Event) [][]byte {
	vs := make([][]byte, 0, min(len(evs), rawValues))
	for _, ev := range evs[:min(len(evs), rawValues)] {
		vs = append(vs, ev.Record.Value)
	}
	return vs
}

// nextEvents makes n events ahead of a scenario's clock, so that making
// them is not timed as the gateway's work.
func nextEvents(g *loadgen.Generator, n int) []loadgen.Event { return nextEventsOf(g, n, "") }

// nextEventsOf is the next n events of the kind only, or of every kind
// when only is empty.
func nextEventsOf(g *loadgen.Generator, n int, only string) []loadgen.Event {
	evs := make([]loadgen.Event, 0, n)
	for len(evs) < n {
		if e := g.Next(); only == "" || e.Kind == only {
			evs = append(evs, e)
		}
	}
	return evs
}

// window is how many events sendWindowed lets wait for their outcome: the
// load generator's gap between a prescription and its dispensation. They
// are on different topics, ordered only by arrival, so a producer far ahead
// of the gateway makes dispensations overtake their prescriptions, and the
// gateway rightly refuses them RX_UNKNOWN. A window of this size keeps the
// gateway busy (it is two of the normalize stage's largest batches) while
// each prescription is answered before its dispensation is sent.
const window = 10_000

// sendWindowed sends evs as fast as the gateway answers them, at most
// window unanswered at a time, and waits for every produce.
func sendWindowed(ctx context.Context, t *stack.Traffic, evs []loadgen.Event) error {
	base := t.Track.Answered() // the identities Prime sent, all answered
	const step = window / 4
	sent, answered, moved := 0, 0, time.Now()
	for len(evs) > 0 {
		for sent-answered > window-step {
			if a := t.Track.Answered() - base; a > answered {
				answered, moved = a, time.Now()
				continue
			}
			if time.Since(moved) > 2*time.Minute {
				return fmt.Errorf("the gateway answered none of %d events for 2 minutes (%d sent, %d answered)", sent-answered, sent, answered)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		n := min(step, len(evs))
		t.Send(ctx, evs[:n]...)
		for _, ev := range evs[:n] {
			if ev.CEID != "" {
				sent++
			}
		}
		evs = evs[n:]
	}
	return t.Flush(ctx)
}

func buildGateway(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "egisz-bench-")
	if err != nil {
		return "", err
	}
	return stack.Build(ctx, "./cmd/egisz-gateway", dir)
}
