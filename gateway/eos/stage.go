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
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
}

// Emit adds an output record. Its topic, key, value and headers must be set;
// the stage carries nothing over by itself.
func (o *Output) Emit(r *kgo.Record) { o.EmitFunc(r, nil) }

// EmitFunc adds an output record and a function told its offset (or its
// error) once produced, before the transaction ends.
func (o *Output) EmitFunc(r *kgo.Record, promise func(*kgo.Record, error)) {
	o.recs = append(o.recs, r)
	o.promises = append(o.promises, promise)
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
	// TxnTimeout is the transaction timeout (default 20s): how long a
	// crashed instance's transaction can hold back read_committed readers
	// when no successor with its transactional id fences it first.
	TxnTimeout time.Duration
	// TickEvery is how often a Ticker's Tick runs (default 1m).
	TickEvery time.Duration
	Log       *slog.Logger
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
}

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
	sess   *kgo.GroupTransactSession
	joined atomic.Bool
	Stats  Stats

	closeOnce sync.Once
}

// New creates the stage's transactional session; Run starts consuming.
func New(cfg Config, tr Transform) (*Stage, error) {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	if cfg.TxnTimeout <= 0 {
		cfg.TxnTimeout = 20 * time.Second
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Stage{cfg: cfg, tr: tr}
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
	s.sess = sess
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

// Client is the session's client, for requests that need one.
func (s *Stage) Client() *kgo.Client { return s.sess.Client() }

// Run consumes until ctx ends or the transactional state is lost; it closes
// the session (leaving the group) when it returns.
func (s *Stage) Run(ctx context.Context) error {
	defer s.Close()
	// Fence a crashed predecessor with our transactional id now. Its open
	// transaction may hold uncommitted offsets of our group, and with
	// stable offset fetching (KIP-447) our first poll would wait for it
	// until the transaction timeout; initializing our producer id aborts
	// it at once.
	if _, _, err := s.sess.Client().ProducerID(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("stage %s: initialize transactional producer: %w", s.cfg.Name, err)
	}
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
		fetches := s.sess.PollRecords(pollCtx, s.cfg.MaxBatch)
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
		if err := s.batch(ctx, fetches, tick); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// batch runs one transaction: the records fetched, and the tick when it
// is due. It returns an error only when the session can no longer be used.
func (s *Stage) batch(ctx context.Context, fetches kgo.Fetches, tick bool) error {
	if err := s.sess.Begin(); err != nil {
		return fmt.Errorf("stage %s: begin transaction: %w", s.cfg.Name, err)
	}
	var (
		out      Output
		in       int
		trErr    error
		prodMu   sync.Mutex
		prodErr  error
		produced int
		phase    = time.Now()
	)
	if p, ok := s.tr.(Preparer); ok {
		p.Prepare(ctx, fetches.Records())
	}
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		for _, r := range p.Records {
			if trErr != nil {
				return
			}
			if err := s.tr.Transform(ctx, r, &out); err != nil {
				trErr = fmt.Errorf("transform %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			in++
		}
	})
	if tick && trErr == nil {
		if err := s.tr.(Ticker).Tick(ctx, &out); err != nil {
			trErr = fmt.Errorf("tick: %w", err)
		}
	}
	timed(&s.Stats.Work, &phase)
	if trErr == nil {
		for i, r := range out.recs {
			promise := out.promises[i]
			s.sess.Produce(ctx, r, func(r *kgo.Record, err error) {
				if promise != nil {
					promise(r, err)
				}
				if err != nil {
					prodMu.Lock()
					if prodErr == nil {
						prodErr = err
					}
					prodMu.Unlock()
				}
			})
			produced++
		}
		// Flush here, not only inside End, so a failed produce is known
		// before deciding to commit.
		if err := s.sess.Client().Flush(ctx); err != nil {
			trErr = err
		}
	}
	prodMu.Lock()
	if trErr == nil && prodErr != nil {
		trErr = fmt.Errorf("produce: %w", prodErr)
	}
	prodMu.Unlock()
	timed(&s.Stats.Write, &phase)

	try := kgo.TryCommit
	if trErr != nil {
		try = kgo.TryAbort
		s.cfg.Log.Warn("aborting batch; it will be read again", "stage", s.cfg.Name, "err", trErr)
	}
	committed, err := s.sess.End(ctx, try)
	timed(&s.Stats.End, &phase)
	if txn, ok := s.tr.(Transactional); ok {
		if committed {
			txn.Committed()
		} else {
			txn.Aborted()
		}
	}
	if err != nil {
		return fmt.Errorf("stage %s: end transaction: %w", s.cfg.Name, err)
	}
	if committed {
		s.Stats.Committed.Add(1)
		s.Stats.In.Add(int64(in))
		s.Stats.Out.Add(int64(produced))
	} else {
		s.Stats.Aborted.Add(1)
		if trErr != nil {
			// Do not spin on a failure that needs time to pass.
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// Close leaves the group and closes the session; safe to call twice.
func (s *Stage) Close() {
	s.closeOnce.Do(func() { s.sess.Close() })
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
