package forward

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The records an outcome writes: a status for the ingress event behind an
// outbound record, and, for a record given up on, its dead letter. They
// are built here only; the stage, its Park (eos.Parker) and the pending
// documents' settlement all call these.

// rejection is what the records of an outbound record given up on say.
type rejection struct {
	outcome    string          // the status: "rejected", or "failed" when transient failures ran out
	reasons    []topics.Reason // the lead reason first
	fallback   string          // the gateway's reason code when reasons is empty
	httpStatus int             // the registry's last answer, 0 for none
	excerpt    string          // its start, masked
	attempts   int
	first      time.Time
	last       time.Time // also the status's time
}

// leadReasons are rj's reasons, the fallback's when there are none.
func (s *registry) leadReasons(rj rejection) []topics.Reason {
	if len(rj.reasons) > 0 {
		return rj.reasons
	}
	return []topics.Reason{s.dest.Reason(rj.fallback)}
}

// deadLetter is r as the registry's DLQ holds it, with why it failed.
func (s *registry) deadLetter(r *kgo.Record, rj rejection) *kgo.Record {
	lead := s.leadReasons(rj)[0]
	return record.Park(s.dlqTopic, r, record.Failure{
		Reason: lead.Code, Message: lead.MessageRU + " / " + lead.MessageEN, Owner: lead.Owner, Field: lead.Field,
		Stage: "forward", Destination: s.reg, Attempts: rj.attempts, First: rj.first, Last: rj.last,
		Retryable: rj.outcome == "failed" || lead.Retryable, HTTPStatus: rj.httpStatus, Response: rj.excerpt,
	})
}

// rejected are the dead letter and the status of r given up on. count
// adds them to the metrics; call it once they are written.
func (s *registry) rejected(r *kgo.Record, rj rejection) (recs []*kgo.Record, count func()) {
	reasons := s.leadReasons(rj)
	rj.reasons = reasons
	recs = []*kgo.Record{s.deadLetter(r, rj), s.statusRecord(r.Key, r.Headers, rj.outcome, "", reasons, rj.last)}
	return recs, func() {
		s.cfg.DLQ.Parked(s.dlqTopic, reasons[0].Code, reasons[0].Owner)
		s.m.outcomes.WithLabelValues(s.reg, rj.outcome).Inc()
	}
}

// park writes r's dead letter and status to out.
func (s *registry) park(out *eos.Output, r *kgo.Record, rj rejection) {
	recs, count := s.rejected(r, rj)
	for _, rec := range recs {
		out.Emit(rec)
	}
	count()
}

// emitStatus writes the status of the ingress event behind r.
func (s *registry) emitStatus(out *eos.Output, r *kgo.Record, outcome, registryID string, reasons []topics.Reason, now time.Time) {
	out.Emit(s.statusRecord(r.Key, r.Headers, outcome, registryID, reasons, now))
	s.m.outcomes.WithLabelValues(s.reg, outcome).Inc()
}

// statusRecord is the status of the ingress event whose outbound record
// had key and headers hs.
func (s *registry) statusRecord(key []byte, hs []kgo.RecordHeader, outcome, registryID string, reasons []topics.Reason, now time.Time) *kgo.Record {
	get := func(k string) string { return cloudevents.Get(hs, k) }
	body, _ := json.Marshal(topics.Status{
		CEID: get(topics.HeaderID), Source: get(topics.HeaderSource), Type: get(topics.HeaderOriginType),
		Outcome: outcome, Registry: s.reg, RegistryID: registryID, Reasons: reasons,
		At: topics.DateTime(now.UTC().Format(time.RFC3339Nano)),
	})
	headers := cloudevents.Carry(cloudevents.Start(s.statusType), func(k string) (string, bool) {
		v := get(k)
		return v, v != ""
	})
	return &kgo.Record{Topic: s.status, Key: key, Value: body, Headers: headers}
}
