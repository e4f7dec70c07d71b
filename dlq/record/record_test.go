package record_test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// A reason parked through FailureOf shows in the record's dlq.* headers
// as the operator reads them, and a record parked again holds one set.
func TestParkOfAReason(t *testing.T) {
	at := time.Date(2027, 1, 15, 9, 30, 0, 0, time.UTC)
	orig := &kgo.Record{Topic: "egisz.rmis.case.v1", Partition: 2, Offset: 17, Key: []byte("k"), Value: []byte("{}"),
		Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("e-1")}}}
	for _, tc := range []struct {
		name   string
		reason topics.Reason
		want   map[string]string // "" : absent
	}{
		{"a field at fault, not retryable",
			topics.Reason{Code: "SNILS_CHECKSUM", Owner: "clinic", Field: "patient.snils", MessageRU: "Неверная контрольная сумма СНИЛС", MessageEN: "SNILS checksum does not match"},
			map[string]string{record.HReason: "SNILS_CHECKSUM", record.HOwner: "clinic", record.HField: "patient.snils",
				record.HMessage: "Неверная контрольная сумма СНИЛС / SNILS checksum does not match", record.HRetryable: "false"}},
		{"no field, retryable",
			topics.Reason{Code: "REGISTRY_UNAVAILABLE", Owner: "operator", Retryable: true, MessageRU: "Реестр недоступен", MessageEN: "registry unavailable"},
			map[string]string{record.HReason: "REGISTRY_UNAVAILABLE", record.HOwner: "operator", record.HField: "",
				record.HMessage: "Реестр недоступен / registry unavailable", record.HRetryable: "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := record.FailureOf(tc.reason)
			f.Stage, f.First, f.Last = "normalize", at, at
			parked := record.Park("egisz.dlq.ingress", orig, f)
			// The same input read again with the headers of its first park.
			back := *orig
			back.Headers = parked.Headers
			again := record.Park("egisz.dlq.ingress", &back, f)
			for _, r := range []*kgo.Record{parked, again} {
				got := map[string][]string{}
				for _, h := range r.Headers {
					got[h.Key] = append(got[h.Key], string(h.Value))
				}
				want := map[string]string{record.HStage: "normalize", record.HOrigTopic: "egisz.rmis.case.v1",
					record.HOrigOffset: "17", record.HFirstFailure: "2027-01-15T09:30:00Z", "ce_id": "e-1"}
				for k, v := range tc.want {
					want[k] = v
				}
				for k, v := range want {
					switch {
					case v == "" && len(got[k]) > 0:
						t.Errorf("%s = %q, want none", k, got[k])
					case v != "" && (len(got[k]) != 1 || got[k][0] != v):
						t.Errorf("%s = %q, want one %q", k, got[k], v)
					}
				}
				if string(r.Key) != "k" || string(r.Value) != "{}" {
					t.Errorf("key and value %q %q, want the original's", r.Key, r.Value)
				}
			}
		})
	}
}
