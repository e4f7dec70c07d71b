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
		if err := sess.Begin(); err != nil {
			return 0, err
		}
		var (
			mu      sync.Mutex
			prodErr error
		)
		fs.EachRecord(func(r *kgo.Record) {
			// The timestamp goes along, so that a reader of out can tell
			// how long a record took from its first produce.
			sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil && prodErr == nil {
					prodErr = err
				}
			})
		})
		// A failed produce must not be timed as a copy: it aborts, and
		// the copy fails instead of reporting a rate it never reached.
		if err := sess.Client().Flush(ctx); err != nil {
			return 0, fmt.Errorf("raw copy: flush: %w", err)
		}
		mu.Lock()
		failed := prodErr
		mu.Unlock()
		if failed != nil {
			_, _ = sess.End(ctx, kgo.TryAbort)
			return 0, fmt.Errorf("raw copy: produce to %s: %w", out, failed)
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			return 0, err
		}
		if committed {
			moved += fs.NumRecords()
		}
	}
	return time.Since(start), nil
}

// RawTransactLatency sends n records of size bytes to in (which must
// exist) at rate a second while RawTransactCopy copies them to out, reads
// out read-committed, and returns how long each record took from its
// produce to in until a reader of out saw it: one transactional hop of raw
// franz-go, the floor under the gateway's own latency at the same rate.
func RawTransactLatency(ctx context.Context, brokers []string, group, in, out string, rate float64, n, size int) ([]time.Duration, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
	if err != nil {
		return nil, fmt.Errorf("raw latency: %w", err)
	}
	defer cl.Close()
	if err := ensureLike(ctx, kadm.NewClient(cl), in, out); err != nil {
		return nil, fmt.Errorf("raw latency: %w", err)
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, fmt.Errorf("raw latency: %w", err)
	}
	defer rd.Close()
	// A failed copy or produce ends the measurement with its error: the
	// records it stops are never read, and the wait would run to the end
	// of the caller's ctx.
	outer := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		if _, err := RawTransactCopy(ctx, brokers, group, in, out, n+1); err != nil {
			cancel(fmt.Errorf("copy: %w", err))
		}
	}()
	failed := func() error {
		if outer.Err() != nil {
			return outer.Err()
		}
		return context.Cause(ctx)
	}
	// One record first, untimed: the copy's group join is not its latency,
	// and the gateway's figure beside it is taken from stages that have
	// joined.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: in, Key: []byte("warm-up")}).FirstErr(); err != nil {
		return nil, fmt.Errorf("raw latency: warm-up: %w", err)
	}
	for warm := false; !warm; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("raw latency: warm-up never copied: %w", failed())
		}
		warm = fs.NumRecords() > 0
	}
	go func() {
		value := make([]byte, size)
		interval := time.Duration(float64(time.Second) / rate)
		next := time.Now()
		for i := range n {
			time.Sleep(time.Until(next))
			next = next.Add(interval)
			cl.Produce(ctx, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "%d", i), Value: value, Timestamp: time.Now()}, func(_ *kgo.Record, err error) {
				if err != nil && ctx.Err() == nil {
					cancel(fmt.Errorf("produce to %s: %w", in, err))
				}
			})
		}
	}()
	lat := make([]time.Duration, 0, n)
	for len(lat) < n {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("raw latency: %d of %d read: %w", len(lat), n, failed())
		}
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) { lat = append(lat, now.Sub(r.Timestamp)) })
	}
	return lat, nil
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
	return nil
}
