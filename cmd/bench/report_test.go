package main

import (
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
)

// The report says of each target whether this run met it, from the
// scenario that measures it, and "not run" when that scenario did not.
func TestTargetsSayWhereEachStands(t *testing.T) {
	lat := func(norm, reg time.Duration) loadgen.Report {
		return loadgen.Report{Normalize: loadgen.Latency{P99: norm}, EndToEnd: loadgen.Latency{P99: reg}}
	}
	for _, tc := range []struct {
		name string
		rs   []result
		want []string // one substring per target line
	}{
		{"nothing run", nil, []string{"20,000 events/s or more: not run", "2,000 events/s: not run at that rate", "1M dedup keys: not run with 1M keys"}},
		{"all met", []result{
			{Name: "normalize and forward", Rate: 21_000, RawRate: 30_000},
			{Name: "latency at 2000 events/s", Report: lat(40*time.Millisecond, 49*time.Millisecond), RawP99: 20 * time.Millisecond, RawRegP99: 30 * time.Millisecond},
			{Name: "memory with 1000000 dedup keys", RSSMiB: 400, PeakMiB: 450},
		}, []string{"21000 events/s, raw franz-go doing its Kafka work 30000: **met**", "40 ms to the normalize status and 49 ms to the registry's, raw franz-go over the same hops 20 ms and 30 ms: **met**", "400 MiB after the load, 450 at its peak: **met**"}},
		{"none met", []result{
			{Name: "normalize and forward", Rate: 2457, RawRate: 27_495},
			{Name: "latency at 2000 events/s", Report: lat(40*time.Millisecond, 1451*time.Millisecond)},
			{Name: "memory with 1000000 dedup keys", RSSMiB: 500, PeakMiB: 512},
		}, []string{"2457 events/s, raw franz-go doing its Kafka work 27495: **not met**", "1451 ms to the registry's", "**not met**", "512 at its peak: **not met**"}},
		{"other rates and sizes, or unfinished, are not the targets' runs", []result{
			{Name: "normalize and forward", Rate: 30_000, Note: "did not finish: broker gone"},
			{Name: "latency at 500 events/s", Report: lat(time.Millisecond, time.Millisecond)},
			{Name: "memory with 30000 dedup keys", PeakMiB: 100},
		}, []string{"20,000 events/s or more: not run", "not run at that rate", "not run with 1M keys"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(targets(tc.rs), "\n")
			if n := len(targets(tc.rs)); n != 3 {
				t.Fatalf("%d target lines, want 3:\n%s", n, got)
			}
			lacks(t, got, tc.want)
		})
	}
}

// The budget says what the broker and the bench would take of the machine
// at the target rate, and what that leaves the gateway: nothing, when
// they alone need more than the machine has.
func TestBudgetSaysWhatTheMachineLeavesTheGateway(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    result
		want []string // empty: no budget
	}{
		{"broker not measured", result{Events: 1000, Seconds: 1, Cores: cores{Bench: 0.5}, CPUPerEv: 200 * time.Microsecond}, nil},
		{"bench not measured", result{Events: 1000, Seconds: 1, Cores: cores{Bench: -1}, RawBrokerPerEv: 40 * time.Microsecond}, nil},
		// 40 µs of broker and 25 µs of bench at 20,000/s: 0.80 and 0.50
		// cores, 0.70 left, 35 µs an event.
		{"room left", result{Events: 1000, Seconds: 0.5, Cores: cores{Bench: 0.05}, RawBrokerPerEv: 40 * time.Microsecond, CPUPerEv: 200 * time.Microsecond},
			[]string{"(40 µs), would take 0.80 of the 2 cores", "(25 µs: load generator", "0.50, which leaves 35 µs of CPU per event for the gateway; it used 200 µs"}},
		// 40 µs and 170 µs: 0.80 and 3.40 cores, more than the machine.
		{"no room", result{Events: 1000, Seconds: 1, Cores: cores{Bench: 0.17}, RawBrokerPerEv: 40 * time.Microsecond, CPUPerEv: 267 * time.Microsecond},
			[]string{"3.40, which leaves nothing for the gateway (it used 267 µs per event): the rate is out of this machine's reach"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := budget(tc.r, 20_000, 2)
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("budget %q, want none", got)
				}
				return
			}
			lacks(t, got, tc.want)
		})
	}
}

// How busy the machine was is said with the parts, and a machine within
// a tenth of its cores is called saturated.
func TestBusyAtSaysWhenTheMachineIsSaturated(t *testing.T) {
	for _, tc := range []struct {
		name      string
		c         cores
		want      string // empty: nothing said
		saturated bool
	}{
		{"broker not measured", cores{Gateway: 0.5, Bench: 0.4, Broker: -1, Rest: -1}, "", false},
		{"room to spare", cores{Gateway: 0.5, Bench: 0.4, Broker: 0.5, Rest: 0.1}, "busy 1.50 of its 2 cores meanwhile (gateway 0.50, bench 0.40, broker 0.50)", false},
		{"saturated", cores{Gateway: 0.58, Bench: 0.47, Broker: 0.92, Rest: 0.02}, "busy 1.99 of its 2 cores meanwhile (gateway 0.58, bench 0.47, broker 0.92)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := busyAt(tc.c, 2)
			if tc.want == "" {
				if got != "" {
					t.Fatalf("said %q, want nothing", got)
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("said %q, want %q in it", got, tc.want)
			}
			if s := strings.Contains(got, "saturated"); s != tc.saturated {
				t.Errorf("said %q: saturated %v, want %v", got, s, tc.saturated)
			}
		})
	}
}

// lacks reports each of want that text does not contain.
func lacks(t *testing.T, text string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("lacks %q:\n%s", w, text)
		}
	}
}
