// Package reftable keeps a compacted reference feed (ФРМР employees, ФРМО
// organizations) in memory on every instance: a global table, read whole
// from the start of every partition and followed afterwards. It is ready
// once it has read up to the end offsets that stood when it started.
package reftable

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
)

// Decode turns a feed record into the table's key and value. A nil value
// is a deletion (a tombstone); ok false skips a record the feed should not
// have carried (the table counts it).
type Decode[V any] func(key, value []byte, headers map[string]string) (k string, v V, ok bool)

// RecordDecode is Decode for a table that needs more of the record than
// its key, value and headers: an index of where each key's record lies.
// A nil r.Value is a deletion (a tombstone).
type RecordDecode[V any] func(r *kgo.Record) (k string, v V, ok bool)

// Table is a global table over one compacted topic.
type Table[V any] struct {
	name   string
	topic  string
	decode RecordDecode[V]
	log    *slog.Logger

	mu      sync.RWMutex
	m       map[string]V
	waiters map[string][]chan struct{} // Wait's callers, by key; closed when the key is set
	loaded  chan struct{}              // closed once the feed is read up to where it stood at start
	skipped atomic.Int64
	applied atomic.Int64
	deleted atomic.Int64 // tombstones applied
	// feed is set for a reference feed written by others (ФРМР, ФРМО),
	// whose deletions and skipped records are logged; a table of the
	// gateway's own (РЭМД's pending documents) deletes as a matter of course.
	feed bool
	// pos is, by partition, the offset after the last record applied. It
	// has a lock of its own, so that Position may be called from Range's f.
	posMu sync.Mutex
	pos   map[int32]int64
}

// New returns an empty table over topic.
func New[V any](name, topic string, decode Decode[V], log *slog.Logger) *Table[V] {
	return NewFromRecords(name, topic, func(r *kgo.Record) (string, V, bool) {
		return decode(r.Key, r.Value, cloudevents.Map(r.Headers))
	}, log)
}

// NewFromRecords returns an empty table over topic whose entries decode
// from whole records.
func NewFromRecords[V any](name, topic string, decode RecordDecode[V], log *slog.Logger) *Table[V] {
	return &Table[V]{name: name, topic: topic, decode: decode, log: log, m: map[string]V{}, pos: map[int32]int64{}, waiters: map[string][]chan struct{}{}, loaded: make(chan struct{})}
}

// Wait returns k's value as soon as the table holds one that want
// accepts, or what it holds when within has passed or ctx has ended. It
// is for a reader that may overtake the writer of k (a callback that
// comes before its document's entry is read back): each setting of k
// wakes it, where polling cost a timer and a lookup every few
// milliseconds for every such reader.
func (t *Table[V]) Wait(ctx context.Context, k string, within time.Duration, want func(v V, ok bool) bool) (V, bool) {
	var timeout <-chan time.Time
	for {
		t.mu.Lock()
		v, ok := t.m[k]
		if want(v, ok) {
			t.mu.Unlock()
			return v, ok
		}
		ch := make(chan struct{})
		t.waiters[k] = append(t.waiters[k], ch)
		t.mu.Unlock()
		if timeout == nil {
			tm := time.NewTimer(within)
			defer tm.Stop()
			timeout = tm.C
		}
		select {
		case <-ch:
		case <-timeout:
			return t.stopWaiting(k, ch)
		case <-ctx.Done():
			return t.stopWaiting(k, ch)
		}
	}
}

// stopWaiting removes a waiter that gave up and returns k's value now.
func (t *Table[V]) stopWaiting(k string, ch chan struct{}) (V, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ws := t.waiters[k]
	if i := slices.Index(ws, ch); i >= 0 {
		ws = slices.Delete(ws, i, i+1)
		if len(ws) == 0 {
			delete(t.waiters, k)
		} else {
			t.waiters[k] = ws
		}
	}
	v, ok := t.m[k]
	return v, ok
}

