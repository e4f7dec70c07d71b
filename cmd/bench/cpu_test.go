package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
)

func TestCPUCountersGrowWithWork(t *testing.T) {
	self0, ok1 := selfCPU()
	busy0, ok2 := machineBusy()
	if !ok1 || !ok2 {
		t.Fatalf("counters not readable: self %v, machine %v", ok1, ok2)
	}
	// Spin until the process's own counter has moved: both must have.
	x := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for i := range 1_000_000 {
			x += i
		}
		if s, _ := selfCPU(); s-self0 >= 50*time.Millisecond {
			break
		}
	}
	self1, _ := selfCPU()
	busy1, _ := machineBusy()
	if self1-self0 < 50*time.Millisecond {
		t.Fatalf("self CPU grew %s after spinning (x=%d)", self1-self0, x)
	}
	// The machine's busy time includes this process's, within the
	// counters' 10 ms resolution.
	if busy1-busy0 < self1-self0-20*time.Millisecond {
		t.Errorf("machine busy time grew %s, less than this process's %s", busy1-busy0, self1-self0)
	}
}

// processCPU reads a process's counters: this one's grows as it spins,
// as the counters of its whole process do.
func TestProcessCPUGrowsWithWork(t *testing.T) {
	before, ok := processCPU(os.Getpid())
	if !ok {
		t.Fatal("this process's /proc stat not readable")
	}
	x := 0
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for i := range 1_000_000 {
			x += i
		}
		if s, _ := selfCPU(); s >= 100*time.Millisecond+before {
			break
		}
	}
	after, _ := processCPU(os.Getpid())
	self, _ := selfCPU()
	if after-before < 50*time.Millisecond {
		t.Fatalf("process CPU grew %s after spinning (x=%d)", after-before, x)
	}
	if d := self - after; d < -20*time.Millisecond || d > 20*time.Millisecond {
		t.Errorf("process CPU %s, getrusage %s: they should agree within the counters' resolution", after, self)
	}
	if _, ok := processCPU(-1); ok {
		t.Error("a process that does not exist has CPU time")
	}
}

// Under kafka-local exec (make test's real-Kafka pass), EGISZ_KAFKA_PIDS
// names the broker's processes and the bench reads their CPU.
func TestBrokerCPUOfTheProcessesKafkaLocalNames(t *testing.T) {
	v := os.Getenv(kafkabroker.EnvPids)
	if v == "" {
		t.Skipf("%s unset: not under kafka-local exec", kafkabroker.EnvPids)
	}
	for f := range strings.SplitSeq(v, ",") {
		cmdline, err := os.ReadFile("/proc/" + f + "/cmdline")
		if err != nil || !strings.Contains(string(cmdline), "kafka.Kafka") {
			t.Errorf("pid %s is not a Kafka broker: %v %q", f, err, cmdline)
		}
	}
	d, ok := brokerCPU()
	if !ok || d <= 0 {
		t.Errorf("broker CPU %s, %v; want some, read", d, ok)
	}
}

func TestCoresString(t *testing.T) {
	for _, tc := range []struct {
		c    cores
		want string
	}{
		{cores{}, ""},
		{cores{Gateway: 0.98, Bench: 0.61, Broker: 0.35, Rest: 0.05}, "0.98 / 0.61 / 0.35 / 0.05"},
		{cores{Gateway: 1.2, Bench: -1, Broker: -1, Rest: -1}, "1.20 / – / – / –"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestSlug(t *testing.T) {
	for name, want := range map[string]string{
		"normalize and forward":                     "normalize-and-forward",
		"normalize and forward, 30% of answers 503": "normalize-and-forward--30--of-answers-503",
		"backlog drain after a 1m0s outage":         "backlog-drain-after-a-1m0s-outage",
		"Memory":                                    "memory",
	} {
		if got := slug(name); got != want {
			t.Errorf("slug(%q) = %q, want %q", name, got, want)
		}
	}
}
