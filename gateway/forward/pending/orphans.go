package pending

import (
	"context"
	"errors"
	"sync"
)

// ErrOrphanLimit is a callback for an unknown document refused because
// the orphans kept (in all, or from its source) are at their bound. The
// callback is answered 503, so that РЭМД sends it again: by then its
// document is usually known, and it settles without being kept.
var ErrOrphanLimit = errors.New("too many callbacks for unknown documents kept; send again later")

// orphanLimits bound the orphans kept, in count and bytes, in all and per
// source address.
type orphanLimits struct {
	Count, Bytes                   int
	CountPerSource, BytesPerSource int
}

// orphanUse is what orphans take: how many, how many bytes.
type orphanUse struct{ count, bytes int }

// orphan is one early callback: its result once written (nil while its
// write is under way), where it came from, and its size in the pending
// topic.
type orphan struct {
	cb     *CallbackResult
	source string
	size   int
}

// orphanSet holds the orphans this instance knows of, from its own
// writes and from the pending topic (every instance's writes), with what
// they take in all and per source. Safe for concurrent use.
type orphanSet struct {
	limits orphanLimits

	mu       sync.Mutex
	byKey    map[string]orphan
	bySource map[string]orphanUse
	total    orphanUse
}

// newOrphanSet is an empty set bounded by l.
func newOrphanSet(l orphanLimits) *orphanSet {
	return &orphanSet{limits: l, byKey: map[string]orphan{}, bySource: map[string]orphanUse{}}
}

// add and sub keep the totals; called with mu held.
func (o *orphanSet) add(e orphan, sign int) {
	u := o.bySource[e.source]
	u.count += sign
	u.bytes += sign * e.size
	if u.count <= 0 {
		delete(o.bySource, e.source)
	} else {
		o.bySource[e.source] = u
	}
	o.total.count += sign
	o.total.bytes += sign * e.size
}

// Put sets key's orphan, its result cb from source taking size bytes
// in the pending topic, replacing any before it.
func (o *orphanSet) Put(key string, cb *CallbackResult, source string, size int) {
	e := orphan{cb: cb, source: source, size: size}
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.byKey[key]; ok {
		o.add(old, -1)
	}
	o.byKey[key] = e
	o.add(e, +1)
}

// Remove forgets key's orphan.
func (o *orphanSet) Remove(key string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if old, ok := o.byKey[key]; ok {
		o.add(old, -1)
		delete(o.byKey, key)
	}
}

// Reserve takes room for a new orphan of source before it is written, so
// that callbacks written side by side cannot together pass the bounds.
// It fails with ErrOrphanLimit when the orphan would pass one; otherwise
// undo gives the room back (the write failed) and restores what key
// held before.
func (o *orphanSet) Reserve(key, source string, size int) (undo func(), err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	old, had := o.byKey[key]
	total, src := o.total, o.bySource[source]
	if had { // a callback sent again replaces its earlier self
		total.count--
		total.bytes -= old.size
		if old.source == source {
			src.count--
			src.bytes -= old.size
		}
	}
	l := o.limits
	if total.count+1 > l.Count || total.bytes+size > l.Bytes || src.count+1 > l.CountPerSource || src.bytes+size > l.BytesPerSource {
		return nil, ErrOrphanLimit
	}
	e := orphan{cb: old.cb, source: source, size: size} // the earlier result stands until the new one is written
	if had {
		o.add(old, -1)
	}
	o.byKey[key] = e
	o.add(e, +1)
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if cur, ok := o.byKey[key]; ok {
			o.add(cur, -1)
			delete(o.byKey, key)
		}
		if had {
			o.byKey[key] = old
			o.add(old, +1)
		}
	}, nil
}

// Result is key's written result.
func (o *orphanSet) Result(key string) (CallbackResult, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.byKey[key]
	if !ok || e.cb == nil {
		return CallbackResult{}, false
	}
	return *e.cb, true
}

// Keys are the orphans with a written result.
func (o *orphanSet) Keys() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]string, 0, len(o.byKey))
	for k, e := range o.byKey {
		if e.cb != nil {
			out = append(out, k)
		}
	}
	return out
}

// Use is what the orphans take in all.
func (o *orphanSet) Use() (count, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.total.count, o.total.bytes
}

// settleOrphans settles documents now pending whose callback came first
// and was kept as an orphan: the forward stage may have written the
// pending entry just before the orphan was recorded.
func (p *Pending) settleOrphans(ctx context.Context) {
	for _, k := range p.orphans.Keys() {
		// An orphan is kept under its document's ce_id, or under the
		// MessageID of the call it answered when it named only that.
		ceID := k
		if id, ok := p.byMessage.Get(k); ok {
			ceID = id
		}
		e, ok := p.table.Get(ceID)
		if !ok || e == nil || e.State != StatePending || !p.owns(e.Partition) {
			continue
		}
		cb, ok := p.orphans.Result(k)
		if !ok {
			continue
		}
		st, err := p.apply(ctx, ceID, Event{Kind: EarlyCallback, Result: cb, OrphanOf: k, Sending: sendOf(ceID, cb.MessageID) + 1})
		switch {
		case err != nil:
			p.cfg.Log.Warn("early РЭМД callback not applied; next round", "request_id", k, "err", err)
		case st.Action != Ignore:
			p.m.callbacks.WithLabelValues("orphan_settled").Inc()
		}
	}
}
