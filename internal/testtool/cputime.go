package testtool

import (
	"syscall"
	"testing"
	"time"
)

// ReportCPU starts counting this process's CPU time (user and system) and
// returns a function that, called after the benchmark loop, reports it per
// iteration as "cpu-ns/op". On a shared machine wall-clock ns/op grows with
// every other process's load; CPU time counts only the work done here
// (garbage collection included), so it is the steadier figure to compare
// two implementations by. Use it as
//
//	report := testtool.ReportCPU(b)
//	for b.Loop() { ... }
//	report()
func ReportCPU(b *testing.B) func() {
	b.Helper()
	start, ok := processCPU()
	return func() {
		end, ok2 := processCPU()
		if !ok || !ok2 || b.N == 0 {
			return
		}
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// processCPU is the CPU time this process has used so far.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
