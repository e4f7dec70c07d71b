package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/normalize"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
	"github.com/egisz-gateway/egisz-gateway/gateway/state"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

type refs struct {
	emp map[string]*topics.Employee
	org map[string]*topics.Organization
	sys map[string]*topics.InformationSystem
}

func (r refs) System(s string) (*topics.InformationSystem, bool) { v, ok := r.sys[s]; return v, ok }
func (r refs) Systems() int                                      { return len(r.sys) }

func (r refs) Employee(s string) (*topics.Employee, bool)         { e, ok := r.emp[s]; return e, ok }
func (r refs) Organization(o string) (*topics.Organization, bool) { v, ok := r.org[o]; return v, ok }
func (r refs) Ready() error                                       { return nil }

type side map[string][]byte

func (s side) Side(t, k string) ([]byte, bool) { v, ok := s[t+"|"+k]; return v, ok }

// TestEveryEventGetsTheOutcomeItSays runs a generated stream through the
// gateway's own decisions (the domain and the dedup rule, without Kafka):
// each event gets the outcome and reason the generator promised.
func TestEveryEventGetsTheOutcomeItSays(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	g := New(Config{Seed: 7, Mix: DefaultMix, Patients: 500, Now: now})
	r := refs{emp: map[string]*topics.Employee{}, org: map[string]*topics.Organization{}, sys: map[string]*topics.InformationSystem{}}
	for _, rec := range g.References() {
		switch {
		case strings.HasSuffix(rec.Topic, topics.FRMREmployee):
			var e topics.Employee
			_ = json.Unmarshal(rec.Value, &e)
			r.emp[e.SNILS] = &e
		case strings.HasSuffix(rec.Topic, topics.InfoSystems):
			// The generator's system: the binding check is on, and its
			// events must pass it.
			var s topics.InformationSystem
			_ = json.Unmarshal(rec.Value, &s)
			r.sys[s.CESource] = &s
		default:
			var o topics.Organization
			_ = json.Unmarshal(rec.Value, &o)
			r.org[o.OID] = &o
		}
	}
	opts := source.DefaultOptions()
	opts.Now = func() time.Time { return now }
	d := normalize.NewDecider(opts, r)
	sd, st := side{}, state.NewStore(0)
	decide := func(ev Event) (string, string) {
		hs := map[string]string{}
		for _, h := range ev.Record.Headers {
			hs[h.Key] = string(h.Value)
		}
		dec := d.Decide(normalize.Input{Topic: ev.Record.Topic, Key: ev.Record.Key, Value: ev.Record.Value, Headers: hs}, now)
		if len(dec.Reasons) == 0 {
			if held, ok := st.Dedup(dec.Event.DedupKey); ok && held.Fingerprint == dec.Fingerprint {
				return Duplicate, ""
			}
			d.Settle(&dec, sd, now)
		}
		if len(dec.Reasons) > 0 {
			return Rejected, dec.Reasons[0].Code
		}
		outcome, _ := st.Decide(dec.Event.DedupKey, dec.Fingerprint, dec.Event.Version, now)
		switch outcome {
		case state.Duplicate:
			return Duplicate, ""
		case state.Conflict:
			return Conflict, "DEDUP_CONFLICT"
		}
		for _, w := range dec.Side {
			sd[w.Table+"|"+w.Key] = w.Value
		}
		if outcome == state.Update {
			return Update, ""
		}
		return Accepted, ""
	}
	for _, ev := range g.Identities() {
		if o, c := decide(ev); o != Accepted {
			t.Fatalf("identity: %s %s", o, c)
		}
	}
	counts := map[string]int{}
	kinds := map[string]int{}
	for i := range 30_000 {
		ev := g.Next()
		o, c := decide(ev)
		counts[ev.Expect+" "+ev.Code]++
		kinds[ev.Kind]++
		if o != ev.Expect || c != ev.Code {
			t.Fatalf("event %d (%s): %s %s, the generator said %s %s\n%s", i, ev.Kind, o, c, ev.Expect, ev.Code, ev.Record.Value)
		}
	}
	t.Logf("outcomes %v, kinds %v", counts, kinds)
	for _, want := range []string{"accepted ", "update ", "duplicate ", "conflict DEDUP_CONFLICT", "rejected SNILS_CHECKSUM",
		"rejected DOCTOR_NOT_IN_FRMR", "rejected SIGNED_OUTSIDE_CERT_VALIDITY", "rejected PATIENT_IDENTITY_MISMATCH"} {
		if counts[want] == 0 {
			t.Errorf("no %q in 30,000 events", want)
		}
	}
	for _, k := range []string{"case", "document", "lab_result", "prescription", "dispensation"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in 30,000 events", k)
		}
	}
	// Poison: every kind twice, each refused for the reason it says.
	seen := map[string]bool{}
	for range 2 * len(poisonKinds) {
		ev := g.Poison()
		seen[ev.Kind] = true
		if o, c := decide(ev); o != ev.Expect || c != ev.Code {
			t.Errorf("%s: %s %s, the generator said %s %s", ev.Kind, o, c, ev.Expect, ev.Code)
		}
		if ev.Kind == "poison_too_large" && len(ev.Record.Value) != MaxPoisonBytes {
			t.Errorf("too large: %d bytes, want %d", len(ev.Record.Value), MaxPoisonBytes)
		}
		if (ev.CEID == "") != (ev.Kind == "poison_no_ce_id") {
			t.Errorf("%s: CEID %q", ev.Kind, ev.CEID)
		}
	}
	if len(seen) != len(poisonKinds) {
		t.Errorf("poison kinds made: %v, want %d kinds", seen, len(poisonKinds))
	}
	// Sizes: each is decided as the generator says; the long header fits
	// the ingress topic.
	for range len(sizeKinds) {
		ev := g.Sized()
		o, c := decide(ev)
		if ev.Kind == "size_headers" {
			if n := recsize.Batch(ev.Record); n > topics.LargeRecordBytes || n < LargeHeaderBytes {
				t.Errorf("size_headers: a record of %d bytes", n)
			}
		}
		if o != ev.Expect || c != ev.Code {
			t.Errorf("%s: %s %s, the generator said %s %s", ev.Kind, o, c, ev.Expect, ev.Code)
		}
		if ev.Kind == "size_headers" {
			continue
		}
		want := map[string]int{"size_under": MaxValueBytes - 1, "size_at": MaxValueBytes, "size_over": MaxValueBytes + 1}[ev.Kind]
		if len(ev.Record.Value) != want {
			t.Errorf("%s: a value of %d bytes, want %d", ev.Kind, len(ev.Record.Value), want)
		}
	}
}

