package normalize

import (
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// asPatient sets the patient of an example event to another СНИЛС.
func asPatient(snils string) func(map[string]any) {
	return func(m map[string]any) {
		p := m["patient"].(map[string]any)
		p["snils"] = snils
		delete(p, "enp")
	}
}

// inputFor is an example record for a patient, keyed by its СНИЛС.
func inputFor(t *testing.T, topic, example, snils string, edit func(map[string]any)) Input {
	t.Helper()
	in := input(t, topic, example, func(m map[string]any) {
		asPatient(snils)(m)
		if edit != nil {
			edit(m)
		}
	})
	in.Key = []byte(snils)
	return in
}

// TestSameBusinessIDUnderAnotherPatientIsACrossPatientDuplicate walks each
// kind of event with a business id through Decide and Claim: the first
// patient owns the id, the same patient again passes, another patient is
// refused naming both masked. Today (without Claim) the second patient's
// event is accepted: the dedup key begins with the patient key.
func TestSameBusinessIDUnderAnotherPatientIsACrossPatientDuplicate(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	first, second := ident.MakeSNILS(300_000_001), ident.MakeSNILS(300_000_002)
	for _, tc := range []struct {
		topic, example string
		// other changes the business id, so the second patient's event is
		// no duplicate.
		other func(map[string]any)
	}{
		{topics.RMISCase, "case.json", func(m map[string]any) { m["case_id"].(map[string]any)["extension"] = "OTHER-1" }},
		// The same case id at another MO is another case.
		{topics.RMISCase, "case.json", nil},
		{topics.RMISDocument, "document.json", func(m map[string]any) { m["set_id"].(map[string]any)["extension"] = "OTHER-2" }},
		{topics.RMISPrescription, "prescription.json", func(m map[string]any) { m["number"] = "999999" }},
		{topics.LabResult, "lab_result.json", func(m map[string]any) { m["sample"].(map[string]any)["id"].(map[string]any)["extension"] = "OTHER-3" }},
	} {
		t.Run(tc.example, func(t *testing.T) {
			sd := side{}
			claim := func(in Input) (Decision, []topics.Reason) {
				t.Helper()
				dec := d.Decide(in, now)
				d.Settle(&dec, sd, now)
				if len(dec.Reasons) > 0 {
					t.Fatalf("rejected before the owner check: %+v", dec.Reasons)
				}
				if dec.Owner == "" {
					t.Fatal("no owner key")
				}
				ws, rs := d.Claim(dec.Owner, dec.Event.PatientKey, sd)
				for _, w := range ws {
					sd[w.Table+"|"+w.Key] = w.Value
				}
				return dec, rs
			}
			if _, rs := claim(inputFor(t, tc.topic, tc.example, first, nil)); rs != nil {
				t.Fatalf("first patient refused: %+v", rs)
			}
			if _, rs := claim(inputFor(t, tc.topic, tc.example, first, func(m map[string]any) { m["version"] = 9 })); rs != nil {
				t.Fatalf("same patient again refused: %+v", rs)
			}
			_, rs := claim(inputFor(t, tc.topic, tc.example, second, nil))
			if len(rs) != 1 || rs[0].Code != reasons.CrossPatient || rs[0].Field != "patient" {
				t.Fatalf("second patient: reasons %+v, want one %s", rs, reasons.CrossPatient)
			}
			msg := rs[0].MessageEN + rs[0].MessageRU
			for _, want := range []string{ident.MaskSNILS(first), ident.MaskSNILS(second)} {
				if !strings.Contains(msg, want) {
					t.Errorf("reason %q does not name %s", msg, want)
				}
			}
			for _, clear := range []string{first, second} {
				if strings.Contains(msg, clear) {
					t.Errorf("reason %q has a СНИЛС in clear", msg)
				}
			}
			if rs[0].Owner == "" || rs[0].MessageRU == "" {
				t.Errorf("reason without owner or Russian text: %+v", rs[0])
			}
			// The first patient keeps the id: refused again, still naming it.
			if _, rs := claim(inputFor(t, tc.topic, tc.example, second, nil)); len(rs) != 1 || !strings.Contains(rs[0].MessageEN, ident.MaskSNILS(first)) {
				t.Errorf("second try: %+v", rs)
			}
			edit := tc.other
			if edit == nil { // the case at another MO has another owner key
				dec := d.Decide(inputFor(t, tc.topic, tc.example, second, nil), now)
				c := *dec.Event.Payload.(*topics.CaseEvent)
				c.MOOID = "1.2.643.5.1.13.13.12.1.42.999"
				if k := OwnerKey(&source.Event{Payload: &c}); k == "" || k == dec.Owner {
					t.Errorf("the same case id at another MO has owner key %q, at the first %q", k, dec.Owner)
				}
				return
			}
			if _, rs := claim(inputFor(t, tc.topic, tc.example, second, edit)); rs != nil {
				t.Errorf("another business id for the second patient refused: %+v", rs)
			}
		})
	}
}

func TestOwnerKeyOfEachKind(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	for _, tc := range []struct {
		topic, example string
		want           string // prefix of the owner key; empty: none
	}{
		{topics.RMISCase, "case.json", "case|1.2.643.5.1.13.13.12.1.42.202|"},
		{topics.RMISDocument, "document.json", "document|"},
		{topics.RMISPrescription, "prescription.json", "prescription|"},
		{topics.LabResult, "lab_result.json", "lab|"},
		{topics.PharmacyDispense, "dispensation.json", "prescription|"},
		{topics.ESIAIdentity, "identity.json", ""},
	} {
		dec := d.Decide(input(t, tc.topic, tc.example, nil), now)
		if len(dec.Reasons) > 0 {
			t.Fatalf("%s rejected: %+v", tc.example, dec.Reasons)
		}
		if tc.want == "" && dec.Owner != "" || !strings.HasPrefix(dec.Owner, tc.want) {
			t.Errorf("%s: owner key %q, want prefix %q", tc.example, dec.Owner, tc.want)
		}
	}
}

func TestClaimTakesOverAnEntryItCannotRead(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	for _, held := range [][]byte{nil, {}, {9, 1, 2}, {2, 0, 0, 0, 0, 0, 0, 0, 0}} {
		sd := side{OwnerTable + "|k": held}
		ws, rs := d.Claim("k", "11223344595", sd)
		if rs != nil || len(ws) != 1 {
			t.Errorf("held %v: writes %v, reasons %+v; want the entry taken over", held, ws, rs)
			continue
		}
		o, err := decodeOwner(ws[0].Value)
		if err != nil || o.masked != ident.MaskSNILS("11223344595") {
			t.Errorf("held %v: wrote %+v, %v", held, o, err)
		}
	}
}
