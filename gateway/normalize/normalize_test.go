package normalize

import (
	"encoding/json"
	"reflect"
	"testing"

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
