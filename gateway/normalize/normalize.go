// Package normalize runs the first stage of the pipeline (DESIGN §4): the
// ingress topics in; outbound, pharmacy, status and dead-letter records out,
// with the dedup state's changelog, in one Kafka transaction per batch. It
// knows Kafka and the dedup rule; what an event is, whether it is valid and
// where it goes it asks of a Domain.
package normalize

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/state"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// ReasonConflict is the catalog code of a dedup conflict.
const ReasonConflict = "DEDUP_CONFLICT"

// The seam's types, under the names this package has always used for
// them; they are defined once in package seam, which the domain speaks too.
type (
	// Input is one ingress record as the domain sees it.
	Input = seam.Input
	// SideWrite is a change the domain asks for in a side table.
	SideWrite = seam.SideWrite
	// Publish is a record the domain asks the stage to write besides the routes.
	Publish = seam.Publish
	// Verdict is the domain's decision on one input.
	Verdict = seam.Verdict
	// SideReader reads the partition's side tables.
	SideReader = seam.SideReader
)

// Domain decides what becomes of ingress records, in two steps: Decide
// holds everything that depends on the record and the shared reference
// data alone, and is called for the records of a batch concurrently;
// Settle finishes a verdict with what depends on the partition's side
// tables, and is called in partition order.
type Domain interface {
	// Ready is nil once the reference data the decisions need is loaded.
	Ready() error
	Decide(in Input, now time.Time) Verdict
	// Settle is not called for a record the dedup rule finds a duplicate.
	Settle(in Input, v *Verdict, side SideReader, now time.Time)
	// Reason returns a reason of the catalog by its code (the stage's own
	// verdicts, such as a dedup conflict, are worded by the domain too).
	Reason(code string) topics.Reason
}

// Timers is implemented by domains whose side entries fall due with no
// record to say so (a prescription expiring): every TickEvery the stage
// asks Due about each entry due, in a transaction, and makes the writes
// and records it returns. The writes must replace the entry, with its next
// due time or none; an entry Due leaves alone is no longer due.
type Timers interface {
	Due(table string, value []byte, now time.Time) ([]SideWrite, []Publish)
}

// Config configures the stage.
type Config struct {
	Catalog    topics.Catalog // with the deployment's prefix
	Prefix     string
	Group      string // default egisz-normalize
	InstanceID string // stable per instance; names the transactional id
	ClientOpts []kgo.Opt
	// SessionOpts are added to the transactional session's client only
	// (its metrics hook, say); ClientOpts go to every client.
	SessionOpts []kgo.Opt
	Expiry      time.Duration // dedup keys not written for this long are dropped; default 400 days
	SweepEvery  time.Duration // how often expired keys are looked for; default 1h
	TickEvery   time.Duration // how often timed side entries are looked at (Timers); default 1m
	MaxBatch    int
	Log         *slog.Logger
	Metrics     prometheus.Registerer
	DLQ         *record.Metrics // counts what is parked
	Now         func() time.Time
}

// Stage is the running normalize stage.
type Stage struct {
	cfg    Config
	domain Domain
	eos    *eos.Stage
	m      metrics

	changelog, status, dlqTopic string
	hopTopic                    string // misplaced records and owner checks go through it (hop.go)
	hopPartitions               int32
	keyPartitioner              kgo.TopicPartitioner // the catalog's: murmur2, as Java clients and franz-go
	eventTypes                  map[string]string    // ce_type of each output topic

	mu        sync.Mutex // stores, and a store's contents while a record is handled
	stores    map[int32]*store
	touched   map[int32]*store
	prepared  map[*kgo.Record]prepared // Prepare's work for the batch in hand
	restoring atomic.Int32
	restored  atomic.Bool
}

// prepared is a record's input and verdict from Prepare.
type prepared struct {
	in Input
	v  Verdict
}

type store struct {
	*state.Store
	next      atomic.Int64 // changelog offset after our own last write
	lastSweep time.Time
}

