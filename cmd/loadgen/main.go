// Command loadgen sends realistic traffic to a running gateway (`egisz-gateway
// dev`, or `run` against a cluster) and checks what comes back: the ФРМР and
// ФРМО feeds and identity confirmations first, then cases, documents, lab
// results, prescriptions and dispensations with a mix of duplicates,
// updates, conflicts and records the gateway must refuse, at a given rate
// or as fast as it can. It reads egisz.status.v1 and reports outcomes,
// latency from produce to status, and whether every event got exactly the
// one outcome it must (DESIGN §8). The same seed sends the same events.
//
//	go run ./cmd/loadgen --events 10000 --rate 500
//
// Exit codes: 0 every event got its outcome, 1 one did not (lost,
// duplicated or unexpected), 2 bad usage or no cluster.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the flags of a run.
type options struct {
	brokers, prefix, mix string
	events               int
	rate                 float64
	seed                 uint64
	patients, pad        int
	wait                 time.Duration
	json, progress       bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "Kafka brokers, comma-separated (the dev stack's by default)")
	fs.StringVar(&o.prefix, "topic-prefix", "", "the gateway's topic prefix")
	fs.IntVar(&o.events, "events", 10_000, "events to send (besides references and identities)")
	fs.Float64Var(&o.rate, "rate", 0, "events a second; 0 sends as fast as the producer can")
	fs.Uint64Var(&o.seed, "seed", 1, "the same seed sends the same events")
	fs.StringVar(&o.mix, "mix", "", "shares of trouble, e.g. duplicate=0.05,update=0.05,conflict=0.01,invalid_id=0.02,unknown_doctor=0.01,expired_cert=0.01,mismatch=0.01 (default those), and poison=0.03 (no poison by default); none for only good events")
	fs.IntVar(&o.patients, "patients", 10_000, "distinct patients")
	fs.IntVar(&o.pad, "payload-bytes", 0, "pad payloads to about this many bytes")
	fs.DurationVar(&o.wait, "wait", 2*time.Minute, "how long to wait for the last outcomes after sending")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.progress, "progress", isTerminal(stderr), "show progress on stderr (default: when it is a terminal)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	mix, err := loadgen.ParseMix(o.mix)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	rep, err := send(ctx, o, mix, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		printReport(stdout, rep)
	}
	if !rep.OutcomesOK {
		return 1
	}
	return 0
}

