package normalize

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// refs is reference data in memory: the examples' doctor, laboratory
// doctor and organizations, as the ФРМР and ФРМО feeds carry them.
type refs struct {
	employees map[string]*topics.Employee
	orgs      map[string]*topics.Organization
	systems   map[string]*topics.InformationSystem // empty: the binding check is off
	loading   bool
}

func (r refs) System(s string) (*topics.InformationSystem, bool) { x, ok := r.systems[s]; return x, ok }
func (r refs) Systems() int                                      { return len(r.systems) }

// withSystems is r with the systems feed holding the examples' systems,
// each changed by edit when given.
func (r refs) withSystems(t *testing.T, edit func(*topics.InformationSystem)) refs {
	t.Helper()
	r.systems = map[string]*topics.InformationSystem{}
	for _, name := range []string{"information_system.json", "information_system_lab.json"} {
		var s topics.InformationSystem
		if err := json.Unmarshal(topics.Example(name), &s); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&s)
		}
		r.systems[s.CESource] = &s
	}
	return r
}

func (r refs) Employee(s string) (*topics.Employee, bool)         { e, ok := r.employees[s]; return e, ok }
func (r refs) Organization(o string) (*topics.Organization, bool) { x, ok := r.orgs[o]; return x, ok }
func (r refs) Ready() error {
	if r.loading {
		return errors.New("loading")
	}
	return nil
}

func exampleRefs(t testing.TB) refs {
	t.Helper()
	r := refs{employees: map[string]*topics.Employee{}, orgs: map[string]*topics.Organization{}}
	for _, name := range []string{"employee.json", "employee_lab.json"} {
		var e topics.Employee
		if err := json.Unmarshal(topics.Example(name), &e); err != nil {
			t.Fatal(err)
		}
		src := source.Check{}
		src.SNILS("snils", &e.SNILS)
		r.employees[e.SNILS] = &e
	}
	for _, name := range []string{"organization.json", "organization_lab.json"} {
		var o topics.Organization
		if err := json.Unmarshal(topics.Example(name), &o); err != nil {
			t.Fatal(err)
		}
		r.orgs[o.OID] = &o
	}
	return r
}

// side is a side table in memory.
type side map[string][]byte

func (s side) Side(table, key string) ([]byte, bool) { v, ok := s[table+"|"+key]; return v, ok }

// apply makes the side writes of an accepted decision.
func (s side) apply(dec Decision) {
	for _, w := range dec.Side {
		s[w.Table+"|"+w.Key] = w.Value
	}
}

