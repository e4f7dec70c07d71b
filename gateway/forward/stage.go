package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Config configures the forward stage of one registry.
type Config struct {
	Registry    topics.Registry
	Catalog     topics.Catalog // prefixed
	Prefix      string
	InstanceID  string
	Dest        config.Destination
	Callback    config.Callback
	CallbackURL string // what an asynchronous registry is told to call back
	// Documents answer a registry's requests for a document's file (a
	// registry whose Capabilities say Files): the document store.
	Documents  pending.Documents
	ClientOpts []kgo.Opt
	// KafkaMetrics gives each stage's own client its metrics hook, by name.
	KafkaMetrics func(name string) kgo.Opt
	Metrics      *Metrics
	DLQ          *record.Metrics // counts what is parked
	Log          *slog.Logger
	Now          func() time.Time

	// Tiers are the delays of the retry topics. With none (or no Parked
	// table) a record failing transiently is retried in place until its
	// retry budget is spent.
	Tiers []time.Duration
	// Parked is the table of records waiting in the tiers, shared by
	// every registry's stages in the process.
	Parked *Parked
	// OrderByPatient queues a patient's later records behind a parked
	// one, not only the same case, document or prescription.
	OrderByPatient bool
}

// registry is what a registry's outbound stage and its retry tiers
// share: one quota, one breaker, one concurrency limit, one set of pending
// documents, and the records they write.
type registry struct {
	cfg       Config
	dest      Destination
	policy    RetryPolicy
	send      *sender
	pending   *pending.Pending // nil unless the registry takes callbacks
	callbacks *txWriter        // the pending documents' writer
	m         *Metrics
	reg       string
	sem       chan struct{}

	status, dlqTopic, statusType string

	outbound *Stage
	tiers    []*Tier

	paused   atomic.Bool
	resumeAt atomic.Int64
}

// tiered reports whether a record failing transiently goes to the retry
// tiers (rather than being retried in place until its budget is spent).
func (r *registry) tiered() bool { return r.cfg.Parked != nil && len(r.tiers) > 0 }

// consumers are the outbound stage's and the tiers'.
func (r *registry) consumers() []*consumer {
	out := []*consumer{r.outbound.consumer}
	for _, t := range r.tiers {
		out = append(out, t.consumer)
	}
	return out
}

// consumer is one transactional stage over one of a registry's topics:
// the outbound topic or a retry tier's.
type consumer struct {
	*registry
	at    position
	eos   *eos.Stage
	topic string
	batch []*kgo.Record // parked-table writes of the batch in hand, applied when it commits

	results map[*kgo.Record]*result // this batch's; written in Prepare, read in Transform

	mu       sync.Mutex
	assigned map[int32]bool
	cancel   context.CancelFunc // ends the batch in hand
}

// Stage forwards one registry's outbound records; its retry tiers
// (Tiers) run as workers of their own.
type Stage struct{ *consumer }

// Tier is one retry tier of a registry: it takes its records again once
// they are due.
type Tier struct{ *consumer }

// result is what became of one record in this batch.
type result struct {
	verdict verdict
	out     Outcome
	sends   int
	first   time.Time
	took    time.Duration
}

// verdict is what the stage does with a record once its calls are over.
type verdict int

const (
	// held: no outcome yet (shutdown, rebalance); the batch aborts and is read again.
	held verdict = iota
	// decided: out is the outcome (registered, accepted, parked).
	decided
	// exhausted: it failed transiently until its retry budget ran out; parked as failed.
	exhausted
	// escalated: it failed transiently after its retries in place; to the next tier.
	escalated
	// queued: an earlier record of its key waits in a tier; it queues behind it.
	queued
)

// done reports whether the record has an outcome to write.
func (v verdict) done() bool { return v != held }

// errHeld aborts a batch that has a record without an outcome.
var errHeld = errors.New("a record has no outcome yet")

