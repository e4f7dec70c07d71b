package forward

import (
	"testing"
	"time"
)

// TestRetryPolicyNext: the decision for the next attempt, with the jitter
// pinned at its two ends (none, and all of the upper half).
func TestRetryPolicyNext(t *testing.T) {
	p := RetryPolicy{Attempts: 4, BackoffMin: 200 * time.Millisecond, BackoffMax: 5 * time.Second,
		RetryAfterMax: 2 * time.Minute, Budget: time.Hour}
	for _, tc := range []struct {
		name       string
		attempt    int
		f          Failure
		elapsed    time.Duration
		low, high  time.Duration // the wait with no jitter, and with all of it
		wantGiveUp bool
	}{
		{"the first backoff", 0, Failure{}, 0, 100 * time.Millisecond, 200 * time.Millisecond, false},
		{"doubles", 3, Failure{}, time.Minute, 800 * time.Millisecond, 1600 * time.Millisecond, false},
		{"capped", 12, Failure{}, time.Minute, 2500 * time.Millisecond, 5 * time.Second, false},
		{"a huge attempt number does not overflow", 500, Failure{}, time.Minute, 2500 * time.Millisecond, 5 * time.Second, false},
		{"a negative attempt is the first", -3, Failure{}, 0, 100 * time.Millisecond, 200 * time.Millisecond, false},
		{"Retry-After honoured, without jitter", 1, Failure{RetryAfter: 7 * time.Second}, 0, 7 * time.Second, 7 * time.Second, false},
		{"Retry-After of a day capped", 1, Failure{RetryAfter: 24 * time.Hour}, 0, 2 * time.Minute, 2 * time.Minute, false},
		{"the breaker refused: a short pause", 9, Failure{Refused: true, RetryAfter: time.Minute}, 0, 150 * time.Millisecond, 200 * time.Millisecond, false},
		{"the budget spent", 1, Failure{}, time.Hour, 0, 0, true},
		{"the budget spent while the breaker refuses", 1, Failure{Refused: true}, 2 * time.Hour, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, end := range []struct {
				jitter func(int64) int64
				want   time.Duration
			}{{func(int64) int64 { return 0 }, tc.low}, {func(n int64) int64 { return n }, tc.high}} {
				q := p
				q.Jitter = end.jitter
				wait, ok := q.Next(tc.attempt, tc.f, tc.elapsed)
				if ok == tc.wantGiveUp {
					t.Fatalf("ok = %v, want %v", ok, !tc.wantGiveUp)
				}
				if wait != end.want {
					t.Fatalf("wait = %s, want %s", wait, end.want)
				}
			}
		})
	}
	// Unpinned, the jitter stays within the upper half.
	for range 200 {
		if wait, _ := p.Next(3, Failure{}, 0); wait < 800*time.Millisecond || wait > 1600*time.Millisecond {
			t.Fatalf("wait %s outside [800ms, 1.6s]", wait)
		}
	}
}