func input(t testing.TB, topic, example string, edit func(map[string]any)) Input {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(topics.Example(example), &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	tp, _ := topics.Default().Lookup(topic)
	return Input{Topic: topic, Key: []byte("11223344595"), Value: b, Headers: map[string]string{
		"ce_specversion": "1.0", "ce_id": "e1", "ce_source": "1.2.643.5.1.13.13.12.1.42.202", "ce_type": tp.EventType}}
}

// now is after every example's moments and before any of them expires.
var now = time.Date(2027, 1, 15, 12, 0, 0, 0, time.UTC)

func TestExamplesPassAndGoWhereTheyShould(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	sd := side{}
	for _, tc := range []struct {
		topic, example string
		routes         []string
	}{
		{topics.RMISCase, "case.json", []string{"egisz.out.iemk.v1"}},
		{topics.RMISDocument, "document.json", []string{"egisz.out.remd.v1"}},
		{topics.RMISPrescription, "prescription.json", []string{"egisz.out.erx.v1"}},
		{topics.LabResult, "lab_result.json", []string{"egisz.out.iemk.v1"}},
		{topics.PharmacyDispense, "dispensation.json", []string{"egisz.out.erx.v1"}},
		{topics.ESIAIdentity, "identity.json", nil},
	} {
		dec := d.Decide(input(t, tc.topic, tc.example, nil), now)
		d.Settle(&dec, sd, now) // the dispensation finds the prescription before it
		sd.apply(dec)
		if len(dec.Reasons) > 0 {
			t.Errorf("%s rejected: %+v", tc.example, dec.Reasons)
			continue
		}
		if len(dec.Routes) != len(tc.routes) {
			t.Errorf("%s: routes %v, want %v", tc.example, dec.Routes, tc.routes)
			continue
		}
		for i := range tc.routes {
			if dec.Routes[i] != tc.routes[i] {
				t.Errorf("%s: routes %v, want %v", tc.example, dec.Routes, tc.routes)
			}
		}
		if dec.Fingerprint == 0 || len(dec.Payload) == 0 {
			t.Errorf("%s: no fingerprint or payload", tc.example)
		}
	}
}

// decisionTest is a record the decider must reject, with the code and field.
type decisionTest struct {
	name, topic, example string
	edit                 func(map[string]any)
	side                 func(t *testing.T, d *Decider) side
	key                  string
	at                   time.Time // when Settle decides; default now
	code, field          string
	// systems, when set, fills the systems feed (the examples' systems,
	// changed by it), and the record comes from ceSource when set: such a
	// record must pass while the feed is empty.
	systems  func(*topics.InformationSystem)
	ceSource string
	// rules, when set, are the decider's configurable checks; such a
	// record must pass without them.
	rules *Rules
}

// configured reports whether the case needs a decider of its own (a
// systems feed, configurable rules) rather than the examples' one.
func (tc decisionTest) configured() bool { return tc.systems != nil || tc.rules != nil }

// decider is the decider the case runs against: base, or one with the
// case's systems feed and rules.
func (tc decisionTest) decider(t *testing.T, base *Decider) *Decider {
	if !tc.configured() {
		return base
	}
	r := exampleRefs(t)
	if tc.systems != nil {
		r = r.withSystems(t, tc.systems)
	}
	d := NewDecider(source.DefaultOptions(), r)
	if tc.rules != nil {
		d = d.WithRules(*tc.rules)
	}
	return d
}

// input is the case's record, its side tables under d and the moment of Settle.
func (tc decisionTest) input(t *testing.T, d *Decider) (Input, side, time.Time) {
	in, sd, at := decisionCase(t, d, tc.topic, tc.example, tc.edit, tc.key, tc.side, tc.at)
	if tc.ceSource != "" {
		in.Headers["ce_source"] = tc.ceSource
	}
	return in, sd, at
}

// decisions lists records the decider must reject, with the code and field.
func decisions() []decisionTest {
	set := func(path []string, v any) func(map[string]any) {
		return func(m map[string]any) {
			cur := m
			for _, p := range path[:len(path)-1] {
				cur = cur[p].(map[string]any)
			}
			cur[path[len(path)-1]] = v
		}
	}
	identityAs := func(action string, edit func(map[string]any)) func(t *testing.T, d *Decider) side {
		return func(t *testing.T, d *Decider) side {
			in := input(t, topics.ESIAIdentity, "identity.json", func(m map[string]any) {
				m["action"] = action
				m["consent_scope"] = "egisz-exchange"
				if edit != nil {
					edit(m)
				}
			})
			dec := d.Decide(in, now)
			d.Settle(&dec, side{}, time.Now())
			if len(dec.Reasons) > 0 {
				t.Fatalf("identity event rejected: %+v", dec.Reasons)
			}
			out := side{}
			out.apply(dec)
			return out
		}
	}
	issued := func(t *testing.T, d *Decider) side {
		dec := d.Decide(input(t, topics.RMISPrescription, "prescription.json", nil), now)
		d.Settle(&dec, side{}, now)
		if len(dec.Reasons) > 0 || len(dec.Side) != 1 {
			t.Fatalf("prescription: %+v, side writes %+v", dec.Reasons, dec.Side)
		}
		out := side{}
		out.apply(dec)
		return out
	}
	return []decisionTest{
		{name: "dispensation of an unknown prescription", topic: topics.PharmacyDispense, example: "dispensation.json",
			code: reasons.RxUnknown, field: "prescription_number"},
		{name: "cancellation before the prescription", topic: topics.RMISPrescription, example: "prescription.json",
			edit: func(m map[string]any) { m["action"], m["cancel_reason"] = "cancelled", "ошибка" }, code: reasons.RxUnknown, field: "number"},
		{name: "dispensation beyond the quantity", topic: topics.PharmacyDispense, example: "dispensation.json",
			edit: set([]string{"quantity", "value"}, 3), side: issued, code: reasons.RxQuantityExceeded, field: "quantity.value"},
		{name: "dispensation in another unit", topic: topics.PharmacyDispense, example: "dispensation.json",
			edit: set([]string{"quantity", "unit"}, "таблетка"), side: issued, code: reasons.RxUnitMismatch, field: "quantity.unit"},
		{name: "dispensation decided after the last valid day, before the timer", topic: topics.PharmacyDispense, example: "dispensation.json",
			side: issued, at: time.Date(2036, 4, 20, 0, 0, 0, 0, datetime.Moscow), code: reasons.RxExpired, field: "prescription_number"},
		{name: "cancellation decided after the last valid day, before the timer", topic: topics.RMISPrescription, example: "prescription.json",
			edit: func(m map[string]any) { m["action"], m["cancel_reason"] = "cancelled", "ошибка" },
			side: issued, at: time.Date(2036, 4, 19, 21, 0, 0, 0, time.UTC), code: reasons.RxExpired, field: "action"},
		{name: "unknown MO", topic: topics.RMISCase, example: "case.json",
			edit: func(m map[string]any) {
				m["mo_oid"] = "1.2.643.5.1.13.13.12.1.42.999"
				m["case_id"].(map[string]any)["root"] = "1.2.643.5.1.13.13.12.1.42.999.100.1.1.15"
			}, code: reasons.MONotInFRMO, field: "mo_oid"},
		{name: "MO not yet open", topic: topics.RMISPrescription, example: "prescription.json",
			edit: set([]string{"issued_at"}, "2011-05-01T10:00:00+03:00"), code: reasons.MOInactive, field: "mo_oid"},
		{name: "doctor not in ФРМР", topic: topics.RMISCase, example: "case.json",
			edit: set([]string{"doctor", "snils"}, "112-233-445 95"), code: reasons.DoctorNotInFRMR, field: "doctor"},
		{name: "doctor without a post then", topic: topics.RMISCase, example: "case.json",
			edit: func(m map[string]any) {
				m["opened_at"] = "2019-03-18T09:10:00+03:00" // before the post began in 2019-09
				delete(m, "visits")
			}, code: reasons.DoctorPostMismatch, field: "doctor"},
		{name: "doctor claims a post ФРМР does not list", topic: topics.RMISCase, example: "case.json",
			edit: set([]string{"doctor", "post_code"}, "27"), code: reasons.DoctorPostMismatch, field: "doctor.post_code"},
		{name: "visit's doctor claims post 999", topic: topics.RMISCase, example: "case.json",
			edit: func(m map[string]any) {
				m["visits"].([]any)[0].(map[string]any)["doctor"].(map[string]any)["post_code"] = "999"
			}, code: reasons.DoctorPostMismatch, field: "visits[0].doctor.post_code"},
		{name: "signer claims another post", topic: topics.RMISDocument, example: "document.json",
			edit: func(m map[string]any) {
				m["signers"].([]any)[0].(map[string]any)["person"].(map[string]any)["post_code"] = "27"
			}, code: reasons.DoctorPostMismatch, field: "signers[0].person.post_code"},
		{name: "prescribing doctor claims another post", topic: topics.RMISPrescription, example: "prescription.json",
			edit: set([]string{"doctor", "post_code"}, "999"), code: reasons.DoctorPostMismatch, field: "doctor.post_code"},
		{name: "validator claims the clinic's post", topic: topics.LabResult, example: "lab_result.json",
			edit: set([]string{"validator", "post_code"}, "109"), code: reasons.DoctorPostMismatch, field: "validator.post_code"},
		{name: "validator works elsewhere", topic: topics.LabResult, example: "lab_result.json",
			edit: set([]string{"validator", "snils"}, "123-456-789 64"), code: reasons.DoctorPostMismatch, field: "validator"},
		{name: "signing certificate unknown to ФРМР", topic: topics.RMISDocument, example: "document.json",
			edit: func(m map[string]any) {
				m["signers"].([]any)[0].(map[string]any)["certificate"].(map[string]any)["serial"] = "ffff"
			}, code: reasons.CertNotInFRMR, field: "signers[0].certificate.serial"},
		{name: "revoked consent", topic: topics.RMISCase, example: "case.json",
			side: identityAs("consent_revoked", nil), code: reasons.ConsentRevoked, field: "patient"},
		{name: "name differs from the confirmed identity", topic: topics.RMISCase, example: "case.json",
			side: identityAs("identity_confirmed", func(m map[string]any) { m["patient"].(map[string]any)["family_name"] = "Петрова" }),
			code: reasons.IdentityMismatch, field: "patient"},
		{name: "patronymic differs", topic: topics.RMISCase, example: "case.json",
			side: identityAs("identity_confirmed", func(m map[string]any) { m["patient"].(map[string]any)["patronymic"] = "Павловна" }),
			code: reasons.IdentityMismatch, field: "patient"},
		{name: "birth date differs", topic: topics.RMISPrescription, example: "prescription.json",
			side: identityAs("identity_confirmed", func(m map[string]any) { m["patient"].(map[string]any)["birth_date"] = "1985-03-22" }),
			code: reasons.IdentityMismatch, field: "patient"},
		{name: "record keyed by the spelled СНИЛС", topic: topics.RMISCase, example: "case.json",
			key: "112-233-445 95", code: reasons.KeyMismatch, field: ""},
		{name: "a topic no adapter reads", topic: "egisz.unknown.v1", example: "case.json",
			code: reasons.UnknownTopic, field: ""},
		// The sending system's binding (issue 33): each passes while the
		// systems feed is empty.
		{name: "a system the feed does not list", topic: topics.RMISCase, example: "case.json",
			systems: keep, ceSource: "other-mis", code: reasons.SystemNotBound, field: "ce_source"},
		{name: "a system not bound to the document's MO", topic: topics.RMISDocument, example: "document.json",
			systems: keep, ceSource: "1.2.643.5.1.13.13.12.1.42.310", code: reasons.SystemNotBound, field: "mo_oid"},
		{name: "a system not bound to the laboratory", topic: topics.LabResult, example: "lab_result.json",
			systems: func(s *topics.InformationSystem) { s.MOOIDs = s.MOOIDs[:1] }, code: reasons.SystemNotBound, field: "lab_oid"},
		{name: "a system disabled before the event came", topic: topics.RMISPrescription, example: "prescription.json",
			systems: func(s *topics.InformationSystem) { s.ActiveUntil = "2026-12-31" }, code: reasons.SystemDisabled, field: "ce_source"},
		{name: "a system not active yet", topic: topics.RMISCase, example: "case.json",
			systems: func(s *topics.InformationSystem) { s.ActiveFrom = "2027-02-01" }, code: reasons.SystemDisabled, field: "ce_source"},
		{name: "a system of another region", topic: topics.RMISCase, example: "case.json",
			systems: func(s *topics.InformationSystem) { s.RegionCode = "54" }, code: reasons.SystemRegionMismatch, field: "mo_oid"},
		{name: "a signer under another family name than ФРМР's", topic: topics.RMISDocument, example: "document.json",
			edit: func(m map[string]any) {
				m["signers"].([]any)[0].(map[string]any)["person"].(map[string]any)["family_name"] = "Петрова"
			}, code: reasons.SignerNameMismatch, field: "signers[0].person"},
		{name: "a signer under another patronymic than ФРМР's", topic: topics.RMISDocument, example: "document.json",
			edit: func(m map[string]any) {
				m["signers"].([]any)[0].(map[string]any)["person"].(map[string]any)["patronymic"] = "Петрович"
			}, code: reasons.SignerNameMismatch, field: "signers[0].person"},
		// The configurable rules (issue 33).
		{name: "a document of a kind that needs СНИЛС, without one", topic: topics.RMISDocument, example: "document.json",
			edit: func(m map[string]any) {
				p := m["patient"].(map[string]any)
				delete(p, "snils")
				p["enp"] = "5056410878123457"
			}, key: "enp:5056410878123457",
			rules: &Rules{SNILSRequiredFor: []string{"34"}}, code: reasons.NoSNILS, field: "patient.snils"},
		{name: "a case without consent on record", topic: topics.RMISCase, example: "case.json",
			rules: &Rules{ConsentRequiredFor: []string{"case"}}, code: reasons.ConsentMissing, field: "patient"},
		{name: "a document of a kind that needs consent, without it", topic: topics.RMISDocument, example: "document.json",
			rules: &Rules{ConsentRequiredFor: []string{"document:34"}}, code: reasons.ConsentMissing, field: "patient"},
		{name: "a patient without СНИЛС, whose consent cannot be on record", topic: topics.RMISCase, example: "case.json",
			edit: func(m map[string]any) { delete(m["patient"].(map[string]any), "snils") }, key: "enp:5056410878123457",
			rules: &Rules{ConsentRequiredFor: []string{"case"}}, code: reasons.ConsentMissing, field: "patient"},
	}
}

// keep leaves the examples' systems as they are.
func keep(*topics.InformationSystem) {}

// decisionCase is the input, the side tables and the moment of Settle of
// a case of decisions().
func decisionCase(t *testing.T, d *Decider, topic, example string, edit func(map[string]any), key string,
	sideOf func(t *testing.T, d *Decider) side, at time.Time) (Input, side, time.Time) {
	t.Helper()
	in := input(t, topic, example, edit)
	if topic == "egisz.unknown.v1" {
		in = input(t, topics.RMISCase, example, edit)
		in.Topic = topic
	}
	if key != "" {
		in.Key = []byte(key)
	}
	sd := side{}
	if sideOf != nil {
		sd = sideOf(t, d)
	}
	if at.IsZero() {
		at = now
	}
	return in, sd, at
}

func TestDecisionsReject(t *testing.T) {
	withoutSystems := NewDecider(source.DefaultOptions(), exampleRefs(t))
	for _, tc := range decisions() {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.decider(t, withoutSystems)
			if tc.configured() {
				// Today's rules: with no systems on record and the
				// configurable checks off it passes.
				in, _, _ := tc.input(t, withoutSystems)
				dec := withoutSystems.Decide(in, now)
				withoutSystems.Settle(&dec, side{}, now)
				if len(dec.Reasons) > 0 {
					t.Fatalf("rejected with the systems feed empty and the rules off: %+v", dec.Reasons)
				}
			}
			in, sd, at := tc.input(t, d)
			dec := d.Decide(in, now)
			d.Settle(&dec, sd, at)
			found := false
			for _, r := range dec.Reasons {
				if r.Code == tc.code && r.Field == tc.field {
					found = true
					if r.MessageRU == "" || r.Owner == "" {
						t.Errorf("reason %s lacks its text or owner", r.Code)
					}
				}
			}
			if !found {
				t.Errorf("want %s at %q, got %+v", tc.code, tc.field, dec.Reasons)
			}
		})
	}
}