// New builds the stage of cfg.Registry over dest and, when cfg has retry
// tiers and a parked table, a stage for each tier (Tiers).
func New(cfg Config, dest Destination) (*Stage, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	name := string(cfg.Registry)
	reg := &registry{
		cfg: cfg, dest: dest, policy: NewRetryPolicy(cfg.Dest), m: cfg.Metrics, reg: name,
		sem:      make(chan struct{}, cfg.Dest.Concurrency),
		status:   cfg.Prefix + topics.StatusTopic,
		dlqTopic: cfg.Prefix + topics.RegistryDLQ(cfg.Registry),
	}
	if t, ok := cfg.Catalog.Lookup(reg.status); ok {
		reg.statusType = t.EventType
	}
	s := &Stage{consumer: reg.consumer(outboundTopic{}, cfg.Prefix+topics.Outbound(cfg.Registry))}
	reg.outbound = s
	snd, err := newSender(name, cfg.Dest, dest, cfg.Metrics, reg.onBreaker, cfg.Log)
	if err != nil {
		return nil, err
	}
	reg.send = snd
	reg.m.breaker.WithLabelValues(name).Set(0)
	reg.m.paused.WithLabelValues(name).Set(0)
	if dest.Capabilities().Callbacks {
		if reg.pending, reg.callbacks, err = newPending(s); err != nil {
			return nil, fmt.Errorf("forward %s: %w", name, err)
		}
	}
	if err := s.open("forward-"+name, topics.GroupForward(cfg.Registry), s.onAssigned, s.onRevoked); err != nil {
		return nil, err
	}
	if cfg.Parked == nil {
		return s, nil
	}
	for i, d := range cfg.Tiers {
		t := &Tier{consumer: reg.consumer(retryTier(i+1), cfg.Prefix+topics.Retry(cfg.Registry, d))}
		group := topics.GroupRetry(cfg.Registry, d)
		reg.m.retried.WithLabelValues(name, t.topic) // the series exist from the start, at 0
		reg.m.queued.WithLabelValues(name)
		if err := t.open(strings.TrimPrefix(group, "egisz-"), group, t.onAssigned, t.onRevoked); err != nil {
			return nil, err
		}
		reg.tiers = append(reg.tiers, t)
	}
	return s, nil
}

// consumer is a consumer of topic, at position at.
func (r *registry) consumer(at position, topic string) *consumer {
	return &consumer{registry: r, at: at, topic: topic, assigned: map[int32]bool{}}
}

// open builds the consumer's transactional stage.
func (s *consumer) open(name, group string, onAssigned, onRevoked func(context.Context, map[string][]int32)) error {
	cfg := s.cfg
	st, err := eos.New(eos.Config{
		Name: name, Group: cfg.Prefix + group, Input: []string{s.topic},
		TransactionalID: cfg.Prefix + cfg.InstanceID + "-" + name,
		ClientOpts:      cfg.ClientOpts,
		ExtraOpts:       sessionOpts(cfg, name),
		MaxBatch:        cfg.Dest.MaxBatch, Log: cfg.Log, MaxBytes: cfg.Catalog.BatchMaxBytes,
		OnAssigned: onAssigned, OnRevoked: onRevoked,
	}, s)
	if err != nil {
		return fmt.Errorf("forward %s: %w", s.reg, err)
	}
	s.eos = st
	return nil
}

// Tiers are the stages of the retry tiers; they run as workers of their own.
func (s *Stage) Tiers() []*Tier { return s.tiers }

// Name is the worker's name.
func (s *consumer) Name() string { return s.eos.Name() }

// Stats are the underlying transactional stage's counters.
func (s *consumer) Stats() *eos.Stats { return &s.eos.Stats }

// Ready is nil once the stage has joined its group (and the parked
// records and, for РЭМД, the pending documents are loaded).
func (s *Stage) Ready() error {
	if s.tiered() {
		if err := s.cfg.Parked.Ready(); err != nil {
			return err
		}
	}
	return s.consumer.ready()
}

// Ready is nil once the tier has joined its group (and, for РЭМД, the
// pending documents are loaded).
func (t *Tier) Ready() error { return t.consumer.ready() }

func (s *consumer) ready() error {
	if s.pending != nil {
		if err := s.pending.Ready(); err != nil {
			return err
		}
	}
	return s.eos.Ready()
}

// WriterStats are the counters of the stage's other transactional writer,
// by the name its metrics carry: РЭМД's outbound stage commits callbacks
// in transactions of their own. Nil for every other stage.
func (s *Stage) WriterStats() map[string]*eos.Stats {
	if s.pending == nil {
		return nil
	}
	return map[string]*eos.Stats{s.Name() + "-callbacks": &s.callbacks.stats}
}

// Callback is РЭМД's callback endpoint (POST /emdr/callback); nil for a
// synchronous registry.
func (s *Stage) Callback() *pending.Pending { return s.pending }

// Run forwards until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	if s.pending == nil {
		return s.consumer.run(ctx)
	}
	// The stage and its callbacks' writer stand and fall together: a
	// stage whose callbacks can no longer be recorded would leave every
	// РЭМД document pending.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	perr := make(chan error, 1)
	go func() {
		err := s.pending.Run(ctx)
		stop()
		perr <- err
	}()
	err := s.consumer.run(ctx)
	stop()
	return errors.Join(err, <-perr)
}

