package pending

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// HeaderResends counts re-sends of a document on the outbound record.
const HeaderResends = "egisz_remd_resends"

// retryHeaderPrefix marks the retry tiers' headers, which a re-send
// drops: it starts its rounds afresh.
const retryHeaderPrefix = "egisz_retry_"

// Stage is what the pending documents need of the forward stage that
// sent them.
type Stage interface {
	// Owns reports whether this instance holds partition part of the
	// outbound topic, and so the documents sent from it.
	Owns(part int32) bool
	// Settled are the records that carry a registered or rejected
	// document's outcome (its status; rejected, its DLQ record first).
	// count adds the outcome to the stage's metrics; it is called once
	// the records are written.
	Settled(st Settlement, now time.Time) (recs []*kgo.Record, count func())
	// LookUp asks the registry about a document whose callback is late,
	// given its outbound record's value.
	LookUp(ctx context.Context, ceID string, value []byte) Lookup
	// Inbound authenticates and reads a message the registry sent to the
	// callback listener; an error wrapping seam.ErrUnauthenticated refuses
	// it (forward.Destination.Inbound).
	Inbound(ctx context.Context, contentType string, body []byte) (seam.Inbound, error)
	// Answer is the listener's answer to in, built and signed by the
	// registry's adapter.
	Answer(ctx context.Context, in seam.Inbound, f seam.File) seam.Answer
	// Release tells the adapter the runtime did not act on in (it was
	// answered 503, send again): the registry's re-send of the same
	// signed message is not a replay.
	Release(in seam.Inbound)
	// Fault is the answer, with status, to a message of contentType the
	// runtime does not take or could not act on, in the registry's
	// protocol (a SOAP Fault for РЭМД); text names no values.
	Fault(contentType string, status int, text string) seam.Answer
}

// Documents are the stored documents a registry's file request is
// answered from: gateway/docstore's Store, whose Get returns
// docstore.ErrNotFound for a document it does not hold.
type Documents interface {
	Get(ctx context.Context, localUID string) (topics.StoredDocument, error)
}

// LookupResult is what a lookup found.
type LookupResult int

// What a lookup finds.
const (
	NoLookup     LookupResult = iota // the registry offers none for this document
	Found                            // registered, with its id
	NotFound                         // nothing yet
	LookupFailed                     // the call failed
)

// Lookup is the answer of the registry's lookup.
type Lookup struct {
	Result     LookupResult
	RegistryID string
}

// Writer commits groups of records atomically and returns once they are
// durable (a transactional writer with group commit).
type Writer interface {
	// Write returns once recs are committed together, or not at all.
	Write(ctx context.Context, recs []*kgo.Record) error
	// Run commits until ctx ends or the writer fails for good.
	Run(ctx context.Context) error
	// Close releases the writer's client.
	Close()
}

// Config is what the pending documents are built from.
type Config struct {
	Topic      string // the compacted pending topic
	Partitions int32  // its partitions
	Outbound   string // the outbound topic, where a re-send goes
	Callback   config.Callback
	ClientOpts []kgo.Opt
	Writer     Writer
	// Documents answer the registry's file requests; nil answers each
	// with an error (503), counted.
	Documents Documents
	Metrics   *Metrics
	Now       func() time.Time
	Log       *slog.Logger
}

// Pending tracks documents РЭМД accepted until its callback settles them:
// a global table over the compacted pending topic on every instance (a
// callback may reach any of them), the callback endpoint, and a sweep
// that looks up documents whose callback is late and forgets settled
// ones after callback.keep_done.
type Pending struct {
	cfg   Config
	stage Stage
	m     *Metrics
	table *reftable.Table[*Entry]
	// byMessage maps the MessageID of every call made for a document
	// (seam.MessageID of its ce_id) to the ce_id, for each document the
	// table holds: a callback that names the call it answers, not the
	// event, finds its document through it. It is a reftable used as a
	// map with waiters and never Run: the pending table's reading and
	// this instance's own writes keep it (index).
	byMessage *reftable.Table[string]
	// locks serialize callbacks per document: two callbacks for one
	// document must not both find it pending. A lock is held across a
	// durable write, so the number of stripes bounds how many callbacks
	// share one group commit.
	locks [1024]sync.Mutex

	// orphans are callbacks that came before their document was known,
	// kept apart from the table: the document's pending entry replaces
	// the orphan entry there, and the result must still settle it. They
	// are bounded in count and bytes, in all and per source.
	orphans *orphanSet
	// waiters bounds the callbacks waiting at once for their document's
	// entry (Callback.Wait): past it a callback does not wait, and is
	// kept as an orphan (within its bounds) or refused.
	waiters chan struct{}

	owner owner
}

