package forward

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq"
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
func (s *Stage) leadReasons(rj rejection) []topics.Reason {
	if len(rj.reasons) > 0 {
		return rj.reasons
	}
	return []topics.Reason{s.dest.Reason(rj.fallback)}
}

// deadLetter is r as the registry's DLQ holds it, with why it failed.
func (s *Stage) deadLetter(r *kgo.Record, rj rejection) *kgo.Record {
	lead := s.leadReasons(rj)[0]
	return dlq.Park(s.dlqTopic, r, dlq.Failure{
		Reason: lead.Code, Message: lead.MessageRU + " / " + lead.MessageEN, Owner: lead.Owner, Field: lead.Field,
		Stage: "forward", Destination: s.reg, Attempts: rj.attempts, First: rj.first, Last: rj.last,
		Retryable: rj.outcome == "failed" || lead.Retryable, HTTPStatus: rj.httpStatus, Response: rj.excerpt,
	})
}

// rejected are the dead letter and the status of r given up on. count
// adds them to the metrics; call it once they are written.
func (s *Stage) rejected(r *kgo.Record, rj rejection) (recs []*kgo.Record, count func()) {
	reasons := s.leadReasons(rj)
	rj.reasons = reasons
	recs = []*kgo.Record{s.deadLetter(r, rj), s.statusRecord(r.Key, r.Headers, rj.outcome, "", reasons, rj.last)}
	return recs, func() {
		s.cfg.DLQ.Parked(s.dlqTopic, reasons[0].Code, reasons[0].Owner)
		s.m.outcomes.WithLabelValues(s.reg, rj.outcome).Inc()
	}
}

// park writes r's dead letter and status to out.
func (s *Stage) park(out *eos.Output, r *kgo.Record, rj rejection) {
	recs, count := s.rejected(r, rj)
	for _, rec := range recs {
		out.Emit(rec)
	}
	count()
}

// emitStatus writes the status of the ingress event behind r.
func (s *Stage) emitStatus(out *eos.Output, r *kgo.Record, outcome, registryID string, reasons []topics.Reason, now time.Time) {
	out.Emit(s.statusRecord(r.Key, r.Headers, outcome, registryID, reasons, now))
	s.m.outcomes.WithLabelValues(s.reg, outcome).Inc()
}

// statusRecord is the status of the ingress event whose outbound record
// had key and headers hs.
func (s *Stage) statusRecord(key []byte, hs []kgo.RecordHeader, outcome, registryID string, reasons []topics.Reason, now time.Time) *kgo.Record {
	get := func(k string) string {
		for _, h := range hs {
			if h.Key == k {
				return string(h.Value)
			}
		}
		return ""
	}
	body, _ := json.Marshal(topics.Status{
		CEID: get("ce_id"), Source: get("ce_source"), Type: get(topics.HeaderOriginType),
		Outcome: outcome, Registry: s.reg, RegistryID: registryID, Reasons: reasons,
		At: topics.DateTime(now.UTC().Format(time.RFC3339Nano)),
	})
	headers := []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_type", Value: []byte(s.statusType)},
		{Key: "content-type", Value: []byte("application/json")},
	}
	for _, k := range []string{"ce_id", "ce_source", "ce_time", "traceparent", "tracestate"} {
		if v := get(k); v != "" {
			headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	return &kgo.Record{Topic: s.status, Key: key, Value: body, Headers: headers}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}