// New builds the stage.
func New(cfg Config, domain Domain) (*Stage, error) {
	if cfg.Group == "" {
		cfg.Group = topics.GroupNormalize
	}
	if cfg.Expiry == 0 {
		cfg.Expiry = 400 * 24 * time.Hour
	}
	if cfg.SweepEvery == 0 {
		cfg.SweepEvery = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	n := &Stage{
		cfg: cfg, domain: domain,
		changelog:      cfg.Prefix + topics.NormalizeState,
		status:         cfg.Prefix + topics.StatusTopic,
		dlqTopic:       cfg.Prefix + topics.DLQIngress,
		stores:         map[int32]*store{},
		keyPartitioner: kgo.StickyKeyPartitioner(nil).ForTopic(""),
		touched:        map[int32]*store{},
		prepared:       map[*kgo.Record]prepared{},
		eventTypes:     map[string]string{},
	}
	for _, t := range cfg.Catalog {
		n.eventTypes[t.Name] = t.EventType
	}
	n.m = newMetrics(cfg.Metrics, n)
	var inputs []string
	for _, t := range cfg.Catalog.ByRole(topics.RoleIngress) {
		inputs = append(inputs, t.Name)
		// Zero from the start: the alert on it must see a series.
		n.m.rerouted.WithLabelValues(strings.TrimPrefix(t.Name, cfg.Prefix))
	}
	n.hopTopic = cfg.Prefix + topics.NormalizeBusiness
	hopT, ok := cfg.Catalog.Lookup(n.hopTopic)
	if !ok {
		return nil, fmt.Errorf("normalize: the catalog has no %s", n.hopTopic)
	}
	n.hopPartitions = hopT.Partitions
	inputs = append(inputs, n.hopTopic)
	s, err := eos.New(eos.Config{
		Name: "normalize", Group: cfg.Prefix + cfg.Group, Input: inputs,
		TransactionalID: cfg.Prefix + cfg.Group + "-" + cfg.InstanceID,
		ClientOpts:      cfg.ClientOpts,
		// Changelog records go to the partition of the input they belong
		// to, hop records to the partition that decides them (hop.go);
		// everything else is partitioned by key as producers do.
		ExtraOpts: append([]kgo.Opt{kgo.RecordPartitioner(eos.NamedPartitions(n.changelog, n.hopTopic))},
			cfg.SessionOpts...),
		OnAssigned: n.onAssigned,
		MaxBatch:   cfg.MaxBatch,
		TickEvery:  cfg.TickEvery,
		MaxBytes:   cfg.Catalog.BatchMaxBytes,
		Log:        cfg.Log,
	}, n)
	if err != nil {
		return nil, err
	}
	n.eos = s
	return n, nil
}

// Name is the worker's name.
func (n *Stage) Name() string { return "normalize" }

// Ready is nil when the reference data is loaded, the group joined and
// every assigned partition's state restored.
func (n *Stage) Ready() error {
	if err := n.domain.Ready(); err != nil {
		return err
	}
	if err := n.eos.Ready(); err != nil {
		return err
	}
	if r := n.restoring.Load(); r > 0 || !n.restored.Load() {
		return fmt.Errorf("restoring the state of %d partitions", r)
	}
	return nil
}

// Stats are the underlying stage's counters.
func (n *Stage) Stats() *eos.Stats { return &n.eos.Stats }

// Run waits for the reference data, then consumes until ctx ends.
func (n *Stage) Run(ctx context.Context) error {
	for n.domain.Ready() != nil {
		select {
		case <-ctx.Done():
			n.eos.Close()
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	return n.eos.Run(ctx)
}

// onAssigned restores the state of every newly assigned partition number
// (the inputs are co-partitioned: one store serves partition p of each)
// and drops the stores of partitions no longer held.
func (n *Stage) onAssigned(ctx context.Context, assigned map[string][]int32) {
	n.mu.Lock()
	defer n.mu.Unlock()
	want := map[int32]bool{}
	for _, ps := range assigned {
		for _, p := range ps {
			want[p] = true
		}
	}
	for p := range n.stores {
		if !want[p] {
			delete(n.stores, p)
		}
	}
	for p := range want {
		st := n.stores[p]
		if st == nil {
			st = &store{Store: state.NewStore(p)}
			n.stores[p] = st
		}
		// A batch in flight is aborted after a rebalance: undo its writes
		// before reading what the previous owner committed.
		st.Abort()
		st.Next = st.next.Load()
		n.restoring.Add(1)
		err := state.CatchUp(ctx, n.cfg.ClientOpts, n.changelog, st.Store, n.progress)
		n.restoring.Add(-1)
		if err != nil {
			// Without its state the partition must not be processed: the
			// transform refuses it until a later assignment restores it.
			n.cfg.Log.Error("state restore failed", "partition", p, "err", err)
			delete(n.stores, p)
			continue
		}
		st.next.Store(st.Next)
	}
	n.restored.Store(true)
}

func (n *Stage) progress(p int32, applied int64, done bool, took time.Duration) {
	n.m.restoreKeys.Add(float64(applied))
	if done {
		n.m.restoreSeconds.Observe(took.Seconds())
		n.cfg.Log.Info("state restored", "partition", p, "records", applied, "took", took.Round(time.Millisecond))
		return
	}
	n.cfg.Log.Info("restoring state", "partition", p, "records", applied, "elapsed", took.Round(time.Second))
}

func (n *Stage) input(r *kgo.Record) Input {
	return Input{Topic: strings.TrimPrefix(r.Topic, n.cfg.Prefix), Key: r.Key, Value: r.Value, Headers: cloudevents.Map(r.Headers)}
}

// Prepare decides the records of a batch concurrently, one worker per
// CPU: decoding and the reference checks are most of the work and need no
// partition state. Transform then settles each in order.
func (n *Stage) Prepare(_ context.Context, recs []*kgo.Record) {
	if n.domain.Ready() != nil || len(recs) == 0 {
		return
	}
	now := n.cfg.Now()
	done := make([]prepared, len(recs))
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(recs) {
					return
				}
				if recs[i].Topic == n.hopTopic {
					continue // decided already; Transform claims its owner
				}
				in := n.input(recs[i])
				done[i] = prepared{in: in, v: n.domain.Decide(in, now)}
			}
		}()
	}
	wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.prepared)
	for i, r := range recs {
		if r.Topic != n.hopTopic {
			n.prepared[r] = done[i]
		}
	}
}

