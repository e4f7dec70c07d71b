package normalize

import (
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The runtime sees the decider through Domain only: an accepted record's
// verdict names the event as the decider decoded it and carries the note
// Settle needs; a rejected one carries its reasons and nothing else, so
// the runtime routes nothing and writes no side entry for it.
func TestDomainVerdictIsTheDecision(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	dom := d.Domain()
	sd := side{}
	for _, tc := range []struct {
		topic, example string
		side, publish  int // writes Settle adds
	}{
		{topics.ESIAIdentity, "identity.json", 1, 0},
		{topics.RMISCase, "case.json", 0, 0},
		{topics.RMISPrescription, "prescription.json", 1, 1},
		{topics.PharmacyDispense, "dispensation.json", 1, 1},
	} {
		in := input(t, tc.topic, tc.example, nil)
		want := d.Decide(in, now)
		v := dom.Decide(in, now)
		if len(v.Reasons) > 0 || want.Event == nil {
			t.Fatalf("%s rejected: %+v", tc.example, v.Reasons)
		}
		if v.Kind != want.Event.Kind || v.PatientKey != want.Event.PatientKey || v.DedupKey != want.Event.DedupKey ||
			v.Version != want.Event.Version || v.Fingerprint != want.Fingerprint || string(v.Payload) != string(want.Payload) {
			t.Errorf("%s: verdict %+v does not name the decoded event %+v", tc.example, v, want.Event)
		}
		if _, ok := v.Domain.(*Decision); !ok {
			t.Errorf("%s: verdict carries no decision for Settle (%T)", tc.example, v.Domain)
		}
		dom.Settle(in, &v, sd, now)
		if len(v.Reasons) > 0 {
			t.Fatalf("%s rejected by Settle: %+v", tc.example, v.Reasons)
		}
		if len(v.Side) != tc.side || len(v.Publish) != tc.publish {
			t.Errorf("%s: settled with %d side writes and %d records, want %d and %d", tc.example, len(v.Side), len(v.Publish), tc.side, tc.publish)
		}
		sd.apply(Decision{Verdict: v})
	}
}

func TestDomainRejectionCarriesReasonsOnly(t *testing.T) {
	base := NewDecider(source.DefaultOptions(), exampleRefs(t))
	for _, tc := range decisions() {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.decider(t, base)
			dom := d.Domain()
			in, sd, at := tc.input(t, d)
			v := dom.Decide(in, now)
			dom.Settle(in, &v, sd, at)
			found := false
			for _, r := range v.Reasons {
				found = found || r.Code == tc.code && r.Field == tc.field
			}
			if !found {
				t.Errorf("want %s at %q, got %+v", tc.code, tc.field, v.Reasons)
			}
			rest := v
			rest.Reasons = nil
			if rest.Kind != "" || rest.DedupKey != "" || rest.Payload != nil || rest.Routes != nil ||
				rest.Side != nil || rest.Publish != nil || rest.Domain != nil {
				t.Errorf("rejected verdict carries more than its reasons: %+v", rest)
			}
			// Settling a rejection again changes nothing: it has no note.
			again := v
			dom.Settle(in, &again, side{}, at)
			if len(again.Reasons) != len(v.Reasons) {
				t.Errorf("settling a rejection again changed it: %+v", again.Reasons)
			}
		})
	}
}
