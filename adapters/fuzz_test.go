package adapters_test

import (
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// fuzzAdapter checks, for any value, that the topic's adapter neither
// panics nor stalls nor loses the record: it returns an event or a
// rejection, never both and never neither; every code is in the catalog;
// no rejection text quotes a СНИЛС; an accepted event is fully keyed and
// its payload encodes.
func fuzzAdapter(f *testing.F, topic string) {
	f.Add(readExample(f, topic))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"patient":{"snils":"112-233-445 95"}}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Add([]byte(`[{"a":[[[[[[]]]]]]}]`))
	a := adapters.Sources(source.DefaultOptions())[topic]
	cat := reasons.Default()
	f.Fuzz(func(t *testing.T, value []byte) {
		start := time.Now()
		ev, rej := a.Decode(metaFor(a), value)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("decoding %d bytes took %s", len(value), d)
		}
		if (ev == nil) == (rej == nil) {
			t.Fatalf("event %v and rejection %v", ev, rej)
		}
		if rej != nil {
			if len(rej.Problems) == 0 {
				t.Fatal("a rejection without problems")
			}
			for _, p := range rej.Problems {
				if _, ok := cat.Lookup(p.Code); !ok {
					t.Fatalf("code %s not in the catalog", p.Code)
				}
			}
			if snilsLike.MatchString(rej.Error()) {
				t.Fatalf("rejection text quotes a СНИЛС-like number: %s", rej.Error())
			}
			return
		}
		if ev.PatientKey == "" || ev.BusinessID == "" || ev.DedupKey == "" {
			t.Fatalf("accepted without keys: %+v", ev)
		}
		if _, err := ev.MarshalPayload(); err != nil {
			t.Fatalf("accepted payload does not encode: %v", err)
		}
	})
}

func FuzzCase(f *testing.F)         { fuzzAdapter(f, topics.RMISCase) }
func FuzzDocument(f *testing.F)     { fuzzAdapter(f, topics.RMISDocument) }
func FuzzPrescription(f *testing.F) { fuzzAdapter(f, topics.RMISPrescription) }
func FuzzLabResult(f *testing.F)    { fuzzAdapter(f, topics.LabResult) }
func FuzzDispensation(f *testing.F) { fuzzAdapter(f, topics.PharmacyDispense) }
func FuzzIdentity(f *testing.F)     { fuzzAdapter(f, topics.ESIAIdentity) }
func FuzzEmployee(f *testing.F)     { fuzzAdapter(f, topics.FRMREmployee) }
func FuzzOrganization(f *testing.F) { fuzzAdapter(f, topics.FRMOOrganization) }
func FuzzSystem(f *testing.F)       { fuzzAdapter(f, topics.InfoSystems) }

// BenchmarkDecode measures decode, validation and keying of one example
// event of each source.
func BenchmarkDecode(b *testing.B) {
	srcs := adapters.Sources(source.DefaultOptions())
	for _, topic := range []string{topics.RMISCase, topics.RMISDocument, topics.RMISPrescription, topics.LabResult,
		topics.PharmacyDispense, topics.ESIAIdentity, topics.FRMREmployee, topics.FRMOOrganization} {
		a := srcs[topic]
		value := readExample(b, topic)
		meta := metaFor(a)
		b.Run(examples[topic], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				if _, rej := a.Decode(meta, value); rej != nil {
					b.Fatal(rej)
				}
			}
		})
	}
}
