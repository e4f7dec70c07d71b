// Package eos runs an exactly-once consume-transform-produce loop: records
// are read read_committed in a consumer group, transformed in partition
// order, and their outputs produced in one Kafka transaction together with
// the consumed offsets (franz-go GroupTransactSession). A crash or a
// rebalance anywhere leaves no duplicate and no gap for read_committed
// readers: an uncommitted batch is aborted and read again by whoever owns
// the partition next.
package eos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
)

// Transform turns one input record into output records. It is called in
// partition order. A returned error is not a rejection (rejections are
// outputs, e.g. a dead-letter record): it aborts the batch, which is then
// retried, so return one only for failures that may pass (a state store not
// yet loaded, say).
type Transform interface {
	Transform(ctx context.Context, in *kgo.Record, out *Output) error
}

// Preparer is implemented by transforms that can do part of their work
// for a whole batch at once (in parallel, say): Prepare gets every record
// of the batch before Transform is called for each, in partition order.
type Preparer interface {
	Prepare(ctx context.Context, recs []*kgo.Record)
}

// Transactional is implemented by transforms that keep state: the stage
// tells them whether the batch they just transformed was committed or
// aborted, so that uncommitted state changes can be dropped.
type Transactional interface {
	Committed()
	Aborted()
}

// Ticker is implemented by transforms that act on time as well as on
// records (a prescription that expires with no event to say so). Every
// Config.TickEvery the stage asks Due; when it says there is work, Tick
// runs inside a transaction, the batch's when one is in hand, else one of
// its own, and may emit records as Transform does. Due keeps idle ticks
// free: a transaction with nothing in it still costs a round of requests.
type Ticker interface {
	Due() bool
	Tick(ctx context.Context, out *Output) error
}

// Output collects the records a transform emits for one input.
type Output struct {
	recs     []*kgo.Record
	promises []func(*kgo.Record, error)
	owners   []*kgo.Record // the input behind each record; nil for a tick's
	owner    *kgo.Record   // the input being transformed
}

// Emit adds an output record. Its topic, key, value and headers must be set;
// the stage carries nothing over by itself.
func (o *Output) Emit(r *kgo.Record) { o.EmitFunc(r, nil) }

// Records returns the records emitted so far, in order: what the stage
// will write for the batch (a transform's tests compare them).
func (o *Output) Records() []*kgo.Record { return o.recs }

// EmitFunc adds an output record and a function told its offset (or its
// error) once produced, before the transaction ends.
func (o *Output) EmitFunc(r *kgo.Record, promise func(*kgo.Record, error)) {
	o.recs = append(o.recs, r)
	o.promises = append(o.promises, promise)
	o.owners = append(o.owners, o.owner)
}

// Parker is implemented by transforms whose inputs can be parked. When an
// input's outputs cannot be written (larger than their topic takes, or
// refused by the broker), the stage aborts the transaction, reads the
// batch again and, for that input alone, calls Park instead of Transform
// (and leaves it out of Prepare). Park must emit the input's dead-letter
// record and its status, fitted to their topics' limits (why.Attempt > 0:
// the park itself could not be written; make it as small as possible),
// and must not change the transform's state: the input is not processed.
// Without a Parker, an unwritable output aborts the batch as any other
// produce error does.
type Parker interface {
	Park(ctx context.Context, in *kgo.Record, why Unwritable, out *Output) error
}

// Unwritable says why an input's outputs could not be written. It holds
// topic names, sizes and the broker's error, never record contents.
type Unwritable struct {
	Topic string // the output's topic
	Bytes int    // the output's batch size (recsize.Batch); 0 when unknown
	Limit int    // the topic's limit the stage knew; 0 when unknown
	// Err is the producer's or the broker's error when a write was tried
	// (MESSAGE_TOO_LARGE, RECORD_LIST_TOO_LARGE, INVALID_RECORD); nil when
	// the stage's own check found the output too large before writing.
	Err error
	// Attempt counts the parks of this input that could not be written
	// either: 0 for the first.
	Attempt int
}

// TooLarge reports whether the output was too large for its topic, as
// opposed to refused for another reason.
func (u Unwritable) TooLarge() bool {
	return u.Err == nil || errors.Is(u.Err, kerr.MessageTooLarge) || errors.Is(u.Err, kerr.RecordListTooLarge)
}