// Transform handles one ingress record.
func (n *Stage) Transform(_ context.Context, r *kgo.Record, out *eos.Output) error {
	if err := n.domain.Ready(); err != nil {
		return err // not a rejection: the batch waits for the reference data
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.stores[r.Partition]
	if st == nil {
		return fmt.Errorf("no restored state for partition %d", r.Partition)
	}
	n.touched[r.Partition] = st
	now := n.cfg.Now()
	if now.Sub(st.lastSweep) >= n.cfg.SweepEvery {
		if k := st.Expire(now.Add(-n.cfg.Expiry)); k > 0 {
			n.cfg.Log.Info("expired dedup keys", "partition", r.Partition, "keys", k)
		}
		st.lastSweep = now
	}

	switch {
	case r.Topic == n.hopTopic:
		n.transformHop(r, st, out, now)
	case n.misplaced(r):
		n.reroute(r, out)
	default:
		n.decide(r, st, out, now)
	}
	n.emitChanges(st, out)
	return nil
}

// decide decides an ingress record with the state of the partition that
// owns its key.
func (n *Stage) decide(r *kgo.Record, st *store, out *eos.Output, now time.Time) {
	p, ok := n.prepared[r]
	if !ok {
		p.in = n.input(r)
		p.v = n.domain.Decide(p.in, now)
	}
	delete(n.prepared, r)
	in, v := p.in, p.v
	duplicate := false
	if len(v.Reasons) == 0 {
		// A duplicate is a duplicate whatever the state says now: the same
		// dispensation sent again must not be refused for having used up
		// its own prescription.
		held, ok := st.Dedup(v.DedupKey)
		duplicate = ok && held.Fingerprint == v.Fingerprint
		if !duplicate {
			n.domain.Settle(in, &v, st, now)
		}
	}
	switch {
	case duplicate:
		n.emitStatus(r, in, out, v.PatientKey, "duplicate", nil, now)
		n.m.outcomes.WithLabelValues(in.Topic, "duplicate").Inc()
	case len(v.Reasons) > 0:
		n.park(r, in, out, now, "rejected", v.Reasons, nil)
	default:
		n.accept(r, in, v, st, out, now)
	}
}

// emitChanges writes the store's changes to its changelog partition.
func (n *Stage) emitChanges(st *store, out *eos.Output) {
	for _, c := range st.TakeChanges() {
		out.EmitFunc(&kgo.Record{Topic: n.changelog, Partition: st.Partition, Key: c.Key, Value: c.Value}, func(rec *kgo.Record, err error) {
			if err == nil {
				st.next.Store(rec.Offset + 1)
			}
		})
	}
}

// writeSide makes the domain's side-table writes.
func writeSide(st *store, ws []SideWrite) {
	for _, w := range ws {
		if w.Timed {
			st.PutSideDue(w.Table, w.Key, w.Value, w.Due)
		} else {
			st.PutSide(w.Table, w.Key, w.Value)
		}
	}
}

// publish writes the domain's records, with the CloudEvents headers the
// stage adds: the topic's type, the gateway as source unless said
// otherwise, the time, and the trace of the input behind them, if any.
func (n *Stage) publish(out *eos.Output, ps []Publish, in map[string]string, now time.Time) {
	for _, r := range n.published(ps, in, now) {
		out.Emit(r)
	}
}

// published are the records publish writes.
func (n *Stage) published(ps []Publish, in map[string]string, now time.Time) []*kgo.Record {
	var recs []*kgo.Record
	for _, p := range ps {
		t := n.cfg.Prefix + p.Topic
		hs := []kgo.RecordHeader{
			{Key: topics.HeaderSpecVersion, Value: []byte(topics.CloudEventsVersion)},
			{Key: topics.HeaderType, Value: []byte(n.eventTypes[t])},
			{Key: topics.HeaderSource, Value: []byte(cmp.Or(p.Headers[topics.HeaderSource], "egisz-gateway"))},
			{Key: topics.HeaderTime, Value: []byte(now.UTC().Format(time.RFC3339Nano))},
			{Key: topics.HeaderContentType, Value: []byte(topics.ContentJSON)},
		}
		for _, k := range []string{topics.HeaderTraceparent, topics.HeaderTracestate} {
			if v, ok := in[k]; ok {
				hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
			}
		}
		keys := make([]string, 0, len(p.Headers))
		for k := range p.Headers {
			if k != topics.HeaderSource && p.Headers[k] != "" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(p.Headers[k])})
		}
		recs = append(recs, &kgo.Record{Topic: t, Key: []byte(p.Key), Value: p.Value, Headers: hs})
	}
	return recs
}

