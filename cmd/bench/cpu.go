package main

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/stack"
)

// cpuWindow measures where the machine's CPU goes over a scenario: to the
// gateway process, to the bench's own (load generator, status tracker,
// registry emulator), and to the rest (the broker, and whatever else the
// machine runs). The report gives the three side by side, so that a rate
// shows whether the gateway or the machine was the limit.
type cpuWindow struct {
	g                 *stack.Gateway
	gw, self, busy    time.Duration
	at                time.Time
	selfOK, machineOK bool
}

// cores is CPU time over a window in cores used; a part not measured is -1.
type cores struct{ Gateway, Bench, Rest float64 }

func startCPU(g *stack.Gateway) cpuWindow {
	w := cpuWindow{g: g, gw: g.CPU(), at: time.Now()}
	w.self, w.selfOK = selfCPU()
	w.busy, w.machineOK = machineBusy()
	return w
}

// gateway is the gateway's CPU time since the window began.
func (w cpuWindow) gateway() time.Duration { return w.g.CPU() - w.gw }

// cores is what each part used since the window began.
func (w cpuWindow) cores() cores {
	el := time.Since(w.at).Seconds()
	c := cores{Gateway: w.gateway().Seconds() / el, Bench: -1, Rest: -1}
	self, ok1 := selfCPU()
	busy, ok2 := machineBusy()
	if ok1 && w.selfOK {
		c.Bench = (self - w.self).Seconds() / el
	}
	if ok1 && ok2 && w.selfOK && w.machineOK {
		c.Rest = max(0, (busy-w.busy).Seconds()/el-c.Gateway-c.Bench)
	}
	return c
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