// New builds the pending documents of stage. It takes cfg.Writer, and
// closes it with its own clients when Run returns.
func New(cfg Config, stage Stage) (*Pending, error) {
	if cfg.Writer == nil || stage == nil || cfg.Metrics == nil || cfg.Now == nil || cfg.Log == nil {
		return nil, errors.New("pending documents: a writer, the stage, metrics, a clock and a logger are required")
	}
	cb := &cfg.Callback
	if cb.MaxOrphans == 0 { // a Config built in code without the bounds takes the defaults
		d := config.Default().Forward.Callback
		cb.MaxOrphans, cb.MaxOrphanBytes, cb.MaxOrphansPerSource, cb.MaxOrphanBytesPerSource = d.MaxOrphans, d.MaxOrphanBytes, d.MaxOrphansPerSource, d.MaxOrphanBytesPerSource
	}
	p := &Pending{cfg: cfg, stage: stage, m: cfg.Metrics,
		orphans:   newOrphanSet(orphanLimits{Count: cb.MaxOrphans, Bytes: cb.MaxOrphanBytes, CountPerSource: cb.MaxOrphansPerSource, BytesPerSource: cb.MaxOrphanBytesPerSource}),
		waiters:   make(chan struct{}, maxWaiters),
		byMessage: reftable.New[string]("remd-pending-by-message", cfg.Topic, nil, cfg.Log)}
	p.table = reftable.New("remd-pending", cfg.Topic, func(key, value []byte, _ map[string]string) (string, *Entry, bool) {
		d, err := Decode(key, value)
		if err != nil {
			return "", nil, false
		}
		switch {
		case d.OrphanOf == "":
			p.index(d.Key, d.Entry)
		case d.Entry == nil:
			p.orphans.Remove(d.OrphanOf)
		case d.Entry.Callback != nil:
			p.orphans.Put(d.OrphanOf, d.Entry.Callback, d.Entry.Source, len(key)+len(value))
		}
		return d.Key, d.Entry, true
	}, cfg.Log)
	cl, err := kgo.NewClient(cfg.ClientOpts...)
	if err != nil {
		return nil, fmt.Errorf("pending documents' admin client: %w", err)
	}
	p.owner = owner{settleFrom: map[int32]int64{}, adm: kadm.NewClient(cl)}
	return p, nil
}

// Close closes the clients of the writer and of the offset lookups; Run
// does it when it returns.
func (p *Pending) Close() {
	p.cfg.Writer.Close()
	p.owner.adm.Close()
}

// Ready is nil once the table has read the pending topic.
func (p *Pending) Ready() error { return p.table.Ready() }

// Run follows the table, commits the callbacks' writes and sweeps. It
// returns when ctx ends or when the table or the writer fails for good.
func (p *Pending) Run(ctx context.Context) error {
	defer p.Close()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, 2)
	go func() { errs <- p.table.Run(ctx, p.cfg.ClientOpts) }()
	go func() { errs <- p.cfg.Writer.Run(ctx) }()
	every := min(p.cfg.Callback.ReconcileAfter.D()/4, 30*time.Second)
	tick := time.NewTicker(max(every, 100*time.Millisecond))
	defer tick.Stop()
	metricsTick := time.NewTicker(2 * time.Second)
	defer metricsTick.Stop()
	orphanTick := time.NewTicker(500 * time.Millisecond)
	defer orphanTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return errors.Join(<-errs, <-errs)
		case err := <-errs:
			if err == nil && ctx.Err() == nil {
				err = errors.New("РЭМД pending table or callback writer stopped by itself")
			}
			stop()
			return errors.Join(err, <-errs)
		case <-metricsTick.C:
			p.measure()
		case <-orphanTick.C:
			if p.table.Ready() == nil {
				p.settleOrphans(ctx)
			}
		case <-tick.C:
			if p.table.Ready() == nil {
				p.sweep(ctx)
			}
		}
	}
}

