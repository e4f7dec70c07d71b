package forward

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// fakeClock runs the limiter in simulated time: a sleep advances the clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return nil
}

func TestLimiterHoldsTheQuota(t *testing.T) {
	cases := []struct {
		name             string
		perMinute, burst int
		requests         int
		wantSpan         time.Duration // from the first request to the last
	}{
		{"50 a minute, one at a time", 50, 1, 501, 10 * time.Minute},
		{"50 a minute, burst 10", 50, 10, 510, 10 * time.Minute},
		{"6000 a minute", 6000, 1, 1001, 10 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
			l := NewLimiter(tc.perMinute, tc.burst)
			l.now, l.sleep = clk.Now, clk.Sleep
			start := clk.Now()
			var waited time.Duration
			for i := 0; i < tc.requests; i++ {
				w, err := l.Wait(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				waited += w
			}
			span := clk.Now().Sub(start)
			// One caller: time passes only while it waits, so its waits add up to the span.
			if diff := waited - span; diff < -time.Millisecond || diff > time.Millisecond {
				t.Fatalf("the waits reported add up to %s, the clock moved %s", waited, span)
			}
			if diff := span - tc.wantSpan; diff < -time.Millisecond || diff > time.Millisecond {
				t.Fatalf("%d requests took %s of simulated time, want %s", tc.requests, span, tc.wantSpan)
			}
		})
	}
}

func TestLimiterUnlimitedAndCancelled(t *testing.T) {
	if _, err := NewLimiter(0, 1).Wait(context.Background()); err != nil {
		t.Fatalf("no quota: %v", err)
	}
	l := NewLimiter(1, 1) // one a minute
	if _, err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a wait past the deadline = %v, want the deadline", err)
	}
	if tokens := l.bucket.TokensAt(time.Now()); tokens < -0.001 || tokens > 0.01 {
		t.Fatalf("a cancelled wait kept its reservation: %.3f tokens", tokens)
	}
}

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