func TestConsentGrantedAgainLetsEventsThrough(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	sd := side{}
	for _, action := range []string{"identity_confirmed", "consent_revoked", "consent_granted"} {
		dec := d.Decide(input(t, topics.ESIAIdentity, "identity.json", func(m map[string]any) {
			m["action"] = action
			m["consent_scope"] = "egisz-exchange"
		}), now)
		d.Settle(&dec, sd, time.Now())
		if len(dec.Reasons) > 0 {
			t.Fatal(dec.Reasons)
		}
		sd.apply(dec)
		if len(dec.Side) != 1 || len(dec.Side[0].Value) != identityLen {
			t.Fatalf("side writes %+v; want one of %d bytes: it keeps hashes, not names", dec.Side, identityLen)
		}
	}
	dec := d.Decide(input(t, topics.RMISCase, "case.json", nil), now)
	if d.Settle(&dec, sd, time.Now()); len(dec.Reasons) > 0 {
		t.Fatalf("after consent was granted again: %+v", dec.Reasons)
	}
}

// A system that leaves the patronymic out does not disagree with an
// identity that has one; the examples of prescriptions and lab results
// have none, the identity example does.
func TestMissingPatronymicIsNoMismatch(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	idDec := d.Decide(input(t, topics.ESIAIdentity, "identity.json", nil), now)
	d.Settle(&idDec, side{}, now)
	sd := side{}
	sd.apply(idDec)
	for _, tc := range []struct{ topic, example string }{
		{topics.RMISPrescription, "prescription.json"}, {topics.LabResult, "lab_result.json"}, {topics.RMISCase, "case.json"},
	} {
		dec := d.Decide(input(t, tc.topic, tc.example, nil), now)
		if d.Settle(&dec, sd, time.Now()); len(dec.Reasons) > 0 {
			t.Errorf("%s after the identity was confirmed: %+v", tc.example, dec.Reasons)
		}
	}
}