func (u Unwritable) String() string {
	switch {
	case u.Err != nil && u.Bytes > 0:
		return fmt.Sprintf("%s refused a record of %d bytes: %v", u.Topic, u.Bytes, u.Err)
	case u.Err != nil:
		return fmt.Sprintf("%s refused a record: %v", u.Topic, u.Err)
	default:
		return fmt.Sprintf("a record of %d bytes for %s, which takes at most %d", u.Bytes, u.Topic, u.Limit)
	}
}

// unwritableErr reports whether a produce error says the record itself
// can never be written as it is: writing it again would fail again.
func unwritableErr(err error) bool {
	// CORRUPT_MESSAGE is left out: it can be a flipped bit on the way,
	// which sending again mends.
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord)
}

// Config configures a stage.
type Config struct {
	Name  string   // for logs and readiness
	Group string   // consumer group
	Input []string // topics consumed
	// TransactionalID must be stable for an instance across restarts, so a
	// restarted instance fences its predecessor's open transaction at once
	// instead of waiting out the transaction timeout. It is also the
	// group.instance.id (static membership): a restarted instance takes its
	// partitions back at once instead of waiting out the session timeout.
	TransactionalID string
	// ClientOpts are the shared client options (brokers, TLS, SASL, hooks).
	ClientOpts []kgo.Opt
	// ExtraOpts are stage-specific options (a partitioner, say).
	ExtraOpts []kgo.Opt
	// OnAssigned runs when partitions are assigned, before any of their
	// records is transformed: the place to restore state. OnRevoked runs
	// when partitions are revoked or lost.
	OnAssigned func(ctx context.Context, assigned map[string][]int32)
	OnRevoked  func(ctx context.Context, revoked map[string][]int32)
	// MaxBatch caps the records in one transaction (default 5000).
	MaxBatch int
	// TxnTimeout is the transaction timeout (DefaultTxnTimeout): how long a
	// crashed instance's transaction can hold back read_committed readers
	// when no successor with its transactional id fences it first.
	TxnTimeout time.Duration
	// TickEvery is how often a Ticker's Tick runs (default 1m).
	TickEvery time.Duration
	// MaxBytes is the largest batch a topic takes (its max.message.bytes).
	// Before anything is written, every output is measured against its
	// topic's (recsize.Batch): an input with an output that cannot fit is
	// parked (Parker) instead of being written. Nil checks nothing before
	// writing; what the broker refuses is still parked.
	MaxBytes func(topic string) int32
	Log      *slog.Logger
}

// Stats counts what a stage did.
type Stats struct {
	Committed atomic.Int64 // transactions committed
	Aborted   atomic.Int64 // transactions aborted (rebalance, error)
	In        atomic.Int64 // input records in committed transactions
	Out       atomic.Int64 // output records in committed transactions
	// Time spent in each phase of every transaction, in nanoseconds: the
	// stage's own work on the records (decoding, deciding, registry
	// calls), writing its output until every record is acknowledged, and
	// ending the transaction (offsets and the commit or abort).
	Work, Write, End atomic.Int64
	// Renewed counts the sessions (transactional clients) replaced after
	// a transaction could not be begun or ended.
	Renewed atomic.Int64
	// Unwritable counts inputs parked because their outputs could not be
	// written; Isolated counts transactions of one input, run to find the
	// input behind a refused write.
	Unwritable, Isolated atomic.Int64
	// took counts transactions by how long each took from its first
	// record in hand to its end: the phases' sums give the mean, and a
	// stage that stands still now and then shows only here.
	took histogram
	// age counts input records by how old each was when the stage took it
	// (now less the record's timestamp): the stage's lag in time, where
	// egisz_consumer_lag counts records.
	age histogram
}

// transactionBuckets are the upper bounds, in seconds, of the buckets of
// egisz_stage_transaction_duration_seconds.
var transactionBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// ageBuckets are those of egisz_stage_record_age_seconds: from a stage
// that keeps up (tens of milliseconds) to a backlog of an hour.
var ageBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// histogram counts observations in fixed buckets, lock-free, for a
// constant histogram at scrape time.
type histogram struct {
	counts [16]atomic.Int64 // by bucket; one past the bounds is +Inf, so up to 15 bounds
	sum    atomic.Int64     // nanoseconds
}

func (h *histogram) observe(bounds []float64, d time.Duration) {
	i := 0
	for i < len(bounds) && d.Seconds() > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// snapshot returns how many were observed, their sum in seconds, and the
// cumulative count at each bound.
func (h *histogram) snapshot(bounds []float64) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(bounds))
	for i, le := range bounds {
		count += uint64(h.counts[i].Load())
		buckets[le] = count
	}
	count += uint64(h.counts[len(bounds)].Load())
	return count, time.Duration(h.sum.Load()).Seconds(), buckets
}

