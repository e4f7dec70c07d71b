package cda

import "testing"

// FuzzParse holds Parse to its promise on any input: no panic, and a
// header only with the fields it says it requires.
func FuzzParse(f *testing.F) {
	doc, err := Build(sampleHeader())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	f.Add([]byte(`<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>`))
	f.Add([]byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1" extension="2"/></ClinicalDocument>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Parse(data)
		if err != nil {
			return
		}
		if h.ID.Root == "" || h.SetID.Root == "" || h.Version < 1 || h.EffectiveTime.IsZero() || len(h.Authors) == 0 || h.CustodianOID == "" {
			t.Fatalf("Parse accepted a header without its required fields: %+v", h)
		}
	})
}
