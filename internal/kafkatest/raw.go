package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// RawTransactCopy is franz-go's documented GroupTransactSession loop with
// nothing of ours: it copies n records from in to out (created like in when
// missing) in transactions of up to 5000 and returns how long that took, from the
// first record fetched: the group's join is not the copy's work, and the
// gateway's figures beside it are taken from stages that have joined.
// Benchmarks report the gateway's stages beside it, so that a figure from
// a noisy shared machine comes with the raw figure of the same run.
func RawTransactCopy(ctx context.Context, brokers []string, group, in, out string, n int) (time.Duration, error) {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.TransactionalID(group+"-1"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	if err := ensureLike(ctx, kadm.NewClient(sess.Client()), in, out); err != nil {
		return 0, fmt.Errorf("raw copy: %w", err)
	}
	moved := 0
	var start time.Time
	for moved < n {
		fs := sess.PollRecords(ctx, 5000)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("raw copy: %d of %d moved: %w", moved, n, err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		}
		// The timestamp goes along, so that a reader of out can tell how
		// long a record took from its first produce.
		committed, _, err := transact(ctx, sess, fs, func(r *kgo.Record, emit func(*kgo.Record)) {
			emit(&kgo.Record{Topic: out, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
		}, nil)
		if err != nil {
			return 0, fmt.Errorf("raw copy: %w", err)
		}
		if committed {
			moved += fs.NumRecords()
		}
	}
	return time.Since(start), nil
}

// ensureLike creates out with as many partitions as in, unless it exists.
func ensureLike(ctx context.Context, adm *kadm.Client, in, out string) error {
	td, err := adm.ListTopics(ctx, in, out)
	if err != nil {
		return fmt.Errorf("list %s and %s: %w", in, out, err)
	}
	if td.Has(out) {
		return nil
	}
	src, ok := td[in]
	if !ok || src.Err != nil || len(src.Partitions) == 0 {
		return fmt.Errorf("topic %s not found", in)
	}
	resp, err := adm.CreateTopic(ctx, int32(len(src.Partitions)), -1, nil, out)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", out, err)
	}
	if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", out, resp.Err)
	}
	return topics.WaitUsable(ctx, adm, in, out)
}

// transact is one transaction of a raw loop: the records each fetched
// record writes (emitted by out), then the consumed offsets, committed
// together. A failed produce aborts it and returns the produce's error: a
// raw figure must not count work that was not done. It returns whether it
// committed and how many records it wrote then.
// Phases are where a hop's transactions spent their time, as the
// gateway's egisz_stage_seconds_total says of its stages.
type Phases struct {
	Transactions int
	Write        time.Duration // until every record is acknowledged
	End          time.Duration // offsets and the commit
}

// transact runs one transaction of the records fs holds, writing what out
// emits for each, and adds its times to ph unless ph is nil.
func transact(ctx context.Context, sess *kgo.GroupTransactSession, fs kgo.Fetches, out func(r *kgo.Record, emit func(*kgo.Record)), ph *Phases) (committed bool, written int64, err error) {
	if ph == nil {
		ph = &Phases{}
	}
	ph.Transactions++
	if err := sess.Begin(); err != nil {
		return false, 0, fmt.Errorf("begin: %w", err)
	}
	var (
		mu      sync.Mutex
		prodErr error
	)
	emit := func(w *kgo.Record) {
		written++
		sess.Produce(ctx, w, func(w *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && prodErr == nil {
				prodErr = fmt.Errorf("produce to %s: %w", w.Topic, err)
			}
		})
	}
	fs.EachRecord(func(r *kgo.Record) { out(r, emit) })
	phase := time.Now()
	if err := sess.Client().Flush(ctx); err != nil {
		return false, 0, fmt.Errorf("flush: %w", err)
	}
	ph.Write += time.Since(phase)
	phase = time.Now()
	defer func() { ph.End += time.Since(phase) }()
	mu.Lock()
	failed := prodErr
	mu.Unlock()
	if failed != nil {
		_, _ = sess.End(ctx, kgo.TryAbort)
		return false, 0, failed
	}
	if committed, err = sess.End(ctx, kgo.TryCommit); err != nil {
		return false, 0, fmt.Errorf("end transaction: %w", err)
	}
	if !committed {
		written = 0
	}
	return committed, written, nil
}
