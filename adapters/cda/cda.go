// Package cda reads and writes the header of a СЭМД, the HL7 CDA R2
// document (urn:hl7-org:v3) a MIS registers in РЭМД: Build writes a valid
// document from a Header, Parse reads the header back from bytes with a
// parser that refuses DTDs and external entities, and Check compares a
// signed document, its header and its detached CMS signatures, with the
// request that carries it (PROTOCOLS.md §2.4, §3, §4).
//
// Only the header is modelled: what РЭМД compares with the request. The
// body is the MIS's business and kind-specific; Build writes a minimal one.
package cda

import (
	"errors"
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Namespaces of a СЭМД (PROTOCOLS.md §3).
const (
	// NamespaceHL7 is the CDA's default namespace.
	NamespaceHL7 = "urn:hl7-org:v3"
	// NamespaceIdentity is the Russian extension that carries, among
	// others, a person's patronymic (identity:Patronymic).
	NamespaceIdentity = "urn:hl7-ru:identity"
)

// OIDs a СЭМД header uses.
const (
	// OIDSNILS is the root of an id whose extension is a СНИЛС.
	OIDSNILS = "1.2.643.100.3"
	// CodeSystemPosition is НСИ 1.2.643.5.1.13.13.11.1002, the positions
	// of medical workers (author/assignedAuthor/code).
	CodeSystemPosition = "1.2.643.5.1.13.13.11.1002"
	// CodeSystemSex is НСИ 1.2.643.5.1.13.13.11.1040, administrative sex.
	CodeSystemSex = "1.2.643.5.1.13.13.11.1040"
)

// Errors of Parse and Build. Parse's are wrapped with where; none carries
// document content.
var (
	// ErrNotXML: the bytes are not well-formed UTF-8 XML.
	ErrNotXML = errors.New("cda: not well-formed XML")
	// ErrDTD: the document has a DOCTYPE or entity declarations. They are
	// refused, never expanded or fetched.
	ErrDTD = errors.New("cda: DTDs and entity declarations are not allowed")
	// ErrTooLarge: the document exceeds the parser's limits.
	ErrTooLarge = errors.New("cda: document too large or too deeply nested")
	// ErrNotCDA: the document element is not an HL7 v3 ClinicalDocument.
	ErrNotCDA = errors.New("cda: not a ClinicalDocument in urn:hl7-org:v3")
	// ErrHeader: the header lacks an element or attribute, or one is not
	// of its form.
	ErrHeader = errors.New("cda: malformed header")
	// ErrIncomplete: Build was given a Header without a required field.
	ErrIncomplete = errors.New("cda: header incomplete")
)

// Header is a СЭМД's header as far as it is compared with the request.
type Header struct {
	// ID is ClinicalDocument/id (root <MO OID>.100.<MIS>.<inst>.51), one
	// per version; SetID is setId (root ….50), stable across versions.
	ID, SetID topics.ID
	// Version is versionNumber/@value.
	Version int64
	// EffectiveTime is effectiveTime/@value, the creation time.
	EffectiveTime time.Time
	// Code is ClinicalDocument/code (an НСИ 1522 code) and CodeSystem its
	// system; DisplayName its name.
	Code, CodeSystem, DisplayName string
	// TemplateID is templateId/@root, the СЭМД edition.
	TemplateID string
	// Title is the document's title.
	Title string
	// Patient is recordTarget/patientRole.
	Patient Patient
	// Authors are author/assignedAuthor, in document order.
	Authors []Person
	// CustodianOID is custodian/assignedCustodian/
	// representedCustodianOrganization/id/@root, the organisation's ФРМО OID.
	CustodianOID string
	// CustodianName is that organisation's name.
	CustodianName string
	// LegalAuthenticator is legalAuthenticator/assignedEntity, who vouches
	// for the document; nil when absent.
	LegalAuthenticator *Person
	// Body is the text Build writes into the document's one section;
	// Parse leaves it empty.
	Body string
}

// Patient is the document's patient.
type Patient struct {
	// ID is the MIS's patient id (root ….10, id[1]).
	ID topics.ID
	// SNILS is the extension of the id with root 1.2.643.100.3: 11 digits.
	SNILS string
	// Name is the patient's name.
	Name Name
	// BirthDate is birthTime, YYYY-MM-DD.
	BirthDate string
	// Sex is "male" or "female" (administrativeGenderCode 1 or 2).
	Sex string
}

// Person is an author or the legal authenticator.
type Person struct {
	// ID is the MIS's employee id (root ….70).
	ID topics.ID
	// SNILS is the person's СНИЛС, 11 digits.
	SNILS string
	// PostCode is the position's code in НСИ 1002.
	PostCode string
	// Name is the person's name.
	Name Name
}

// Name is a Russian person's name.
type Name struct {
	Family, Given, Patronymic string
}
