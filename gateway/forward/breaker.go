package forward

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/egisz-gateway/egisz-gateway/gateway/config"
)

// The circuit breaker of one registry: built here, every attempt passes
// through it (sender.attempt), and while it is open the registry's
// outbound and retry partitions are paused (registry.onBreaker), so that lag
// grows in Kafka instead of retries burning quota and records flooding
// the DLQ. Its callers ask it whether it refuses calls now.

// errUnhealthy marks an answer that counts against the breaker (5xx, 429)
// although it is an answer.
var errUnhealthy = errors.New("registry answered unhealthy")

// retryFailure wraps the failure of a record that is already in a retry
// tier: the breaker ignores it. Those records are the ones known to fail
// (one patient the registry cannot take), and they come back again and
// again; counted, a few such patients would look like an outage and
// pause every other record. Whether the registry is down is for fresh
// traffic to tell.
type retryFailure struct{ err error }

func (r retryFailure) Error() string { return r.err.Error() }
func (r retryFailure) Unwrap() error { return r.err }

// breaker is a registry's gobreaker over one attempt's answer.
type breaker struct {
	cb *gobreaker.CircuitBreaker[answer]
}

func newBreaker(registry string, cfg config.Destination, m *Metrics, onState func(from, to gobreaker.State), log *slog.Logger) *breaker {
	return &breaker{cb: gobreaker.NewCircuitBreaker[answer](gobreaker.Settings{
		Name:         registry,
		MaxRequests:  1, // one probe when half-open
		Interval:     10 * time.Second,
		BucketPeriod: time.Second,
		Timeout:      cfg.BreakerOpen.D(),
		// Open on a run of failures that is also most of the recent
		// traffic, and enough of it: 30% of 503s must not open it, a dead
		// registry must, and one patient's failing records go to the
		// retry tiers instead of stopping everyone.
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.BreakerFailures) && c.TotalFailures*2 >= c.Requests &&
				c.Requests >= uint32(cfg.BreakerMinRequests)
		},
		// A call given up by the gateway (shutdown, rebalance) says nothing about the registry.
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.As(err, new(retryFailure))
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			log.Warn("circuit breaker changed state", "registry", registry, "from", from.String(), "to", to.String())
			m.breaker.WithLabelValues(registry).Set(float64(to))
			if onState != nil {
				onState(from, to)
			}
		},
	})}
}

// execute runs one attempt through the breaker. An unhealthy answer
// counts against it but comes back as an answer; the failure of a retry
// tier's call (inTier) does not count. refused is true when the breaker
// did not let the attempt through.
func (b *breaker) execute(inTier bool, attempt func() (answer, error)) (a answer, refused bool, err error) {
	a, err = b.cb.Execute(func() (answer, error) {
		a, err := attempt()
		if err == nil && a.unhealthy() {
			err = errUnhealthy
		}
		if err != nil && inTier {
			err = retryFailure{err}
		}
		return a, err
	})
	if errors.Is(err, errUnhealthy) {
		return a, false, nil
	}
	var rf retryFailure
	if errors.As(err, &rf) {
		err = rf.err // the caller sees the failure as it was
	}
	refused = errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
	return a, refused, err
}

// open reports whether the breaker refuses calls now.
func (b *breaker) open() bool { return b.cb.State() == gobreaker.StateOpen }

// closed reports whether the breaker lets every call through.
func (b *breaker) closed() bool { return b.cb.State() == gobreaker.StateClosed }

// onBreaker pauses the destination's partitions while the breaker is
// open. Records of the batch in hand wait; if none is left to probe,
// fetching resumes once the breaker would let a probe through, and the
// first record fetched is that probe.
func (s *registry) onBreaker(_, to gobreaker.State) {
	if s.outbound == nil || s.outbound.eos == nil {
		return // not built yet
	}
	switch to {
	case gobreaker.StateOpen:
		s.paused.Store(true)
		for _, st := range s.consumers() {
			st.eos.Client().PauseFetchTopics(st.topic)
		}
		s.m.paused.WithLabelValues(s.reg).Set(1)
		at := time.Now().Add(s.cfg.Dest.BreakerOpen.D())
		s.resumeAt.Store(at.UnixNano())
		time.AfterFunc(s.cfg.Dest.BreakerOpen.D(), func() {
			if s.resumeAt.Load() == at.UnixNano() && s.paused.Load() {
				s.resume("breaker half-open: probing")
			}
		})
	case gobreaker.StateClosed:
		if s.paused.Load() {
			s.resume("breaker closed")
		}
	}
}

func (s *registry) resume(why string) {
	s.paused.Store(false)
	for _, st := range s.consumers() {
		st.eos.Client().ResumeFetchTopics(st.topic)
	}
	s.m.paused.WithLabelValues(s.reg).Set(0)
	s.cfg.Log.Info("outbound partitions resumed", "registry", s.reg, "why", why)
}
