package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
	"github.com/egisz-gateway/egisz-gateway/internal/stack"
)

// cpuWindow measures where the machine's CPU goes over a scenario: to the
// gateway process, to the bench's own (load generator, status tracker,
// registry emulator), to the broker (the processes `kafka-local exec`
// names in EGISZ_KAFKA_PIDS), and to the rest (whatever else the machine
// runs). The report gives them side by side, so that a rate shows whether
// the gateway or the machine was the limit.
type cpuWindow struct {
	g                           *stack.Gateway // nil over raw franz-go's runs
	gw, self, busy, broker      time.Duration
	at                          time.Time
	selfOK, machineOK, brokerOK bool
}

// cores is CPU time over a window in cores used; a part not measured is -1.
type cores struct{ Gateway, Bench, Broker, Rest float64 }

func startCPU(g *stack.Gateway) cpuWindow {
	w := cpuWindow{g: g, at: time.Now()}
	if g != nil {
		w.gw = g.CPU()
	}
	w.self, w.selfOK = selfCPU()
	w.busy, w.machineOK = machineBusy()
	w.broker, w.brokerOK = brokerCPU()
	return w
}

// gateway is the gateway's CPU time since the window began.
func (w cpuWindow) gateway() time.Duration {
	if w.g == nil {
		return 0
	}
	return w.g.CPU() - w.gw
}

// brokerUsed is the broker's CPU time since the window began; false when
// the broker's processes are not known.
func (w cpuWindow) brokerUsed() (time.Duration, bool) {
	now, ok := brokerCPU()
	if !ok || !w.brokerOK {
		return 0, false
	}
	return now - w.broker, true
}

// brokerPerEvent is the broker's CPU time since the window began over n
// events; 0 when it is not known.
func (w cpuWindow) brokerPerEvent(n int) time.Duration {
	d, ok := w.brokerUsed()
	if !ok || n <= 0 {
		return 0
	}
	return d / time.Duration(n)
}

// cores is what each part used since the window began.
func (w cpuWindow) cores() cores {
	el := time.Since(w.at).Seconds()
	c := cores{Gateway: w.gateway().Seconds() / el, Bench: -1, Broker: -1, Rest: -1}
	self, ok1 := selfCPU()
	busy, ok2 := machineBusy()
	if ok1 && w.selfOK {
		c.Bench = (self - w.self).Seconds() / el
	}
	broker, ok3 := w.brokerUsed()
	if ok3 {
		c.Broker = broker.Seconds() / el
	}
	if ok1 && ok2 && w.selfOK && w.machineOK {
		c.Rest = max(0, (busy-w.busy).Seconds()/el-c.Gateway-c.Bench-max(0, c.Broker))
	}
	return c
}

// brokerCPU is the CPU time of the broker processes EGISZ_KAFKA_PIDS names,
// user and system; false when it names none or one cannot be read (a
// broker not started by kafka-local, or one that has exited).
func brokerCPU() (time.Duration, bool) {
	v := os.Getenv(kafkabroker.EnvPids)
	if v == "" {
		return 0, false
	}
	var sum time.Duration
	for f := range strings.SplitSeq(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return 0, false
		}
		d, ok := processCPU(pid)
		if !ok {
			return 0, false
		}
		sum += d
	}
	return sum, true
}

// processCPU is a process's CPU time, user and system, every thread's,
// from /proc/PID/stat (utime and stime, the 14th and 15th fields; the
// command name before them may hold spaces, so fields count from its ')').
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / 100, true // USER_HZ
}

// selfCPU is this process's CPU time, user and system.
func selfCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// machineBusy is the CPU time every core spent not idle since boot, from
// the first line of /proc/stat (user, nice, system, idle, iowait, irq,
// softirq, steal; guest time is inside user).
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / 100, true // USER_HZ
}
