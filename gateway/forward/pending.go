package forward

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Entry states of a document sent to РЭМД.
const (
	StatePending    = "pending"    // accepted; waiting for the callback
	StateRegistered = "registered" // the callback (or a lookup) gave the emdrId
	StateRejected   = "rejected"   // the callback gave error codes; parked
	StateResent     = "resent"     // the callback's errors were transient; sent again
	StateOrphan     = "orphan"     // a callback for a document not (yet) known here; kept under orphanPrefix+ce_id
)

// orphanPrefix keys an early callback apart from its document's entry:
// under the same key, whichever of the two was written last would hide
// the other.
const orphanPrefix = "orphan|"

// resendLimit is how often a document is sent again for transient errors
// in РЭМД's callback before it is parked.
const resendLimit = 3

// headerResends counts such re-sends on the outbound record.
const headerResends = "egisz_remd_resends"

// Entry is one document in the compacted pending topic, keyed by the
// event's ce_id. While pending it keeps the outbound record, so that a
// rejection that comes hours later is parked byte for byte like any
// other; once settled it no longer does.
type Entry struct {
	State      string          `json:"state"`
	Partition  int32           `json:"partition"` // of the outbound record, and of the pending topic; the instance that owns this outbound partition settles the document
	SentAt     time.Time       `json:"sent_at,omitzero"`
	Resends    int             `json:"resends,omitempty"`
	Record     *StoredRecord   `json:"record,omitempty"`
	RegistryID string          `json:"registry_id,omitempty"`
	Callback   *CallbackResult `json:"callback,omitempty"` // an orphan's result
	FirstCB    time.Time       `json:"first_callback_at,omitzero"`
	LastCB     time.Time       `json:"last_callback_at,omitzero"`
	Callbacks  int             `json:"callbacks,omitempty"`
	Done       time.Time       `json:"done_at,omitzero"`
	Source     string          `json:"source,omitempty"` // an orphan's: the address its callback came from, for the bounds per source
}

// StoredRecord is an outbound record as it was consumed.
type StoredRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp time.Time         `json:"timestamp"`
	Key       []byte            `json:"key"`
	Value     []byte            `json:"value"`
	Headers   map[string]string `json:"headers"`
	Order     []string          `json:"header_order"`
}

func storeRecord(r *kgo.Record) *StoredRecord {
	sr := &StoredRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp,
		Key: r.Key, Value: r.Value, Headers: make(map[string]string, len(r.Headers))}
	for _, h := range r.Headers {
		sr.Headers[h.Key] = string(h.Value)
		sr.Order = append(sr.Order, h.Key)
	}
	return sr
}

func (sr *StoredRecord) record() *kgo.Record {
	r := &kgo.Record{Topic: sr.Topic, Partition: sr.Partition, Offset: sr.Offset, Timestamp: sr.Timestamp, Key: sr.Key, Value: sr.Value}
	for _, k := range sr.Order {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(sr.Headers[k])})
	}
	return r
}

// Pending tracks documents РЭМД accepted until its callback settles them:
// a global table over the compacted pending topic on every instance (a
// callback may reach any of them), the callback endpoint, and a sweep
// that looks up documents whose callback is late and forgets settled
// ones after callback.keep_done.
type Pending struct {
	s          *Stage
	topic      string
	table      *reftable.Table[*Entry]
	writer     *txWriter
	partitions int32
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

	// handover hands a partition's documents from one instance to the
	// next. A settlement holds it for reading from its ownership check to
	// its commit; losing partitions takes it for writing, so that this
	// instance's settlements are committed before the group moves on and
	// the next owner's table can read them.
	handover sync.RWMutex
	// hmu guards settleFrom and assignments.
	hmu sync.Mutex
	// settleFrom is, by partition this instance was given, the pending
	// topic's last stable offset at that moment: the partition's
	// documents are settled here once the table has read that far, past
	// every settlement of the previous owner. Absent until known. The
	// table always gets there, even on a compacted topic whose partition
	// went idle: the log cleaner never touches the active segment, and a
	// segment rolls only when something new is appended, so the records
	// and markers just below that offset are still there to be read.
	settleFrom map[int32]int64
	// assignments counts assignments, so that a late offset lookup of an
	// earlier one is not taken for the current one.
	assignments int
	// adm looks the offsets up. Its own client: the group calls assigned
	// before the stage's session is in hand.
	adm *kadm.Client

	docs   prometheus.Gauge
	oldest prometheus.Gauge
}