// Get returns the entry under key: a ce_id, or OrphanKey(ce_id) (tests,
// the admin API).
func (p *Pending) Get(key string) (*Entry, bool) { return p.table.Get(key) }

// Accepted is the forward stage's write for a document РЭМД accepted: the
// pending entry, or the result at once when its callback came first.
// settled reports the latter; otherwise the stage writes the document's
// status "pending" beside the entry.
func (p *Pending) Accepted(out *eos.Output, r *kgo.Record, now time.Time) (settled bool) {
	ceID, resends := cloudevents.Get(r.Headers, topics.HeaderID), Resends(r.Headers)
	// On the record's own partition number: the instance that sent the
	// document owns it, gets its callback (at its callback URL) and
	// settles it, and only that instance does (Handle).
	e := &Entry{State: StatePending, Partition: r.Partition, SentAt: now, Resends: resends, Record: Store(r)}
	// The callback that came first is kept under the event's ce_id, or,
	// when it named only the call's MessageID and the document was not
	// known yet, under that.
	for _, orphanOf := range []string{ceID, seam.MessageID(ceID, resends)} {
		cb, ok := p.orphans.Result(orphanOf)
		if !ok {
			continue
		}
		e.FirstCB, e.LastCB, e.Callbacks = now, now, 1
		p.m.callbacks.WithLabelValues("orphan_settled").Inc()
		recs, count := p.records(Settle(ceID, e, true, Event{Kind: EarlyCallback, Result: cb}, now), now)
		for _, rec := range recs {
			out.Emit(rec)
		}
		count() // as the stage counts what it emits
		out.Emit(p.orphanTombstone(orphanOf))
		return true
	}
	out.Emit(p.entryRecord(ceID, e))
	return false
}

// apply is the one way an event changes a document's entry: under the
// document's lock, and the handover's read lock from the ownership check
// to the commit, it reads the entry, settles (Settle), writes what the
// settlement writes durably, and only then updates the table and the
// orphans. A callback kept as an orphan takes its room within the bounds
// before it is written (ErrOrphanLimit past them) and gives it back when
// the write fails.
func (p *Pending) apply(ctx context.Context, ceID string, ev Event) (Settlement, error) {
	mu := p.lockOf(ceID)
	mu.Lock()
	defer mu.Unlock()
	p.owner.handover.RLock()
	defer p.owner.handover.RUnlock()
	now := p.cfg.Now()
	e, ok := p.table.Get(ceID)
	if !ok {
		e = nil
	}
	owned := e != nil && e.State == StatePending && p.owns(e.Partition)
	st := Settle(ceID, e, owned, ev, now)
	switch st.Action {
	case Ignore, Stale:
		return st, nil
	case Note:
		// Nothing is written for a repeated callback: the entry may be a
		// sending the forward stage has just replaced (a document sent
		// again), and writing it back would undo the new sending.
		if st.OtherRegistryID != "" {
			p.cfg.Log.Warn("repeated РЭМД callback names another emdrId; the first stands",
				"request_id", ceID, "first", e.RegistryID, "now", st.OtherRegistryID)
		}
		return st, nil
	}
	if st.Action == Orphan {
		st.Entry.Partition = p.partitionOf(ceID)
	}
	recs, count := p.records(st, now)
	unreserve, size := func() {}, 0
	if st.Action == Orphan {
		entry := recs[len(recs)-1]
		size = len(entry.Key) + len(entry.Value)
		undo, err := p.orphans.Reserve(ceID, ev.Source, size)
		if err != nil {
			return st, err
		}
		unreserve = undo
	}
	orphanOf := ev.OrphanOf
	if orphanOf == "" {
		orphanOf = ceID
	}
	if ev.Kind == EarlyCallback {
		recs = append(recs, p.orphanTombstone(orphanOf))
	}
	if err := p.cfg.Writer.Write(ctx, recs); err != nil {
		unreserve()
		return st, err
	}
	count()
	p.table.Put(st.Key, &st.Entry, false)
	switch {
	case st.Action == Orphan:
		p.orphans.Put(ceID, st.Entry.Callback, ev.Source, size)
	case ev.Kind == EarlyCallback:
		p.table.Put(OrphanKey(orphanOf), nil, true)
		p.orphans.Remove(orphanOf)
	}
	if st.Action != Orphan {
		p.index(st.Key, &st.Entry)
	}
	return st, nil
}

