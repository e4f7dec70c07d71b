package forward

import (
	"math/rand/v2"
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// RetryPolicy is when a call that failed transiently goes again: capped
// exponential backoff with jitter, the registry's Retry-After honoured up
// to a cap, a short pause while the breaker refuses calls, and a budget
// past which the record is given up on. Every wait between two attempts
// at a registry comes from Next, the attempts in place and the stage's
// rounds alike.
type RetryPolicy struct {
	Attempts      int           // attempts in place before a call counts as failed
	BackoffMin    time.Duration // the first wait; it doubles
	BackoffMax    time.Duration // the longest wait
	RetryAfterMax time.Duration // a Retry-After is honoured up to this long
	Budget        time.Duration // a record failing transiently this long is given up on
	// Jitter returns a number in [0, n]; nil is math/rand/v2's.
	Jitter func(n int64) int64
}

// Failure is what the attempt before the next one met.
type Failure struct {
	// Refused: the breaker refused the attempt or is open. The wait is
	// short: the breaker, not the backoff, decides when calls go again.
	Refused bool
	// RetryAfter is the registry's advice, 0 for none.
	RetryAfter time.Duration
}

// breakerPause is the wait after a refusal by the breaker, before jitter.
const breakerPause = 100 * time.Millisecond

// NewRetryPolicy is the policy of a registry's settings.
func NewRetryPolicy(d config.Destination) RetryPolicy {
	return RetryPolicy{Attempts: d.Attempts, BackoffMin: d.BackoffMin.D(), BackoffMax: d.BackoffMax.D(),
		RetryAfterMax: d.RetryAfterMax.D(), Budget: d.RetryBudget.D()}
}

// Next decides the next attempt after attempt (the count of attempts made,
// or of backoff steps taken) failed with f, elapsed after the record's
// first attempt: ok is false once the budget is spent; otherwise wait is
// how long to wait before it.
func (p RetryPolicy) Next(attempt int, f Failure, elapsed time.Duration) (wait time.Duration, ok bool) {
	if elapsed >= p.Budget {
		return 0, false
	}
	switch {
	case f.Refused:
		return breakerPause + p.backoff(50*time.Millisecond, 200*time.Millisecond, 1), true
	case f.RetryAfter > 0:
		return min(f.RetryAfter, p.RetryAfterMax), true
	}
	return p.backoff(p.BackoffMin, p.BackoffMax, attempt), true
}

// backoff is minWait doubled attempt times, capped at maxWait, with full
// jitter over its upper half.
func (p RetryPolicy) backoff(minWait, maxWait time.Duration, attempt int) time.Duration {
	d := minWait << min(max(attempt, 0), 30)
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	jitter := p.Jitter
	if jitter == nil {
		jitter = func(n int64) int64 { return rand.Int64N(n + 1) }
	}
	return d/2 + time.Duration(jitter(int64(d/2)))
}
