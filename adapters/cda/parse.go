package cda

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// parseLimits bound what Parse reads: a СЭМД is 10 KiB to a few MiB
// (issue 30), so 64 MiB leaves room without letting a hostile file take
// the process down.
var parseLimits = xmldsig.Limits{MaxBytes: 64 << 20, MaxDepth: 256, MaxNodes: 4_000_000}

// Parse reads the header of a СЭМД. It uses the safe tree of
// crypto/xmldsig, which never reads anything but data: a DOCTYPE or entity
// declaration fails with ErrDTD (so no external entity is ever fetched),
// bytes that are not well-formed UTF-8 XML with ErrNotXML, a document
// element other than ClinicalDocument with ErrNotCDA, and a header missing
// what РЭМД compares (id, setId, versionNumber, effectiveTime, the patient,
// an author, the custodian) or with a value of the wrong form with
// ErrHeader naming the element.
//
// Only the header is parsed: the tree stops at the body (the document
// element's component, which CDA puts last), since nothing in the body is
// compared and tokenizing it was a third of the CPU normalize spent on a
// 50 KiB signed document. The body is not checked for well-formedness, only
// held to the size limit and to UTF-8, and the file must end with the
// document element's end tag, so that a file cut short fails with
// ErrNotXML; whether the body is a valid СЭМД body is РЭМД's format and
// logic control's to say. A header element written after the body, which
// CDA's schema does not allow, is not seen: reported missing if required.
func Parse(data []byte) (Header, error) {
	stopped := false
	root, err := xmldsig.ParseHead(data, parseLimits, func(e *xmldsig.Element) bool {
		stopped = e.Is(NamespaceHL7, "component")
		return stopped
	})
	switch {
	case errors.Is(err, xmldsig.ErrDTD):
		return Header{}, fmt.Errorf("parse CDA: %w", ErrDTD)
	case errors.Is(err, xmldsig.ErrTooLarge), errors.Is(err, xmldsig.ErrTooDeep), errors.Is(err, xmldsig.ErrTooManyNodes):
		return Header{}, fmt.Errorf("parse CDA: %w", ErrTooLarge)
	case err != nil:
		return Header{}, fmt.Errorf("parse CDA: %w", ErrNotXML)
	}
	if !root.Is(NamespaceHL7, "ClinicalDocument") {
		return Header{}, fmt.Errorf("parse CDA: %w", ErrNotCDA)
	}
	if stopped && !endsWithEndTag(data, root) {
		return Header{}, fmt.Errorf("parse CDA: the file does not end with the ClinicalDocument end tag (cut short?): %w", ErrNotXML)
	}
	return readHeader(root)
}

// endsWithEndTag reports whether data ends with root's end tag, written
// with the prefix its start tag has, followed by nothing but what XML
// allows after the document element: white space, comments and
// processing instructions.
func endsWithEndTag(data []byte, root *xmldsig.Element) bool {
	name := root.Local
	if root.Prefix != "" {
		name = root.Prefix + ":" + root.Local
	}
	for {
		data = bytes.TrimRight(data, " \t\r\n")
		var open string
		switch {
		case bytes.HasSuffix(data, []byte("-->")):
			open = "<!--"
		case bytes.HasSuffix(data, []byte("?>")):
			open = "<?"
		default:
			// An end tag may have white space before its '>'.
			rest, ok := bytes.CutSuffix(data, []byte(">"))
			return ok && bytes.HasSuffix(bytes.TrimRight(rest, " \t\r\n"), []byte("</"+name))
		}
		i := bytes.LastIndex(data, []byte(open))
		if i < 0 {
			return false
		}
		data = data[:i]
	}
}

func headerErr(path, what string) error {
	return fmt.Errorf("parse CDA: %s: %s: %w", path, what, ErrHeader)
}

// child returns e's first child element of the HL7 namespace named local.
func child(e *xmldsig.Element, local string) *xmldsig.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if ce, ok := c.(*xmldsig.Element); ok && ce.Is(NamespaceHL7, local) {
			return ce
		}
	}
	return nil
}

// path follows child elements from e.
func path(e *xmldsig.Element, locals ...string) *xmldsig.Element {
	for _, l := range locals {
		e = child(e, l)
	}
	return e
}

func attr(e *xmldsig.Element, name string) string {
	if e == nil {
		return ""
	}
	v, _ := e.AttrValue("", name)
	return strings.TrimSpace(v)
}

