package normalize

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

func TestOutboundBodyEqualsTheEncodedEnvelope(t *testing.T) {
	payload := json.RawMessage(`{"case_id":{"root":"1.2.3","extension":"<x>&"},"diagnoses":[{"code":"J06.9"}]}`)
	env := topics.OutboundEvent{Kind: "case", PatientKey: "11223344595", DedupKey: "11223344595|case|1.2.3:<x>&", Version: 3, Update: true,
		Source: "1.2.643", ReceivedAt: "2024-03-20T12:00:00Z"}
	got := outboundBody(env, payload)
	env.Event = payload
	want, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("spliced body is not JSON: %v\n%s", err, got)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("spliced body differs:\n got %s\nwant %s", got, want)
	}
}

// TestStatusNamesTheIngressRecord: every normalize status names its ingress
// record, so that an event sent without ce_id (whose status has an empty
// ce_id) can still be matched by its publisher.
func TestStatusNamesTheIngressRecord(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		outcome string
	}{
		{"without ce_id", map[string]string{"ce_source": "1.2.643.5.1.13.13.12.1.42.202", "ce_type": "ru.egisz.rmis.case.v1"}, "rejected"},
		{"with ce_id", map[string]string{"ce_id": "case-0001", "ce_source": "1.2.643.5.1.13.13.12.1.42.202", "ce_type": "ru.egisz.rmis.case.v1"}, "accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &kgo.Record{Topic: "test.egisz.rmis.case.v1", Partition: 4, Offset: 1742}
			body := statusBody(r, Input{Topic: "egisz.rmis.case.v1", Headers: tc.headers}, tc.outcome, nil, at)
			var st topics.Status
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatal(err)
			}
			if st.CEID != tc.headers["ce_id"] || st.Outcome != tc.outcome {
				t.Errorf("status %+v", st)
			}
			if st.Ingress == nil || *st.Ingress != (topics.IngressRef{Topic: "test.egisz.rmis.case.v1", Partition: 4, Offset: 1742}) {
				t.Errorf("ingress %+v, want the record's prefixed topic, partition 4, offset 1742", st.Ingress)
			}
			// Offset 0 and partition 0 are real places: they must be written.
			r0 := &kgo.Record{Topic: "egisz.rmis.case.v1"}
			if b := statusBody(r0, Input{Headers: tc.headers}, tc.outcome, nil, at); !strings.Contains(string(b), `"ingress":{"topic":"egisz.rmis.case.v1","partition":0,"offset":0}`) {
				t.Errorf("first record of partition 0: %s", b)
			}
		})
	}
}

// TestCarriedHeadersAreBounded: a source's header value rides on every
// record the gateway writes for its event, the status of its rejection
// included; a 950 KB ce_id is cut to a kilobyte with its length, so the
// status can still be written, while a value within bounds is kept whole.
func TestCarriedHeadersAreBounded(t *testing.T) {
	long := strings.Repeat("a", 950_000)
	for _, tc := range []struct {
		name, ceID string
		wantLen    int
		wantWhole  bool
	}{
		{"a UUID", "3f2a6c1e-5b7d-4c8e-9a0b-1c2d3e4f5a6b", 36, true},
		{"exactly the bound", strings.Repeat("b", maxCarried), maxCarried, true},
		{"950 KB", long, maxCarried + len("…(950000 bytes in all)"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Headers: map[string]string{"ce_id": tc.ceID, "ce_source": "1.2.643", "ce_type": "ru.egisz.rmis.case.v1"}}
			var got string
			for _, h := range forwardHeaders(in.Headers, "ru.egisz.status.v1") {
				if h.Key == "ce_id" {
					got = string(h.Value)
				}
			}
			if len(got) != tc.wantLen || (got == tc.ceID) != tc.wantWhole {
				t.Errorf("carried ce_id of %d bytes (whole %v), want %d (whole %v)", len(got), got == tc.ceID, tc.wantLen, tc.wantWhole)
			}
			var st topics.Status
			body := statusBody(&kgo.Record{}, in, "rejected", nil, time.Now())
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatal(err)
			}
			if st.CEID != got || len(body) > 2*maxCarried+512 {
				t.Errorf("status ce_id of %d bytes in a body of %d, want the carried %d", len(st.CEID), len(body), len(got))
			}
		})
	}
}
