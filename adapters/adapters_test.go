package adapters_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// examples maps each source topic to its example under docs/examples.
var examples = map[string]string{
	topics.RMISCase:         "case.json",
	topics.RMISDocument:     "document.json",
	topics.RMISPrescription: "prescription.json",
	topics.LabResult:        "lab_result.json",
	topics.PharmacyDispense: "dispensation.json",
	topics.ESIAIdentity:     "identity.json",
	topics.FRMREmployee:     "employee.json",
	topics.FRMOOrganization: "organization.json",
	topics.InfoSystems:      "information_system.json",
}

func readExample(t testing.TB, topic string) []byte {
	t.Helper()
	b := topics.Example(examples[topic])
	if b == nil {
		t.Fatalf("no example %s", examples[topic])
	}
	return b
}

func metaFor(a source.Adapter) source.Meta {
	return source.Meta{SpecVersion: "1.0", ID: "evt-1", Source: "1.2.643.5.1.13.13.12.1.42.202", Type: a.EventType()}
}

func TestReferenceExamplesValidate(t *testing.T) {
	srcs := adapters.Sources(source.DefaultOptions())
	for name, topic := range map[string]string{"employee_lab.json": topics.FRMREmployee, "organization_lab.json": topics.FRMOOrganization, "information_system_lab.json": topics.InfoSystems} {
		a := srcs[topic]
		if _, rej := a.Decode(metaFor(a), topics.Example(name)); rej != nil {
			t.Errorf("%s: %v", name, rej)
		}
	}
}

func TestEveryExampleValidates(t *testing.T) {
	srcs := adapters.Sources(source.DefaultOptions())
	if len(srcs) != len(examples) {
		t.Fatalf("%d adapters, %d examples", len(srcs), len(examples))
	}
	for topic, a := range srcs {
		if _, ok := topics.Default().Lookup(topic); !ok {
			t.Errorf("adapter for %s, which the catalog does not have", topic)
		}
		ev, rej := a.Decode(metaFor(a), readExample(t, topic))
		if rej != nil {
			t.Errorf("%s: example rejected: %v", examples[topic], rej)
			continue
		}
		if ev.PatientKey == "" || ev.BusinessID == "" || !strings.HasPrefix(ev.DedupKey, ev.PatientKey+"|"+ev.Kind+"|") {
			t.Errorf("%s: keys not derived: %+v", examples[topic], ev)
		}
	}
}

func TestNormalizationAndKeys(t *testing.T) {
	srcs := adapters.Sources(source.DefaultOptions())
	cases := srcs[topics.RMISCase]
	ev, rej := cases.Decode(metaFor(cases), readExample(t, topics.RMISCase))
	if rej != nil {
		t.Fatal(rej)
	}
	if ev.PatientKey != "11223344595" {
		t.Errorf("patient key %q, want the normalized СНИЛС", ev.PatientKey)
	}
	if want := "11223344595|case|1.2.643.5.1.13.13.12.1.42.202.100.1.1.15:TAP-2024-000731"; ev.DedupKey != want {
		t.Errorf("dedup key %q, want %q", ev.DedupKey, want)
	}
	if ev.Version != 2 {
		t.Errorf("version %d", ev.Version)
	}
	p := ev.Payload.(*topics.CaseEvent)
	if p.Doctor.SNILS != "12345678964" || p.Patient.SNILS != "11223344595" {
		t.Errorf("identifiers not normalized: %s %s", p.Doctor.SNILS, p.Patient.SNILS)
	}

	// The same case re-sent in other spellings has the same fingerprint.
	respelled := mutate(t, topics.RMISCase, func(m map[string]any) {
		set(m, "patient.snils", "11223344595")
		set(m, "opened_at", "202603180910+0300")
		set(m, "updated_at", "2026-03-20T12:00:00Z")
	})
	ev2, rej := cases.Decode(metaFor(cases), respelled)
	if rej != nil {
		t.Fatal(rej)
	}
	if ev2.Fingerprint != ev.Fingerprint {
		t.Error("the same content in other spellings has another fingerprint")
	}
	changed := mutate(t, topics.RMISCase, func(m map[string]any) { set(m, "diagnoses.1.code", "I11") })
	ev3, rej := cases.Decode(metaFor(cases), changed)
	if rej != nil {
		t.Fatal(rej)
	}
	if ev3.Fingerprint == ev.Fingerprint {
		t.Error("changed content kept its fingerprint")
	}

	// Without СНИЛС the key falls back to ЕНП, then to the MIS's patient id.
	noSNILS := mutate(t, topics.RMISCase, func(m map[string]any) { del(m, "patient.snils") })
	if ev, _ := cases.Decode(metaFor(cases), noSNILS); ev == nil || ev.PatientKey != "enp:5056410878123457" {
		t.Errorf("key without СНИЛС: %+v", ev)
	}
	localOnly := mutate(t, topics.RMISCase, func(m map[string]any) { del(m, "patient.snils"); del(m, "patient.enp") })
	if ev, _ := cases.Decode(metaFor(cases), localOnly); ev == nil || ev.PatientKey != "local:1.2.643.5.1.13.13.12.1.42.202:P-000123" {
		t.Errorf("key with only the MIS id: %+v", ev)
	}

	// Lab values are normalized to a decimal point.
	labs := srcs[topics.LabResult]
	lev, rej := labs.Decode(metaFor(labs), readExample(t, topics.LabResult))
	if rej != nil {
		t.Fatal(rej)
	}
	if v := lev.Payload.(*topics.LabResultEvent).Tests[1].Value; v != "6.4" {
		t.Errorf("lab value %q, want 6.4", v)
	}
}

