package forward

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"
	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// newPending makes the pending documents of an asynchronous registry's
// outbound stage s, with the transactional writer of their callbacks
// (which the stage's WriterStats report).
func newPending(s *Stage) (*pending.Pending, *txWriter, error) {
	topic := s.cfg.Prefix + topics.REMDPendingState
	parts := int32(topics.PatientPartitions)
	if t, ok := s.cfg.Catalog.Lookup(topic); ok && t.Partitions > 0 {
		parts = t.Partitions
	}
	w, err := newTxWriter(s.cfg.ClientOpts, s.cfg.Prefix+s.cfg.InstanceID+"-remd-callback", s.cfg.Log, topic)
	if err != nil {
		return nil, nil, err
	}
	p, err := pending.New(pending.Config{
		Topic: topic, Partitions: parts, Outbound: s.topic, Callback: s.cfg.Callback, ClientOpts: s.cfg.ClientOpts,
		Writer: callbackWriter{w}, Documents: s.cfg.Documents, Metrics: s.m.pending, Now: s.cfg.Now, Log: s.cfg.Log,
	}, pendingStage{s})
	if err != nil {
		w.close()
		return nil, nil, fmt.Errorf("pending documents: %w", err)
	}
	return p, w, nil
}

// callbackWriter is the stage's transactional writer as the pending
// documents write through it.
type callbackWriter struct{ *txWriter }

func (w callbackWriter) Write(ctx context.Context, recs []*kgo.Record) error {
	return w.write(ctx, recs)
}
func (w callbackWriter) Run(ctx context.Context) error { return w.run(ctx) }
func (w callbackWriter) Close()                        { w.close() }

// pendingStage is the outbound stage as its pending documents see it.
type pendingStage struct{ s *Stage }

// Owns is whether the stage holds the outbound partition.
func (ps pendingStage) Owns(part int32) bool { return ps.s.owns(part) }

// Inbound is the registry adapter's authentication and reading of a
// message to the callback listener.
func (ps pendingStage) Inbound(ctx context.Context, contentType string, body []byte) (seam.Inbound, error) {
	return ps.s.dest.Inbound(ctx, contentType, body)
}

// Answer is the registry adapter's answer to a message.
func (ps pendingStage) Answer(ctx context.Context, in seam.Inbound, f seam.File) seam.Answer {
	return ps.s.dest.Answer(ctx, in, f)
}

// releaser is an adapter that remembers the messages it took against
// replays and can forget one the runtime did not act on (remd.Inbox).
type releaser interface{ Release(in seam.Inbound) }

// faulter is an adapter that answers what the runtime refuses in its
// protocol (remd.Inbox: a SOAP Fault).
type faulter interface {
	Fault(contentType string, status int, text string) seam.Answer
}

// Fault is the registry adapter's answer to a message the runtime does
// not take, or plain text when the adapter has no form of its own.
func (ps pendingStage) Fault(contentType string, status int, text string) seam.Answer {
	if f, ok := ps.s.dest.(faulter); ok {
		return f.Fault(contentType, status, text)
	}
	return seam.Answer{Status: status, ContentType: "text/plain; charset=utf-8", Body: []byte(text + "\n")}
}

// Release has the registry adapter forget a message the runtime answered
// 503, when it remembers messages against replays.
func (ps pendingStage) Release(in seam.Inbound) {
	if r, ok := ps.s.dest.(releaser); ok {
		r.Release(in)
	}
}

// Settled builds the status of a registered document, or the dead letter
// and status of a rejected one, as the stage builds every record's.
func (ps pendingStage) Settled(st pending.Settlement, now time.Time) (recs []*kgo.Record, count func()) {
	s := ps.s
	orig := st.Record.Record()
	if st.Action == pending.Register {
		recs = append(recs, s.statusRecord(orig.Key, orig.Headers, "registered", st.Entry.RegistryID, nil, now))
		return recs, func() { s.m.outcomes.WithLabelValues(s.reg, "registered").Inc() }
	}
	return s.rejected(orig, rejection{outcome: "rejected", reasons: st.Reasons, fallback: ReasonCallbackMissing,
		attempts: st.Entry.Resends + 1, first: st.Entry.SentAt, last: now})
}

// LookUp asks the registry what it holds for a document whose callback
// is late.
func (ps pendingStage) LookUp(ctx context.Context, ceID string, value []byte) pending.Lookup {
	s := ps.s
	call, err := s.dest.Build(value, ceID, s.cfg.CallbackURL)
	if err != nil {
		return pending.Lookup{Result: pending.NoLookup}
	}
	lk, ok := s.dest.Lookup(call)
	if !ok {
		return pending.Lookup{Result: pending.NoLookup}
	}
	out, _ := s.call(ctx, lk)
	switch out.Result {
	case Registered:
		return pending.Lookup{Result: pending.Found, RegistryID: out.RegistryID}
	case NotFound:
		return pending.Lookup{Result: pending.NotFound}
	default:
		return pending.Lookup{Result: pending.LookupFailed}
	}
}
