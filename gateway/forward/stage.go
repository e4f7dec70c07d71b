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
	ClientOpts  []kgo.Opt
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

// Stage forwards one registry's outbound records.
type Stage struct {
	cfg       Config
	dest      Destination
	policy    RetryPolicy
	send      *sender
	eos       *eos.Stage
	pending   *pending.Pending // nil unless the registry takes callbacks
	callbacks *txWriter        // the pending documents' writer
	m         *Metrics
	reg       string

	tier  int           // 0: the outbound topic; i: retry tier i, of delay cfg.Tiers[i-1]
	main  *Stage        // the outbound stage; the tiers share its sender, limits and pending documents
	tiers []*Stage      // the main stage's retry tiers
	batch []*kgo.Record // parked-table writes of the batch in hand, applied when it commits

	topic, status, dlqTopic, statusType string

	sem     chan struct{}
	results map[*kgo.Record]*result // this batch's; written in Prepare, read in Transform

	mu       sync.Mutex
	assigned map[int32]bool
	cancel   context.CancelFunc // ends the batch in hand
	paused   atomic.Bool
	resumeAt atomic.Int64
}

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
	main, err := newStage(cfg, dest, nil, 0)
	if err != nil {
		return nil, err
	}
	if cfg.Parked == nil {
		return main, nil
	}
	for i := range cfg.Tiers {
		t, err := newStage(cfg, dest, main, i+1)
		if err != nil {
			return nil, err
		}
		main.tiers = append(main.tiers, t)
	}
	return main, nil
}

// Tiers are the stages of the retry tiers; they run as workers of their own.
func (s *Stage) Tiers() []*Stage { return s.tiers }

func newStage(cfg Config, dest Destination, main *Stage, tier int) (*Stage, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	reg := string(cfg.Registry)
	s := &Stage{
		cfg: cfg, dest: dest, policy: NewRetryPolicy(cfg.Dest), m: cfg.Metrics, reg: reg, tier: tier, main: main,
		topic:    cfg.Prefix + topics.Outbound(cfg.Registry),
		status:   cfg.Prefix + topics.StatusTopic,
		dlqTopic: cfg.Prefix + topics.RegistryDLQ(cfg.Registry),
		assigned: map[int32]bool{},
	}
	if t, ok := cfg.Catalog.Lookup(s.status); ok {
		s.statusType = t.EventType
	}
	name, group := "forward-"+reg, topics.GroupForward(cfg.Registry)
	if main == nil {
		s.main = s
		s.sem = make(chan struct{}, cfg.Dest.Concurrency)
		snd, err := newSender(reg, cfg.Dest, dest, cfg.Metrics, s.onBreaker, cfg.Log)
		if err != nil {
			return nil, err
		}
		s.send = snd
		s.m.breaker.WithLabelValues(reg).Set(0)
		s.m.paused.WithLabelValues(reg).Set(0)
		if dest.Capabilities().Callbacks {
			if s.pending, s.callbacks, err = newPending(s); err != nil {
				return nil, fmt.Errorf("forward %s: %w", reg, err)
			}
		}
	} else {
		// One registry, one quota, one breaker, one concurrency limit.
		s.sem, s.send, s.pending = main.sem, main.send, main.pending
		d := cfg.Tiers[tier-1]
		s.topic = cfg.Prefix + topics.Retry(cfg.Registry, d)
		group = topics.GroupRetry(cfg.Registry, d)
		name = strings.TrimPrefix(group, "egisz-")
		s.m.retried.WithLabelValues(reg, s.topic) // the series exist from the start, at 0
		s.m.queued.WithLabelValues(reg)
	}
	st, err := eos.New(eos.Config{
		Name: name, Group: cfg.Prefix + group, Input: []string{s.topic},
		TransactionalID: cfg.Prefix + cfg.InstanceID + "-" + name,
		ClientOpts:      cfg.ClientOpts,
		ExtraOpts:       sessionOpts(cfg, name),
		MaxBatch:        cfg.Dest.MaxBatch, Log: cfg.Log, MaxBytes: cfg.Catalog.BatchMaxBytes,
		OnAssigned: s.onAssigned, OnRevoked: s.onRevoked,
	}, s)
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", reg, err)
	}
	s.eos = st
	return s, nil
}

// Name is the worker's name.
func (s *Stage) Name() string { return s.eos.Name() }

// Ready is nil once the stage has joined its group (and, for РЭМД, the
// pending documents are loaded).
func (s *Stage) Ready() error {
	if s.main == s && s.cfg.Parked != nil && len(s.tiers) > 0 {
		if err := s.cfg.Parked.Ready(); err != nil {
			return err
		}
	}
	if s.pending != nil {
		if err := s.pending.Ready(); err != nil {
			return err
		}
	}
	return s.eos.Ready()
}

// Stats are the underlying transactional stage's counters.
func (s *Stage) Stats() *eos.Stats { return &s.eos.Stats }

// WriterStats are the counters of the stage's other transactional writer,
// by the name its metrics carry: РЭМД's outbound stage commits callbacks
// in transactions of their own. Nil for every other stage.
func (s *Stage) WriterStats() map[string]*eos.Stats {
	if s.pending == nil || s.main != s {
		return nil
	}
	return map[string]*eos.Stats{s.Name() + "-callbacks": &s.callbacks.stats}
}

// Callback is РЭМД's callback endpoint (POST /emdr/callback); nil for a
// synchronous registry.
func (s *Stage) Callback() *pending.Pending { return s.pending }

// Run forwards until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	if s.cfg.Parked != nil && len(s.main.tiers) > 0 {
		// Until the parked records are known, a record could overtake one.
		for s.cfg.Parked.Ready() != nil {
			if sleepCtx(ctx, 50*time.Millisecond) != nil {
				return nil
			}
		}
	}
	if s.pending == nil || s.main != s {
		return s.eos.Run(ctx)
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
	err := s.eos.Run(ctx)
	stop()
	return errors.Join(err, <-perr)
}

func (s *Stage) onAssigned(ctx context.Context, assigned map[string][]int32) {
	s.mu.Lock()
	for _, p := range assigned[s.topic] {
		s.assigned[p] = true
	}
	if s.main.paused.Load() {
		s.eos.Client().PauseFetchTopics(s.topic) // newly assigned partitions wait too
	}
	s.mu.Unlock()
	if s.pending != nil && s.main == s {
		s.pending.Assigned(ctx, assigned[s.topic])
	}
}

func (s *Stage) onRevoked(_ context.Context, revoked map[string][]int32) {
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
	if s.pending != nil && s.main == s && len(revoked[s.topic]) > 0 {
		// The group moves on once this returns; the next owner must find
		// every settlement made here in the table it reads.
		s.pending.Revoked()
	}
}

// owns reports whether this instance holds partition p of the outbound
// topic, and so the pending documents written on p.
func (s *Stage) owns(p int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assigned[p]
}

// Prepare forwards the batch: records of one key in order, keys
// concurrently, at most dest.concurrency calls in flight.
func (s *Stage) Prepare(ctx context.Context, recs []*kgo.Record) {
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
	tiered := s.cfg.Parked != nil && len(s.main.tiers) > 0
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
					if s.tier > 0 && sleepCtx(ctx, time.Until(retryDue(r))) != nil {
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
func (s *Stage) Transform(_ context.Context, r *kgo.Record, out *eos.Output) error {
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
	if s.tier > 0 {
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
func (s *Stage) Park(_ context.Context, r *kgo.Record, why eos.Unwritable, out *eos.Output) error {
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
	if s.tier > 0 {
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