func (n *Stage) accept(r *kgo.Record, in Input, v Verdict, st *store, out *eos.Output, now time.Time) {
	outcome, held := st.Decide(v.DedupKey, v.Fingerprint, v.Version, now)
	switch outcome {
	case state.Duplicate:
		n.emitStatus(r, in, out, v.PatientKey, "duplicate", nil, now)
	case state.Conflict:
		reason := n.domain.Reason(ReasonConflict)
		reason.MessageEN += fmt.Sprintf(" (version %d, held %d)", v.Version, held.Version)
		n.park(r, in, out, now, "conflict", []topics.Reason{reason}, []kgo.RecordHeader{
			{Key: record.HFingerprintOld, Value: fmt.Appendf(nil, "%016x", held.Fingerprint)},
			{Key: record.HFingerprintNew, Value: fmt.Appendf(nil, "%016x", v.Fingerprint)},
		})
	default: // new or update
		writeSide(st, v.Side)
		recs := n.published(v.Publish, in.Headers, now)
		update := outcome == state.Update
		body := outboundBody(topics.OutboundEvent{
			Kind: v.Kind, PatientKey: v.PatientKey, DedupKey: v.DedupKey, Version: v.Version, Update: update,
			Source: in.Headers[topics.HeaderSource], ReceivedAt: topics.DateTime(now.UTC().Format(time.RFC3339Nano)),
		}, v.Payload)
		for _, route := range v.Routes {
			t := n.cfg.Prefix + route
			hs := append(forwardHeaders(in.Headers, n.eventTypes[t]), kgo.RecordHeader{Key: topics.HeaderOriginType, Value: []byte(in.Headers[topics.HeaderType])})
			recs = append(recs, &kgo.Record{Topic: t, Key: []byte(v.PatientKey), Value: body, Headers: hs})
		}
		name := "accepted"
		if update {
			name = "update"
		}
		recs = append(recs, n.statusRecord(r, in, v.PatientKey, name, nil, now))
		if _, checks := n.owners(); checks && v.Owner != "" {
			// Written once the business id's partition agrees (hop.go):
			// counted there.
			n.sendThroughHop(r, v, outcome, held, st, recs, out)
			return
		}
		for _, rec := range recs {
			out.Emit(rec)
		}
	}
	n.m.outcomes.WithLabelValues(in.Topic, string(outcome)).Inc()
}

