package dlq

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// BenchmarkReplay lists and then replays EGISZ_BENCH_DLQ parked records
// (default 20,000) with no rate limit, and reports both beside raw
// franz-go copying the same records in transactions in the same run.
//
//	go run ./cmd/kafka-local exec -- go test -run '^$' -bench BenchmarkReplay -benchtime=1x ./dlq/
func BenchmarkReplay(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("EGISZ_BENCH_DLQ")); err == nil && v > 0 {
		n = v
	}
	kc, ctx := parkedCluster(b, n)
	s := newService(b, kc)
	rawTook, err := kafkatest.RawTransactCopy(ctx, kc.Brokers, kc.Prefix+"raw", kc.Prefix+topics.DLQIngress, kc.Prefix+"raw-out", n)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		start := time.Now()
		res, err := s.List(ctx, operator, ListQuery{PageSize: 50})
		if err != nil || res.Total != n {
			b.Fatalf("list: %d, %v", res.Total, err)
		}
		listTook := time.Since(start)
		start = time.Now()
		rep, err := s.Replay(ctx, operator, ReplayRequest{Rate: 1e9})
		if err != nil || rep.Replayed != n {
			b.Fatalf("replay: %d, %v", rep.Replayed, err)
		}
		took := time.Since(start)
		b.ReportMetric(float64(n)/listTook.Seconds(), "listed/s")
		b.ReportMetric(float64(n)/took.Seconds(), "replayed/s")
		b.ReportMetric(float64(n)/rawTook.Seconds(), "raw-franz-go-copied/s")
	}
}
