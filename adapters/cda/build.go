package cda

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
)

// cdaTimeLayout is the СЭМД's TS with seconds and a + offset
// (yyyyMMddHHmmss+ZZZZ); times are written at Moscow time so the offset
// is +0300 as the pattern wants.
const cdaTimeLayout = "20060102150405-0700"

// sexCodes maps Patient.Sex to НСИ 1040.
var sexCodes = map[string]string{"male": "1", "female": "2"}

// Build writes h as a СЭМД: a ClinicalDocument with the header of
// PROTOCOLS.md §3 and a small structured body holding h.Body. It fails with
// ErrIncomplete, naming the field, when a field the header needs is empty.
// The output is UTF-8 with an XML declaration and no DTD.
func Build(h Header) ([]byte, error) {
	if err := h.complete(); err != nil {
		return nil, err
	}
	w := &writer{}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.open("ClinicalDocument", "xmlns", NamespaceHL7, "xmlns:identity", NamespaceIdentity,
		"xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	w.empty("realmCode", "code", "RU")
	w.empty("typeId", "root", "2.16.840.1.113883.1.3", "extension", "POCD_HD000040")
	if h.TemplateID != "" {
		w.empty("templateId", "root", h.TemplateID)
	}
	w.empty("id", "root", h.ID.Root, "extension", h.ID.Extension)
	if h.Code != "" {
		w.empty("code", "code", h.Code, "codeSystem", h.CodeSystem, "codeSystemVersion", "1", "displayName", h.DisplayName)
	} else {
		w.empty("code", "nullFlavor", "UNK")
	}
	w.text("title", h.Title)
	w.empty("effectiveTime", "value", cdaTime(h.EffectiveTime))
	w.empty("confidentialityCode", "code", "N", "codeSystem", "1.2.643.5.1.13.13.99.2.285", "codeSystemVersion", "1.2", "displayName", "Обычный")
	w.empty("languageCode", "code", "ru-RU")
	w.empty("setId", "root", h.SetID.Root, "extension", h.SetID.Extension)
	w.empty("versionNumber", "value", strconv.FormatInt(h.Version, 10))

	w.open("recordTarget")
	w.open("patientRole")
	w.empty("id", "root", h.Patient.ID.Root, "extension", h.Patient.ID.Extension)
	if h.Patient.SNILS != "" {
		w.empty("id", "root", OIDSNILS, "extension", h.Patient.SNILS)
	} else {
		w.empty("id", "nullFlavor", "NI")
	}
	w.open("patient")
	w.name(h.Patient.Name)
	if code, ok := sexCodes[h.Patient.Sex]; ok {
		w.empty("administrativeGenderCode", "code", code, "codeSystem", CodeSystemSex, "codeSystemVersion", "2.1")
	}
	w.empty("birthTime", "value", strings.ReplaceAll(h.Patient.BirthDate, "-", ""))
	w.close("patient")
	w.close("patientRole")
	w.close("recordTarget")

	for _, a := range h.Authors {
		w.open("author")
		w.empty("time", "nullFlavor", "NI")
		w.open("assignedAuthor")
		w.person(a)
		w.close("assignedAuthor")
		w.close("author")
	}

	w.open("custodian")
	w.open("assignedCustodian")
	w.open("representedCustodianOrganization", "classCode", "ORG")
	w.empty("id", "root", h.CustodianOID)
	w.text("name", h.CustodianName)
	w.close("representedCustodianOrganization")
	w.close("assignedCustodian")
	w.close("custodian")

	if la := h.LegalAuthenticator; la != nil {
		w.open("legalAuthenticator")
		w.empty("time", "nullFlavor", "NI")
		w.empty("signatureCode", "nullFlavor", "NI")
		w.open("assignedEntity")
		w.person(*la)
		w.close("assignedEntity")
		w.close("legalAuthenticator")
	}

	w.open("component")
	w.open("structuredBody")
	w.open("component")
	w.open("section")
	w.empty("code", "code", "DOCINFO", "codeSystem", "1.2.643.5.1.13.13.99.2.197", "codeSystemVersion", "1.5", "displayName", "Сведения о документе")
	w.text("title", "Сведения о документе")
	w.open("text")
	for _, para := range strings.Split(h.Body, "\n") {
		w.text("paragraph", para)
	}
	w.close("text")
	w.close("section")
	w.close("component")
	w.close("structuredBody")
	w.close("component")
	w.close("ClinicalDocument")
	return w.buf.Bytes(), nil
}

// complete names the first field Build needs that h lacks.
func (h Header) complete() error {
	missing := func(field string) error { return fmt.Errorf("%w: %s", ErrIncomplete, field) }
	switch {
	case h.ID.Root == "" || h.ID.Extension == "":
		return missing("id")
	case h.SetID.Root == "" || h.SetID.Extension == "":
		return missing("setId")
	case h.EffectiveTime.IsZero():
		return missing("effectiveTime")
	case h.Code != "" && h.CodeSystem == "":
		return missing("code/@codeSystem")
	case h.Patient.ID.Root == "" || h.Patient.ID.Extension == "":
		return missing("recordTarget/patientRole/id")
	case h.Patient.Name.Family == "" || h.Patient.Name.Given == "":
		return missing("recordTarget/patientRole/patient/name")
	case h.Patient.BirthDate == "":
		return missing("recordTarget/patientRole/patient/birthTime")
	case len(h.Authors) == 0:
		return missing("author")
	case h.CustodianOID == "":
		return missing("custodian")
	}
	if _, err := datetime.ParseDate(h.Patient.BirthDate); err != nil {
		return fmt.Errorf("%w: birth date: %w", ErrIncomplete, err)
	}
	for i, a := range append(append([]Person(nil), h.Authors...), derefPerson(h.LegalAuthenticator)...) {
		if a.ID.Root == "" || a.ID.Extension == "" || a.SNILS == "" || a.Name.Family == "" {
			return missing(fmt.Sprintf("person %d: id, СНИЛС or name", i))
		}
	}
	return nil
}

func derefPerson(p *Person) []Person {
	if p == nil {
		return nil
	}
	return []Person{*p}
}

// cdaTime spells t as a СЭМД TS at Moscow time.
func cdaTime(t time.Time) string { return t.In(datetime.Moscow).Format(cdaTimeLayout) }

// writer writes indented XML with escaped text and attribute values.
type writer struct {
	buf   bytes.Buffer
	depth int
}

func (w *writer) raw(s string) { w.buf.WriteString(s) }

func (w *writer) indent() { w.buf.WriteString(strings.Repeat("  ", w.depth)) }

func (w *writer) start(name string, attrs []string) {
	w.indent()
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.buf.WriteByte(' ')
		w.buf.WriteString(attrs[i])
		w.buf.WriteString(`="`)
		// EscapeText also escapes quotes and newlines, which is what an
		// attribute value needs.
		_ = xml.EscapeText(&w.buf, []byte(attrs[i+1]))
		w.buf.WriteByte('"')
	}
}

