package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// ReplayRequest says what to send again.
type ReplayRequest struct {
	Filter Filter
	DryRun bool    // say what would move, move nothing
	Rate   float64 // records a second at most; 0: the configured default
	Reason string  // the operator's words, kept in the audit log and the marks
	// Progress, when set, is called after every committed batch with the
	// records sent so far and the records to send in all.
	Progress func(done, total int)
}

// Move is one record a replay sends, or would send.
type Move struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	To     string `json:"to"` // the topic; topic/partition/offset once sent
}

// ReplayResult says what a replay did.
type ReplayResult struct {
	DryRun   bool           `json:"dry_run"`
	Matched  int            `json:"matched"`  // records the filter selected
	Replayed int            `json:"replayed"` // sent; on a dry run, would be sent
	Skipped  map[string]int `json:"skipped"`  // records not sent, by why
	ByTarget map[string]int `json:"by_target"`
	Moves    []Move         `json:"moves"`              // the first maxListed
	Problems []string       `json:"problems,omitempty"` // records that cannot be replayed, with why
}

const (
	maxListed     = 1000
	skipReplayed  = "already replayed"
	skipNoTarget  = "no place to replay to"
	skipTruncated = "parked truncated"
	replayTxnTime = time.Second // one transaction carries about this much of the rate
)

// Replay sends the parked records the filter selects back to where they
// failed: an ingress record to its ingress topic, a registry's record to
// the registry's outbound topic. Each batch of records goes in one Kafka
// transaction with the marks that say they were replayed, so a record is
// sent and marked, or neither; a record already marked is never sent
// again. A record that fails again is parked anew with its replay count
// one higher (ce_replaycount).
func (s *Service) Replay(ctx context.Context, a Actor, req ReplayRequest) (ReplayResult, error) {
	res := ReplayResult{DryRun: req.DryRun, Skipped: map[string]int{}, ByTarget: map[string]int{}, Moves: []Move{}}
	if err := req.Filter.Check(); err != nil {
		return res, badRequest(err)
	}
	filter := req.Filter.String()
	if err := s.authorize(ctx, a, ActReplay, filter); err != nil {
		return res, err
	}
	rate := req.Rate
	if rate <= 0 {
		rate = s.cfg.ReplayRate
	}
	tx, marks, done, err := s.beginOps(ctx, req.DryRun)
	if err != nil {
		return res, err
	}
	defer done()
	var todo []*Entry
	err = s.scan(ctx, req.Filter, marks, func(e *Entry) {
		res.Matched++
		switch {
		case e.State() == StateReplayed:
			res.Skipped[skipReplayed]++
		case e.State() == StatePurged:
			res.Skipped[StatePurged]++
		default:
			todo = append(todo, e)
		}
	})
	if err != nil {
		return res, err
	}
	// Id order is each key's order: a key's records share a DLQ partition.
	slices.SortFunc(todo, func(x, y *Entry) int { return cmpID(x.ID, y.ID) })
	var sends []*kgo.Record
	var sendable []*Entry
	for _, e := range todo {
		r, err := s.replayRecord(e)
		if err != nil {
			if errors.Is(err, errTruncated) {
				res.Skipped[skipTruncated]++
			} else {
				res.Skipped[skipNoTarget]++
			}
			if len(res.Problems) < 100 {
				res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", e.ID, err))
			}
			continue
		}
		sends, sendable = append(sends, r), append(sendable, e)
		res.ByTarget[strings.TrimPrefix(r.Topic, s.cfg.Prefix)]++
		if len(res.Moves) < maxListed {
			res.Moves = append(res.Moves, Move{ID: e.ID.String(), Reason: e.Reason, To: strings.TrimPrefix(r.Topic, s.cfg.Prefix)})
		}
	}
	audit := topics.AuditRecord{Action: string(ActReplay), Filter: filter, Reason: req.Reason, DryRun: req.DryRun}
	if req.DryRun {
		res.Replayed = len(sends)
		audit.Count, audit.Outcome = res.Replayed, "ok"
		return res, s.Audit(ctx, a, audit)
	}

	runErr := s.send(ctx, tx, sends, sendable, a, req, rate, &res)
	audit.Count, audit.Outcome = res.Replayed, "ok"
	if runErr != nil {
		audit.Outcome = "failed"
	}
	s.cfg.Log.Info("dead letters replayed", "actor", a.Name, "via", a.Via, "filter", filter, "replayed", res.Replayed, "matched", res.Matched, "err", runErr)
	return res, errors.Join(runErr, s.Audit(context.WithoutCancel(ctx), a, audit))
}