// wake wakes Wait's callers for k; the caller holds the lock.
func (t *Table[V]) wake(k string) {
	if len(t.waiters) == 0 {
		return
	}
	for _, ch := range t.waiters[k] {
		close(ch)
	}
	delete(t.waiters, k)
}

// Get looks a key up.
func (t *Table[V]) Get(k string) (V, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	v, ok := t.m[k]
	return v, ok
}

// Put sets a key at once, for a writer that has just committed the same
// value to the topic: its own next read must not see the old one while
// the follower catches up. deleted removes the key instead (a tombstone).
func (t *Table[V]) Put(k string, v V, deleted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if deleted {
		delete(t.m, k)
	} else {
		t.m[k] = v
	}
	t.wake(k)
}

// Range calls f for every key until f returns false. The table is locked
// meanwhile: f must not call back into it (Position excepted), or a
// writer waiting for the lock holds the second read lock back forever.
func (t *Table[V]) Range(f func(k string, v V) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for k, v := range t.m {
		if !f(k, v) {
			return
		}
	}
}

// Len is the number of keys held.
func (t *Table[V]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// Skipped counts feed records that did not decode.
func (t *Table[V]) Skipped() int64 { return t.skipped.Load() }

// Ready is nil once the table has read its feed up to where it stood at start.
func (t *Table[V]) Ready() error {
	if !t.isLoaded() {
		return fmt.Errorf("reference table %s (%s) is still loading (%d records so far)", t.name, t.topic, t.applied.Load())
	}
	return nil
}

// Position is the offset after the last record, control records
// included, that the table has read from partition p of its feed, and
// applied: every record before it is in the table. 0 before any. Unlike
// the table's other methods it may be called from Range's f.
func (t *Table[V]) Position(p int32) int64 {
	t.posMu.Lock()
	defer t.posMu.Unlock()
	return t.pos[p]
}

// Loaded is closed once the table has read its feed up to where it stood
// at start (Ready is nil from then on).
func (t *Table[V]) Loaded() <-chan struct{} { return t.loaded }

func (t *Table[V]) isLoaded() bool {
	select {
	case <-t.loaded:
		return true
	default:
		return false
	}
}

// Run reads the feed until ctx ends.
func (t *Table[V]) Run(ctx context.Context, opts []kgo.Opt) error {
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("reference table %s: %w", t.name, err)
	}
	ends, err := kafkaclient.EndOffsets(ctx, kadm.NewClient(admCl), false, t.topic)
	admCl.Close()
	if err != nil {
		return fmt.Errorf("reference table %s: end offsets of %s: %w", t.name, t.topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	if len(remaining) == 0 {
		t.markLoaded()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, opts...),
		kgo.ConsumeTopics(t.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // so a feed written in transactions still reaches its end offset
	)...)
	if err != nil {
		return fmt.Errorf("reference table %s: %w", t.name, err)
	}
	defer cl.Close()
	var changes []change[V]
	read := map[int32]int64{}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				t.log.Warn("reference feed fetch error", "table", t.name, "partition", p, "err", err)
			}
		})
		// Records are decoded before the lock is taken: a fetch of
		// hundreds of JSON entries held readers (Get, Wait) for as long
		// as the decoding took.
		changes = changes[:0]
		clear(read)
		fs.EachRecord(func(r *kgo.Record) {
			read[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				changes = append(changes, t.decodeRecord(r))
			}
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
		})
		deletedBefore, skippedBefore := t.deleted.Load(), t.skipped.Load()
		t.mu.Lock()
		for _, c := range changes {
			t.apply(c)
		}
		t.mu.Unlock()
		t.report(t.deleted.Load()-deletedBefore, t.skipped.Load()-skippedBefore)
		// After the records are applied: a reader told a position finds
		// every record before it in the table.
		t.posMu.Lock()
		maps.Copy(t.pos, read)
		t.posMu.Unlock()
		clear(changes) // the values are the table's now; the slice must not keep them
		if !t.isLoaded() && len(remaining) == 0 {
			t.markLoaded()
		}
	}
}