// TestBoundSystemsPassTheExamples: with the examples' systems on record,
// every example event from its system is accepted, and so is a pharmacy's
// dispensation, which names no organization.
func TestBoundSystemsPassTheExamples(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t).withSystems(t, nil))
	sd := side{}
	for _, tc := range []struct{ topic, example, ceSource string }{
		{topics.RMISCase, "case.json", "1.2.643.5.1.13.13.12.1.42.202"},
		{topics.RMISDocument, "document.json", "1.2.643.5.1.13.13.12.1.42.202"},
		{topics.RMISPrescription, "prescription.json", "1.2.643.5.1.13.13.12.1.42.202"},
		{topics.LabResult, "lab_result.json", "1.2.643.5.1.13.13.12.1.42.202"},
		{topics.LabResult, "lab_result.json", "1.2.643.5.1.13.13.12.1.42.310"},
		{topics.PharmacyDispense, "dispensation.json", "zdorovye"},
	} {
		in := input(t, tc.topic, tc.example, nil)
		in.Headers["ce_source"] = tc.ceSource
		dec := d.Decide(in, now)
		d.Settle(&dec, sd, now)
		sd.apply(dec)
		if len(dec.Reasons) > 0 {
			t.Errorf("%s from %s rejected: %+v", tc.example, tc.ceSource, dec.Reasons)
		}
	}
}