// park writes the record to the ingress DLQ and its status.
func (n *Stage) park(r *kgo.Record, in Input, out *eos.Output, now time.Time, outcome string, reasons []topics.Reason, extra []kgo.RecordHeader) {
	first := reasons[0]
	n.cfg.DLQ.Parked(n.dlqTopic, first.Code, first.Owner)
	f := record.FailureOf(first)
	f.Stage, f.First, f.Last, f.Extra = "normalize", now, now, extra
	out.Emit(record.Park(n.dlqTopic, r, f))
	n.emitStatus(r, in, out, string(r.Key), outcome, reasons, now)
	if outcome == "rejected" {
		n.m.outcomes.WithLabelValues(in.Topic, "rejected").Inc()
		for _, rs := range reasons {
			n.m.rejected.WithLabelValues(in.Topic, rs.Code).Inc()
		}
	}
}

func (n *Stage) emitStatus(r *kgo.Record, in Input, out *eos.Output, key, outcome string, reasons []topics.Reason, now time.Time) {
	out.Emit(n.statusRecord(r, in, key, outcome, reasons, now))
}

// statusRecord is the status record of ingress record r under key.
func (n *Stage) statusRecord(r *kgo.Record, in Input, key, outcome string, reasons []topics.Reason, now time.Time) *kgo.Record {
	if key == "" {
		key = string(r.Key)
	}
	return &kgo.Record{Topic: n.status, Key: []byte(key), Value: statusBody(r, in, outcome, reasons, now), Headers: forwardHeaders(in.Headers, n.eventTypes[n.status])}
}

// statusBody is the status of ingress record r. It names r by its topic,
// partition and offset besides its ce_id, so that a publisher can match
// the status of an event it sent without a ce_id (rejected, with an empty
// ce_id) by what its producer's delivery report said.
func statusBody(r *kgo.Record, in Input, outcome string, reasons []topics.Reason, now time.Time) []byte {
	body, _ := json.Marshal(topics.Status{
		CEID: carried(in.Headers[topics.HeaderID]), Source: carried(in.Headers[topics.HeaderSource]), Type: carried(in.Headers[topics.HeaderType]),
		Outcome: outcome, Reasons: reasons, At: topics.DateTime(now.UTC().Format(time.RFC3339Nano)),
		Ingress: &topics.IngressRef{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset},
	})
	return body
}

// outboundBody encodes the envelope and splices the payload, already
// compact JSON from the domain, in as its event: encoding/json would scan
// and compact the payload once more.
func outboundBody(env topics.OutboundEvent, payload json.RawMessage) []byte {
	env.Event = nil
	head, _ := json.Marshal(env)
	// head ends with "event":null}; replace the null with the payload.
	const tail = `null}`
	out := make([]byte, 0, len(head)+len(payload))
	out = append(out, head[:len(head)-len(tail)]...)
	out = append(out, payload...)
	return append(out, '}')
}

// forwardHeaders keeps the source's event id, source, time and trace on a
// record the gateway writes, under the new record's type.
func forwardHeaders(in map[string]string, ceType string) []kgo.RecordHeader {
	hs := cloudevents.Carry(cloudevents.Start(ceType), func(k string) (string, bool) {
		v, ok := in[k]
		return carried(v), ok
	})
	if v, ok := in[topics.HeaderReplayCount]; ok {
		hs = append(hs, kgo.RecordHeader{Key: topics.HeaderReplayCount, Value: []byte(carried(v))})
	}
	return hs
}

// maxCarried bounds a source's header value copied onto the records the
// gateway writes. The domain rejects such a value (a ce_id is at most 256
// characters), but the rejection's own status carries it: whole, a 950 KB
// ce_id made every output of its event too large to write, and the stage
// read the batch again and again.
const maxCarried = 1 << 10

// carried is v, cut to maxCarried bytes with a mark when longer.
func carried(v string) string {
	if len(v) <= maxCarried {
		return v
	}
	return strings.ToValidUTF8(v[:maxCarried], "") + fmt.Sprintf("…(%d bytes in all)", len(v))
}

