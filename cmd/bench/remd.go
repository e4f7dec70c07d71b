package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// remdComparison is the РЭМД scenario's figures from this tree and, run
// in the same session, from the baseline commit.
type remdComparison struct {
	Tree        string   // this tree's commit, as git describes it
	Ours        remdRun  // this tree's
	BaselineRev string   // the commit of the baseline, empty when not asked for
	Baseline    *remdRun // nil when not run
	BaselineErr string   // why the baseline did not run, when asked for
}

// remdRun is one tree's two runs over the same signed documents: the
// normalize stage alone, then normalize and forward to the registry
// emulator until every document has its РЭМД outcome (the callback
// settled).
type remdRun struct {
	Alone, Forward result
}

// registered is how many documents РЭМД registered in the forward run.
func (r remdRun) registered() int {
	return r.Forward.Report.Registries[string(topics.RegistryREMD)+":registered"]
}

// perSecond is documents registered a second over the forward run.
func (r remdRun) perSecond() float64 {
	if r.Forward.Seconds <= 0 {
		return 0
	}
	return float64(r.registered()) / r.Forward.Seconds
}

// cpuPerRegistration is the gateway's CPU over the forward run, the
// documents' checks included, per document registered; 0 when none was.
func (r remdRun) cpuPerRegistration() time.Duration {
	n := r.registered()
	if n <= 0 {
		return 0
	}
	return total(r.Forward) / time.Duration(n)
}

// registrationCPU is what registering cost beyond normalizing, per
// document registered: the forward run's CPU less the normalize-alone
// run's over the same documents. It is the call, the file request and
// the callback (and their Kafka transactions), without the checks of the
// documents themselves, which changed between the trees for reasons of
// their own (issue 30's signatures). 0 when none was registered; it may
// come out at or below 0 on a noisy machine, and is then shown as such.
func (r remdRun) registrationCPU() time.Duration {
	n := r.registered()
	if n <= 0 {
		return 0
	}
	return (total(r.Forward) - total(r.Alone)) / time.Duration(n)
}

// cpuTick is the resolution of the CPU times the bench reads (USER_HZ).
const cpuTick = 10 * time.Millisecond

// total is a run's CPU over all its events.
func total(r result) time.Duration { return r.CPUPerEv * time.Duration(r.Events) }

// remd runs the РЭМД scenario with n signed documents (the load
// generator's, its default mix of trouble) on this tree, normalize alone
// and then normalize and forward, each beside raw franz-go doing its Kafka
// work, and then on the baseline commit when baseline is not empty. Its
// result is the forward run's, with the comparison.
func (b *bench) remd(ctx context.Context, n int, baseline string) (result, error) {
	alone, err := b.throughput(ctx, "РЭМД: documents normalized alone", n, false, 0, "document")
	if err != nil {
		return alone, fmt.Errorf("normalize alone: %w", err)
	}
	fwd, err := b.throughput(ctx, "РЭМД registration, documents only", n, true, 0, "document")
	if err != nil {
		return fwd, err
	}
	c := &remdComparison{Tree: "this tree", Ours: remdRun{Alone: alone, Forward: fwd}, BaselineRev: baseline}
	if d, err := describeTree(ctx); err == nil {
		c.Tree = d
	}
	if baseline != "" {
		b.log.Info("scenario", "name", "remd on "+baseline)
		base, err := b.remdBaseline(ctx, baseline, n)
		if err != nil {
			// The figures of this tree stand; the report says why the
			// baseline is missing.
			b.log.Warn("the baseline did not run", "rev", baseline, "err", err)
			c.BaselineErr = err.Error()
		} else {
			c.Baseline = &base
		}
	}
	fwd.REMD = c
	fwd.Note = fmt.Sprintf("%d of the load generator's signed СЭМД (the default mix of trouble, so a few are refused before РЭМД), normalized and forwarded to the emulator's РЭМД (5 ms a call) until each has its final РЭМД status, the callback settled; events/s is documents a second; CPU per registration and the baseline in the section on РЭМД below", n)
	return fwd, nil
}

// remdBaseline runs the РЭМД scenario with n documents on commit rev.
func (b *bench) remdBaseline(ctx context.Context, rev string, n int) (remdRun, error) {
	root, err := repoRoot(ctx)
	if err != nil {
		return remdRun{}, fmt.Errorf("the baseline needs the git repository: %w", err)
	}
	var r remdRun
	r.Alone, r.Forward, err = runBaseline(ctx, root, rev, n, os.Stderr)
	return r, err
}