// ObserveTransaction counts one transaction that took d, whether it was
// committed or aborted.
func (s *Stats) ObserveTransaction(d time.Duration) { s.took.observe(transactionBuckets, d) }

// ObserveAge counts one input record that was d old when the stage took
// it; a record stamped in the future (a publisher's clock ahead of ours)
// counts as 0.
func (s *Stats) ObserveAge(d time.Duration) { s.age.observe(ageBuckets, max(0, d)) }

// timed adds the time since *from to d and moves *from to now.
func timed(d *atomic.Int64, from *time.Time) {
	now := time.Now()
	d.Add(int64(now.Sub(*from)))
	*from = now
}

// Stage is a running exactly-once loop.
type Stage struct {
	cfg    Config
	tr     Transform
	opts   []kgo.Opt // make the session again (renew)
	sess   atomic.Pointer[kgo.GroupTransactSession]
	joined atomic.Bool
	Stats  Stats

	mu     sync.Mutex // orders renew and Close
	closed bool

	// Owned by Run's goroutine. unwritable holds the inputs to park when
	// they are read again, by where they are; an entry goes once its park
	// commits. isolate counts the inputs still to take one per transaction
	// after a refused write that more than one input could have caused.
	unwritable map[inputID]Unwritable
	isolate    int
}

// inputID is where an input record is.
type inputID struct {
	topic     string
	partition int32
	offset    int64
}

func idOf(r *kgo.Record) inputID { return inputID{r.Topic, r.Partition, r.Offset} }

// maxParkAttempts bounds the parks of one input that the broker refuses
// in a row; after that the stage stops trying to park it and the batch
// is retried like any failed write (a dead-letter or status topic that
// refuses a record of a few hundred bytes is a broken cluster).
const maxParkAttempts = 3

// maxPasses bounds how often one batch is transformed again in its
// transaction to park the inputs found unwritable; past it the batch is
// aborted and read again, each pass having marked at least one more.
const maxPasses = 8

// DefaultTxnTimeout is a stage's transaction timeout unless its Config
// says otherwise, and that of the gateway's other transactional writers.
const DefaultTxnTimeout = 20 * time.Second

// maxRenewals is how many sessions in a row the stage starts without a
// commit in between before it gives up and fails, so that the process
// exits and its supervisor (and an operator) takes over.
const maxRenewals = 3