// Due reports whether a timed side entry of a partition held is due.
func (n *Stage) Due() bool {
	if _, ok := n.domain.(Timers); !ok {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Now()
	for _, st := range n.stores {
		if st.HasDue(now) {
			return true
		}
	}
	return false
}

// Tick hands the domain the timed side entries that fell due in every
// partition held, and writes what it answers, in the transaction the stage
// runs it in.
func (n *Stage) Tick(_ context.Context, out *eos.Output) error {
	timers, ok := n.domain.(Timers)
	if !ok || n.domain.Ready() != nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.cfg.Now()
	for _, p := range slices.Sorted(maps.Keys(n.stores)) {
		st := n.stores[p]
		due := st.Due(now)
		if len(due) == 0 {
			continue
		}
		n.touched[p] = st
		for _, d := range due {
			writes, pubs := timers.Due(d.Table, d.Value, now)
			if len(writes) == 0 {
				// Left alone: it must not come back every tick.
				n.cfg.Log.Warn("timed state entry left alone by the domain; no longer due", "table", d.Table, "partition", p)
				st.Disarm(d)
			}
			writeSide(st, writes)
			n.publish(out, pubs, nil, now)
			n.m.timers.WithLabelValues(d.Table).Inc()
		}
		n.emitChanges(st, out)
	}
	return nil
}

// Committed makes the batch's state writes permanent.
func (n *Stage) Committed() { n.endBatch(true) }

// Aborted undoes the batch's state writes.
func (n *Stage) Aborted() { n.endBatch(false) }

func (n *Stage) endBatch(committed bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for p, st := range n.touched {
		if committed {
			st.Commit()
		} else {
			st.Abort()
		}
		delete(n.touched, p)
	}
}

// Park parks an input whose outputs cannot be written (eos.Parker): the
// ingress record to the dead-letter topic, with OUTPUT_TOO_LARGE or
// OUTPUT_REFUSED, and its status "rejected". Nothing of the record is
// decided and no state changes: it is not processed. Both records are
// fitted to their topics' limits, the dead-letter record truncated (and
// marked so) when the original with the dlq.* headers would not fit.
func (n *Stage) Park(_ context.Context, r *kgo.Record, why eos.Unwritable, out *eos.Output) error {
	if r.Topic == n.hopTopic {
		// What did not fit is what an event became, decided after the
		// hop: the event's own ingress record is parked, so that it can be
		// replayed.
		if h, err := decodeHop(r.Value); err == nil && h.Kind != hopRelease {
			r = h.Ingress
		}
	}
	in := n.input(r)
	now := n.cfg.Now()
	code := ReasonOutputTooLarge
	if !why.TooLarge() {
		code = ReasonOutputRefused
	}
	reason := n.domain.Reason(code)
	// An earlier park did not fit: the record that did not is made as
	// small as can be (both, after two).
	minimalDLQ, minimalStatus := record.Minimal(why.Attempt, why.Topic == n.dlqTopic)
	if !minimalStatus {
		reason.MessageEN += " (" + why.String() + ")"
	}
	kept := record.KeptBytes(minimalStatus)
	n.cfg.DLQ.Parked(n.dlqTopic, reason.Code, reason.Owner)
	f := record.FailureOf(reason)
	f.Stage, f.First, f.Last = "normalize", now, now
	parked := record.Park(n.dlqTopic, r, f)
	out.Emit(record.Fit(parked, int(n.cfg.Catalog.BatchMaxBytes(n.dlqTopic)), minimalDLQ))
	// The status repeats the event's identifiers: capped, so that a status
	// is small whatever the record's headers hold.
	capped := make(map[string]string, len(in.Headers))
	for k, v := range in.Headers {
		capped[k] = record.CappedTo(v, kept)
	}
	in.Headers = capped
	key := r.Key
	if len(key) > kept {
		key = key[:kept]
	}
	n.emitStatus(&kgo.Record{Key: key}, in, out, "", "rejected", []topics.Reason{reason}, now)
	n.m.outcomes.WithLabelValues(in.Topic, "rejected").Inc()
	n.m.rejected.WithLabelValues(in.Topic, reason.Code).Inc()
	return nil
}

// The reason codes of an input whose outputs cannot be written.
const (
	ReasonOutputTooLarge = "OUTPUT_TOO_LARGE"
	ReasonOutputRefused  = "OUTPUT_REFUSED"
)