func TestUnknownFieldsAreKept(t *testing.T) {
	a := adapters.Sources(source.DefaultOptions())[topics.RMISPrescription]
	v := mutate(t, topics.RMISPrescription, func(m map[string]any) {
		m["vendor_extension"] = map[string]any{"mis_build": "7.2.1", "flags": []any{1, 2}}
	})
	ev, rej := a.Decode(metaFor(a), v)
	if rej != nil {
		t.Fatal(rej)
	}
	if _, ok := ev.Unknown["vendor_extension"]; !ok {
		t.Fatalf("unknown field dropped: %v", ev.Unknown)
	}
	out, err := ev.MarshalPayload()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"vendor_extension":{"flags":[1,2],"mis_build":"7.2.1"}`)) {
		t.Fatalf("normalized payload lacks the unknown field: %s", out)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("normalized payload is not JSON: %v", err)
	}
}

// rejection is one case of the table: a record that must be rejected with
// a code at a field.
type rejection struct {
	name  string
	topic string
	value func(t *testing.T) []byte
	meta  func(source.Meta) source.Meta
	opts  func(*source.Options)
	code  string
	field string
}

func edit(topic string, f func(map[string]any)) func(t *testing.T) []byte {
	return func(t *testing.T) []byte { return mutate(t, topic, f) }
}

// replaced is the topic's example with old replaced by new in its bytes,
// for what encoding/json cannot write (a \u escape of half a character).
func replaced(topic, old, new string) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b := mutate(t, topic, func(map[string]any) {})
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("the example lacks %s", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

func raw(b []byte) func(t *testing.T) []byte { return func(*testing.T) []byte { return b } }

func rejections() []rejection {
	deep := []byte(`{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`)
	big := make([]byte, topics.DocumentInlineBytes+1)
	return []rejection{
		{name: "not JSON", topic: topics.RMISCase, value: raw([]byte(`case: open`)), code: reasons.DecodeNotJSON},
		{name: "truncated JSON", topic: topics.RMISCase, value: raw([]byte(`{"case_id": {"root": "1.2`)), code: reasons.DecodeNotJSON},
		{name: "empty value", topic: topics.RMISCase, value: raw(nil), code: reasons.DecodeNotJSON},
		{name: "invalid UTF-8", topic: topics.RMISCase, value: raw([]byte("{\"type\":\"\xff\xfe\"}")), code: reasons.DecodeInvalidUTF8},
		{name: "a lone high surrogate in a name", topic: topics.RMISCase, value: replaced(topics.RMISCase, `"Иванова"`, `"Ива\ud800нова"`), code: reasons.TextUnrepresentable},
		{name: "a lone low surrogate in a name", topic: topics.RMISCase, value: replaced(topics.RMISCase, `"Иванова"`, `"\udc00Иванова"`), code: reasons.TextUnrepresentable},
		{name: "U+FFFD in a patient's name", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { m["patient"].(map[string]any)["family_name"] = "Ива\uFFFDнова" }), code: reasons.TextUnrepresentable, field: "patient.family_name"},
		{name: "a control character in a patient's name", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { m["patient"].(map[string]any)["given_name"] = "Ма\u0007рия" }), code: reasons.TextUnrepresentable, field: "patient.given_name"},
		{name: "U+FFFD in a doctor's name", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { m["doctor"].(map[string]any)["family_name"] = "\uFFFD" }), code: reasons.TextUnrepresentable, field: "doctor.family_name"},
		{name: "over the size limit", topic: topics.RMISCase, value: raw(bytes.Repeat([]byte(" "), 2<<20)), code: reasons.DecodeTooLarge},
		{name: "over a configured limit", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}),
			opts: func(o *source.Options) { o.Limits.MaxBytes = 100 }, code: reasons.DecodeTooLarge},
		{name: "deep nesting", topic: topics.RMISCase, value: raw(deep), code: reasons.DecodeTooDeep},
		{name: "an array", topic: topics.RMISCase, value: raw([]byte(`[1,2]`)), code: reasons.DecodeNotObject},
		{name: "wrong type", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "patient.snils", 11223344595) }), code: reasons.DecodeWrongType, field: "patient.snils"},
		{name: "wrong type in an array", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "visits.0.at", true) }), code: reasons.DecodeWrongType, field: "visits.at"},
		{name: "no ce_id", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.ID = ""; return m }, code: reasons.HeaderMissing, field: "ce_id"},
		{name: "no ce_specversion", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.SpecVersion = ""; return m }, code: reasons.HeaderMissing, field: "ce_specversion"},
		{name: "ce_specversion 2.0", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.SpecVersion = "2.0"; return m }, code: reasons.HeaderInvalid, field: "ce_specversion"},
		{name: "ce_specversion 1.0.1", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.SpecVersion = "1.0.1"; return m }, code: reasons.HeaderInvalid, field: "ce_specversion"},
		{name: "ce_id with CR/LF", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.ID = "case-1\r\nX-Injected: 1"; return m }, code: reasons.HeaderInvalid, field: "ce_id"},
		{name: "ce_id with a space", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.ID = "case 1"; return m }, code: reasons.HeaderInvalid, field: "ce_id"},
		{name: "ce_id of 950 KB", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.ID = strings.Repeat("a", 950_000); return m }, code: reasons.HeaderInvalid, field: "ce_id"},
		{name: "ce_id in Cyrillic", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.ID = "случай-1"; return m }, code: reasons.HeaderInvalid, field: "ce_id"},
		{name: "ce_source with a NUL", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.Source = "1.2.643\x00"; return m }, code: reasons.HeaderInvalid, field: "ce_source"},
		{name: "ce_source of 257 bytes", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.Source = strings.Repeat("1", 257); return m }, code: reasons.HeaderInvalid, field: "ce_source"},
		{name: "ce_time not RFC 3339", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.Time = "20.03.2026 14:30"; return m }, code: reasons.HeaderInvalid, field: "ce_time"},
		{name: "ce_time in the future", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.Time = "2099-01-01T00:00:00Z"; return m }, code: reasons.DateInFuture, field: "ce_time"},
		{name: "no signers", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { set(m, "signers", []any{}) }), code: reasons.FieldRequired, field: "signers"},
		{name: "no diagnoses", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "diagnoses", []any{}) }), code: reasons.FieldRequired, field: "diagnoses"},
		{name: "no lab tests", topic: topics.LabResult, value: edit(topics.LabResult, func(m map[string]any) { set(m, "tests", []any{}) }), code: reasons.FieldRequired, field: "tests"},
		{name: "inline file not base64", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			del(m, "file.ref")
			set(m, "file.data", "<ClinicalDocument/> is XML, not base64")
		}), code: reasons.DecodeNotBase64, field: "file.data"},
		{name: "signature not base64", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "signers.1.signature", "-----BEGIN CMS-----")
		}), code: reasons.DecodeNotBase64, field: "signers[1].signature"},
		{name: "no signature", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { del(m, "signers.0.signature") }), code: reasons.FieldRequired, field: "signers[0].signature"},
		{name: "file ref over http", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { del(m, "file.data"); set(m, "file.ref", "http://mis.example.ru/semd/1.xml") }), code: reasons.FieldInvalid, field: "file.ref"},
		{name: "file ref without sha256", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { del(m, "file.sha256") }), code: reasons.FieldRequired, field: "file.sha256"},
		{name: "ce_type of another topic", topic: topics.RMISCase, value: edit(topics.RMISCase, func(map[string]any) {}), meta: func(m source.Meta) source.Meta { m.Type = "ru.egisz.lab.result.v1"; return m }, code: reasons.HeaderTypeMismatch, field: "ce_type"},
		{name: "missing name", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { del(m, "patient.family_name") }), code: reasons.FieldRequired, field: "patient.family_name"},
		{name: "null required object", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "doctor", nil) }), code: reasons.FieldRequired, field: "doctor"},
		{name: "closed without closed_at", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { del(m, "closed_at") }), code: reasons.FieldRequired, field: "closed_at"},
		{name: "status outside its enum", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "status", "reopened") }), code: reasons.FieldEnum, field: "status"},
		{name: "negative version", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "version", -1) }), code: reasons.FieldInvalid, field: "version"},
		{name: "case id of another MO", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) {
			set(m, "case_id.root", "1.2.643.5.1.13.13.12.1.42.117.100.1.1.15")
		}), code: reasons.FieldInvalid, field: "case_id.root"},
		{name: "СНИЛС with letters", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "patient.snils", "112-233-44a 95") }), code: reasons.SNILSFormat, field: "patient.snils"},
		{name: "СНИЛС checksum", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "patient.snils", "112-233-445 96") }), code: reasons.SNILSChecksum, field: "patient.snils"},
		{name: "doctor's СНИЛС checksum", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "doctor.snils", "123-456-789 65") }), code: reasons.SNILSChecksum, field: "doctor.snils"},
		{name: "ЕНП length", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "patient.enp", "505641087812345") }), code: reasons.ENPFormat, field: "patient.enp"},
		{name: "ЕНП check digit", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "patient.enp", "5056410878123458") }), code: reasons.ENPChecksum, field: "patient.enp"},
		{name: "no patient id", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) {
			del(m, "patient.snils")
			del(m, "patient.enp")
			del(m, "patient.local_id")
		}), code: reasons.PatientIDMissing, field: "patient"},
		{name: "dispensation without СНИЛС or ЕНП", topic: topics.PharmacyDispense, value: edit(topics.PharmacyDispense, func(m map[string]any) {
			del(m, "patient.snils")
			set(m, "patient.local_id", "P-1")
		}), code: reasons.PatientIDMissing, field: "patient"},
		{name: "referral not an OID", topic: topics.LabResult, value: edit(topics.LabResult, func(m map[string]any) { set(m, "referral.root", "1.2.x") }), code: reasons.OIDFormat, field: "referral.root"},
		{name: "MO OID outside ФРМО", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "mo_oid", "1.2.643.5.1.13.13.12.9.42.202") }), code: reasons.MOOIDFormat, field: "mo_oid"},
		{name: "case id with the card suffix", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) {
			set(m, "case_id.root", "1.2.643.5.1.13.13.12.1.42.202.100.1.1.16")
		}), code: reasons.LocalIDKind, field: "case_id.root"},
		{name: "document id equals set id", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "document_id", map[string]any{"root": "1.2.643.5.1.13.13.12.1.42.202.100.1.1.50", "extension": "SET-731"})
		}), code: reasons.DocumentIDIsSetID, field: "document_id"},
		{name: "association without its emdrId", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "associations", []any{map[string]any{"type": "1"}})
		}), code: reasons.FieldRequired, field: "associations[0].emdr_id"},
		{name: "association to something not an emdrId", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "associations", []any{map[string]any{"emdr_id": "DOC-730", "type": "1"}})
		}), code: reasons.FieldInvalid, field: "associations[0].emdr_id"},
		{name: "association type not an НСИ code", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "associations", []any{map[string]any{"emdr_id": "16.62.26.03.000000731", "type": "replaces"}})
		}), code: reasons.FieldInvalid, field: "associations[0].type"},
		{name: "localUid not a UUID", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { set(m, "local_uid", "DOC-731") }), code: reasons.UUIDFormat, field: "local_uid"},
		{name: "ICD-10 shape", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "diagnoses.0.code", "J6.9") }), code: reasons.ICD10Format, field: "diagnoses[0].code"},
		{name: "no main diagnosis", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "diagnoses.0.role", "accompanying") }), code: reasons.MainDiagnosis, field: "diagnoses"},
		{name: "birth date spelled dd.mm.yyyy", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "patient.birth_date", "21.03.1985") }), code: reasons.DateFormat, field: "patient.birth_date"},
		{name: "time without an offset", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "opened_at", "2024-03-18T09:10:00") }), code: reasons.DateTimeFormat, field: "opened_at"},
		{name: "offset without its colon", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "opened_at", "2026-03-18T09:10:00+0300") }), code: reasons.DateTimeFormat, field: "opened_at"},
		{name: "CDA time with a minus offset", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "visits.0.at", "202603180120-0500") }), code: reasons.DateTimeFormat, field: "visits[0].at"},
		{name: "closed before opened", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "closed_at", "2024-03-17T10:00:00+03:00") }), code: reasons.DateOrder, field: "closed_at"},
		{name: "visit after the case closed", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "visits.1.at", "2026-03-21T10:00:00+03:00") }), code: reasons.DateOrder, field: "closed_at"},
		{name: "updated in the future", topic: topics.RMISCase, value: edit(topics.RMISCase, func(m map[string]any) { set(m, "updated_at", "2099-01-01T00:00:00+03:00") }), code: reasons.DateInFuture, field: "updated_at"},
		{name: "negative quantity", topic: topics.RMISPrescription, value: edit(topics.RMISPrescription, func(m map[string]any) { set(m, "quantity.value", -1) }), code: reasons.QuantityInvalid, field: "quantity.value"},
		{name: "valid until before issued", topic: topics.RMISPrescription, value: edit(topics.RMISPrescription, func(m map[string]any) { set(m, "valid_until", "2024-03-01") }), code: reasons.DateOrder, field: "valid_until"},
		{name: "cancelled without a reason", topic: topics.RMISPrescription, value: edit(topics.RMISPrescription, func(m map[string]any) { set(m, "action", "cancelled") }), code: reasons.FieldRequired, field: "cancel_reason"},
		{name: "region code with letters", topic: topics.RMISPrescription, value: edit(topics.RMISPrescription, func(m map[string]any) { set(m, "region_code", "4a") }), code: reasons.FieldInvalid, field: "region_code"},
		{name: "no signed file", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { del(m, "file.data"); del(m, "file.ref") }), code: reasons.FileMissing, field: "file"},
		{name: "file ref not http", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { del(m, "file.data"); set(m, "file.ref", "ftp://mis/x.sig") }), code: reasons.FieldInvalid, field: "file.ref"},
		{name: "inline file too large", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			del(m, "file.ref")
			set(m, "file.data", base64.StdEncoding.EncodeToString(big))
		}), code: reasons.FileTooLarge, field: "file.data"},
		{name: "inline file hash", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			del(m, "file.ref")
			set(m, "file.data", base64.StdEncoding.EncodeToString([]byte("<ClinicalDocument/>")))
		}), code: reasons.FileHashMismatch, field: "file"},
		{name: "no author signature", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) { set(m, "signers.0.role", "head") }), code: reasons.SignerMissing, field: "signers"},
		{name: "inverted certificate period", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "signers.0.certificate.not_after", "2023-01-01T00:00:00+03:00")
		}), code: reasons.CertPeriodInvalid, field: "signers[0].certificate"},
		{name: "signed after the certificate expired", topic: topics.RMISDocument, value: edit(topics.RMISDocument, func(m map[string]any) {
			set(m, "signers.0.certificate.not_after", "2026-03-01T00:00:00+03:00")
		}), code: reasons.SignedOutsideCert, field: "signers[0].signed_at"},
		{name: "numeric lab value in words", topic: topics.LabResult, value: edit(topics.LabResult, func(m map[string]any) { set(m, "tests.0.value", "много") }), code: reasons.LabValueNotNumeric, field: "tests[0].value"},
		{name: "numeric lab value without unit", topic: topics.LabResult, value: edit(topics.LabResult, func(m map[string]any) { del(m, "tests.0.unit") }), code: reasons.LabUnitMissing, field: "tests[0].unit"},
		{name: "sample id with the wrong suffix", topic: topics.LabResult, value: edit(topics.LabResult, func(m map[string]any) {
			set(m, "sample.id.root", "1.2.643.5.1.13.13.12.1.42.310.100.3.1.15")
		}), code: reasons.LocalIDKind, field: "sample.id.root"},
		{name: "identity without СНИЛС", topic: topics.ESIAIdentity, value: edit(topics.ESIAIdentity, func(m map[string]any) { del(m, "patient.snils") }), code: reasons.FieldRequired, field: "patient.snils"},
		{name: "consent without scope", topic: topics.ESIAIdentity, value: edit(topics.ESIAIdentity, func(m map[string]any) { set(m, "action", "consent_revoked") }), code: reasons.FieldRequired, field: "consent_scope"},
		{name: "post ends before it starts", topic: topics.FRMREmployee, value: edit(topics.FRMREmployee, func(m map[string]any) { set(m, "posts.1.until", "2014-01-01") }), code: reasons.DateOrder, field: "posts[1].until"},
		{name: "employee certificate inverted", topic: topics.FRMREmployee, value: edit(topics.FRMREmployee, func(m map[string]any) {
			set(m, "certificates.0.not_before", "2037-01-01T00:00:00+03:00")
		}), code: reasons.CertPeriodInvalid, field: "certificates[0]"},
		{name: "employee СНИЛС checksum", topic: topics.FRMREmployee, value: edit(topics.FRMREmployee, func(m map[string]any) { set(m, "snils", "123-456-789 00") }), code: reasons.SNILSChecksum, field: "snils"},
		{name: "organization region", topic: topics.FRMOOrganization, value: edit(topics.FRMOOrganization, func(m map[string]any) { set(m, "region_code", "000") }), code: reasons.FieldInvalid, field: "region_code"},
		{name: "organization OID", topic: topics.FRMOOrganization, value: edit(topics.FRMOOrganization, func(m map[string]any) { set(m, "oid", "1.2.643.5.1") }), code: reasons.OIDFormat, field: "oid"},
		{name: "system without ce_source", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { set(m, "ce_source", "") }), code: reasons.FieldRequired, field: "ce_source"},
		{name: "system ce_source with a space", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { set(m, "ce_source", "my mis") }), code: reasons.FieldInvalid, field: "ce_source"},
		{name: "system without organizations", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { m["mo_oids"] = []any{} }), code: reasons.FieldRequired, field: "mo_oids"},
		{name: "system organization OID", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { m["mo_oids"] = []any{"1.2.643.5.1"} }), code: reasons.MOOIDFormat, field: "mo_oids[0]"},
		{name: "system region", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { set(m, "region_code", "x") }), code: reasons.FieldInvalid, field: "region_code"},
		{name: "system client entity id", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { set(m, "client_entity_id", "42") }), code: reasons.UUIDFormat, field: "client_entity_id"},
		{name: "system disabled before it began", topic: topics.InfoSystems, value: edit(topics.InfoSystems, func(m map[string]any) { set(m, "active_until", "2014-01-01") }), code: reasons.DateOrder, field: "active_until"},
	}
}

