package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkabroker"
)

// machine describes where the figures come from.
func machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%f", &kb)
		mem = fmt.Sprintf(", %.0f GiB of memory", kb/1024/1024)
	}
	return fmt.Sprintf("%d cores (%s)%s, %s; Apache Kafka %s, one node on the same machine; %s",
		runtime.NumCPU(), model, mem, runtime.Version(), kafkabroker.Version, time.Now().UTC().Format("2006-01-02"))
}

func writeReport(o options, rs []result, sigs []cryptoRow) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("Written by `make bench` (`go run ./cmd/kafka-local exec -- go run ./cmd/bench`); do not edit by hand.\n\n")
	p("Machine: %s.\n\n", machine())
	if len(rs) > 0 {
		b.WriteString(kafkaSection(rs))
		b.WriteString(remdSection(rs))
	}
	if len(sigs) > 0 {
		b.WriteString(cryptoSection(sigs))
	}
	if o.out == "-" {
		_, err := io.WriteString(os.Stdout, b.String())
		return err
	}
	return os.WriteFile(o.out, []byte(b.String()), 0o644)
}

// kafkaSection is the report on the gateway's scenarios, each beside raw
// franz-go doing the same Kafka work.
func kafkaSection(rs []result) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("The gateway runs as its own process (`egisz-gateway run`, built from this tree), the\n")
	p("registry emulator and the load generator in the bench process; the machine is shared and noisy, so each\n")
	p("figure comes with raw franz-go doing the same Kafka work in the same run, alone on the machine after the\n")
	p("gateway: `kafkatest.Pipeline`, franz-go's own transactional consume-and-produce loop as one hop for each\n")
	p("of the gateway's stages, reading what the hop before it wrote and writing per record read as many records\n")
	p("as that stage did in the scenario (its `egisz_stage_records_total`), statuses read to the end as the bench\n")
	p("reads the gateway's; fed as fast as it can for the rates, at the same steady rate for the latency. It has\n")
	p("none of the gateway's own work: no decoding, deciding or registry calls. The drain's raw figure is one\n")
	p("such loop copying a backlog of as many records (`kafkatest.RawTransactCopy`). Raw franz-go's records\n")
	p("carry the bytes of the scenario's own events (up to its first 10,000, in turn), so they compress as the\n")
	p("gateway's input does; each record it writes is one such event, where the gateway's statuses and state\n")
	p("are smaller.\n")
	p("The memory scenario has no raw figure: raw franz-go keeps no state, and the state is what it measures.\n")
	p("Events are about 1 KiB (`--payload-bytes 1024`), the default mix of the load generator (duplicates,\n")
	p("updates, conflicts and refusals included); every figure counts an event done when all its outcomes are\n")
	p("on `egisz.status.v1`: the normalize stage's, and each registry's final one. The cores column is where\n")
	p("the machine's CPU went over the run: the gateway process, the bench process (load generator, status\n")
	p("tracker and registry emulator), the broker's process, and the rest (anything else on the machine).\n")
	p("The broker's CPU per event is over the gateway's run and over raw franz-go's (its topics and groups\n")
	p("made, joined and fed included): how much work each gives the broker for the same events.\n\n")
	p("| scenario | events | events/s | raw franz-go, same Kafka work | gateway to raw | CPU per event | cores: gateway / bench / broker / rest | broker's CPU per event: gateway / raw | RSS (peak), MiB | p50 / p99 to normalize status | p50 / p99 to registry status | every event its one outcome |\n")
	p("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		raw, ratio := "", ""
		switch {
		case r.RawRate > 0 && r.RawWork != "":
			raw, ratio = fmt.Sprintf("%.0f events/s", r.RawRate), fmt.Sprintf("%.0f%%", 100*r.Rate/r.RawRate)
		case r.RawRate > 0:
			raw, ratio = fmt.Sprintf("%.0f records/s", r.RawRate), fmt.Sprintf("%.0f%%", 100*r.Rate/r.RawRate)
		case r.RawRegP99 > 0:
			raw = fmt.Sprintf("p50 / p99: %s / %s to normalize status, %s / %s to registry status", ms(r.RawP50), ms(r.RawP99), ms(r.RawRegP50), ms(r.RawRegP99))
			ratio = fmt.Sprintf("p99 ×%.1f, ×%.1f", float64(r.Report.Normalize.P99)/float64(r.RawP99), float64(r.Report.EndToEnd.P99)/float64(r.RawRegP99))
		}
		cpu := ""
		if r.CPUPerEv > 0 {
			cpu = fmt.Sprintf("%.0f µs", float64(r.CPUPerEv)/float64(time.Microsecond))
		}
		p("| %s | %d | %.0f | %s | %s | %s | %s | %s | %.0f (%.0f) | %s / %s | %s / %s | %v |\n", r.Name, r.Events, r.Rate, raw, ratio, cpu, r.Cores, brokerCell(r), r.RSSMiB, r.PeakMiB,
			ms(r.Report.Normalize.P50), ms(r.Report.Normalize.P99), ms(r.Report.EndToEnd.P50), ms(r.Report.EndToEnd.P99), verdict(r))
	}
	p("\nNotes:\n\n")
	for _, r := range rs {
		var parts []string
		for _, part := range []string{r.Note, r.Txns, r.RawWork} {
			if part != "" {
				parts = append(parts, part)
			}
		}
		if len(parts) > 0 {
			p("- %s: %s.\n", r.Name, strings.Join(parts, "; "))
		}
	}
	p("\nTargets (issue 12), each beside what raw franz-go did in the same run:\n\n")
	for _, line := range targets(rs) {
		p("- %s\n", line)
	}
	p("\n")
	p("Outcomes of each run:\n\n")
	for _, r := range rs {
		p("- %s: normalize %v; registries %v; lost %d, duplicated %d, unexpected %d.\n", r.Name, r.Report.Outcomes, r.Report.Registries,
			r.Report.Lost, r.Report.Duplicated, r.Report.Unexpected)
	}
	return b.String()
}

