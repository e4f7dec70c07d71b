package cda

import (
	"fmt"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Signer roles of topics.Signer.
const (
	RoleDoctor       = "doctor"
	RoleHead         = "head"
	RoleOrganization = "organization"
)

// HeaderFor returns the header a СЭМД must have to agree with the request
// ev: what a MIS (or a test, the load generator, the demo) builds the
// document from. The kind's code and template come from the kind table;
// for an unmapped kind they are left empty (Build then writes code with
// nullFlavor UNK and no templateId). The request names no employee ids,
// so each person's id is <MIS prefix>.70 with the СНИЛС as extension. The
// authors are the signers with role doctor; the legal authenticator is the
// head when one signs, else the first doctor.
func HeaderFor(ev topics.DocumentEvent) (Header, error) {
	created, err := datetime.ParseDateTime(string(ev.CreatedAt))
	if err != nil {
		return Header{}, fmt.Errorf("created_at: %w", err)
	}
	prefix, ok := misPrefix(ev.DocumentID.Root)
	if !ok {
		return Header{}, fmt.Errorf("document_id: root is not <MO OID>.100.<MIS>.<inst>.51: %w", ErrIncomplete)
	}
	h := Header{
		ID: ev.DocumentID, SetID: ev.SetID, Version: ev.Version, EffectiveTime: created,
		Title:        "Электронный медицинский документ",
		CustodianOID: ev.MOOID, CustodianName: "Медицинская организация " + ev.MOOID,
		Patient: Patient{
			ID:   topics.ID{Root: prefix + "." + ident.LocalPatient, Extension: ev.Patient.LocalID},
			Name: Name{Family: ev.Patient.FamilyName, Given: ev.Patient.GivenName, Patronymic: ev.Patient.Patronymic},
			Sex:  ev.Patient.Sex, BirthDate: string(ev.Patient.BirthDate),
		},
	}
	if h.Patient.ID.Extension == "" {
		// The MIS patient id is optional in the request but required in
		// the CDA: the patient's СНИЛС or ЕНП stands in.
		h.Patient.ID.Extension = firstNonEmpty(ident.ScrubDigits(ev.Patient.SNILS), ev.Patient.ENP)
	}
	if ev.Patient.SNILS != "" {
		if h.Patient.SNILS, err = ident.NormalizeSNILS(ev.Patient.SNILS); err != nil {
			return Header{}, fmt.Errorf("patient.snils: %w", err)
		}
	}
	if k, ok := LookupKind(ev.Kind); ok {
		h.Code, h.CodeSystem, h.DisplayName, h.TemplateID, h.Title = k.Code, CodeSystemKind1522, k.DisplayName, k.TemplateID, k.Title
	}
	var head *Person
	for i, s := range ev.Signers {
		if s.Person == nil || s.Role == RoleOrganization {
			continue
		}
		p, err := personFor(prefix, *s.Person)
		if err != nil {
			return Header{}, fmt.Errorf("signers[%d].person: %w", i, err)
		}
		switch s.Role {
		case RoleDoctor:
			h.Authors = append(h.Authors, p)
		case RoleHead:
			if head == nil {
				head = &p
			}
		}
	}
	switch {
	case head != nil:
		h.LegalAuthenticator = head
	case len(h.Authors) > 0:
		la := h.Authors[0]
		h.LegalAuthenticator = &la
	}
	return h, nil
}

func personFor(prefix string, p topics.Person) (Person, error) {
	snils, err := ident.NormalizeSNILS(p.SNILS)
	if err != nil {
		return Person{}, fmt.Errorf("snils: %w", err)
	}
	return Person{
		ID:    topics.ID{Root: prefix + "." + ident.LocalEmployee, Extension: snils},
		SNILS: snils, PostCode: p.PostCode,
		Name: Name{Family: p.FamilyName, Given: p.GivenName, Patronymic: p.Patronymic},
	}, nil
}

// misPrefix returns <MO OID>.100.<MIS>.<inst> of a document id root.
func misPrefix(docRoot string) (string, bool) {
	if ident.LocalIDKind(docRoot) != ident.LocalDocument {
		return "", false
	}
	return strings.TrimSuffix(docRoot, "."+ident.LocalDocument), true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