// change is one decoded feed record.
type change[V any] struct {
	k       string
	v       V
	deleted bool // a tombstone
	ok      bool // false: the record did not decode
}

func (t *Table[V]) decodeRecord(r *kgo.Record) change[V] {
	k, v, ok := t.decode(r)
	return change[V]{k: k, v: v, deleted: r.Value == nil, ok: ok}
}

// apply writes one decoded record; the caller holds the lock.
func (t *Table[V]) apply(c change[V]) {
	if !c.ok {
		t.skipped.Add(1)
		return
	}
	if c.deleted {
		delete(t.m, c.k)
		t.deleted.Add(1)
	} else {
		t.m[c.k] = c.v
	}
	t.wake(c.k)
	t.applied.Add(1)
}

func (t *Table[V]) markLoaded() {
	// Only Run marks the table loaded, so checking and closing cannot race.
	if t.isLoaded() {
		return
	}
	close(t.loaded)
	t.log.Info("reference table loaded", "table", t.name, "topic", t.topic, "keys", t.Len(), "deleted", t.deleted.Load(), "skipped", t.skipped.Load())
}

// LogChanges makes the table log, once loaded, each fetch that deletes or
// skips records: for a reference feed that others write. It returns t.
func (t *Table[V]) LogChanges() *Table[V] {
	t.feed = true
	return t
}

// report logs what one fetch removed or skipped once the table is loaded:
// a feed that loses its records makes every later event that names them
// fail as unknown, so an operator must be able to see that it happened.
// Keys are not logged: a ФРМР key is a person's СНИЛС.
func (t *Table[V]) report(deleted, skipped int64) {
	if !t.feed || !t.isLoaded() {
		return
	}
	if deleted > 0 {
		t.log.Warn("reference records deleted (tombstones in the feed)", "table", t.name, "topic", t.topic, "deleted", deleted, "keys_left", t.Len())
	}
	if skipped > 0 {
		t.log.Warn("reference records skipped: they did not decode, or their key disagrees with their content", "table", t.name, "topic", t.topic, "skipped", skipped)
	}
}

// Collector exposes the table's size and what its feed did to it:
// egisz_reference_records{table} and
// egisz_reference_changes_total{table,change=set|deleted|skipped}.
func (t *Table[V]) Collector() prometheus.Collector { return collector[V]{t} }

type collector[V any] struct{ t *Table[V] }

func (c collector[V]) descs() (records, changes *prometheus.Desc) {
	labels := prometheus.Labels{"table": c.t.name}
	return prometheus.NewDesc("egisz_reference_records", "Records a reference table holds (ФРМР, ФРМО and the gateway's own tables).", nil, labels),
		prometheus.NewDesc("egisz_reference_changes_total", "Records a reference table's feed applied, by change: set, deleted (a tombstone), skipped (did not decode, or its key disagrees with its content).", []string{"change"}, labels)
}

func (c collector[V]) Describe(ch chan<- *prometheus.Desc) {
	records, changes := c.descs()
	ch <- records
	ch <- changes
}

func (c collector[V]) Collect(ch chan<- prometheus.Metric) {
	records, changes := c.descs()
	t := c.t
	deleted := t.deleted.Load()
	ch <- prometheus.MustNewConstMetric(records, prometheus.GaugeValue, float64(t.Len()))
	ch <- prometheus.MustNewConstMetric(changes, prometheus.CounterValue, float64(t.applied.Load()-deleted), "set")
	ch <- prometheus.MustNewConstMetric(changes, prometheus.CounterValue, float64(deleted), "deleted")
	ch <- prometheus.MustNewConstMetric(changes, prometheus.CounterValue, float64(t.skipped.Load()), "skipped")
}