// String gives the parts in cores, – for a part not measured.
func (c cores) String() string {
	f := func(v float64) string {
		if v < 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v)
	}
	if c == (cores{}) {
		return ""
	}
	return f(c.Gateway) + " / " + f(c.Bench) + " / " + f(c.Broker) + " / " + f(c.Rest)
}

// brokerCell is the report's cell of the broker's CPU per event with the
// gateway and with raw franz-go, – for one not measured.
func brokerCell(r result) string {
	if r.BrokerPerEv <= 0 && r.RawBrokerPerEv <= 0 {
		return ""
	}
	return us(r.BrokerPerEv) + " / " + us(r.RawBrokerPerEv)
}

func us(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func verdict(r result) string {
	switch {
	case r.Report.OutcomesOK:
		return "yes"
	case r.Report.InvariantOK:
		return "yes, some unexpected"
	}
	return "**no**"
}

// targets says where each of issue 12's targets stands in this run.
func targets(rs []result) []string {
	find := func(match func(string) bool) (result, bool) {
		for _, r := range rs {
			if match(r.Name) && !strings.HasPrefix(r.Note, "did not finish") {
				return r, true
			}
		}
		return result{}, false
	}
	met := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	var out []string
	line := "normalize and forward, 20,000 events/s or more: "
	if r, ok := find(func(n string) bool { return n == "normalize and forward" }); ok {
		line += fmt.Sprintf("%.0f events/s, raw franz-go doing its Kafka work %.0f: %s", r.Rate, r.RawRate, met(r.Rate >= 20_000))
		if b := budget(r, 20_000, runtime.NumCPU()); b != "" {
			line += ". " + b
		}
	} else {
		line += "not run"
	}
	out = append(out, line)
	line = "p99 under 50 ms at 2,000 events/s: "
	if r, ok := find(func(n string) bool { return n == "latency at 2000 events/s" }); ok {
		line += fmt.Sprintf("%s to the normalize status and %s to the registry's, raw franz-go over the same hops %s and %s: %s",
			ms(r.Report.Normalize.P99), ms(r.Report.EndToEnd.P99), ms(r.RawP99), ms(r.RawRegP99),
			met(r.Report.Normalize.P99 > 0 && r.Report.EndToEnd.P99 > 0 && max(r.Report.Normalize.P99, r.Report.EndToEnd.P99) < 50*time.Millisecond))
		if busy := busyAt(r.Cores, runtime.NumCPU()); busy != "" {
			line += ". " + busy
		}
	} else {
		line += "not run at that rate"
	}
	out = append(out, line)
	line = "resident memory under 512 MiB with 1M dedup keys: "
	if r, ok := find(func(n string) bool { return n == "memory with 1000000 dedup keys" }); ok {
		line += fmt.Sprintf("%.0f MiB after the load, %.0f at its peak: %s", r.RSSMiB, r.PeakMiB, met(r.PeakMiB > 0 && r.PeakMiB < 512))
	} else {
		line += "not run with 1M keys"
	}
	return append(out, line)
}

// budget says what is left of the machine for the gateway at rate events a
// second, when the broker costs what raw franz-go's Kafka work cost it in
// the run and the bench process what it cost in the gateway's: whether the
// rate can be reached on this machine at all, whatever the gateway does.
// Empty when the broker's or the bench's CPU was not measured.
func budget(r result, rate float64, cpus int) string {
	if r.RawBrokerPerEv <= 0 || r.Cores.Bench < 0 || r.Events == 0 || r.Seconds == 0 {
		return ""
	}
	benchPerEv := time.Duration(r.Cores.Bench * r.Seconds / float64(r.Events) * float64(time.Second))
	brokerCores := rate * r.RawBrokerPerEv.Seconds()
	benchCores := rate * benchPerEv.Seconds()
	left := float64(cpus) - brokerCores - benchCores
	s := fmt.Sprintf("At %.0f events/s on this machine the broker, at the CPU per event raw franz-go's same work cost it here (%s), would take %.2f of the %d cores, and the bench process at its own (%s: load generator, status reader, registry emulator) %.2f", rate, us(r.RawBrokerPerEv), brokerCores, cpus, us(benchPerEv), benchCores)
	if left <= 0 {
		return s + ", which leaves nothing for the gateway (it used " + us(r.CPUPerEv) + " per event): the rate is out of this machine's reach whatever the gateway does"
	}
	return s + fmt.Sprintf(", which leaves %s of CPU per event for the gateway; it used %s", us(time.Duration(left/rate*float64(time.Second))), us(r.CPUPerEv))
}

// busyAt says how busy the machine was over a run, by part, and whether it
// was saturated: a latency taken on a machine with no CPU to spare is the
// machine's queueing as much as the gateway's. Empty when a part was not
// measured.
func busyAt(c cores, cpus int) string {
	if c.Bench < 0 || c.Broker < 0 || c.Rest < 0 {
		return ""
	}
	total := c.Gateway + c.Bench + c.Broker + c.Rest
	s := fmt.Sprintf("The machine was busy %.2f of its %d cores meanwhile (gateway %.2f, bench %.2f, broker %.2f)", total, cpus, c.Gateway, c.Bench, c.Broker)
	if total >= 0.9*float64(cpus) {
		s += ": saturated, so every hop waits for a core"
	}
	return s
}