func TestSameSeedSameEvents(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	a, b, c := New(Config{Seed: 1, Now: now}), New(Config{Seed: 1, Now: now}), New(Config{Seed: 2, Now: now})
	differ := false
	for i := range 2000 {
		x, y, z := a.Next(), b.Next(), c.Next()
		if !bytes.Equal(x.Record.Value, y.Record.Value) || x.CEID != y.CEID || string(x.Record.Key) != string(y.Record.Key) {
			t.Fatalf("event %d differs with the same seed", i)
		}
		if !bytes.Equal(x.Record.Value, z.Record.Value) {
			differ = true
		}
	}
	if !differ {
		t.Error("another seed gives the same events")
	}
}

func TestParseMix(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		dup float64
	}{
		{"", true, DefaultMix.Duplicate},
		{"none", true, 0},
		{"duplicate=0.2", true, 0.2},
		{"duplicate=0.2,update=0.1,conflict=0", true, 0.2},
		{"dupes=0.1", false, 0},
		{"duplicate=2", false, 0},
		{"duplicate=0.5,update=0.5", false, 0},
	} {
		m, err := ParseMix(tc.in)
		if (err == nil) != tc.ok || tc.ok && m.Duplicate != tc.dup {
			t.Errorf("ParseMix(%q) = %+v, %v", tc.in, m, err)
		}
	}
}

func TestPayloadPad(t *testing.T) {
	g := New(Config{Seed: 3, Mix: Mix{}, PayloadPad: 1024})
	for range 100 {
		ev := g.Next()
		padded := bytes.Contains(ev.Record.Value, []byte(`"x_pad"`))
		if n := len(ev.Record.Value); n < 1000 || padded && n > 1100 || !json.Valid(ev.Record.Value) {
			t.Fatalf("padded payload of %d bytes (valid %v)", n, json.Valid(ev.Record.Value))
		}
	}
}
