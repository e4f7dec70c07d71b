package forward

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
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
	SessionOpts []kgo.Opt // the stage's own client only (its metrics hook)
	Metrics     *Metrics
	DLQ         *dlq.Metrics // counts what is parked
	Log         *slog.Logger
	Now         func() time.Time
}

// Stage forwards one registry's outbound records.
type Stage struct {
	cfg     Config
	dest    Destination
	send    *sender
	eos     *eos.Stage
	pending *Pending // nil unless the registry is asynchronous
	m       *Metrics
	reg     string

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
	out       Outcome
	done      bool // false: held (shutdown, rebalance) — the batch aborts and is read again
	exhausted bool
	sends     int
	first     time.Time
	took      time.Duration
}

// errHeld aborts a batch that has a record without an outcome.
var errHeld = errors.New("a record has no outcome yet")

// New builds the stage of cfg.Registry over dest.
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
	reg := string(cfg.Registry)
	s := &Stage{
		cfg: cfg, dest: dest, m: cfg.Metrics, reg: reg,
		topic:    cfg.Prefix + topics.Outbound(cfg.Registry),
		status:   cfg.Prefix + topics.StatusTopic,
		dlqTopic: cfg.Prefix + topics.RegistryDLQ(cfg.Registry),
		sem:      make(chan struct{}, cfg.Dest.Concurrency),
		assigned: map[int32]bool{},
	}
	if t, ok := cfg.Catalog.Lookup(s.status); ok {
		s.statusType = t.EventType
	}
	snd, err := newSender(reg, cfg.Dest, dest, cfg.Metrics, s.onBreaker, cfg.Log)
	if err != nil {
		return nil, err
	}
	s.send = snd
	s.m.breaker.WithLabelValues(reg).Set(0)
	s.m.paused.WithLabelValues(reg).Set(0)
	if dest.Async() {
		if s.pending, err = newPending(s); err != nil {
			return nil, fmt.Errorf("forward %s: %w", reg, err)
		}
	}
	name := "forward-" + reg
	st, err := eos.New(eos.Config{
		Name: name, Group: cfg.Prefix + topics.GroupForward(cfg.Registry), Input: []string{s.topic},
		TransactionalID: cfg.Prefix + cfg.InstanceID + "-" + name,
		ClientOpts:      cfg.ClientOpts,
		ExtraOpts:       append(append([]kgo.Opt{}, cfg.SessionOpts...), kgo.RecordPartitioner(eos.NamedPartitions(cfg.Prefix+topics.REMDPendingState))),
		MaxBatch:        cfg.Dest.MaxBatch, Log: cfg.Log,
		OnAssigned: s.onAssigned, OnRevoked: s.onRevoked,
	}, s)
	if err != nil {
		return nil, fmt.Errorf("forward %s: %w", reg, err)
	}
	s.eos = st
	return s, nil
}

// Name is the worker's name.
func (s *Stage) Name() string { return "forward-" + s.reg }

// Ready is nil once the stage has joined its group (and, for РЭМД, the
// pending documents are loaded).
func (s *Stage) Ready() error {
	if s.pending != nil {
		if err := s.pending.table.Ready(); err != nil {
			return err
		}
	}
	return s.eos.Ready()
}

// Stats are the underlying transactional stage's counters.
func (s *Stage) Stats() *eos.Stats { return &s.eos.Stats }

// Callback is РЭМД's callback endpoint (POST /emdr/callback); nil for a
// synchronous registry.
func (s *Stage) Callback() *Pending { return s.pending }

