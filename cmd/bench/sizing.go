package main

import (
	"fmt"
	"math"
	"time"
)

// The latency and memory scenarios were sized when normalize decided some
// 15,000 events a second: 2000 events a second, and a million events sent
// as fast as normalize takes them. Since documents are checked (the CDA
// and two ГОСТ signatures each, issue 30) normalize takes a fraction of
// that on this machine: at 2000 a second the latency scenario measured a
// backlog growing for its whole run, not a latency, and the memory
// scenario took longer than the rest of `make bench` together. Unless
// their flags are given, both are sized from the throughput this run
// measured, and the report names the rate and the key count they ran at
// (the targets then say "not run at that rate", which is the truth).
const (
	// latencyLoad is the share of the measured capacity (normalize and
	// forward, else normalize alone) the latency scenario sends at: a
	// latency is measured below saturation, where queues do not grow.
	latencyLoad = 0.7
	// memoryBudget is how long the memory scenario may take to send its
	// keys at the measured normalize rate.
	memoryBudget = 3 * time.Minute
	// minLatencyRate and minMemoryKeys keep either scenario meaningful
	// on a machine that measured almost nothing.
	minLatencyRate = 100
	minMemoryKeys  = 50_000
)

// capacity is what the throughput scenarios of this run measured, events a
// second; 0 when not run (or not finished).
type capacity struct {
	normalize, forward float64
}

// latencyRate is the latency scenario's rate: want when the flag was set
// or nothing was measured, else the lower of want and latencyLoad of the
// capacity, rounded down to 100 events a second. why says what was done.
func (c capacity) latencyRate(want float64, set bool) (rate float64, why string) {
	measured, what := c.forward, "normalize and forward"
	if measured <= 0 {
		measured, what = c.normalize, "normalize alone"
	}
	if set || measured <= 0 {
		return want, ""
	}
	sized := max(minLatencyRate, math.Floor(latencyLoad*measured/100)*100)
	if sized >= want {
		return want, ""
	}
	return sized, fmt.Sprintf("Sent at %.0f events/s, not %.0f: %.0f%% of the %.0f events/s %s took in this run (--latency-rate sets it).",
		sized, want, latencyLoad*100, measured, what)
}

// memoryKeys is the memory scenario's event count: want when the flag was
// set or normalize was not measured, else the lower of want and what
// normalize takes in memoryBudget, rounded down to 10,000.
func (c capacity) memoryKeys(want int, set bool) (keys int, why string) {
	if set || c.normalize <= 0 {
		return want, ""
	}
	sized := max(minMemoryKeys, int(c.normalize*memoryBudget.Seconds())/10_000*10_000)
	if sized >= want {
		return want, ""
	}
	return sized, fmt.Sprintf("%d keys, not %d: what normalize alone takes in %s at the %.0f events/s it took in this run (--keys sets it).",
		sized, want, memoryBudget, c.normalize)
}
