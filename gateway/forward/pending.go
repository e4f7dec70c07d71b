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

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/gateway/kafkaclient"
	"github.com/egisz-gateway/egisz-gateway/gateway/reftable"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// headerResends counts re-sends of a document on the outbound record.
const headerResends = "egisz_remd_resends"

// Pending tracks documents РЭМД accepted until its callback settles them:
// a global table over the compacted pending topic on every instance (a
// callback may reach any of them), the callback endpoint, and a sweep
// that looks up documents whose callback is late and forgets settled
// ones after callback.keep_done.
type Pending struct {
	s          *Stage
	topic      string
	table      *reftable.Table[*pending.Entry]
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
	orphans *pending.OrphanSet
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
		orphans: pending.NewOrphanSet(pending.OrphanLimits{Count: cb.MaxOrphans, Bytes: cb.MaxOrphanBytes, CountPerSource: cb.MaxOrphansPerSource, BytesPerSource: cb.MaxOrphanBytesPerSource}),
		waiters: make(chan struct{}, maxWaiters)}
	if t, ok := s.cfg.Catalog.Lookup(topic); ok && t.Partitions > 0 {
		p.partitions = t.Partitions
	}
	p.table = reftable.New("remd-pending", topic, func(key, value []byte, _ map[string]string) (string, *pending.Entry, bool) {
		d, err := pending.Decode(key, value)
		if err != nil {
			return "", nil, false
		}
		switch {
		case d.OrphanOf == "":
		case d.Entry == nil:
			p.orphans.Remove(d.OrphanOf)
		case d.Entry.Callback != nil:
			p.orphans.Put(d.OrphanOf, d.Entry.Callback, d.Entry.Source, len(key)+len(value))
		}
		return d.Key, d.Entry, true
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

// settleOrphans settles documents now pending whose callback came first
// and was kept as an orphan: the forward stage may have written the
// pending entry just before the orphan was recorded.
func (p *Pending) settleOrphans(ctx context.Context) {
	for _, k := range p.orphans.Keys() {
		e, ok := p.table.Get(k)
		if !ok || e == nil || e.State != pending.StatePending || !p.owns(e.Partition) {
			continue
		}
		cb, ok := p.orphans.Result(k)
		if !ok {
			continue
		}
		st, err := p.apply(ctx, k, pending.Event{Kind: pending.EarlyCallback, Result: cb})
		switch {
		case err != nil:
			p.s.cfg.Log.Warn("early РЭМД callback not applied; next round", "request_id", k, "err", err)
		case st.Action != pending.Ignore:
			p.s.m.callbacks.WithLabelValues("orphan_settled").Inc()
		}
	}
}

// measure sets the pending count and the oldest pending age.
func (p *Pending) measure() {
	n, oldest := 0, time.Time{}
	p.table.Range(func(_ string, e *pending.Entry) bool {
		if e.State == pending.StatePending {
			n++
			if oldest.IsZero() || e.SentAt.Before(oldest) {
				oldest = e.SentAt
			}
		}
		return true
	})
	p.docs.Set(float64(n))
	count, bytes := p.orphans.Use()
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
func (p *Pending) Get(ceID string) (*pending.Entry, bool) { return p.table.Get(ceID) }

// accepted is the forward stage's write for a document РЭМД accepted: the
// pending entry, or the result at once when its callback came first.
func (p *Pending) accepted(out *eos.Output, r *kgo.Record, now time.Time) {
	ceID := header(r, "ce_id")
	resends := 0
	if v := header(r, headerResends); v != "" {
		fmt.Sscan(v, &resends)
	}
	// On the record's own partition number: the instance that sent the
	// document owns it, gets its callback (at its callback URL) and
	// settles it, and only that instance does (Handle).
	e := &pending.Entry{State: pending.StatePending, Partition: r.Partition, SentAt: now, Resends: resends, Record: pending.Store(r)}
	if cb, ok := p.orphans.Result(ceID); ok {
		e.FirstCB, e.LastCB, e.Callbacks = now, now, 1
		p.s.m.callbacks.WithLabelValues("orphan_settled").Inc()
		recs, count := p.records(pending.Settle(ceID, e, true, pending.Event{Kind: pending.EarlyCallback, Result: cb}, now), now)
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

// records are what a settlement writes: the status, the DLQ record or
// the re-send, then the entry's new state. count adds the outcome to the
// metrics; call it once the records are written, so a write that fails
// (and is tried again) is not counted.
func (p *Pending) records(st pending.Settlement, now time.Time) (recs []*kgo.Record, count func()) {
	s := p.s
	count = func() {}
	switch st.Action {
	case pending.Register:
		orig := st.Record.Record()
		recs = append(recs, s.statusRecord(orig.Key, orig.Headers, "registered", st.Entry.RegistryID, nil, now))
		count = func() { s.m.outcomes.WithLabelValues(s.reg, "registered").Inc() }
	case pending.Resend:
		// Back to the outbound topic, whichever tier it was last sent from.
		orig := st.Record.Record()
		again := &kgo.Record{Topic: s.topic, Key: orig.Key, Value: orig.Value}
		for _, h := range orig.Headers {
			if h.Key != headerResends && !strings.HasPrefix(h.Key, "egisz_retry_") {
				again.Headers = append(again.Headers, h)
			}
		}
		again.Headers = append(again.Headers, kgo.RecordHeader{Key: headerResends, Value: fmt.Appendf(nil, "%d", st.Entry.Resends+1)})
		recs = append(recs, again)
	case pending.Reject:
		orig := st.Record.Record()
		reasons := st.Reasons
		if len(reasons) == 0 {
			reasons = []topics.Reason{s.dest.Reason(ReasonCallbackMissing)}
		}
		lead := reasons[0]
		// The DLQ record and the status of a rejection: the one place pending
		// builds them, for the stage's status+DLQ record builder to take.
		recs = append(recs, dlq.Park(s.dlqTopic, orig, dlq.Failure{
			Reason: lead.Code, Message: lead.MessageRU + " / " + lead.MessageEN, Owner: lead.Owner,
			Stage: "forward", Destination: s.reg, Attempts: st.Entry.Resends + 1, First: st.Entry.SentAt, Last: now, Retryable: lead.Retryable,
		}))
		recs = append(recs, s.statusRecord(orig.Key, orig.Headers, "rejected", "", reasons, now))
		count = func() {
			s.cfg.DLQ.Parked(s.dlqTopic, lead.Code, lead.Owner)
			s.m.outcomes.WithLabelValues(s.reg, "rejected").Inc()
		}
	}
	return append(recs, p.entryRecord(st.Key, &st.Entry)), count
}

// apply is the one way an event changes a document's entry: under the
// document's lock, and the handover's read lock from the ownership check
// to the commit, it reads the entry, settles (pending.Settle), writes
// what the settlement writes durably, and only then updates the table and
// the orphans. A callback kept as an orphan takes its room within the
// bounds before it is written (ErrOrphanLimit past them) and gives it
// back when the write fails.
func (p *Pending) apply(ctx context.Context, ceID string, ev pending.Event) (pending.Settlement, error) {
	mu := p.lockOf(ceID)
	mu.Lock()
	defer mu.Unlock()
	p.handover.RLock()
	defer p.handover.RUnlock()
	now := p.s.cfg.Now()
	e, ok := p.table.Get(ceID)
	if !ok {
		e = nil
	}
	owned := e != nil && e.State == pending.StatePending && p.owns(e.Partition)
	st := pending.Settle(ceID, e, owned, ev, now)
	if st.Action == pending.Ignore {
		return st, nil
	}
	if st.OtherRegistryID != "" {
		p.s.cfg.Log.Warn("repeated РЭМД callback names another emdrId; the first stands",
			"request_id", ceID, "first", e.RegistryID, "now", st.OtherRegistryID)
	}
	if st.Action == pending.Orphan {
		st.Entry.Partition = p.partitionOf(ceID)
	}
	recs, count := p.records(st, now)
	unreserve, size := func() {}, 0
	if st.Action == pending.Orphan {
		entry := recs[len(recs)-1]
		size = len(entry.Key) + len(entry.Value)
		undo, err := p.orphans.Reserve(ceID, ev.Source, size)
		if err != nil {
			return st, err
		}
		unreserve = undo
	}
	if ev.Kind == pending.EarlyCallback {
		recs = append(recs, p.orphanTombstone(ceID))
	}
	if err := p.writer.write(ctx, recs); err != nil {
		unreserve()
		return st, err
	}
	count()
	p.table.Put(st.Key, &st.Entry, false)
	switch {
	case st.Action == pending.Orphan:
		p.orphans.Put(ceID, st.Entry.Callback, ev.Source, size)
	case ev.Kind == pending.EarlyCallback:
		p.table.Put(pending.OrphanKey(ceID), nil, true)
		p.orphans.Remove(ceID)
	}
	return st, nil
}

func (p *Pending) entryRecord(key string, e *pending.Entry) *kgo.Record {
	return &kgo.Record{Topic: p.topic, Partition: e.Partition, Key: []byte(key), Value: e.Encode()}
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
		if errors.Is(err, pending.ErrOrphanLimit) {
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
		p.table.Wait(ctx, cb.RequestID, p.s.cfg.Callback.Wait.D(), func(e *pending.Entry, ok bool) bool { return ok && e != nil })
		<-p.waiters
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := p.apply(ctx, cb.RequestID, pending.Event{Kind: pending.Callback, Result: cb, Source: source})
	if err != nil {
		return err
	}
	p.s.m.callbacks.WithLabelValues(string(st.Action)).Inc()
	return nil
}

// settleLookedUp settles a document РЭМД's lookup found registered, unless
// its callback settled it while the lookup ran. An error means the
// settlement was not written: the document stays pending and is looked up
// again.
func (p *Pending) settleLookedUp(ctx context.Context, k, registryID string) error {
	_, err := p.apply(ctx, k, pending.Event{Kind: pending.LookedUp, Result: CallbackResult{RequestID: k, Registered: true, RegistryID: registryID}})
	return err
}

func (p *Pending) orphanTombstone(ceID string) *kgo.Record {
	return &kgo.Record{Topic: p.topic, Partition: p.partitionOf(ceID), Key: []byte(pending.OrphanKey(ceID))}
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
func (p *Pending) partitionOf(key string) int32 { return pending.PartitionOf(key, p.partitions) }

// sweepLookups is how many late documents a sweep looks up at once; the
// destination's concurrency bounds the calls themselves.
const sweepLookups = 32

// lookUp asks РЭМД about a document whose callback is late and settles it
// when РЭМД has registered it.
func (p *Pending) lookUp(ctx context.Context, k string) {
	e, ok := p.table.Get(k)
	if !ok || e == nil || e.State != pending.StatePending {
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
		if err := p.settleLookedUp(ctx, k, out.RegistryID); err != nil {
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
	p.table.Range(func(k string, e *pending.Entry) bool {
		switch pending.Overdue(e, p.owns(e.Partition), now, p.s.cfg.Callback.ReconcileAfter.D(), p.s.cfg.Callback.KeepDone.D()) {
		case pending.LookUp:
			late = append(late, k)
		case pending.Forget:
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
		if err := p.writer.write(ctx, forget); err != nil {
			p.s.cfg.Log.Warn("settled documents not forgotten; next sweep", "count", len(forget), "err", err)
			return
		}
		for _, r := range forget {
			p.table.Put(string(r.Key), nil, true)
			if d, _ := pending.Decode(r.Key, nil); d.OrphanOf != "" {
				p.orphans.Remove(d.OrphanOf)
			}
		}
	}
}