// Run forwards until ctx ends.
func (s *Stage) Run(ctx context.Context) error {
	if s.pending == nil {
		return s.eos.Run(ctx)
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	perr := make(chan error, 1)
	go func() { perr <- s.pending.Run(pctx) }()
	err := s.eos.Run(ctx)
	stop()
	return errors.Join(err, <-perr)
}

func (s *Stage) onAssigned(_ context.Context, assigned map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range assigned[s.topic] {
		s.assigned[p] = true
	}
	if s.paused.Load() {
		s.eos.Client().PauseFetchTopics(s.topic) // newly assigned partitions wait too
	}
}

func (s *Stage) onRevoked(_ context.Context, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The transaction of the batch in hand aborts after a revocation, so
	// its records waiting out a breaker or a backoff stop now rather than
	// keep calling a registry for partitions another instance now owns.
	if s.cancel != nil && len(revoked[s.topic]) > 0 {
		s.cancel()
	}
	for _, p := range revoked[s.topic] {
		delete(s.assigned, p)
	}
}

// owns reports whether this instance holds partition p of the outbound
// topic, and so the pending documents written on p.
func (s *Stage) owns(p int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assigned[p]
}

// onBreaker pauses the destination's partitions while the breaker is
// open, so that lag grows in Kafka instead of retries burning quota and
// records flooding the DLQ. Records of the batch in hand wait; if none is
// left to probe, fetching resumes once the breaker would let a probe
// through, and the first record fetched is that probe.
func (s *Stage) onBreaker(_, to gobreaker.State) {
	if s.eos == nil {
		return
	}
	switch to {
	case gobreaker.StateOpen:
		s.paused.Store(true)
		s.eos.Client().PauseFetchTopics(s.topic)
		s.m.paused.WithLabelValues(s.reg).Set(1)
		at := time.Now().Add(s.cfg.Dest.BreakerOpen.D())
		s.resumeAt.Store(at.UnixNano())
		time.AfterFunc(s.cfg.Dest.BreakerOpen.D(), func() {
			if s.resumeAt.Load() == at.UnixNano() && s.paused.Load() {
				s.resume("breaker half-open: probing")
			}
		})
	case gobreaker.StateClosed:
		if s.paused.Load() {
			s.resume("breaker closed")
		}
	}
}

func (s *Stage) resume(why string) {
	s.paused.Store(false)
	s.eos.Client().ResumeFetchTopics(s.topic)
	s.m.paused.WithLabelValues(s.reg).Set(0)
	s.cfg.Log.Info("outbound partitions resumed", "registry", s.reg, "why", why)
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
	var wg sync.WaitGroup
	for _, g := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range g.recs {
				res := s.results[r]
				s.forward(ctx, r, res)
				if !res.done {
					return // later records of the key must not overtake it
				}
			}
		}()
	}
	wg.Wait()
}

// forward takes one record to an outcome, retrying transient failures
// (in place, then across breaker waits) until its retry budget is spent.
func (s *Stage) forward(ctx context.Context, r *kgo.Record, res *result) {
	res.first = s.cfg.Now()
	defer func() { res.took = s.cfg.Now().Sub(res.first) }()
	call, err := s.dest.Build(r.Value, header(r, "ce_id"), s.cfg.CallbackURL)
	if err != nil {
		reason := s.dest.Reason(ReasonUnbuildable)
		reason.MessageEN += ": " + err.Error()
		res.out, res.done = Outcome{Result: Park, Reasons: []topics.Reason{reason}}, true
		return
	}
	for round := 0; ; round++ {
		out, refused := s.call(ctx, call)
		res.sends++
		if out.Result == Reconcile {
			out, refused = s.reconcile(ctx, call, out)
		}
		if out.Result != Retry {
			res.out, res.done = out, true
			return
		}
		if ctx.Err() != nil {
			return
		}
		if s.cfg.Now().Sub(res.first) >= s.cfg.Dest.RetryBudget.D() {
			ex := s.dest.Reason(ReasonRetryExhausted)
			res.out = Outcome{Result: Park, Reasons: append([]topics.Reason{ex}, out.Reasons...), HTTPStatus: out.HTTPStatus, Excerpt: out.Excerpt}
			res.done, res.exhausted = true, true
			return
		}
		var wait time.Duration
		switch {
		case refused || s.send.open():
			wait = 100*time.Millisecond + jittered(50*time.Millisecond, 200*time.Millisecond, 1)
		case out.RetryAfter > 0:
			wait = min(out.RetryAfter, s.cfg.Dest.RetryAfterMax.D())
		default:
			wait = jittered(s.cfg.Dest.BackoffMin.D(), s.cfg.Dest.BackoffMax.D(), round+s.cfg.Dest.Attempts)
		}
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}

// call is one call within the concurrency limit.
func (s *Stage) call(ctx context.Context, call Call) (Outcome, bool) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return Outcome{Result: Retry}, false
	}
	s.m.inflight.WithLabelValues(s.reg).Inc()
	before := s.send.limiter.Waited()
	out, refused := s.send.send(ctx, call)
	s.m.waited.WithLabelValues(s.reg).Add((s.send.limiter.Waited() - before).Seconds())
	s.m.inflight.WithLabelValues(s.reg).Dec()
	<-s.sem
	return out, refused
}