// Run takes the tier's records again as they fall due, until ctx ends.
func (t *Tier) Run(ctx context.Context) error { return t.consumer.run(ctx) }

func (s *consumer) run(ctx context.Context) error {
	if s.tiered() {
		// Until the parked records are known, a record could overtake one.
		for s.cfg.Parked.Ready() != nil {
			if sleepCtx(ctx, 50*time.Millisecond) != nil {
				return nil
			}
		}
	}
	return s.eos.Run(ctx)
}

// onAssigned also gives the pending documents the outbound partitions
// whose documents this instance now settles.
func (s *Stage) onAssigned(ctx context.Context, assigned map[string][]int32) {
	s.consumer.onAssigned(ctx, assigned)
	if s.pending != nil {
		s.pending.Assigned(ctx, assigned[s.topic])
	}
}

func (s *consumer) onAssigned(_ context.Context, assigned map[string][]int32) {
	s.mu.Lock()
	for _, p := range assigned[s.topic] {
		s.assigned[p] = true
	}
	if s.paused.Load() {
		s.eos.Client().PauseFetchTopics(s.topic) // newly assigned partitions wait too
	}
	s.mu.Unlock()
}

// onRevoked also hands the pending documents of the revoked partitions on.
func (s *Stage) onRevoked(ctx context.Context, revoked map[string][]int32) {
	s.consumer.onRevoked(ctx, revoked)
	if s.pending != nil && len(revoked[s.topic]) > 0 {
		// The group moves on once this returns; the next owner must find
		// every settlement made here in the table it reads.
		s.pending.Revoked()
	}
}

func (s *consumer) onRevoked(_ context.Context, revoked map[string][]int32) {
	s.mu.Lock()
	// The transaction of the batch in hand aborts after a revocation, so
	// its records waiting out a breaker or a backoff stop now rather than
	// keep calling a registry for partitions another instance now owns.
	if s.cancel != nil && len(revoked[s.topic]) > 0 {
		s.cancel()
	}
	for _, p := range revoked[s.topic] {
		delete(s.assigned, p)
	}
	s.mu.Unlock()
}

// owns reports whether this instance holds partition p of the consumer's
// topic (for the outbound stage: the pending documents written on p).
func (s *consumer) owns(p int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assigned[p]
}

// Prepare forwards the batch: records of one key in order, keys
// concurrently, at most dest.concurrency calls in flight.
func (s *consumer) Prepare(ctx context.Context, recs []*kgo.Record) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cancel = nil
		s.mu.Unlock()
		cancel()
	}()
	s.results = make(map[*kgo.Record]*result, len(recs))
	type group struct{ recs []*kgo.Record }
	groups := map[string]*group{}
	var order []*group
	for _, r := range recs {
		k := fmt.Sprintf("%d|%s", r.Partition, r.Key)
		g, ok := groups[k]
		if !ok {
			g = &group{}
			groups[k] = g
			order = append(order, g)
		}
		g.recs = append(g.recs, r)
		s.results[r] = &result{}
	}
	s.batch = s.batch[:0]
	tiered := s.tiered()
	// Once every record still out is failing and retrying in place, the
	// batch waits for nothing else: after a short grace those records go
	// to a tier, instead of holding every other key's outcome back.
	lanes := make([]*lane, len(order))
	for i := range lanes {
		lanes[i] = &lane{}
	}
	var wg sync.WaitGroup
	if tiered {
		stop := make(chan struct{})
		defer close(stop)
		go s.watchStragglers(stop, lanes)
	}
	for i, g := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ln := lanes[i]
			defer ln.finish()
			// parkedHere holds, by order key, the lowest seq this batch sent
			// to a tier: those records are not in the parked table until
			// the batch commits. Only a later seq queues behind it. A tier
			// can hold a key's records out of order (the outbound stage and
			// the tier stage both write to it), and holding an earlier
			// record behind a later one sent both back together, forever.
			parkedHere := map[string]int64{}
			takenOut := map[string]bool{} // ce_ids this batch took out of the tiers
			for _, r := range g.recs {
				res := s.results[r]
				if !tiered {
					s.forward(ctx, ctx, r, res, nil)
				} else {
					if s.at.hold(ctx, r) != nil {
						return // never early; a revocation ends the wait
					}
					id, seq := cloudevents.Get(r.Headers, topics.HeaderID), s.seqOf(r)
					// The order key costs a decode: read it only when
					// something of this registry waits in a tier.
					if len(parkedHere) > 0 || s.cfg.Parked.any(s.reg) {
						ok := s.orderKey(r)
						if here, held := parkedHere[ok]; (held && here < seq) || s.cfg.Parked.ahead(s.reg, ok, id, seq, takenOut) {
							res.verdict, res.first = queued, s.cfg.Now()
							parkedHere[ok] = lowest(parkedHere, ok, seq)
							continue
						}
					}
					callCtx := ln.start(ctx)
					s.forward(ctx, callCtx, r, res, ln.failing)
					ln.settle()
					if res.verdict == escalated {
						ok := s.orderKey(r)
						parkedHere[ok] = lowest(parkedHere, ok, seq)
					} else if res.verdict.done() {
						takenOut[id] = true
					}
				}
				if !res.verdict.done() {
					return // later records of the key must not overtake it
				}
			}
		}()
	}
	wg.Wait()
}