func readHeader(doc *xmldsig.Element) (Header, error) {
	var h Header
	id := child(doc, "id")
	if attr(id, "root") == "" || attr(id, "extension") == "" {
		return Header{}, headerErr("id", "root and extension required")
	}
	h.ID.Root, h.ID.Extension = attr(id, "root"), attr(id, "extension")
	set := child(doc, "setId")
	if attr(set, "root") == "" || attr(set, "extension") == "" {
		return Header{}, headerErr("setId", "root and extension required")
	}
	h.SetID.Root, h.SetID.Extension = attr(set, "root"), attr(set, "extension")
	v, err := strconv.ParseInt(attr(child(doc, "versionNumber"), "value"), 10, 64)
	if err != nil || v < 1 {
		return Header{}, headerErr("versionNumber", "a positive integer required")
	}
	h.Version = v
	if h.EffectiveTime, err = datetime.ParseDateTime(attr(child(doc, "effectiveTime"), "value")); err != nil {
		return Header{}, headerErr("effectiveTime", "a TS with a + offset required")
	}
	code := child(doc, "code")
	h.Code, h.CodeSystem, h.DisplayName = attr(code, "code"), attr(code, "codeSystem"), attr(code, "displayName")
	h.TemplateID = attr(child(doc, "templateId"), "root")
	if t := child(doc, "title"); t != nil {
		h.Title = strings.TrimSpace(t.Text())
	}

	role := path(doc, "recordTarget", "patientRole")
	if role == nil {
		return Header{}, headerErr("recordTarget/patientRole", "required")
	}
	for _, idEl := range role.ChildrenNamed(NamespaceHL7, "id") {
		switch r := attr(idEl, "root"); {
		case r == OIDSNILS:
			h.Patient.SNILS = attr(idEl, "extension")
		case h.Patient.ID.Root == "" && r != "":
			h.Patient.ID.Root, h.Patient.ID.Extension = r, attr(idEl, "extension")
		}
	}
	patient := child(role, "patient")
	if patient == nil {
		return Header{}, headerErr("recordTarget/patientRole/patient", "required")
	}
	h.Patient.Name = readName(child(patient, "name"))
	switch attr(child(patient, "administrativeGenderCode"), "code") {
	case "1":
		h.Patient.Sex = "male"
	case "2":
		h.Patient.Sex = "female"
	}
	if bt := attr(child(patient, "birthTime"), "value"); bt != "" {
		d, err := datetime.ParseDate(bt)
		if err != nil {
			return Header{}, headerErr("recordTarget/patientRole/patient/birthTime", "yyyyMMdd required")
		}
		h.Patient.BirthDate = d.Format("2006-01-02")
	}

	for _, a := range doc.ChildrenNamed(NamespaceHL7, "author") {
		if aa := child(a, "assignedAuthor"); aa != nil {
			h.Authors = append(h.Authors, readPerson(aa))
		}
	}
	if len(h.Authors) == 0 {
		return Header{}, headerErr("author/assignedAuthor", "at least one required")
	}
	org := path(doc, "custodian", "assignedCustodian", "representedCustodianOrganization")
	if h.CustodianOID = attr(child(org, "id"), "root"); h.CustodianOID == "" {
		return Header{}, headerErr("custodian/…/representedCustodianOrganization/id", "root required")
	}
	if n := child(org, "name"); n != nil {
		h.CustodianName = strings.TrimSpace(n.Text())
	}
	if ae := path(doc, "legalAuthenticator", "assignedEntity"); ae != nil {
		p := readPerson(ae)
		h.LegalAuthenticator = &p
	}
	return h, nil
}

// readPerson reads an assignedAuthor or assignedEntity: the employee id
// (the first id not rooted at the СНИЛС OID), the СНИЛС, the position
// code and the name.
func readPerson(e *xmldsig.Element) Person {
	var p Person
	for _, idEl := range e.ChildrenNamed(NamespaceHL7, "id") {
		switch r := attr(idEl, "root"); {
		case r == OIDSNILS:
			p.SNILS = attr(idEl, "extension")
		case p.ID.Root == "" && r != "":
			p.ID.Root, p.ID.Extension = r, attr(idEl, "extension")
		}
	}
	p.PostCode = attr(child(e, "code"), "code")
	p.Name = readName(path(e, "assignedPerson", "name"))
	return p
}

func readName(n *xmldsig.Element) Name {
	if n == nil {
		return Name{}
	}
	var out Name
	if f := child(n, "family"); f != nil {
		out.Family = strings.TrimSpace(f.Text())
	}
	if g := child(n, "given"); g != nil {
		out.Given = strings.TrimSpace(g.Text())
	}
	for _, c := range n.Elements() {
		if c.Is(NamespaceIdentity, "Patronymic") {
			out.Patronymic = strings.TrimSpace(c.Text())
			break
		}
	}
	return out
}