// New creates the stage's transactional session; Run starts consuming.
func New(cfg Config, tr Transform) (*Stage, error) {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	if cfg.TxnTimeout <= 0 {
		cfg.TxnTimeout = DefaultTxnTimeout
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Stage{cfg: cfg, tr: tr, unwritable: map[inputID]Unwritable{}}
	opts := append(append([]kgo.Opt{}, cfg.ClientOpts...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Input...),
		kgo.TransactionalID(cfg.TransactionalID),
		kgo.InstanceID(cfg.TransactionalID),
		kgo.TransactionTimeout(cfg.TxnTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Range assignment gives one member the same partition numbers of
		// every co-partitioned input, so a patient's events and state meet.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.RequireStableFetchOffsets(),
		kgo.OnPartitionsAssigned(func(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
			if cfg.OnAssigned != nil {
				cfg.OnAssigned(ctx, assigned)
			}
			s.joined.Store(true)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
			if cfg.OnRevoked != nil {
				cfg.OnRevoked(ctx, revoked)
			}
		}),
	)
	opts = append(opts, cfg.ExtraOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("stage %s: transactional session: %w", cfg.Name, err)
	}
	s.opts = opts
	s.sess.Store(sess)
	return s, nil
}

// Name is the stage's name.
func (s *Stage) Name() string { return s.cfg.Name }

// Ready is nil once the stage has joined its group and been assigned partitions.
func (s *Stage) Ready() error {
	if !s.joined.Load() {
		return fmt.Errorf("consumer group %s not joined yet", s.cfg.Group)
	}
	return nil
}

// Client is the session's client, for requests that need one. A renewed
// session has a new client: ask for it each time, do not keep it.
func (s *Stage) Client() *kgo.Client { return s.sess.Load().Client() }

// Run consumes until ctx ends or the transactional state is lost; it closes
// the session (leaving the group) when it returns.
func (s *Stage) Run(ctx context.Context) error {
	defer s.Close()
	if err := s.fence(ctx); err != nil {
		return err
	}
	renewals := 0 // in a row, without a commit in between
	ticker, ticks := s.tr.(Ticker)
	nextTick := time.Now().Add(s.cfg.TickEvery)
	for {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if ticks {
			// Wake for the tick even when no record comes. The deadline is
			// never already past: a poll given a done context returns at
			// once without the records it has buffered, and a loop of
			// such polls would never see a record again.
			pollCtx, cancel = context.WithDeadline(ctx, later(nextTick, time.Now().Add(10*time.Millisecond)))
		}
		maxBatch := s.cfg.MaxBatch
		if s.isolate > 0 {
			maxBatch = 1
		}
		fetches := s.sess.Load().PollRecords(pollCtx, maxBatch)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				s.cfg.Log.Warn("fetch error", "stage", s.cfg.Name, "topic", topic, "partition", p, "err", err)
			}
		})
		tick := false
		if ticks && s.joined.Load() && !time.Now().Before(nextTick) {
			tick = ticker.Due()
			nextTick = time.Now().Add(s.cfg.TickEvery)
		}
		if fetches.NumRecords() == 0 && !tick {
			continue
		}
		committed, err := s.batch(ctx, fetches, tick)
		if committed {
			renewals = 0
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if !renewable(err) || renewals >= maxRenewals {
			return err
		}
		renewals++
		s.cfg.Log.Warn("transaction could not be ended; the stage starts a new session, as a restart of the process would",
			"stage", s.cfg.Name, "err", err, "renewal", renewals)
		if err := s.renew(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// fence initializes the session's producer id. That fences a crashed
// predecessor of our transactional id (or our own previous session) now:
// its open transaction may hold uncommitted offsets of our group, and with
// stable offset fetching (KIP-447) our first poll would wait for it until
// the transaction timeout; initializing our producer id aborts it at once.
func (s *Stage) fence(ctx context.Context) error {
	if _, _, err := s.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("stage %s: initialize transactional producer: %w", s.cfg.Name, err)
	}
	return nil
}

// sessionError is a failure to begin or end a transaction: the session
// can no longer be trusted, but a new one can go on.
type sessionError struct{ err error }

func (e sessionError) Error() string { return e.err.Error() }
func (e sessionError) Unwrap() error { return e.err }

// renewable says whether a new session can go on after err. franz-go
// says a session whose transaction could not be ended should not go on:
// its idea of the committed offsets may be wrong (the coordinator went
// away mid-commit, as when the active controller is killed). A new
// session learns them from the group again, with its partitions given
// back at once (static membership) and its state restored, and fences
// whatever the old one left open: what a restart of the process does,
// without the restart. Fenced by another instance of our transactional
// id (PRODUCER_FENCED), or not allowed to use it, a new session would fail
// the same way. INVALID_PRODUCER_EPOCH is not that: our own epoch moved on
// without us (a commit whose answer was lost when the coordinator went
// away), and Kafka treats it as abortable (KIP-588). Counting it as fenced
// took a gateway down in the controller-kill scenario.
func renewable(err error) bool {
	return errors.As(err, new(sessionError)) && !errors.Is(err, kerr.ProducerFenced) &&
		!errors.Is(err, kerr.TransactionalIDAuthorizationFailed) && !errors.Is(err, kerr.GroupAuthorizationFailed)
}

// renew closes the session (its partitions are revoked: the transform
// drops what it held for them) and starts a new one of the same
// transactional id and group instance. The old client is closed first:
// its metrics hook must let go of its series before the new one takes
// them.
func (s *Stage) renew(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.joined.Store(false)
	s.sess.Load().Close()
	sess, err := kgo.NewGroupTransactSession(s.opts...)
	if err != nil {
		s.closed = true // nothing is left to close
		s.mu.Unlock()
		return fmt.Errorf("stage %s: renew the transactional session: %w", s.cfg.Name, err)
	}
	s.sess.Store(sess)
	s.mu.Unlock()
	s.Stats.Renewed.Add(1)
	return s.fence(ctx)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// batch runs one transaction: the records fetched, and the tick when it
// is due. It returns an error only when the session can no longer be used
// (a sessionError when a new one could go on).
//
// No input can hold its partition back: an input whose outputs cannot be
// written (larger than their topic takes, or refused by the broker) is
// marked, the transaction aborted, and when the batch is read again the
// transform parks that input instead of processing it (Parker), in a
// transaction like any other: one outcome per input, exactly once.
func (s *Stage) batch(ctx context.Context, fetches kgo.Fetches, tick bool) (bool, error) {
	sess := s.sess.Load()
	if err := sess.Begin(); err != nil {
		return false, sessionError{fmt.Errorf("stage %s: begin transaction: %w", s.cfg.Name, err)}
	}
	var (
		out      Output
		in       int
		trErr    error
		redo     bool // an input was marked unwritable: abort and read again at once
		prodMu   sync.Mutex
		prodErr  error
		failed   = map[int]error{} // outputs the producer failed, by index
		produced int
		phase    = time.Now()
		began    = phase
	)
	parker, parks := s.tr.(Parker)
	if s.isolate > 0 {
		s.isolate = max(0, s.isolate-fetches.NumRecords())
		s.Stats.Isolated.Add(1)
	}
	if p, ok := s.tr.(Preparer); ok {
		recs := fetches.Records()
		if parks && len(s.unwritable) > 0 {
			recs = slices.DeleteFunc(slices.Clone(recs), func(r *kgo.Record) bool {
				_, marked := s.unwritable[idOf(r)]
				return marked
			})
		}
		p.Prepare(ctx, recs)
	}
	observed := false
	transformAll := func() {
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if trErr != nil {
					return
				}
				if !observed {
					s.Stats.ObserveAge(began.Sub(r.Timestamp))
				}
				from := len(out.recs)
				out.owner = r
				why, marked := s.unwritable[idOf(r)]
				var err error
				if parks && marked {
					err = parker.Park(ctx, r, why, &out)
				} else {
					err = s.tr.Transform(ctx, r, &out)
				}
				out.owner = nil
				if err != nil {
					trErr = fmt.Errorf("transform %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
					return
				}
				in++
				if parks && s.oversized(r, out.recs[from:], marked, why) {
					redo = true
				}
			}
		})
		observed = true
		if tick && trErr == nil {
			if err := s.tr.(Ticker).Tick(ctx, &out); err != nil {
				trErr = fmt.Errorf("tick: %w", err)
			}
		}
	}
	transformAll()
	// An input whose outputs cannot fit was marked. Nothing is written
	// yet, so the transaction holds nothing: the transform drops what the
	// batch changed (as after an abort) and the batch is transformed
	// again from the records in hand, the marked inputs parked. Aborting
	// and reading the batch again would do the same, but the consumer's
	// rewind can wait out a fetch in flight (seconds on a real broker).
	// Prepare is not asked again: a forward stage's calls are made, and a
	// transform without its preparation decides each record as it comes.
	for pass := 1; redo && trErr == nil && pass < maxPasses; pass++ {
		if txn, ok := s.tr.(Transactional); ok {
			txn.Aborted()
		}
		out, in, redo = Output{}, 0, false
		transformAll()
	}
	if redo && trErr == nil {
		trErr = errRedo
	}
	timed(&s.Stats.Work, &phase)
	if trErr == nil {
		for i, r := range out.recs {
			promise := out.promises[i]
			sess.Produce(ctx, r, func(r *kgo.Record, err error) {
				if promise != nil {
					promise(r, err)
				}
				if err != nil {
					prodMu.Lock()
					if prodErr == nil {
						prodErr = err
					}
					failed[i] = err
					prodMu.Unlock()
				}
			})
			produced++
		}
		// Flush here, not only inside End, so a failed produce is known
		// before deciding to commit.
		if err := sess.Client().Flush(ctx); err != nil {
			trErr = err
		}
	}
	prodMu.Lock()
	if trErr == nil && prodErr != nil {
		trErr = fmt.Errorf("produce: %w", prodErr)
		if parks && s.refused(&out, failed, in) {
			redo = true
		}
	}
	prodMu.Unlock()
	timed(&s.Stats.Write, &phase)

	try := kgo.TryCommit
	if trErr != nil {
		try = kgo.TryAbort
		if redo {
			s.cfg.Log.Warn("aborting batch to park what cannot be written; it is read again at once", "stage", s.cfg.Name, "err", trErr)
		} else {
			s.cfg.Log.Warn("aborting batch; it will be read again", "stage", s.cfg.Name, "err", trErr)
		}
	}
	committed, err := sess.End(ctx, try)
	timed(&s.Stats.End, &phase)
	s.Stats.ObserveTransaction(time.Since(began))
	if txn, ok := s.tr.(Transactional); ok {
		if committed {
			txn.Committed()
		} else {
			txn.Aborted()
		}
	}
	if err != nil {
		s.Stats.Aborted.Add(1)
		return false, sessionError{fmt.Errorf("stage %s: end transaction: %w", s.cfg.Name, err)}
	}
	if committed {
		s.Stats.Committed.Add(1)
		s.Stats.In.Add(int64(in))
		s.Stats.Out.Add(int64(produced))
		if len(s.unwritable) > 0 {
			fetches.EachRecord(func(r *kgo.Record) {
				if _, ok := s.unwritable[idOf(r)]; ok {
					delete(s.unwritable, idOf(r))
					s.Stats.Unwritable.Add(1)
				}
			})
		}
	} else {
		s.Stats.Aborted.Add(1)
		if trErr != nil && !redo {
			// Do not spin on a failure that needs time to pass.
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return committed, nil
}

// errRedo aborts a transaction that holds an input marked unwritable.
var errRedo = errors.New("an input's outputs cannot be written; it is parked when read again")

// oversized measures the outputs of input r against their topics' limits
// and marks r when one cannot fit. A park (marked) that does not fit is
// marked again with the next attempt, so the transform makes it smaller.
func (s *Stage) oversized(r *kgo.Record, outs []*kgo.Record, marked bool, why Unwritable) bool {
	if s.cfg.MaxBytes == nil {
		return false
	}
	for _, o := range outs {
		limit := int(s.cfg.MaxBytes(o.Topic))
		if n := recsize.Batch(o); limit > 0 && n > limit {
			return s.mark(r, Unwritable{Topic: o.Topic, Bytes: n, Limit: limit}, marked, why)
		}
	}
	return false
}

// mark records that r's outputs cannot be written. It reports false when
// r's parks have failed too often to try another.
func (s *Stage) mark(r *kgo.Record, u Unwritable, marked bool, prev Unwritable) bool {
	if marked {
		u.Attempt = prev.Attempt + 1
		if u.Attempt >= maxParkAttempts {
			s.cfg.Log.Error("the park of an input cannot be written either; the batch is retried",
				"stage", s.cfg.Name, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "why", u.String())
			return false
		}
	}
	s.unwritable[idOf(r)] = u
	s.cfg.Log.Warn("an input's output cannot be written; the input is parked",
		"stage", s.cfg.Name, "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "why", u.String(), "attempt", u.Attempt)
	return true
}

// refused finds the inputs behind outputs the producer or broker refused
// for good (unwritableErr). One input: it is marked. More than one (a
// broker refuses a whole batch, innocent records with the guilty): the
// stage takes the inputs one per transaction until past them, and the
// one whose write fails alone is marked then. It reports whether the
// batch should be read again at once.
func (s *Stage) refused(out *Output, failed map[int]error, inputs int) bool {
	guilty := map[*kgo.Record]Unwritable{}
	for i, err := range failed {
		if !unwritableErr(err) {
			return false // a failure that may pass: the batch is retried as it is
		}
		owner := out.owners[i]
		if owner == nil {
			return false // a tick's output: nothing to park
		}
		o := out.recs[i]
		u := Unwritable{Topic: o.Topic, Bytes: recsize.Batch(o), Err: err}
		if s.cfg.MaxBytes != nil {
			u.Limit = int(s.cfg.MaxBytes(o.Topic))
		}
		guilty[owner] = u
	}
	switch len(guilty) {
	case 0:
		return false
	case 1:
		for r, u := range guilty {
			prev, marked := s.unwritable[idOf(r)]
			return s.mark(r, u, marked, prev)
		}
	}
	if s.isolate == 0 {
		s.isolate = inputs
		s.cfg.Log.Warn("the broker refused a write that several inputs share; taking them one per transaction to find the one",
			"stage", s.cfg.Name, "inputs", len(guilty))
	}
	return true
}

// Close leaves the group and closes the session; safe to call twice.
func (s *Stage) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.sess.Load().Close()
	}
}

// NamedPartitions is a partitioner that sends records of the named topics
// to the partition the record names (a state changelog follows its input
// partition) and partitions everything else by key.
func NamedPartitions(topics ...string) kgo.Partitioner {
	return namedPartitions{topics: topics, def: kgo.StickyKeyPartitioner(nil)}
}

type namedPartitions struct {
	topics []string
	def    kgo.Partitioner
}

func (p namedPartitions) ForTopic(t string) kgo.TopicPartitioner {
	for _, named := range p.topics {
		if t == named {
			return kgo.ManualPartitioner().ForTopic(t)
		}
	}
	return p.def.ForTopic(t)
}
