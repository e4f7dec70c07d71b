package main

import (
	"context"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/stack"
)

// measurement is a scenario's measured stretch: from measure to end it takes
// the CPU each part of the machine used, the stages' transactions when
// asked for, and with --profile the profiles.
type measurement struct {
	b      *bench
	g      *stack.Gateway
	start  time.Time
	cpu    cpuWindow
	stages map[string]stageCounts // at the start; nil when transactions are not reported
	moved  map[string]stageCounts // over the stretch, once ended
	stop   func()                 // ends the profiles; safe to call again
}

// measure starts measuring scenario name; withTxns also reports the
// stages' transactions.
func (b *bench) measure(ctx context.Context, name string, g *stack.Gateway, withTxns bool) *measurement {
	w := &measurement{b: b, g: g, start: time.Now(), cpu: startCPU(g)}
	if withTxns {
		stages, err := scrapeStages(ctx, g.HTTP())
		if err != nil {
			b.log.Warn("stage counters not read", "err", err)
		}
		w.stages = stages
	}
	w.stop = b.prof.start(ctx, name, g)
	return w
}

// end sets the measurement's figures for n events on r: its seconds, the
// gateway's CPU per event, the cores each part used and the stages'
// transactions. They are taken before the profiles end, as ending them
// waits for the gateway's.
func (w *measurement) end(ctx context.Context, r *result, n int) {
	took := time.Since(w.start)
	r.Seconds, r.CPUPerEv, r.Cores = took.Seconds(), w.cpu.gateway()/time.Duration(n), w.cpu.cores()
	r.BrokerPerEv = w.cpu.brokerPerEvent(n)
	if w.stages != nil {
		after, err := scrapeStages(ctx, w.g.HTTP())
		if err != nil {
			w.b.log.Warn("stage counters not read", "err", err)
		} else {
			w.moved = delta(w.stages, after)
			r.Txns = transactions(w.moved, took)
		}
	}
	w.stop()
}
