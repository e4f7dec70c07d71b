package forward

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a registry's quota: a token bucket of perMinute tokens a
// minute, at most burst saved up. Every attempt at a registry takes a
// token, retries included, because the federal quotas count requests, not
// events. The bucket is golang.org/x/time/rate's; this type adds the
// injectable clock and sleep the tests run it on, and reports how long
// each call waited, which its caller counts.
type Limiter struct {
	bucket *rate.Limiter // nil: no limit
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

// NewLimiter returns a bucket for perMinute requests a minute (0: no limit)
// that starts full.
func NewLimiter(perMinute, burst int) *Limiter {
	l := &Limiter{now: time.Now, sleep: sleepCtx}
	if perMinute > 0 {
		l.bucket = rate.NewLimiter(rate.Limit(float64(perMinute)/60), max(burst, 1))
	}
	return l
}

// Wait takes a token, waiting for one if the bucket is empty, and returns
// how long this call waited. Callers are served in the order they
// reserve: a reservation is taken at once (the bucket may go negative)
// and the caller sleeps until it is due, so concurrent callers cannot
// starve one another. A wait ended by ctx gives its reservation back and
// reports the time it did wait.
func (l *Limiter) Wait(ctx context.Context) (time.Duration, error) {
	if l == nil || l.bucket == nil {
		return 0, ctx.Err()
	}
	now := l.now()
	r := l.bucket.ReserveN(now, 1) // burst ≥ 1: always OK
	wait := r.DelayFrom(now)
	if wait <= 0 {
		return 0, ctx.Err()
	}
	if err := l.sleep(ctx, wait); err != nil {
		at := l.now()
		r.CancelAt(at)
		return min(at.Sub(now), wait), err
	}
	return wait, nil
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