func TestNotReadyWhileReferencesLoad(t *testing.T) {
	r := exampleRefs(t)
	r.loading = true
	if NewDecider(source.DefaultOptions(), r).Ready() == nil {
		t.Fatal("ready while the reference data loads")
	}
}

func TestEveryCodeTheDeciderCanEmit(t *testing.T) {
	used := testtool.ReasonCodesUsed(t, filepath.Join("..", "reasons", "reasons.go"), ".")
	covered := map[string]bool{}
	for _, tc := range decisions() {
		covered[tc.code] = true
	}
	// The decoding codes come from the source adapters, tested there.
	covered[reasons.DecodeNotJSON] = true
	for _, tc := range documentCases("", []byte("ab"), []byte("c")) {
		for _, code := range tc.codes {
			covered[code] = true // TestDocumentsFetchedAndChecked
		}
	}
	covered[reasons.ForwardUnbuildable] = true      // TestDocumentsStored: the store refuses
	covered[reasons.DocumentCheckIncomplete] = true // TestDocumentChecksOutOfTime
	// Claim's, in the business id's partition: TestSameBusinessIDUnderAnotherPatientIsACrossPatientDuplicate.
	covered[reasons.CrossPatient] = true
	cat := reasons.Default()
	testtool.RequireCodesCovered(t, used, func(c string) bool { _, ok := cat.Lookup(c); return ok },
		func(c string) bool { return covered[c] }, "TestDecisionsReject")
}