// records are what a settlement writes: the stage's records of a
// registered or rejected document, or the re-send, then the entry's new
// state. count adds the outcome to the metrics; call it once the records
// are written, so a write that fails (and is tried again) is not counted.
func (p *Pending) records(st Settlement, now time.Time) (recs []*kgo.Record, count func()) {
	count = func() {}
	switch st.Action {
	case Register, Reject:
		recs, count = p.stage.Settled(st, now)
	case Resend:
		recs = append(recs, p.resend(st))
	}
	return append(recs, p.entryRecord(st.Key, &st.Entry)), count
}

// resend is the document sent again: back to the outbound topic,
// whichever tier it was last sent from, counting the re-sends.
func (p *Pending) resend(st Settlement) *kgo.Record {
	orig := st.Record.Record()
	again := &kgo.Record{Topic: p.cfg.Outbound, Key: orig.Key, Value: orig.Value}
	for _, h := range orig.Headers {
		if h.Key != HeaderResends && !strings.HasPrefix(h.Key, retryHeaderPrefix) {
			again.Headers = append(again.Headers, h)
		}
	}
	again.Headers = append(again.Headers, kgo.RecordHeader{Key: HeaderResends, Value: fmt.Appendf(nil, "%d", st.Entry.Resends+1)})
	return again
}

func (p *Pending) entryRecord(key string, e *Entry) *kgo.Record {
	return &kgo.Record{Topic: p.cfg.Topic, Partition: e.Partition, Key: []byte(key), Value: e.Encode()}
}

func (p *Pending) orphanTombstone(ceID string) *kgo.Record {
	return &kgo.Record{Topic: p.cfg.Topic, Partition: p.partitionOf(ceID), Key: []byte(OrphanKey(ceID))}
}

// lockOf is the lock of a document. It hashes the whole key over all the
// stripes: by partition number, as it once was, six locks served every
// callback, and РЭМД's results were written six at a time (about 25 a
// second on a three-node cluster, where ИЭМК took 100).
func (p *Pending) lockOf(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &p.locks[h.Sum32()%uint32(len(p.locks))]
}

// index keeps byMessage in step with the table's document key ceID
// (not an orphan's key) and its entry e: the MessageIDs of its sendings
// so far (e.Resends + 1 of them) set, or every one it may have had
// removed when e is nil (deleted). A sending's id appears only once the
// table holds that sending's entry, so a callback for it waits for the
// entry rather than finding the earlier sending's.
func (p *Pending) index(ceID string, e *Entry) {
	if e == nil {
		for send := range ResendLimit + 1 {
			p.byMessage.Put(seam.MessageID(ceID, send), "", true)
		}
		return
	}
	for send := range min(e.Resends, ResendLimit) + 1 {
		p.byMessage.Put(seam.MessageID(ceID, send), ceID, false)
	}
}

// sendOf is which sending of the document ceID the MessageID names, or
// -1 when it names none of them (a callback that names the ce_id only).
func sendOf(ceID, messageID string) int {
	if messageID == "" {
		return -1
	}
	for send := range ResendLimit + 1 {
		if seam.MessageID(ceID, send) == messageID {
			return send
		}
	}
	return -1
}

// Resends is how often the outbound record was sent again already (its
// HeaderResends), 0 for a first sending.
func Resends(headers []kgo.RecordHeader) int {
	n := 0
	if v := cloudevents.Get(headers, HeaderResends); v != "" {
		fmt.Sscan(v, &n)
	}
	return max(n, 0)
}

// partitionOf places a document's entries by its ce_id.
func (p *Pending) partitionOf(key string) int32 { return PartitionOf(key, p.cfg.Partitions) }