var snilsLike = regexp.MustCompile(`\d{3}-?\d{3}-?\d{3}[ -]?\d{2}`)

func TestEveryRejectionReason(t *testing.T) {
	cat := reasons.Default()
	for _, tc := range rejections() {
		t.Run(tc.name, func(t *testing.T) {
			opts := source.DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			a := adapters.Sources(opts)[tc.topic]
			meta := metaFor(a)
			if tc.meta != nil {
				meta = tc.meta(meta)
			}
			ev, rej := a.Decode(meta, tc.value(t))
			if rej == nil {
				t.Fatalf("accepted: %+v", ev)
			}
			found := false
			for _, p := range rej.Problems {
				if _, ok := cat.Lookup(p.Code); !ok {
					t.Errorf("code %s is not in the reason catalog", p.Code)
				}
				if p.Code == tc.code && p.Field == tc.field {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s at %q, got %v", tc.code, tc.field, rej)
			}
			if snilsLike.MatchString(rej.Error()) {
				t.Errorf("the rejection text holds a СНИЛС-like number: %s", rej.Error())
			}
		})
	}
}

func mutate(t testing.TB, topic string, f func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readExample(t, topic), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// walk follows a dotted path (numbers index arrays) to the parent of its
// last element.
func walk(m map[string]any, path string) (any, string) {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[p]
		case []any:
			i, _ := strconv.Atoi(p)
			cur = c[i]
		}
	}
	return cur, parts[len(parts)-1]
}

func set(m map[string]any, path string, v any) {
	parent, last := walk(m, path)
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
	case []any:
		i, _ := strconv.Atoi(last)
		p[i] = v
	default:
		panic(fmt.Sprintf("set %s: no parent", path))
	}
}

func del(m map[string]any, path string) {
	parent, last := walk(m, path)
	if p, ok := parent.(map[string]any); ok {
		delete(p, last)
	}
}
