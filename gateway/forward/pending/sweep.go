package pending

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sweepLookups is how many late documents a sweep looks up at once; the
// destination's concurrency bounds the calls themselves.
const sweepLookups = 32

// sweep looks up documents on this instance's partitions whose callback
// is later than reconcile_after, and forgets settled documents and
// orphans older than keep_done.
func (p *Pending) sweep(ctx context.Context) {
	now := p.cfg.Now()
	var late []string
	var forget []*kgo.Record
	p.table.Range(func(k string, e *Entry) bool {
		switch Overdue(e, p.owns(e.Partition), now, p.cfg.Callback.ReconcileAfter.D(), p.cfg.Callback.KeepDone.D()) {
		case LookUp:
			late = append(late, k)
		case Forget:
			forget = append(forget, &kgo.Record{Topic: p.cfg.Topic, Partition: e.Partition, Key: []byte(k)})
		}
		return true
	})
	// Lookups run side by side, so that their settlements share the
	// writer's transactions: one at a time, each waited for its own
	// commit, and after an instance lost its callbacks (refused while its
	// table loaded) hundreds of documents took longer than 8 minutes to
	// settle on a busy three-node cluster.
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(len(late), sweepLookups) {
		wg.Go(func() {
			for k := range work {
				p.lookUp(ctx, k)
			}
		})
	}
	for _, k := range late {
		if ctx.Err() != nil {
			break
		}
		work <- k
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	if len(forget) > 0 {
		if err := p.cfg.Writer.Write(ctx, forget); err != nil {
			p.cfg.Log.Warn("settled documents not forgotten; next sweep", "count", len(forget), "err", err)
			return
		}
		for _, r := range forget {
			p.table.Put(string(r.Key), nil, true)
			if d, _ := Decode(r.Key, nil); d.OrphanOf != "" {
				p.orphans.Remove(d.OrphanOf)
			} else {
				p.index(d.Key, nil)
			}
		}
	}
}

// lookUp asks РЭМД about a document whose callback is late and settles it
// when РЭМД has registered it.
func (p *Pending) lookUp(ctx context.Context, k string) {
	e, ok := p.table.Get(k)
	if !ok || e == nil || e.State != StatePending {
		return
	}
	lk := p.stage.LookUp(ctx, k, e.Record.Value)
	switch lk.Result {
	case NoLookup:
	case Found:
		// Counted once written: a document whose settlement failed is
		// looked up again, and would be counted twice.
		ev := Event{Kind: LookedUp, Result: CallbackResult{RequestID: k, Registered: true, RegistryID: lk.RegistryID}}
		if _, err := p.apply(ctx, k, ev); err != nil {
			p.cfg.Log.Warn("reconciled document not recorded; it is looked up again", "request_id", k, "err", err)
			p.m.reconciled.WithLabelValues("error").Inc()
			return
		}
		p.m.reconciled.WithLabelValues("registered").Inc()
	case NotFound:
		// Still nothing: it stays pending, and the oldest-pending age
		// alerts an operator (CALLBACK_MISSING).
		p.m.reconciled.WithLabelValues("not_found").Inc()
	default:
		p.m.reconciled.WithLabelValues("error").Inc()
	}
}