func send(ctx context.Context, o options, mix loadgen.Mix, stderr io.Writer) (loadgen.Report, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(o.brokers, ",")...)}
	cl, err := kgo.NewClient(append(opts, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000),
		// Poison includes 5 MiB values; the ingress topics take 8 MiB.
		kgo.ProducerBatchMaxBytes(topics.LargeRecordBytes))...)
	if err != nil {
		return loadgen.Report{}, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = cl.Ping(pctx)
	cancel()
	if err != nil {
		return loadgen.Report{}, fmt.Errorf("cannot reach Kafka at %s: %w", o.brokers, err)
	}
	g := loadgen.New(loadgen.Config{Seed: o.seed, Prefix: o.prefix, Mix: mix, Patients: o.patients, PayloadPad: o.pad})
	tr := loadgen.NewTracker()
	from, err := loadgen.StatusOffsets(ctx, cl, o.prefix)
	if err != nil {
		return loadgen.Report{}, err
	}
	stopTracker, err := tr.Start(ctx, opts, o.prefix, from)
	if err != nil {
		return loadgen.Report{}, err
	}
	defer stopTracker()

	// References and identities go first and are waited for: events are
	// judged against them.
	if err := loadgen.Prime(ctx, cl, g, tr); err != nil {
		return loadgen.Report{}, err
	}

	var failed atomic.Int64
	var firstErr atomic.Value
	promise := func(_ *kgo.Record, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	start := time.Now()
	next := start
	interval := time.Duration(0)
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) / o.rate)
	}
	lastShown := time.Time{}
	for i := range o.events {
		if interval > 0 {
			if err := sleep(ctx, time.Until(next)); err != nil {
				break
			}
			next = next.Add(interval)
		}
		if ctx.Err() != nil {
			break
		}
		ev := g.Next()
		ev.Record.Timestamp = time.Now()
		tr.Sent(ev)
		cl.Produce(ctx, ev.Record, promise)
		if o.progress && time.Since(lastShown) > 200*time.Millisecond {
			lastShown = time.Now()
			showProgress(stderr, "sending", i+1, o.events, start, tr)
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return loadgen.Report{}, err
	}
	if n := failed.Load(); n > 0 {
		return loadgen.Report{}, fmt.Errorf("%d records could not be produced: %v", n, firstErr.Load())
	}
	sent := time.Since(start)
	deadline := time.Now().Add(o.wait)
	for !tr.Settled() && time.Now().Before(deadline) && ctx.Err() == nil {
		if o.progress && time.Since(lastShown) > 200*time.Millisecond {
			lastShown = time.Now()
			showProgress(stderr, "waiting", o.events, o.events, start, tr)
		}
		_ = sleep(ctx, 50*time.Millisecond)
	}
	time.Sleep(time.Second) // a duplicate would come now
	if o.progress {
		fmt.Fprintln(stderr)
	}
	rep := tr.Report()
	rep.SendSeconds = sent.Seconds()
	rep.SendRate = float64(o.events) / sent.Seconds()
	return rep, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func showProgress(w io.Writer, what string, done, total int, start time.Time, tr *loadgen.Tracker) {
	el := time.Since(start).Seconds()
	width := 30
	filled := done * width / max(total, 1)
	fmt.Fprintf(w, "\r%s [%s%s] %d/%d  %.0f events/s  answered %d\x1b[K", what,
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), done, total, float64(done)/max(el, 1e-3), tr.Answered())
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func printReport(w io.Writer, r loadgen.Report) {
	fmt.Fprintf(w, "sent %d events (identity confirmations first included) in %.1f s (%.0f/s)\n", r.Sent, r.SendSeconds, r.SendRate)
	fmt.Fprintln(w, "normalize outcomes:")
	for _, k := range sortedKeys(r.Outcomes) {
		fmt.Fprintf(w, "  %-45s %d\n", k, r.Outcomes[k])
	}
	fmt.Fprintln(w, "registry outcomes:")
	for _, k := range sortedKeys(r.Registries) {
		fmt.Fprintf(w, "  %-45s %d\n", k, r.Registries[k])
	}
	fmt.Fprintf(w, "latency, produce to normalize status: p50 %s p99 %s max %s (%d)\n", r.Normalize.P50.Round(time.Millisecond), r.Normalize.P99.Round(time.Millisecond), r.Normalize.Max.Round(time.Millisecond), r.Normalize.N)
	fmt.Fprintf(w, "  of it, to the gateway's produce of the status: p50 %s p99 %s max %s\n", r.NormalizeProduced.P50.Round(time.Millisecond), r.NormalizeProduced.P99.Round(time.Millisecond), r.NormalizeProduced.Max.Round(time.Millisecond))
	fmt.Fprintf(w, "latency, produce to registry final status: p50 %s p99 %s max %s (%d)\n", r.EndToEnd.P50.Round(time.Millisecond), r.EndToEnd.P99.Round(time.Millisecond), r.EndToEnd.Max.Round(time.Millisecond), r.EndToEnd.N)
	fmt.Fprintf(w, "lost %d, duplicated %d, unfinished %d, unexpected %d\n", r.Lost, r.Duplicated, r.Unfinished, r.Unexpected)
	for _, e := range r.Examples {
		fmt.Fprintln(w, "  ", e)
	}
	switch {
	case r.OutcomesOK:
		fmt.Fprintln(w, "invariant held: every event got exactly one outcome, the one it must")
	case r.InvariantOK:
		fmt.Fprintln(w, "invariant held, but some outcomes were not the ones expected")
	default:
		fmt.Fprintln(w, "INVARIANT BROKEN: an event has no outcome or more than one")
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
