package remd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The registerDocument request of a real signed СЭМД carries every field
// of the event, each where PROTOCOLS.md §2.2 puts it, the signatures as
// their exact DER.
func TestBuildDocumentRequest(t *testing.T) {
	doc := signedDocument(t)
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	call, got := buildRequest(t, a, "document", doc.Event)
	if call.Method != "POST" || call.IdempotencyKey != testCEID || call.Lookup {
		t.Errorf("call %s key %q lookup %v", call.Method, call.IdempotencyKey, call.Lookup)
	}
	if got.XMLName != (xml.Name{Space: NamespaceService, Local: ElemRegisterRequest}) {
		t.Errorf("body element %v", got.XMLName)
	}
	ev := doc.Event
	for _, c := range []struct{ field, got, want string }{
		{"localUid", got.LocalUID, ev.LocalUID},
		{"kind", got.Kind, ev.Kind},
		{"documentNumber", got.DocumentNumber, ev.Number},
		{"creationDateTime", got.CreationDateTime, string(ev.CreatedAt)},
		{"organization", got.Organization, ev.MOOID},
		{"department", got.Department, ev.DepartmentOID},
		{"patient/localId", got.Patient.LocalID, ev.Patient.LocalID},
		{"patient/snils", got.Patient.SNILS, "11223344595"},
		{"patient/familyName", got.Patient.FamilyName, ev.Patient.FamilyName},
		{"patient/givenName", got.Patient.GivenName, ev.Patient.GivenName},
		{"patient/patronymic", got.Patient.Patronymic, ev.Patient.Patronymic},
		{"patient/birthDate", got.Patient.BirthDate, string(ev.Patient.BirthDate)},
		{"patient/gender", got.Patient.Gender, GenderFemale},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	// Two personal signatures in the event's order, the organisation's apart.
	if len(got.PersonalSignatures) != 2 {
		t.Fatalf("%d personal signatures, want 2", len(got.PersonalSignatures))
	}
	for i, ps := range got.PersonalSignatures {
		s := ev.Signers[i]
		wantSNILS, err := ident.NormalizeSNILS(s.Person.SNILS)
		if err != nil {
			t.Fatal(err)
		}
		sg := ps.Signer
		if sg.LastName != s.Person.FamilyName || sg.FirstName != s.Person.GivenName || sg.MiddleName != s.Person.Patronymic || sg.SNILS != wantSNILS {
			t.Errorf("signature %d: signer %+v does not name %+v", i, sg, *s.Person)
		}
		if sg.Role == nil || sg.Role.Code != s.Role || sg.Position == nil || sg.Position.Code != s.Person.PostCode {
			t.Errorf("signature %d: role %+v position %+v", i, sg.Role, sg.Position)
		}
		if (s.Person.SpecialtyCode == "") != (sg.Speciality == nil) || (sg.Speciality != nil && sg.Speciality.Code != s.Person.SpecialtyCode) {
			t.Errorf("signature %d: speciality %+v for %q", i, sg.Speciality, s.Person.SpecialtyCode)
		}
		checkSignature(t, ps.Signature, doc.Signatures[i])
	}
	checkSignature(t, got.OrgSignature, doc.Signatures[2])
	if got.Associations != nil || bytes.Contains(call.Body, []byte("associations")) {
		t.Error("a first version carries associations")
	}
}

// A new version links to the version it replaces by the emdrId the MIS
// names, in the order given.
func TestBuildDocumentAssociations(t *testing.T) {
	doc := signedDocument(t)
	ev := doc.Event
	ev.Version = 2
	ev.Associations = []topics.Association{{EMDRID: "16.62.26.03.000000731", Type: "1"}, {EMDRID: "16.62.26.03.000000802", Type: "3"}}
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	_, got := buildRequest(t, a, "document", ev)
	want := []Association{{Target: "16.62.26.03.000000731", Type: "1"}, {Target: "16.62.26.03.000000802", Type: "3"}}
	if got.Associations == nil || !slices.Equal(got.Associations.Association, want) {
		t.Fatalf("associations %+v, want %+v", got.Associations, want)
	}
}

// checkSignature checks a request's signature against the DER it stands for.
func checkSignature(t *testing.T, got *Signature, der []byte) {
	t.Helper()
	if got == nil {
		t.Fatal("signature missing")
	}
	data, err := base64.StdEncoding.DecodeString(got.Data)
	if err != nil || !bytes.Equal(data, der) {
		t.Errorf("signature data is not the signature's DER (%v)", err)
	}
	if got.Checksum != Checksum(der) {
		t.Errorf("checksum %s, want %s", got.Checksum, Checksum(der))
	}
}

// Checksum is CRC-32/IEEE in decimal: the algorithm's published check
// value (CRC-32 of "123456789" is 0xCBF43926) and the empty input.
func TestChecksum(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"123456789", "3421780262"}, {"", "0"}} {
		if got := Checksum([]byte(c.in)); got != c.want {
			t.Errorf("Checksum(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// Text that is markup elsewhere is escaped: the body parses back to the
// very strings.
func TestBuildEscapes(t *testing.T) {
	ev := documentEvent()
	ev.Signers = ev.Signers[:1]
	ev.Signers[0].Signature = []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	ev.Patient.FamilyName = `О'Нил <b>&amp;"`
	ev.Number = "]]> & <![CDATA["
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	call, got := buildRequest(t, a, "document", ev)
	if got.Patient.FamilyName != ev.Patient.FamilyName || got.DocumentNumber != ev.Number {
		t.Errorf("read back %q, %q", got.Patient.FamilyName, got.DocumentNumber)
	}
	if got.OrgSignature != nil || bytes.Contains(call.Body, []byte("orgSignature")) {
		t.Error("an organisation signature without one in the event")
	}
}

// A call without the event's id or the callback address is refused at
// Build: it could neither be signed nor answered.
func TestBuildNeedsEventIDAndCallback(t *testing.T) {
	a := newAdapter(t, gostSigner(t), wssec.SOAP12)
	value := outbound(t, "document", signedDocument(t).Event)
	for _, c := range []struct{ ceID, callback string }{{"", testCallback}, {testCEID, ""}} {
		if _, err := a.Build(value, c.ceID, c.callback); !errors.Is(err, ErrUnbuildable) {
			t.Errorf("ce_id %q callback %q: got %v, want ErrUnbuildable", c.ceID, c.callback, err)
		}
	}
}

// An event the request cannot be made of is refused with ErrUnbuildable,
// and the refusal names fields, never a person's data.
func TestBuildRefuses(t *testing.T) {
	for _, c := range []struct {
		name   string
		kind   string
		change func(*topics.DocumentEvent)
	}{
		{"no local uid", "document", func(e *topics.DocumentEvent) { e.LocalUID = "" }},
		{"no organization", "document", func(e *topics.DocumentEvent) { e.MOOID = "" }},
		{"bad patient snils", "document", func(e *topics.DocumentEvent) { e.Patient.SNILS = "11223344596" }},
		{"bad signer snils", "document", func(e *topics.DocumentEvent) { e.Signers[0].Person.SNILS = "123-456-789 65" }},
		{"unknown sex", "document", func(e *topics.DocumentEvent) { e.Patient.Sex = "x" }},
		{"no family name", "document", func(e *topics.DocumentEvent) { e.Patient.FamilyName = "" }},
		{"signer without person", "document", func(e *topics.DocumentEvent) { e.Signers[0].Person = nil }},
		{"signature empty", "document", func(e *topics.DocumentEvent) { e.Signers[1].Signature = nil }},
		{"only the organisation", "document", func(e *topics.DocumentEvent) { e.Signers = e.Signers[2:] }},
		{"two organisation signatures", "document", func(e *topics.DocumentEvent) { e.Signers = append(e.Signers, e.Signers[2]) }},
		{"kind РЭМД does not take", "prescription", func(*topics.DocumentEvent) {}},
		{"association without a type", "document", func(e *topics.DocumentEvent) {
			e.Associations = []topics.Association{{EMDRID: "16.62.26.03.000000731"}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := documentEvent()
			for i := range ev.Signers {
				ev.Signers[i].Signature = []byte{0x30, 0x00}
			}
			c.change(&ev)
			a := newAdapter(t, gostSigner(t), wssec.SOAP12)
			_, err := a.Build(outbound(t, c.kind, ev), testCEID, testCallback)
			if !errors.Is(err, ErrUnbuildable) {
				t.Fatalf("got %v, want ErrUnbuildable", err)
			}
			for _, pd := range []string{"11223344", "123-456", "12345678", "Иванова", "Петров", "Мария"} {
				if strings.Contains(err.Error(), pd) {
					t.Errorf("error %q holds personal data %q", err, pd)
				}
			}
		})
	}
}

// Whatever the outbound record holds, Build decides without panicking,
// and a request it makes parses back as the request and can be signed: a
// built call Sign refuses would be retried as the signer's trouble for
// ever.
func FuzzBuild(f *testing.F) {
	ev := documentEvent()
	for i := range ev.Signers {
		ev.Signers[i].Signature = []byte{0x30, 0x00}
	}
	f.Add(outbound(f, "document", ev))
	f.Add(outbound(f, "lab_result", topics.LabResultEvent{CompletedAt: "2026-03-19T12:40:00+03:00", LabOID: "1.2.643.5.1.13.13.12.1.42.310",
		Patient:   topics.Patient{FamilyName: "И", GivenName: "М", BirthDate: "1985-03-21", Sex: "male"},
		Validator: topics.Person{SNILS: "123-456-789 64", FamilyName: "П", GivenName: "А"}}))
	f.Add([]byte(`{"kind":"document","event":{"signers":[{"role":"organization","signature":"MAA="}]}}`))
	a := newAdapter(f, gostSigner(f), wssec.SOAP12)
	f.Fuzz(func(t *testing.T, value []byte) {
		call, err := a.Build(value, testCEID, testCallback)
		if err != nil {
			return
		}
		var req RegisterDocumentRequest
		if err := xml.Unmarshal(call.Body, &req); err != nil {
			t.Fatalf("Build made a body that does not parse: %v\n%s", err, call.Body)
		}
		if req.LocalUID == "" || len(req.PersonalSignatures) == 0 {
			t.Fatalf("Build made a request without localUid or signatures: %s", call.Body)
		}
		if _, err := a.Sign(context.Background(), call); err != nil {
			t.Fatalf("Build made a call Sign refuses: %v\n%s", err, call.Body)
		}
	})
}
