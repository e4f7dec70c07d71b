package main

import (
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
)

// remdRunOf makes a remdRun of n documents, registered of them by РЭМД over
// seconds, the gateway's CPU per document alone and forwarding.
func remdRunOf(n, registered int, seconds float64, alone, forward time.Duration) remdRun {
	return remdRun{
		Alone: result{Events: n, CPUPerEv: alone},
		Forward: result{Events: n, Seconds: seconds, CPUPerEv: forward, Rate: float64(n) / seconds, RawRate: 4 * float64(n) / seconds,
			Report: loadgen.Report{Registries: map[string]int{"remd:registered": registered, "remd:rejected": n - registered}}},
	}
}

// CPU per registration counts registered documents only, and the
// registration's own CPU is the forward run's less the normalize run's.
func TestRemdRunFigures(t *testing.T) {
	for _, tc := range []struct {
		name              string
		r                 remdRun
		perSecond         float64
		perReg, ownPerReg time.Duration
	}{
		{"every document registered", remdRunOf(1000, 1000, 2, 300*time.Microsecond, 500*time.Microsecond), 500, 500 * time.Microsecond, 200 * time.Microsecond},
		{"some refused", remdRunOf(1000, 800, 4, 300*time.Microsecond, 400*time.Microsecond), 200, 500 * time.Microsecond, 125 * time.Microsecond},
		{"noise: forwarding measured cheaper", remdRunOf(100, 100, 1, 500*time.Microsecond, 400*time.Microsecond), 100, 400 * time.Microsecond, -100 * time.Microsecond},
		{"none registered", remdRunOf(100, 0, 1, 500*time.Microsecond, 600*time.Microsecond), 0, 0, 0},
		{"not measured", remdRun{}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.perSecond(); got != tc.perSecond {
				t.Errorf("perSecond = %v, want %v", got, tc.perSecond)
			}
			if got := tc.r.cpuPerRegistration(); got != tc.perReg {
				t.Errorf("cpuPerRegistration = %v, want %v", got, tc.perReg)
			}
			if got := tc.r.registrationCPU(); got != tc.ownPerReg {
				t.Errorf("registrationCPU = %v, want %v", got, tc.ownPerReg)
			}
		})
	}
}

// The section sets this tree's row beside the baseline's with the ratios,
// or says loudly why the baseline is missing.
func TestRemdSection(t *testing.T) {
	ours := remdRunOf(1000, 1000, 2, 300*time.Microsecond, 600*time.Microsecond)
	base := remdRunOf(1000, 1000, 1, 100*time.Microsecond, 200*time.Microsecond)
	for _, tc := range []struct {
		name    string
		c       *remdComparison
		want    []string
		notWant []string
	}{
		{"beside the baseline", &remdComparison{Tree: "abc1234", Ours: ours, BaselineRev: "557fb68", Baseline: &base},
			[]string{"## РЭМД registration beside 557fb68", "| abc1234 | 1000 | 1000 | 500 | 2000 events/s | 25% | 600 µs | 300 µs | 300 µs |",
				"| 557fb68 (JSON protocol) | 1000 | 1000 | 1000 | 4000 events/s | 25% | 200 µs | 100 µs | 100 µs |",
				"registered a second ×0.50; gateway's CPU per registration ×3.00; registration's own CPU ×3.00; normalize alone, CPU per document ×3.00",
				"with 1000 documents a figure per document is good to about 10 µs"},
			[]string{"did not run"}},
		{"the baseline failed", &remdComparison{Tree: "abc1234", Ours: ours, BaselineRev: "557fb68", BaselineErr: "git worktree: boom"},
			[]string{"| abc1234 |", "**The baseline did not run**: git worktree: boom."}, []string{"JSON protocol) |"}},
		{"no baseline asked for", &remdComparison{Tree: "abc1234", Ours: ours},
			[]string{"beside no baseline", "No baseline was asked for"}, []string{"JSON protocol) |"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := remdSection([]result{{Name: "normalize alone"}, {Name: "РЭМД registration", REMD: tc.c}})
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("unexpected %q in\n%s", w, got)
				}
			}
		})
	}
	if got := remdSection([]result{{Name: "normalize alone"}}); got != "" {
		t.Errorf("without the remd scenario the section is %q, want none", got)
	}
}

// A ratio is given only for a figure both trees measured.
func TestRemdRatiosSkipUnmeasured(t *testing.T) {
	ours := remdRunOf(100, 100, 1, 100*time.Microsecond, 300*time.Microsecond)
	got := strings.Join(remdRatios(ours, remdRun{}), "; ")
	if got != "no figure measured on both" {
		t.Errorf("ratios beside an empty baseline = %q", got)
	}
	base := remdRunOf(100, 0, 1, 50*time.Microsecond, 300*time.Microsecond) // none registered
	got = strings.Join(remdRatios(ours, base), "; ")
	if got != "normalize alone, CPU per document ×2.00" {
		t.Errorf("ratios beside a baseline with no registration = %q", got)
	}
}
