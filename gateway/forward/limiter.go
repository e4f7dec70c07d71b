package forward

import (
	"context"
	"sync"
	"time"
)

// Limiter is a token bucket: rate tokens a second, at most burst saved up.
// Every attempt at a registry takes a token, retries included, because
// the federal quotas count requests, not events.
type Limiter struct {
	rate  float64 // tokens a second; 0 means no limit
	burst float64
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu     sync.Mutex
	tokens float64
	last   time.Time
	waited time.Duration // total time callers spent waiting
}

// NewLimiter returns a bucket for perMinute requests a minute (0: no limit)
// that starts full.
func NewLimiter(perMinute, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	return &Limiter{rate: float64(perMinute) / 60, burst: float64(burst), tokens: float64(burst), now: time.Now, sleep: sleepCtx}
}

// Wait takes a token, waiting for one if the bucket is empty. Callers are
// served in the order they reserve: a reservation is taken at once (the
// bucket may go negative) and the caller sleeps until it is due, so
// concurrent callers cannot starve one another.
func (l *Limiter) Wait(ctx context.Context) error {
	if l == nil || l.rate <= 0 {
		return ctx.Err()
	}
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.burst {
			l.tokens = l.burst
		}
	}
	l.last = now
	l.tokens--
	var wait time.Duration
	if l.tokens < 0 {
		wait = time.Duration(-l.tokens / l.rate * float64(time.Second))
		l.waited += wait
	}
	l.mu.Unlock()
	if wait <= 0 {
		return ctx.Err()
	}
	if err := l.sleep(ctx, wait); err != nil {
		l.mu.Lock()
		l.tokens++ // give the reservation back
		l.mu.Unlock()
		return err
	}
	return nil
}

// Waited is the total time callers have waited for tokens.
func (l *Limiter) Waited() time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waited
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