// lowest is the lower of m[k], when set, and seq.
func lowest(m map[string]int64, k string, seq int64) int64 {
	if v, ok := m[k]; ok && v < seq {
		return v
	}
	return seq
}

// Transform writes the outcome Prepare reached for r.
func (s *consumer) Transform(_ context.Context, r *kgo.Record, out *eos.Output) error {
	res := s.results[r]
	if res == nil || !res.verdict.done() {
		return errHeld
	}
	now := s.cfg.Now()
	s.m.added.WithLabelValues(s.reg).Observe(res.took.Seconds())
	if res.verdict == queued || res.verdict == escalated {
		s.toTier(out, r, res, now)
		return nil
	}
	if s.at.retrying() {
		s.leave(out, r) // it leaves the tiers with its outcome
	}
	switch res.out.Result {
	case Registered:
		s.emitStatus(out, r, "registered", res.out.RegistryID, nil, now)
	case Accepted:
		if s.pending != nil {
			if !s.pending.Accepted(out, r, now) {
				s.emitStatus(out, r, "pending", "", nil, now)
			}
			return nil
		}
		s.emitStatus(out, r, "registered", "", nil, now)
	default: // Park
		outcome := "rejected"
		if res.verdict == exhausted {
			outcome = "failed"
		}
		s.park(out, r, rejection{outcome: outcome, reasons: res.out.Reasons, fallback: ReasonRetryExhausted,
			httpStatus: res.out.HTTPStatus, excerpt: res.out.Excerpt, attempts: res.sends, first: res.first, last: now})
	}
	return nil
}

func sessionOpts(cfg Config, name string) []kgo.Opt {
	opts := []kgo.Opt{kgo.RecordPartitioner(eos.NamedPartitions(cfg.Prefix + topics.REMDPendingState))}
	if cfg.KafkaMetrics != nil {
		opts = append(opts, cfg.KafkaMetrics(name))
	}
	return opts
}

// Park parks a record whose outputs cannot be written (eos.Parker): to the
// registry's dead-letter topic with OUTPUT_TOO_LARGE or OUTPUT_REFUSED, and
// its status "rejected"; a record of a retry tier leaves the tiers. It is
// not sent to the registry again. Both records are fitted to their topics'
// limits (record.Fit; the status repeats capped identifiers).
func (s *consumer) Park(_ context.Context, r *kgo.Record, why eos.Unwritable, out *eos.Output) error {
	now := s.cfg.Now()
	code := ReasonOutputTooLarge
	if !why.TooLarge() {
		code = ReasonOutputRefused
	}
	reason := s.dest.Reason(code)
	// An earlier park did not fit: the record that did not is made as
	// small as can be (both, after two).
	minimalDLQ, minimalStatus := record.Minimal(why.Attempt, why.Topic == s.dlqTopic)
	if !minimalStatus {
		reason.MessageEN += " (" + why.String() + ")"
	}
	kept := record.KeptBytes(minimalStatus)
	if s.at.retrying() {
		s.leave(out, r)
	}
	s.cfg.DLQ.Parked(s.dlqTopic, reason.Code, reason.Owner)
	parked := s.deadLetter(r, rejection{outcome: "rejected", reasons: []topics.Reason{reason}, first: now, last: now})
	out.Emit(record.Fit(parked, int(s.cfg.Catalog.BatchMaxBytes(s.dlqTopic)), minimalDLQ))
	headers := make([]kgo.RecordHeader, len(r.Headers))
	for i, h := range r.Headers {
		headers[i] = kgo.RecordHeader{Key: h.Key, Value: []byte(record.CappedTo(string(h.Value), kept))}
	}
	key := r.Key
	if len(key) > kept {
		key = key[:kept]
	}
	out.Emit(s.statusRecord(key, headers, "rejected", "", []topics.Reason{reason}, now))
	s.m.outcomes.WithLabelValues(s.reg, "rejected").Inc()
	return nil
}