// send writes the records in transactions of about a second's worth at
// rate, each with the marks of the DLQ records it replays.
func (s *Service) send(ctx context.Context, tx *kgo.Client, sends []*kgo.Record, from []*Entry, a Actor, req ReplayRequest, rate float64, res *ReplayResult) error {
	batch := max(1, min(500, int(rate*replayTxnTime.Seconds())))
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	var failed firstError
	moveAt := map[string]int{}
	for i, m := range res.Moves {
		moveAt[m.ID] = i
	}
	for start := 0; start < len(sends); start += batch {
		end := min(start+batch, len(sends))
		if err := tx.BeginTransaction(); err != nil {
			return fmt.Errorf("replay: begin transaction: %w", err)
		}
		abort := func(err error) error {
			_ = tx.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
			return err
		}
		for i := start; i < end; i++ {
			if wait := time.Until(next); wait > 0 {
				select {
				case <-ctx.Done():
					return abort(fmt.Errorf("replay stopped after %d of %d: %w", res.Replayed, len(sends), ctx.Err()))
				case <-time.After(wait):
				}
			}
			next = next.Add(interval)
			if now := time.Now(); next.Before(now.Add(-time.Second)) {
				next = now // no burst after a slow spell
			}
			tx.Produce(ctx, sends[i], failed.promise)
		}
		if err := cmp.Or(tx.Flush(ctx), failed.get()); err != nil {
			return abort(fmt.Errorf("replay: send: %w", fenced(err)))
		}
		now := s.cfg.Now().UTC()
		for i := start; i < end; i++ {
			r := sends[i]
			to := fmt.Sprintf("%s/%d/%d", strings.TrimPrefix(r.Topic, s.cfg.Prefix), r.Partition, r.Offset)
			tx.Produce(ctx, s.markRecord(from[i].ID, &Mark{State: StateReplayed, At: now, Actor: a.Name, Reason: req.Reason, To: to}), failed.promise)
			if j, ok := moveAt[from[i].ID.String()]; ok {
				res.Moves[j].To = to
			}
		}
		// EndTransaction does not flush: a mark still buffered would miss
		// the commit.
		if err := cmp.Or(tx.Flush(ctx), failed.get()); err != nil {
			return abort(fmt.Errorf("replay: write marks: %w", fenced(err)))
		}
		if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
			_ = tx.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort)
			return fmt.Errorf("replay: commit (%d records sent before this batch): %w", res.Replayed, fenced(err))
		}
		res.Replayed += end - start
		if req.Progress != nil {
			req.Progress(res.Replayed, len(sends))
		}
	}
	return nil
}

// firstError keeps the first error of produce promises.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) promise(_ *kgo.Record, err error) {
	if err != nil {
		f.mu.Lock()
		f.err = cmp.Or(f.err, err)
		f.mu.Unlock()
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// errTruncated refuses to replay a record parked truncated (record.Fit).
var errTruncated = errors.New("it was parked truncated (dlq.truncated): the original is not kept whole")

// replayRecord is the record to send again for e: its key, value and
// headers as they were, without what parking and the retry tiers added,
// and with the replay count one higher.
func (s *Service) replayRecord(e *Entry) (*kgo.Record, error) {
	for _, h := range e.Headers {
		if h.Key == record.HTruncated {
			return nil, errTruncated
		}
	}
	target, err := s.target(e)
	if err != nil {
		return nil, err
	}
	r := &kgo.Record{Topic: s.cfg.Prefix + target, Key: e.Key, Value: e.Value}
	for _, h := range e.Headers {
		if record.IsHeader(h.Key) || strings.HasPrefix(h.Key, "egisz_") || h.Key == topics.HeaderReplayCount {
			continue
		}
		r.Headers = append(r.Headers, h)
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: topics.HeaderReplayCount, Value: []byte(strconv.Itoa(e.ReplayCount + 1))})
	return r, nil
}

// target is where e failed: its ingress topic, or its registry's outbound
// topic (a record parked from a retry tier or after РЭМД's callback starts
// over from there).
func (s *Service) target(e *Entry) (string, error) {
	if e.ID.Topic == topics.DLQIngress {
		orig := strings.TrimPrefix(e.OrigTopic, s.cfg.Prefix)
		if t, ok := s.cfg.Catalog.Lookup(orig); ok && t.Role == topics.RoleIngress {
			return orig, nil
		}
		return "", fmt.Errorf("its original topic %q is not an ingress topic", e.OrigTopic)
	}
	for _, r := range topics.Registries {
		if e.ID.Topic == topics.RegistryDLQ(r) {
			return topics.Outbound(r), nil
		}
	}
	return "", fmt.Errorf("%s is not a dead-letter topic this gateway replays from", e.ID.Topic)
}

// ErrFenced says another replay or purge started and took over.
var ErrFenced = errors.New("another replay or purge started, here or in another process, and took over; what this one committed stays marked")

// fenced names a fencing for what it is.
func fenced(err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w (%w)", ErrFenced, err)
	}
	return err
}

// beginOps starts a replay or purge: it serialises them in this process,
// fences any older one elsewhere (unless dry), and reads the marks after
// the fence. done releases both.
func (s *Service) beginOps(ctx context.Context, dryRun bool) (*kgo.Client, map[ID]*Mark, func(), error) {
	s.ops.Lock()
	var tx *kgo.Client
	done := func() {
		if tx != nil {
			tx.Close()
		}
		s.ops.Unlock()
	}
	if !dryRun {
		var err error
		if tx, err = s.fence(ctx); err != nil {
			done()
			return nil, nil, nil, err
		}
	}
	marks, err := s.loadMarks(ctx)
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return tx, marks, done, nil
}

// fence starts the transactional producer shared by every replay and
// purge: initialising it fences an older one still running anywhere, so
// the marks read after it are the last word.
func (s *Service) fence(ctx context.Context) (*kgo.Client, error) {
	tx, err := kgo.NewClient(append(slices.Clone(s.cfg.KafkaOpt),
		kgo.TransactionalID(s.cfg.Prefix+transactionalID),
		kgo.TransactionTimeout(time.Minute),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // as the sources: Kafka's murmur2 of the key
		// A record parked for its size goes back whole to a topic that takes it.
		kgo.ProducerBatchMaxBytesFn(s.cfg.Catalog.WithPrefix(s.cfg.Prefix).BatchMaxBytes),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	if _, _, err := tx.ProducerID(ctx); err != nil {
		tx.Close()
		return nil, fmt.Errorf("start the dead-letter operations' transactional producer: %w", err)
	}
	return tx, nil
}