// reconcile settles "already registered": the registry's lookup gives its
// id; a registry without a lookup counts the answer as success; an
// asynchronous registry that has no record yet will answer on the callback.
func (s *Stage) reconcile(ctx context.Context, call Call, first Outcome) (Outcome, bool) {
	lk, ok := s.dest.Lookup(call)
	if !ok {
		return Outcome{Result: Registered, HTTPStatus: first.HTTPStatus}, false
	}
	out, refused := s.call(ctx, lk)
	switch out.Result {
	case Registered:
		return out, false
	case NotFound:
		if s.dest.Async() {
			return Outcome{Result: Accepted, HTTPStatus: first.HTTPStatus}, false
		}
		return Outcome{Result: Registered, HTTPStatus: first.HTTPStatus}, false
	}
	return out, refused
}

// Transform writes the outcome Prepare reached for r.
func (s *Stage) Transform(_ context.Context, r *kgo.Record, out *eos.Output) error {
	res := s.results[r]
	if res == nil || !res.done {
		return errHeld
	}
	now := s.cfg.Now()
	s.m.added.WithLabelValues(s.reg).Observe(res.took.Seconds())
	switch res.out.Result {
	case Registered:
		s.emitStatus(out, r, "registered", res.out.RegistryID, nil, now)
	case Accepted:
		if s.pending != nil {
			s.pending.accepted(out, r, now)
			return nil
		}
		s.emitStatus(out, r, "registered", "", nil, now)
	default: // Park
		outcome := "rejected"
		if res.exhausted {
			outcome = "failed"
		}
		s.park(out, r, res.out, res.sends, res.first, now, outcome)
	}
	return nil
}

// park writes r to the registry's DLQ and its status.
func (s *Stage) park(out *eos.Output, r *kgo.Record, o Outcome, attempts int, first, now time.Time, outcome string) {
	reasons := o.Reasons
	if len(reasons) == 0 {
		reasons = []topics.Reason{s.dest.Reason(ReasonRetryExhausted)}
	}
	lead := reasons[0]
	s.cfg.DLQ.Parked(s.dlqTopic, lead.Code, lead.Owner)
	out.Emit(dlq.Park(s.dlqTopic, r, dlq.Failure{
		Reason: lead.Code, Message: lead.MessageRU + " / " + lead.MessageEN, Owner: lead.Owner, Field: lead.Field,
		Stage: "forward", Destination: s.reg, Attempts: attempts, First: first, Last: now,
		Retryable: outcome == "failed" || lead.Retryable, HTTPStatus: o.HTTPStatus, Response: o.Excerpt,
	}))
	s.emitStatus(out, r, outcome, "", reasons, now)
}

// emitStatus writes the status of the ingress event behind r.
func (s *Stage) emitStatus(out *eos.Output, r *kgo.Record, outcome, registryID string, reasons []topics.Reason, now time.Time) {
	out.Emit(s.statusRecord(r.Key, r.Headers, outcome, registryID, reasons, now))
	s.m.outcomes.WithLabelValues(s.reg, outcome).Inc()
}

func (s *Stage) statusRecord(key []byte, hs []kgo.RecordHeader, outcome, registryID string, reasons []topics.Reason, now time.Time) *kgo.Record {
	get := func(k string) string {
		for _, h := range hs {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return ""
	}
	body, _ := json.Marshal(topics.Status{
		CEID: get("ce_id"), Source: get("ce_source"), Type: get(topics.HeaderOriginType),
		Outcome: outcome, Registry: s.reg, RegistryID: registryID, Reasons: reasons,
		At: topics.DateTime(now.UTC().Format(time.RFC3339Nano)),
	})
	headers := []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_type", Value: []byte(s.statusType)},
		{Key: "content-type", Value: []byte("application/json")},
	}
	for _, k := range []string{"ce_id", "ce_source", "ce_time", "traceparent", "tracestate"} {
		if v := get(k); v != "" {
			headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	return &kgo.Record{Topic: s.status, Key: key, Value: body, Headers: headers}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}