// TestConsentScopes: with a scope configured, only its consent events
// count, so a revocation of another scope leaves the federal exchange
// alone; without one, every scope counts, as before scopes were told
// apart.
func TestConsentScopes(t *testing.T) {
	const federal, research = "egisz-exchange", "regional-research"
	type ev struct{ action, scope string }
	for _, tc := range []struct {
		name   string
		rules  Rules
		events []ev
		want   string // the case's first reason code, "" when it passes
	}{
		{"granted for the federal scope", Rules{ConsentRequiredFor: []string{"case"}, ConsentScope: federal},
			[]ev{{"consent_granted", federal}}, ""},
		{"granted for another scope only", Rules{ConsentRequiredFor: []string{"case"}, ConsentScope: federal},
			[]ev{{"consent_granted", research}}, reasons.ConsentMissing},
		{"another scope revoked", Rules{ConsentRequiredFor: []string{"case"}, ConsentScope: federal},
			[]ev{{"consent_granted", federal}, {"consent_revoked", research}}, ""},
		{"the federal scope revoked", Rules{ConsentRequiredFor: []string{"case"}, ConsentScope: federal},
			[]ev{{"consent_granted", federal}, {"consent_revoked", federal}}, reasons.ConsentRevoked},
		{"no scope configured: any revocation counts", Rules{ConsentRequiredFor: []string{"case"}},
			[]ev{{"consent_granted", federal}, {"consent_revoked", research}}, reasons.ConsentRevoked},
		{"no scope configured: any grant counts", Rules{ConsentRequiredFor: []string{"case"}},
			[]ev{{"consent_granted", research}}, ""},
		{"consent not required, another scope revoked", Rules{ConsentScope: federal},
			[]ev{{"consent_revoked", research}}, ""},
		{"consent not required, nothing on record", Rules{ConsentRequiredFor: []string{"document", "prescription"}}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecider(source.DefaultOptions(), exampleRefs(t)).WithRules(tc.rules)
			sd := side{}
			for _, e := range tc.events {
				dec := d.Decide(input(t, topics.ESIAIdentity, "identity.json", func(m map[string]any) {
					m["action"], m["consent_scope"] = e.action, e.scope
				}), now)
				d.Settle(&dec, sd, now)
				if len(dec.Reasons) > 0 {
					t.Fatal(dec.Reasons)
				}
				sd.apply(dec)
			}
			dec := d.Decide(input(t, topics.RMISCase, "case.json", nil), now)
			d.Settle(&dec, sd, now)
			got := ""
			if len(dec.Reasons) > 0 {
				got = dec.Reasons[0].Code
			}
			if got != tc.want {
				t.Errorf("case: %q (%+v), want %q", got, dec.Reasons, tc.want)
			}
		})
	}
}

