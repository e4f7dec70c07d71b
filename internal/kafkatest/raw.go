package kafkatest

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// RawTransactCopy is franz-go's documented GroupTransactSession loop with
// nothing of ours: it copies n records from in to out in transactions of
// up to 5000 and returns how long that took. Benchmarks report the
// gateway's stages beside it, so that a figure from a noisy shared machine
// comes with the raw figure of the same run.
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
	moved := 0
	start := time.Now()
	for moved < n {
		fs := sess.PollRecords(ctx, 5000)
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("raw copy: %d of %d moved: %w", moved, n, err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return 0, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value, Headers: r.Headers}, nil)
		})
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
