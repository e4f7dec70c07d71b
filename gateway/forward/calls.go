package forward

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// One record's calls: built and checked, its rounds of attempts within the
// concurrency limit, reconciliation, and the verdict the retry policy and
// the tiers give it.

// forward takes one record to an outcome, retrying transient failures
// (in place, then across breaker waits) until its retry budget is spent,
// or, with retry tiers, until its retries in place are spent or cut short
// (callCtx ends while ctx, the batch's, does not): then it escalates.
func (s *consumer) forward(ctx, callCtx context.Context, r *kgo.Record, res *result, onFail func()) {
	res.first = s.cfg.Now()
	defer func() { res.took = s.cfg.Now().Sub(res.first) }()
	call, err := s.dest.Build(r.Value, cloudevents.Get(r.Headers, topics.HeaderID), s.cfg.CallbackURL)
	call.Send = pending.Resends(r.Headers)
	if err == nil {
		// A request Go's HTTP client would refuse to send fails here, as
		// this record's own fault: sent, the refusal would count against
		// the registry's breaker and stop every tenant's records.
		err = sendable(call)
	}
	if err != nil {
		reason := s.dest.Reason(ReasonUnbuildable)
		reason.MessageEN += ": " + err.Error()
		res.out, res.verdict = Outcome{Result: Park, Reasons: []topics.Reason{reason}}, decided
		return
	}
	for round := 0; ; round++ {
		var failed *Outcome // the last failed attempt of this round
		noteFailure := func(o Outcome) {
			failed = &o
			if onFail != nil {
				onFail()
			}
		}
		cctx := callCtx
		if s.send.breaker.open() {
			cctx = ctx // the batch waits out an outage whole
		}
		out, refused := s.attempts(cctx, call, noteFailure)
		res.sends++
		if out.Result == Retry && ctx.Err() == nil && cctx.Err() != nil && !refused {
			// Cut short: the rest of the batch is done. It goes to a tier
			// with the failure its attempts saw.
			if failed != nil {
				out = *failed
			}
			res.out, res.verdict = out, escalated
			return
		}
		if out.Result == Reconcile {
			out, refused = s.reconcile(ctx, call, out)
		}
		if out.Result != Retry {
			res.out, res.verdict = out, decided
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !refused && !s.send.breaker.open() && s.tiered() {
			// The retries in place are spent: the record waits in a tier,
			// and the partition goes on. An open breaker is different: the
			// registry is down for everyone, and the batch waits for it.
			res.out, res.verdict = out, escalated
			return
		}
		wait, ok := s.policy.Next(round+s.cfg.Dest.Attempts, Failure{Refused: refused || s.send.breaker.open(), RetryAfter: out.RetryAfter},
			s.cfg.Now().Sub(res.first))
		if !ok {
			ex := s.dest.Reason(ReasonRetryExhausted)
			res.out = Outcome{Result: Park, Reasons: append([]topics.Reason{ex}, out.Reasons...), HTTPStatus: out.HTTPStatus, Excerpt: out.Excerpt}
			res.verdict = exhausted
			return
		}
		if sleepCtx(ctx, wait) != nil {
			return
		}
	}
}

// call is one call within the concurrency limit, signed by the
// registry's adapter first, with its attempts in place.
func (s *consumer) call(ctx context.Context, call Call) (Outcome, bool) {
	return s.attempts(ctx, call, nil)
}

// attempts is call, telling onFail of each failed attempt worth another.
func (s *consumer) attempts(ctx context.Context, call Call, onFail func(Outcome)) (Outcome, bool) {
	call, err := s.dest.Sign(ctx, call)
	if err != nil {
		return s.dest.TransportFailure(fmt.Errorf("sign the call: %w", err)), false
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return Outcome{Result: Retry}, false
	}
	s.m.inflight.WithLabelValues(s.reg).Inc()
	out, refused := s.send.send(ctx, call, s.at.retrying(), onFail)
	s.m.inflight.WithLabelValues(s.reg).Dec()
	<-s.sem
	return out, refused
}

// reconcile settles "already registered": the registry's lookup gives its
// id; a registry without a lookup counts the answer as success. When the
// lookup finds nothing, the registry holds the id for another document
// (another organization's or kind's: the MIS reused a localUid), not this
// one: a registry that answers on a callback will send none for a refused
// registration, so the record parks with the registry's own reasons
// rather than waiting pending for ever; a registry without callbacks
// counts it as registered.
func (s *consumer) reconcile(ctx context.Context, call Call, first Outcome) (Outcome, bool) {
	lk, ok := s.dest.Lookup(call)
	if !ok {
		return Outcome{Result: Registered, HTTPStatus: first.HTTPStatus}, false
	}
	out, refused := s.call(ctx, lk)
	switch out.Result {
	case Registered:
		return out, false
	case NotFound:
		if s.dest.Capabilities().Callbacks {
			return Outcome{Result: Park, Reasons: first.Reasons, HTTPStatus: first.HTTPStatus}, false
		}
		return Outcome{Result: Registered, HTTPStatus: first.HTTPStatus}, false
	}
	return out, refused
}
