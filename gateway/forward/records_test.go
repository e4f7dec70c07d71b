package forward

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// TestRejectedRecords: every record given up on (a refusal, transient
// failures run out, a callback's rejection) gets a dead letter and a
// status built in one place, which keeps the lead reason's field and the
// registry's HTTP status (the pending documents' copy once dropped both).
func TestRejectedRecords(t *testing.T) {
	first := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	last := first.Add(time.Hour)
	field := topics.Reason{Code: "PATIENT_SNILS", Owner: "mis", Field: "patient.snils", MessageRU: "р", MessageEN: "e"}
	for _, tc := range []struct {
		name                    string
		rj                      rejection
		wantReason, wantField   string
		wantHTTP, wantRetryable string
		wantStatus              string
		wantReasons             int
	}{
		{"refused by the registry", rejection{outcome: "rejected", reasons: []topics.Reason{field}, fallback: ReasonRetryExhausted,
			httpStatus: 422, excerpt: "{}", attempts: 1, first: first, last: last}, "PATIENT_SNILS", "patient.snils", "422", "false", "rejected", 1},
		{"a callback's rejection", rejection{outcome: "rejected", reasons: []topics.Reason{field}, fallback: ReasonCallbackMissing,
			attempts: 2, first: first, last: last}, "PATIENT_SNILS", "patient.snils", "", "false", "rejected", 1},
		{"no reason given: the fallback's", rejection{outcome: "rejected", fallback: ReasonCallbackMissing, attempts: 1, first: first, last: last},
			ReasonCallbackMissing, "", "", "false", "rejected", 1},
		{"transient failures ran out", rejection{outcome: "failed", reasons: []topics.Reason{{Code: ReasonRetryExhausted}, field}, httpStatus: 503,
			attempts: 9, first: first, last: last}, ReasonRetryExhausted, "", "503", "true", "failed", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &registry{cfg: Config{DLQ: record.NewMetrics(nil)}, dest: statusOnly{}, m: NewMetrics(nil), reg: "erx",
				dlqTopic: "egisz.dlq.erx", status: "egisz.status"}
			orig := &kgo.Record{Topic: "egisz.outbound.erx", Key: []byte("k"), Value: []byte(`{}`),
				Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("id-1")}, {Key: "ce_source", Value: []byte("mis")}}}
			recs, count := s.rejected(orig, tc.rj)
			if len(recs) != 2 {
				t.Fatalf("%d records, want a dead letter and a status", len(recs))
			}
			dead, status := recs[0], recs[1]
			h := func(k string) string { return cloudevents.Get(dead.Headers, k) }
			if dead.Topic != "egisz.dlq.erx" || h(record.HReason) != tc.wantReason || h(record.HField) != tc.wantField ||
				h(record.HHTTPStatus) != tc.wantHTTP || h(record.HRetryable) != tc.wantRetryable || h(record.HDestination) != "erx" {
				t.Errorf("dead letter on %s: reason %q field %q http %q retryable %q destination %q", dead.Topic,
					h(record.HReason), h(record.HField), h(record.HHTTPStatus), h(record.HRetryable), h(record.HDestination))
			}
			var st topics.Status
			if err := json.Unmarshal(status.Value, &st); err != nil {
				t.Fatal(err)
			}
			if status.Topic != "egisz.status" || st.Outcome != tc.wantStatus || st.CEID != "id-1" || len(st.Reasons) != tc.wantReasons ||
				st.Reasons[0].Code != tc.wantReason {
				t.Errorf("status %+v on %s", st, status.Topic)
			}
			outcomes := func() float64 { return testutil.ToFloat64(s.m.outcomes.WithLabelValues("erx", tc.wantStatus)) }
			if outcomes() != 0 {
				t.Fatal("counted before count()")
			}
			count()
			if outcomes() != 1 {
				t.Errorf("outcome counter %v after count(), want 1", outcomes())
			}
		})
	}
}
