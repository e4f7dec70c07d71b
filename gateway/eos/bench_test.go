package eos_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
)

// benchRecords is how many records each figure moves; EGISZ_BENCH_RECORDS
// lowers it for a quick look.
func benchRecords() int {
	if v := os.Getenv("EGISZ_BENCH_RECORDS"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

// BenchmarkKafka moves the same records through kfake and, in the same run,
// through the real broker named by EGISZ_KAFKA_BROKERS: produce, consume,
// the gateway's transactional consume→produce (eos.Stage), and raw
// franz-go doing the same transactional work. Run with -benchtime=1x.
func BenchmarkKafka(b *testing.B) {
	type target struct {
		name    string
		brokers func(b *testing.B) []string
	}
	targets := []target{{"kfake", func(b *testing.B) []string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		return c.ListenAddrs()
	}}}
	if env := os.Getenv(kafkatest.EnvBrokers); env != "" {
		v := os.Getenv("EGISZ_KAFKA_VERSION")
		targets = append(targets, target{"kafka-" + v, func(*testing.B) []string { return strings.Split(env, ",") }})
	}
	n := benchRecords()
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			brokers := tg.brokers(b)
			prefix := fmt.Sprintf("bench%d.", time.Now().UnixNano())
			in, out, rawOut := prefix+"in", prefix+"out", prefix+"raw-out"
			ctx := context.Background()
			admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
			if err != nil {
				b.Fatal(err)
			}
			defer admCl.Close()
			createTopics(b, ctx, kadm.NewClient(admCl), 6, -1, in, out, rawOut)

			b.Run("produce", func(b *testing.B) {
				cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(1<<20))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				start := time.Now()
				produceN(b, ctx, cl, in, n, 300)
				report(b, n, time.Since(start))
			})
			b.Run("consume", func(b *testing.B) {
				cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(50<<20))
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Close()
				start := time.Now()
				got := 0
				for got < n {
					fs := cl.PollFetches(ctx)
					got += fs.NumRecords()
				}
				report(b, n, time.Since(start))
			})
			b.Run("txn-copy-eos.Stage", func(b *testing.B) {
				s, err := eos.New(eos.Config{
					Name: "bench", Group: prefix + "stage", Input: []string{in}, TransactionalID: prefix + "stage-1",
					ClientOpts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Log: quietLog(),
				}, &copier{to: out})
				if err != nil {
					b.Fatal(err)
				}
				runCtx, stop := context.WithCancel(ctx)
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- s.Run(runCtx) }()
				for s.Stats.In.Load() < int64(n) {
					time.Sleep(2 * time.Millisecond)
				}
				took := time.Since(start)
				stop()
				<-done
				report(b, n, took)
			})
			b.Run("txn-copy-raw-franz-go", func(b *testing.B) {
				took, err := kafkatest.RawTransactCopy(ctx, brokers, prefix+"raw", in, rawOut, n)
				if err != nil {
					b.Fatal(err)
				}
				report(b, n, took)
			})
		})
	}
}

func report(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "records/s")
	b.ReportMetric(float64(n)*300/d.Seconds()/1e6, "MB/s")
	b.ReportMetric(0, "ns/op")
}