// describeTree names the commit the bench runs on, -dirty when changed.
func describeTree(ctx context.Context) (string, error) {
	return git(ctx, ".", nil, "describe", "--always", "--dirty")
}

// remdSection sets the РЭМД scenario's figures from this tree beside the
// baseline's; empty when the scenario did not run.
func remdSection(rs []result) string {
	var c *remdComparison
	for _, r := range rs {
		if r.REMD != nil {
			c = r.REMD
		}
	}
	if c == nil {
		return ""
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("\n## РЭМД registration beside %s\n\n", cmp.Or(c.BaselineRev, "no baseline"))
	p("The `remd` scenario sends the load generator's signed documents only (two detached ГОСТ CMS signatures each,\n")
	p("the default mix of trouble) and waits until each has its outcome: the normalize stage's, and for each\n")
	p("accepted one РЭМД's final status, which comes with the registry's result callback. It runs twice over the\n")
	p("same documents, normalize alone and normalize and forward, so that what registering costs beyond the\n")
	p("documents' checks is the difference: the registration's call, the registry's request for the file (where\n")
	p("the protocol has one) and the result callback, with their Kafka transactions. The same two runs are then\n")
	p("made, in the same `make bench` session on the same broker, on the baseline commit, built in a temporary\n")
	p("git worktree with an overlay adding the same documents-only scenario (`--baseline`; cmd/bench/baseline.go).\n")
	p("557fb68 is the last commit before issue 31: its РЭМД protocol was a JSON shape of the project's own\n")
	p("(one JSON call, no file request, an unsigned JSON callback) and its documents' checks lighter (no CMS\n")
	p("verification), so the whole-gateway figure changes for both reasons and the registration's own CPU\n")
	p("isolates the protocol. РЭМД's own side (the emulator, 5 ms a call, in the bench process: on this tree it\n")
	p("verifies the gateway's signatures, fetches and checks the file and signs what it sends) is not in the\n")
	p("gateway's CPU. Raw franz-go is the same Kafka work of each tree's forward run, from that tree's session.\n\n")
	p("| tree | documents | registered | registered/s | raw franz-go, same Kafka work | gateway to raw | gateway's CPU per registration | normalize alone, CPU per document | registration's own CPU (call, file, callback) | every document its one outcome |\n")
	p("|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, r remdRun) {
		raw, ratio := "", ""
		if r.Forward.RawRate > 0 {
			raw, ratio = fmt.Sprintf("%.0f events/s", r.Forward.RawRate), fmt.Sprintf("%.0f%%", 100*r.Forward.Rate/r.Forward.RawRate)
		}
		p("| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %s |\n", name, r.Forward.Events, r.registered(), r.perSecond(), raw, ratio,
			us(r.cpuPerRegistration()), us(r.Alone.CPUPerEv), signedUS(r.registrationCPU()), verdict(r.Forward))
	}
	row(c.Tree, c.Ours)
	switch {
	case c.Baseline != nil:
		row(c.BaselineRev+" (JSON protocol)", *c.Baseline)
		p("\nThis tree beside %s: %s.\n", c.BaselineRev, strings.Join(remdRatios(c.Ours, *c.Baseline), "; "))
	case c.BaselineErr != "":
		p("\n**The baseline did not run**: %s.\n", c.BaselineErr)
	default:
		p("\nNo baseline was asked for (`--baseline \"\"`).\n")
	}
	if n := c.Ours.Forward.Events; n > 0 {
		p("\nThe gateway's CPU is read in ticks of 10 ms (/proc/PID/stat): with %d documents a figure per document is good to about %s.\n", n, us(cpuTick/time.Duration(n)))
	}
	return b.String()
}

// remdRatios are this tree's figures over the baseline's, those both
// runs measured.
func remdRatios(ours, base remdRun) []string {
	var out []string
	ratio := func(what string, a, b float64) {
		if a > 0 && b > 0 {
			out = append(out, fmt.Sprintf("%s ×%.2f", what, a/b))
		}
	}
	ratio("registered a second", ours.perSecond(), base.perSecond())
	ratio("gateway's CPU per registration", float64(ours.cpuPerRegistration()), float64(base.cpuPerRegistration()))
	ratio("registration's own CPU", float64(ours.registrationCPU()), float64(base.registrationCPU()))
	ratio("normalize alone, CPU per document", float64(ours.Alone.CPUPerEv), float64(base.Alone.CPUPerEv))
	if len(out) == 0 {
		out = append(out, "no figure measured on both")
	}
	return out
}

// signedUS is d in microseconds, negative ones included (a difference of
// two noisy runs); – for none.
func signedUS(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}