func newPending(s *Stage) (*Pending, error) {
	topic := s.cfg.Prefix + topics.REMDPendingState
	cb := s.cfg.Callback
	if cb.MaxOrphans == 0 { // a Config built in code without the bounds takes the defaults
		d := config.Default().Forward.Callback
		cb.MaxOrphans, cb.MaxOrphanBytes, cb.MaxOrphansPerSource, cb.MaxOrphanBytesPerSource = d.MaxOrphans, d.MaxOrphanBytes, d.MaxOrphansPerSource, d.MaxOrphanBytesPerSource
	}
	p := &Pending{s: s, topic: topic, partitions: topics.PatientPartitions, settleFrom: map[int32]int64{},
		orphans: newOrphanSet(OrphanLimits{Count: cb.MaxOrphans, Bytes: cb.MaxOrphanBytes, CountPerSource: cb.MaxOrphansPerSource, BytesPerSource: cb.MaxOrphanBytesPerSource}),
		waiters: make(chan struct{}, maxWaiters)}
	if t, ok := s.cfg.Catalog.Lookup(topic); ok && t.Partitions > 0 {
		p.partitions = t.Partitions
	}
	p.table = reftable.New("remd-pending", topic, func(key, value []byte, _ map[string]string) (string, *Entry, bool) {
		k := string(key)
		id, isOrphan := strings.CutPrefix(k, orphanPrefix)
		if value == nil {
			if isOrphan {
				p.orphans.remove(id)
			}
			return k, nil, true
		}
		var e Entry
		if err := json.Unmarshal(value, &e); err != nil {
			return "", nil, false
		}
		if e.State == StatePending && e.Record == nil {
			return "", nil, false // nothing to settle it with: not an entry this gateway writes
		}
		if isOrphan && e.Callback != nil {
			p.orphans.put(id, orphan{cb: e.Callback, source: e.Source, size: len(key) + len(value)})
		}
		return k, &e, true
	}, s.cfg.Log)
	p.docs = s.m.pendingDocs
	p.oldest = s.m.pendingOldest
	w, err := newTxWriter(s.cfg.ClientOpts, s.cfg.Prefix+s.cfg.InstanceID+"-remd-callback", s.cfg.Log, topic)
	if err != nil {
		return nil, err
	}
	p.writer = w
	cl, err := kgo.NewClient(s.cfg.ClientOpts...)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("pending documents' admin client: %w", err)
	}
	p.adm = kadm.NewClient(cl)
	return p, nil
}

// close closes the clients of the writer and of the offset lookups.
func (p *Pending) close() {
	p.writer.close()
	p.adm.Close()
}