// TestIdentityEntriesOfBeforeKeepTheirMeaning: an entry written when byte
// 1 was the revoked flag alone (0 or 1) reads the same.
func TestIdentityEntriesOfBeforeKeepTheirMeaning(t *testing.T) {
	for _, tc := range []struct {
		b1               byte
		revoked, granted bool
	}{{0, false, false}, {1, true, false}, {flagGranted, false, true}} {
		b := make([]byte, identityLen)
		b[1] = tc.b1
		id, err := decodeIdentity(b)
		if err != nil || id.revoked != tc.revoked || id.granted != tc.granted {
			t.Errorf("byte %d: %+v %v", tc.b1, id, err)
		}
		if again := encodeIdentity(id); again[1] != tc.b1 {
			t.Errorf("byte %d encodes back as %d", tc.b1, again[1])
		}
	}
}

// TestSignerNameComparesNormalized: spelling differences that are not
// another name (case, ё, spaces, a patronymic left out) pass.
func TestSignerNameComparesNormalized(t *testing.T) {
	d := NewDecider(source.DefaultOptions(), exampleRefs(t))
	for _, tc := range []struct {
		name string
		edit func(p map[string]any)
	}{
		{"upper case and spaces", func(p map[string]any) { p["family_name"], p["given_name"] = " ПЕТРОВ ", "алексей" }},
		{"no patronymic", func(p map[string]any) { delete(p, "patronymic") }},
	} {
		in := input(t, topics.RMISDocument, "document.json", func(m map[string]any) {
			tc.edit(m["signers"].([]any)[0].(map[string]any)["person"].(map[string]any))
		})
		dec := d.Decide(in, now)
		d.Settle(&dec, side{}, now)
		if len(dec.Reasons) > 0 {
			t.Errorf("%s: %+v", tc.name, dec.Reasons)
		}
	}
}