func (w *writer) open(name string, attrs ...string) {
	w.start(name, attrs)
	w.buf.WriteString(">\n")
	w.depth++
}

func (w *writer) close(name string) {
	w.depth--
	w.indent()
	w.buf.WriteString("</" + name + ">\n")
}

func (w *writer) empty(name string, attrs ...string) {
	w.start(name, attrs)
	w.buf.WriteString("/>\n")
}

func (w *writer) text(name, text string, attrs ...string) {
	w.start(name, attrs)
	w.buf.WriteByte('>')
	_ = xml.EscapeText(&w.buf, []byte(text))
	w.buf.WriteString("</" + name + ">\n")
}

func (w *writer) name(n Name) {
	w.open("name")
	w.text("family", n.Family)
	w.text("given", n.Given)
	if n.Patronymic != "" {
		w.text("identity:Patronymic", n.Patronymic)
	}
	w.close("name")
}

// person writes an assignedAuthor's or assignedEntity's content.
func (w *writer) person(p Person) {
	w.empty("id", "root", p.ID.Root, "extension", p.ID.Extension)
	w.empty("id", "root", OIDSNILS, "extension", p.SNILS)
	if p.PostCode != "" {
		w.empty("code", "code", p.PostCode, "codeSystem", CodeSystemPosition, "codeSystemVersion", "9.1")
	}
	w.open("assignedPerson")
	w.name(p.Name)
	w.close("assignedPerson")
}
