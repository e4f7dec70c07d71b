package forward

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// TestRateLimitWaitCountsEachCallOnce: egisz_forward_rate_limit_wait_seconds_total
// adds what each call itself waited for a token, however many calls are in
// flight. The registry holds every answer until all calls have arrived, so
// every call is in flight while the others reserve their tokens: a counter
// fed from a shared running total would count the others' waits too.
func TestRateLimitWaitCountsEachCallOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		calls     int
		perMinute int
	}{
		{"one call", 1, 60},
		{"eight at once", 8, 60},
		{"thirty-two at once", 32, 600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var arrived sync.WaitGroup
			arrived.Add(tc.calls)
			all := make(chan struct{})
			go func() { arrived.Wait(); close(all) }()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				arrived.Done()
				<-all
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()

			cfg := config.DefaultDestination()
			cfg.URL, cfg.Attempts, cfg.Concurrency = srv.URL, 1, tc.calls
			cfg.RatePerMinute, cfg.Burst = tc.perMinute, 1
			cfg.Timeout = config.Duration(5 * time.Second)
			m := NewMetrics(nil)
			snd, err := newSender("erx", cfg, statusOnly{}, m, nil, testLog())
			if err != nil {
				t.Fatal(err)
			}
			// Time stands still and a wait returns at once: every call
			// reserves at the same instant, so the k-th waits k/rate.
			frozen := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			snd.limiter.now = func() time.Time { return frozen }
			snd.limiter.sleep = func(context.Context, time.Duration) error { return nil }
			s := &consumer{at: outboundTopic{}, registry: &registry{dest: statusOnly{}, send: snd, m: m, reg: "erx", sem: make(chan struct{}, tc.calls)}}

			var wg sync.WaitGroup
			for range tc.calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if out, _ := s.call(context.Background(), Call{Method: http.MethodPost, Path: "/x", Body: []byte(`{}`)}); out.Result != Registered {
						t.Errorf("result %s, want %s", out.Result, Registered)
					}
				}()
			}
			wg.Wait()
			perCall := 60 / float64(tc.perMinute)
			want := perCall * float64(tc.calls*(tc.calls-1)/2) // 0 + 1 + … + (calls-1) token intervals
			got := testutil.ToFloat64(m.waited.WithLabelValues("erx"))
			if math.Abs(got-want) > 1e-6 {
				t.Fatalf("wait counter = %.3f s, want %.3f s (the calls' own waits summed)", got, want)
			}
		})
	}
}