// Run follows the table, commits the callbacks' writes and sweeps. It
// returns when ctx ends or when the table or the writer fails for good.
func (p *Pending) Run(ctx context.Context) error {
	w := p.writer
	defer p.close()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	errs := make(chan error, 2)
	go func() { errs <- p.table.Run(ctx, p.s.cfg.ClientOpts) }()
	go func() { errs <- w.run(ctx) }()
	every := min(p.s.cfg.Callback.ReconcileAfter.D()/4, 30*time.Second)
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

func (p *Pending) orphan(key string) (CallbackResult, bool) { return p.orphans.result(key) }

// settleOrphans settles documents now pending whose callback came first
// and was kept as an orphan: the forward stage may have written the
// pending entry just before the orphan was recorded.
func (p *Pending) settleOrphans(ctx context.Context) {
	for _, k := range p.orphans.keys() {
		e, ok := p.table.Get(k)
		if !ok || e == nil || e.State != StatePending || !p.owns(e.Partition) {
			continue
		}
		cb, ok := p.orphan(k)
		if !ok {
			continue
		}
		mu := p.lockOf(k)
		mu.Lock()
		p.handover.RLock()
		if e, ok = p.table.Get(k); ok && e != nil && e.State == StatePending && p.owns(e.Partition) {
			next := *e
			recs, count := p.settle(k, &next, cb, p.s.cfg.Now())
			if err := p.writer.write(ctx, append(recs, p.orphanTombstone(k))); err != nil {
				p.s.cfg.Log.Warn("early РЭМД callback not applied; next round", "request_id", k, "err", err)
			} else {
				count()
				p.table.Put(k, &next, false)
				p.table.Put(orphanPrefix+k, nil, true)
				p.orphans.remove(k)
				p.s.m.callbacks.WithLabelValues("orphan_settled").Inc()
			}
		}
		p.handover.RUnlock()
		mu.Unlock()
	}
}

// measure sets the pending count and the oldest pending age.
func (p *Pending) measure() {
	n, oldest := 0, time.Time{}
	p.table.Range(func(_ string, e *Entry) bool {
		if e.State == StatePending {
			n++
			if oldest.IsZero() || e.SentAt.Before(oldest) {
				oldest = e.SentAt
			}
		}
		return true
	})
	p.docs.Set(float64(n))
	count, bytes := p.orphans.use()
	p.s.m.orphans.Set(float64(count))
	p.s.m.orphanBytes.Set(float64(bytes))
	if n == 0 {
		p.oldest.Set(0)
	} else {
		p.oldest.Set(p.s.cfg.Now().Sub(oldest).Seconds())
	}
}

// Measure updates the pending gauges now (tests).
func (p *Pending) Measure() { p.measure() }

// Get returns a document's entry (tests, the admin API).
func (p *Pending) Get(ceID string) (*Entry, bool) { return p.table.Get(ceID) }

// accepted is the forward stage's write for a document РЭМД accepted: the
// pending entry, or the result at once when its callback came first.
func (p *Pending) accepted(out *eos.Output, r *kgo.Record, now time.Time) {
	ceID := cloudevents.Get(r.Headers, topics.HeaderID)
	resends := 0
	if v := cloudevents.Get(r.Headers, headerResends); v != "" {
		fmt.Sscan(v, &resends)
	}
	// On the record's own partition number: the instance that sent the
	// document owns it, gets its callback (at its callback URL) and
	// settles it, and only that instance does (Handle).
	e := &Entry{State: StatePending, Partition: r.Partition, SentAt: now, Resends: resends, Record: storeRecord(r)}
	if cb, ok := p.orphan(ceID); ok {
		e.FirstCB, e.LastCB, e.Callbacks = now, now, 1
		p.s.m.callbacks.WithLabelValues("orphan_settled").Inc()
		recs, count := p.settle(ceID, e, cb, now)
		for _, rec := range recs {
			out.Emit(rec)
		}
		count() // as the stage counts what it emits
		out.Emit(p.orphanTombstone(ceID))
		return
	}
	out.Emit(p.entryRecord(ceID, e))
	p.s.emitStatus(out, r, "pending", "", nil, now)
}

// settle turns a result for a pending document (from its callback, an
// orphaned callback or a lookup) into its records:
// the status, the DLQ record or the re-send, and the entry's new state.
// count adds the outcome to the metrics; call it once the records are
// written, so a write that fails (and is tried again) is not counted.
func (p *Pending) settle(ceID string, e *Entry, cb CallbackResult, now time.Time) (recs []*kgo.Record, count func()) {
	s := p.s
	orig := e.Record.record()
	e.Done = now
	count = func() {}
	switch {
	case cb.Registered:
		e.State, e.RegistryID = StateRegistered, cb.RegistryID
		recs = append(recs, s.statusRecord(orig.Key, orig.Headers, "registered", cb.RegistryID, nil, now))
		count = func() { s.m.outcomes.WithLabelValues(s.reg, "registered").Inc() }
	case cb.Retry && e.Resends < resendLimit:
		// РЭМД could not fetch or check the document for a reason of its
		// own or the MIS side (MIS_NOT_AVAILABLE, CA_INACCESSIBILITY):
		// the document goes round again.
		e.State = StateResent
		// Back to the outbound topic, whichever tier it was last sent from.
		again := &kgo.Record{Topic: s.topic, Key: orig.Key, Value: orig.Value}
		for _, h := range orig.Headers {
			if h.Key != headerResends && !strings.HasPrefix(h.Key, "egisz_retry_") {
				again.Headers = append(again.Headers, h)
			}
		}
		again.Headers = append(again.Headers, kgo.RecordHeader{Key: headerResends, Value: fmt.Appendf(nil, "%d", e.Resends+1)})
		recs = append(recs, again)
	default:
		e.State = StateRejected
		reasons := cb.Reasons
		if len(reasons) == 0 {
			reasons = []topics.Reason{s.dest.Reason(ReasonCallbackMissing)}
		}
		lead := reasons[0]
		recs = append(recs, record.Park(s.dlqTopic, orig, record.Failure{
			Reason: lead.Code, Message: lead.MessageRU + " / " + lead.MessageEN, Owner: lead.Owner,
			Stage: "forward", Destination: s.reg, Attempts: e.Resends + 1, First: e.SentAt, Last: now, Retryable: lead.Retryable,
		}))
		recs = append(recs, s.statusRecord(orig.Key, orig.Headers, "rejected", "", reasons, now))
		count = func() {
			s.cfg.DLQ.Parked(s.dlqTopic, lead.Code, lead.Owner)
			s.m.outcomes.WithLabelValues(s.reg, "rejected").Inc()
		}
	}
	// A settled document's record is in its status, its DLQ record or its
	// re-send; the entry only answers later callbacks and the sweep.
	// Without it the entry is a tenth of the size, and every instance's
	// table reads a registered document's entry back.
	e.Record = nil
	return append(recs, p.entryRecord(ceID, e)), count
}

func (p *Pending) entryRecord(ceID string, e *Entry) *kgo.Record {
	b, _ := json.Marshal(e)
	return &kgo.Record{Topic: p.topic, Partition: e.Partition, Key: []byte(ceID), Value: b}
}

// maxCallbackBody bounds a callback's body: РЭМД's result is a request
// id, a status, an emdrId and a few error codes, a kilobyte or two; 64
// KiB leaves room for many errors with long messages.
const maxCallbackBody = 64 << 10

// maxWaiters is how many callbacks wait at once for their document's
// entry; each holds its body, at most maxCallbackBody.
const maxWaiters = 1024

// serve takes an authenticated РЭМД callback (POST /emdr/callback) from
// source. It answers 200 only once the result is durably written, so РЭМД
// sends it again if the gateway fails before that.
func (p *Pending) serve(w http.ResponseWriter, r *http.Request, source string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			p.s.m.callbacks.WithLabelValues("too_large").Inc()
			http.Error(w, fmt.Sprintf("callback body over %d bytes", maxCallbackBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "callback body: "+err.Error(), http.StatusBadRequest)
		return
	}
	cb, err := p.s.dest.ParseCallback(body)
	if err != nil {
		p.s.m.callbacks.WithLabelValues("invalid").Inc()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := p.Handle(r.Context(), source, cb); err != nil {
		if errors.Is(err, ErrOrphanLimit) {
			p.s.m.callbacks.WithLabelValues("orphan_refused").Inc()
			w.Header().Set("Retry-After", "60")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if r.Context().Err() != nil {
			// РЭМД hung up first and sends the callback again: nothing is
			// lost and nothing failed here, so it is counted, not warned
			// about (a rebalance left hundreds of such warnings a minute).
			p.s.m.callbacks.WithLabelValues("abandoned").Inc()
			p.s.cfg.Log.Info("РЭМД hung up before its callback was recorded; it sends it again", "request_id", cb.RequestID)
			return
		}
		p.s.cfg.Log.Warn("РЭМД callback not recorded; РЭМД will send it again", "request_id", cb.RequestID, "err", err)
		http.Error(w, "not recorded, send again: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Handle records one callback result. Only the instance that owns the
// document's partition settles it, so that a callback, an early callback
// and a lookup never settle one document on two instances at once (each
// would write its own "registered"). Another instance, which a callback
// reaches after a rebalance, records the result as an orphan, durably, and
// the owner settles from it (settleOrphans). Orphans are bounded, in all
// and per source (the caller's address): past a bound Handle returns
// ErrOrphanLimit and keeps nothing.
func (p *Pending) Handle(ctx context.Context, source string, cb CallbackResult) error {
	// Just after a start the table is still being read; a callback waits
	// for it as it would for its document's entry, rather than being
	// refused at once and, after РЭМД's few re-sends, left to the
	// reconciliation lookup.
	if p.table.Ready() != nil {
		wait := time.NewTimer(p.s.cfg.Callback.Wait.D())
		defer wait.Stop()
		select {
		case <-p.table.Loaded():
		case <-wait.C:
			return errors.New("pending documents are still loading")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The forward stage commits its pending entry just after РЭМД's
	// synchronous answer; a quick callback may overtake it. The wait holds
	// no lock: callbacks of other documents must not queue behind it. So
	// many waiting at once that the bound is reached is not the quick
	// callbacks of a healthy registry: those beyond it do not wait.
	select {
	case p.waiters <- struct{}{}:
		p.table.Wait(ctx, cb.RequestID, p.s.cfg.Callback.Wait.D(), func(e *Entry, ok bool) bool { return ok && e != nil })
		<-p.waiters
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mu := p.lockOf(cb.RequestID)
	mu.Lock()
	defer mu.Unlock()
	p.handover.RLock()
	defer p.handover.RUnlock()
	now := p.s.cfg.Now()
	e, ok := p.table.Get(cb.RequestID)
	var (
		recs      []*kgo.Record
		count     = func() {}
		unreserve = func() {}
		next      Entry
		result    string
	)
	switch {
	case ok && e != nil && e.State == StatePending && p.owns(e.Partition):
		next = *e
		next.Callbacks++
		if next.FirstCB.IsZero() {
			next.FirstCB = now
		}
		next.LastCB = now
		recs, count = p.settle(cb.RequestID, &next, cb, now)
		result = next.State // registered, rejected or resent
	case ok && e != nil && e.State != StatePending:
		// A late or repeated callback: only the first one settles the
		// document (domain/EGISZ.md §3 d); later ones are noted.
		next = *e
		next.Callbacks++
		next.LastCB = now
		if cb.Registered && e.State == StateRegistered && cb.RegistryID != e.RegistryID {
			p.s.cfg.Log.Warn("repeated РЭМД callback names another emdrId; the first stands",
				"request_id", cb.RequestID, "first", e.RegistryID, "now", cb.RegistryID)
		}
		recs, result = []*kgo.Record{p.entryRecord(cb.RequestID, &next)}, "repeated"
	default:
		// Not known yet, or pending on a partition another instance owns:
		// keep the result; the owner settles the document with it, as does
		// the forward stage when its write comes, and the sweep forgets it
		// after keep_done.
		cp := cb
		next = Entry{State: StateOrphan, Partition: p.partitionOf(cb.RequestID), Callback: &cp, FirstCB: now, LastCB: now, Callbacks: 1, Source: source}
		rec := p.entryRecord(orphanPrefix+cb.RequestID, &next)
		undo, err := p.orphans.reserve(cb.RequestID, source, len(rec.Key)+len(rec.Value))
		if err != nil {
			return err
		}
		recs, result, unreserve = []*kgo.Record{rec}, "orphan", undo
	}
	if err := p.writer.write(ctx, recs); err != nil {
		unreserve()
		return err
	}
	count()
	if next.State == StateOrphan {
		p.table.Put(orphanPrefix+cb.RequestID, &next, false)
		p.orphans.put(cb.RequestID, orphan{cb: next.Callback, source: source, size: len(recs[0].Key) + len(recs[0].Value)})
	} else {
		p.table.Put(cb.RequestID, &next, false)
	}
	p.s.m.callbacks.WithLabelValues(result).Inc()
	return nil
}

// settleLookedUp settles a document РЭМД's lookup found registered, unless
// its callback settled it while the lookup ran. An error means the
// settlement was not written: the document stays pending and is looked up
// again.
func (p *Pending) settleLookedUp(ctx context.Context, k, registryID string, now time.Time) error {
	mu := p.lockOf(k)
	mu.Lock()
	defer mu.Unlock()
	p.handover.RLock()
	defer p.handover.RUnlock()
	e, ok := p.table.Get(k)
	if !ok || e == nil || e.State != StatePending || !p.owns(e.Partition) {
		return nil
	}
	next := *e
	recs, count := p.settle(k, &next, CallbackResult{RequestID: k, Registered: true, RegistryID: registryID}, now)
	if err := p.writer.write(ctx, recs); err != nil {
		return err
	}
	count()
	p.table.Put(k, &next, false)
	return nil
}

func (p *Pending) orphanTombstone(ceID string) *kgo.Record {
	return &kgo.Record{Topic: p.topic, Partition: p.partitionOf(ceID), Key: []byte(orphanPrefix + ceID)}
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

// owns reports whether this instance settles the documents of partition
// part: it holds the partition, and its table has read what the previous
// owner wrote there. Until then a callback of such a document is kept as
// an orphan, and settled once it does.
func (p *Pending) owns(part int32) bool {
	if !p.s.owns(part) {
		return false
	}
	p.hmu.Lock()
	from, ok := p.settleFrom[part]
	p.hmu.Unlock()
	return ok && p.table.Position(part) >= from
}

// assigned learns, for the partitions the stage was given, how far the
// table must read before their documents are settled here.
func (p *Pending) assigned(ctx context.Context, parts []int32) {
	p.hmu.Lock()
	p.assignments++
	this := p.assignments
	for _, part := range parts {
		delete(p.settleFrom, part)
	}
	p.hmu.Unlock()
	if len(parts) == 0 {
		return
	}
	// Not in the group's callback: the lookup may take a while when the
	// cluster is in motion, and the group waits for the callback.
	go func() {
		for {
			ends, err := kafkaclient.EndOffsets(ctx, p.adm, true, p.topic)
			if err == nil {
				p.hmu.Lock()
				defer p.hmu.Unlock()
				if this != p.assignments {
					return
				}
				for _, part := range parts {
					if o, ok := ends.Lookup(p.topic, part); ok {
						p.settleFrom[part] = o.Offset
					}
				}
				return
			}
			p.s.cfg.Log.Warn("pending documents' offsets not known; their settling waits", "topic", p.topic, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// revoked returns once every settlement that found this instance the
// owner of a partition it has now lost is committed.
func (p *Pending) revoked() {
	p.handover.Lock()
	defer p.handover.Unlock()
}

// partitionOf places a document's entries by its ce_id.
func (p *Pending) partitionOf(key string) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int32(h.Sum32() % uint32(p.partitions))
}

// sweepLookups is how many late documents a sweep looks up at once; the
// destination's concurrency bounds the calls themselves.
const sweepLookups = 32

// lookUp asks РЭМД about a document whose callback is late and settles it
// when РЭМД has registered it.
func (p *Pending) lookUp(ctx context.Context, k string, now time.Time) {
	e, ok := p.table.Get(k)
	if !ok || e == nil || e.State != StatePending {
		return
	}
	call, err := p.s.dest.Build(e.Record.Value, k, p.s.cfg.CallbackURL)
	if err != nil {
		return
	}
	lk, ok := p.s.dest.Lookup(call)
	if !ok {
		return
	}
	out, _ := p.s.call(ctx, lk)
	switch out.Result {
	case Registered:
		// Counted once written: a document whose settlement failed is
		// looked up again, and would be counted twice.
		if err := p.settleLookedUp(ctx, k, out.RegistryID, now); err != nil {
			p.s.cfg.Log.Warn("reconciled document not recorded; it is looked up again", "request_id", k, "err", err)
			p.s.m.reconciled.WithLabelValues("error").Inc()
			return
		}
		p.s.m.reconciled.WithLabelValues("registered").Inc()
	case NotFound:
		// Still nothing: it stays pending, and the oldest-pending age
		// alerts an operator (CALLBACK_MISSING).
		p.s.m.reconciled.WithLabelValues("not_found").Inc()
	default:
		p.s.m.reconciled.WithLabelValues("error").Inc()
	}
}

// sweep looks up documents on this instance's partitions whose callback
// is later than reconcile_after, and forgets settled documents and
// orphans older than keep_done.
func (p *Pending) sweep(ctx context.Context) {
	now := p.s.cfg.Now()
	var late []string
	var forget []*kgo.Record
	p.table.Range(func(k string, e *Entry) bool {
		switch {
		case e.State == StatePending && p.owns(e.Partition) && now.Sub(e.SentAt) >= p.s.cfg.Callback.ReconcileAfter.D():
			late = append(late, k)
		case e.State == StateOrphan && p.owns(e.Partition) && now.Sub(e.LastCB) >= p.s.cfg.Callback.KeepDone.D(),
			e.State != StatePending && e.State != StateOrphan && p.owns(e.Partition) && now.Sub(e.Done) >= p.s.cfg.Callback.KeepDone.D():
			forget = append(forget, &kgo.Record{Topic: p.topic, Partition: e.Partition, Key: []byte(k)})
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
				p.lookUp(ctx, k, now)
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
		if err := p.writer.write(ctx, forget); err != nil {
			p.s.cfg.Log.Warn("settled documents not forgotten; next sweep", "count", len(forget), "err", err)
			return
		}
		for _, r := range forget {
			p.table.Put(string(r.Key), nil, true)
			if id, ok := strings.CutPrefix(string(r.Key), orphanPrefix); ok {
				p.orphans.remove(id)
			}
		}
	}
}
