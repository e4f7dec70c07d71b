package cda

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/datetime"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// sampleHeader is a prescription (1520 kind 148) by one doctor, vouched
// for by the head of department.
func sampleHeader() Header {
	k, _ := LookupKind("148")
	prefix := "1.2.643.5.1.13.13.12.1.42.202.100.1.1"
	return Header{
		ID:            topics.ID{Root: prefix + ".51", Extension: "DOC-1"},
		SetID:         topics.ID{Root: prefix + ".50", Extension: "SET-1"},
		Version:       2,
		EffectiveTime: time.Date(2026, 3, 20, 15, 0, 0, 0, datetime.Moscow),
		Code:          k.Code, CodeSystem: CodeSystemKind1522, DisplayName: k.DisplayName, TemplateID: k.TemplateID,
		Title: k.Title,
		Patient: Patient{
			ID: topics.ID{Root: prefix + ".10", Extension: "P-1"}, SNILS: "11223344595",
			Name: Name{Family: "Иванова", Given: "Мария", Patronymic: "Петровна"}, BirthDate: "1985-03-21", Sex: "female",
		},
		Authors: []Person{{ID: topics.ID{Root: prefix + ".70", Extension: "E-1"}, SNILS: "12345678964", PostCode: "109",
			Name: Name{Family: "Петров", Given: "Алексей", Patronymic: "Сергеевич"}}},
		CustodianOID: "1.2.643.5.1.13.13.12.1.42.202", CustodianName: "ГБУЗ «Больница» & <поликлиника>",
		LegalAuthenticator: &Person{ID: topics.ID{Root: prefix + ".70", Extension: "E-2"}, SNILS: "08765430300", PostCode: "7",
			Name: Name{Family: "Сидорова", Given: "Анна"}},
		Body: "Рецепт\nстрока два",
	}
}

func TestBuildParseRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Header)
	}{
		{"full header", func(*Header) {}},
		{"no legal authenticator, no patronymic", func(h *Header) { h.LegalAuthenticator = nil; h.Patient.Name.Patronymic = "" }},
		{"unmapped kind: no code, no template", func(h *Header) { h.Code, h.CodeSystem, h.DisplayName, h.TemplateID = "", "", "", "" }},
		{"two authors, male patient without СНИЛС", func(h *Header) {
			h.Authors = append(h.Authors, h.Authors[0])
			h.Authors[1].SNILS = "08765430300"
			h.Patient.Sex, h.Patient.SNILS = "male", ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sampleHeader()
			tc.edit(&h)
			doc, err := Build(h)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(doc)
			if err != nil {
				t.Fatalf("parse what Build wrote: %v\n%s", err, doc)
			}
			want := h
			want.Body = ""
			if !got.EffectiveTime.Equal(want.EffectiveTime) {
				t.Errorf("effectiveTime %v, want %v", got.EffectiveTime, want.EffectiveTime)
			}
			got.EffectiveTime = want.EffectiveTime
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestBuildWritesTheСЭМДForms(t *testing.T) {
	doc, err := Build(sampleHeader())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`<ClinicalDocument xmlns="urn:hl7-org:v3"`,
		`<effectiveTime value="20260320150000+0300"/>`, // TS with a + offset, Moscow time
		`<id root="1.2.643.100.3" extension="11223344595"/>`,
		`<templateId root="1.2.643.5.1.13.13.14.86.9.2"/>`,
		`<code code="86" codeSystem="1.2.643.5.1.13.13.11.1522"`,
		`<birthTime value="19850321"/>`,
		`&amp; &lt;поликлиника&gt;`,
	} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("document lacks %s", want)
		}
	}
	if bytes.Contains(doc, []byte("<!DOCTYPE")) {
		t.Error("Build wrote a DTD")
	}
}

func TestBuildRefusesIncompleteHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Header)
	}{
		{"no id", func(h *Header) { h.ID.Extension = "" }},
		{"no setId", func(h *Header) { h.SetID = topics.ID{} }},
		{"no time", func(h *Header) { h.EffectiveTime = time.Time{} }},
		{"code without system", func(h *Header) { h.CodeSystem = "" }},
		{"no patient id", func(h *Header) { h.Patient.ID.Extension = "" }},
		{"no patient name", func(h *Header) { h.Patient.Name.Given = "" }},
		{"bad birth date", func(h *Header) { h.Patient.BirthDate = "1985-02-30" }},
		{"no author", func(h *Header) { h.Authors = nil }},
		{"author without СНИЛС", func(h *Header) { h.Authors[0].SNILS = "" }},
		{"no custodian", func(h *Header) { h.CustodianOID = "" }},
		{"legal authenticator without id", func(h *Header) { h.LegalAuthenticator.ID = topics.ID{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := sampleHeader()
			tc.edit(&h)
			if _, err := Build(h); !errors.Is(err, ErrIncomplete) {
				t.Errorf("got %v, want ErrIncomplete", err)
			}
		})
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	good, err := Build(sampleHeader())
	if err != nil {
		t.Fatal(err)
	}
	body := string(good[bytes.Index(good, []byte("<ClinicalDocument")):])
	drop := func(elem string) []byte {
		i := strings.Index(body, "<"+elem)
		j := strings.Index(body[i:], "/>")
		return []byte(body[:i] + body[i+j+2:])
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotXML},
		{"not XML", []byte("%PDF-1.7 not a CDA"), ErrNotXML},
		{"JSON", []byte(`{"kind":"148"}`), ErrNotXML},
		{"truncated", good[:len(good)/2], ErrNotXML},
		{"Windows-1251 bytes", append([]byte("<ClinicalDocument xmlns=\"urn:hl7-org:v3\">"), 0xc8, 0xe2), ErrNotXML},
		{"DTD", []byte(`<!DOCTYPE ClinicalDocument [<!ELEMENT ClinicalDocument ANY>]>` + body), ErrDTD},
		{"external entity", []byte(`<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:1/secret">]>` +
			strings.Replace(body, "<title>", "<title>&x;", 1)), ErrDTD},
		{"billion laughs", []byte(`<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><d>&b;</d>`), ErrDTD},
		{"another root", []byte(`<Envelope xmlns="urn:hl7-org:v3"/>`), ErrNotCDA},
		{"ClinicalDocument without namespace", []byte(`<ClinicalDocument/>`), ErrNotCDA},
		{"no id", drop("id root=\"1.2.643.5.1.13.13.12.1.42.202.100.1.1.51\""), ErrHeader},
		{"no setId", drop("setId"), ErrHeader},
		{"no versionNumber", drop("versionNumber"), ErrHeader},
		{"effectiveTime without offset", []byte(strings.Replace(body, "20260320150000+0300", "20260320150000", 1)), ErrHeader},
		{"birthTime not a date", []byte(strings.Replace(body, "19850321", "1985", 1)), ErrHeader},
		{"no custodian id", drop("id root=\"1.2.643.5.1.13.13.12.1.42.202\""), ErrHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKindTable(t *testing.T) {
	for kind, k := range kinds {
		if k.Kind != kind || k.Code == "" || k.DisplayName == "" || k.Title == "" {
			t.Errorf("row %s incomplete: %+v", kind, k)
		}
		// The СЭМД templates are 1.2.643.5.1.13.13.14.<1522 code>.9.<edition>.
		if !strings.HasPrefix(k.TemplateID, "1.2.643.5.1.13.13.14."+k.Code+".9.") {
			t.Errorf("row %s: template %s does not belong to code %s", kind, k.TemplateID, k.Code)
		}
	}
	if _, ok := LookupKind("34"); ok {
		t.Error("kind 34 is not in the public record; the table must not guess it")
	}
}

// TestParseReadsTheHeaderOnly: the body is not parsed, but a file cut
// short is still refused, and what XML allows after the document element
// is still taken.
func TestParseReadsTheHeaderOnly(t *testing.T) {
	h := sampleHeader()
	h.Body = strings.Repeat("Жалобы на головную боль. ", 400)
	good, err := Build(h)
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	bodyAt := strings.Index(s, "<component>")
	if bodyAt < 0 {
		t.Fatal("Build wrote no component")
	}
	prefixed := strings.NewReplacer("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"", "<hl7:ClinicalDocument xmlns:hl7=\"urn:hl7-org:v3\" xmlns=\"urn:hl7-org:v3\"",
		"</ClinicalDocument>", "</hl7:ClinicalDocument>").Replace(s)
	if prefixed == s {
		t.Fatal("the document element was not rewritten with a prefix")
	}
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"as built", s, nil},
		{"white space, a comment and a processing instruction after the end", s + "\n<!-- signed -->\n<?mis v1?>\n", nil},
		{"white space inside the end tag", strings.Replace(s, "</ClinicalDocument>", "</ClinicalDocument \n>", 1), nil},
		{"a prefixed document element", prefixed, nil},
		{"an unbalanced body is not read", strings.Replace(s, "<structuredBody>", "<structuredBody><b>", 1), nil},
		{"cut short in the body", s[:bodyAt+(len(s)-bodyAt)/2], ErrNotXML},
		{"cut just before the end tag's '>'", strings.TrimRight(s, "\n")[:len(strings.TrimRight(s, "\n"))-1], ErrNotXML},
		{"text after the end", s + "x", ErrNotXML},
		{"an unclosed comment after the end", s + "-->", ErrNotXML},
		{"another end tag", strings.Replace(s, "</ClinicalDocument>", "</component>", 1), ErrNotXML},
		{"not UTF-8 in the body", strings.Replace(s, "головную", "\xc3\x28", 1), ErrNotXML},
		{"the header is still checked", strings.Replace(s, "<title>", "<title><b>", 1), ErrNotXML},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && (got.ID != h.ID || got.Patient.SNILS != h.Patient.SNILS || got.LegalAuthenticator == nil) {
				t.Errorf("header read wrong: %+v", got)
			}
		})
	}
}

// TestParseDoesNotLookPastTheBody: CDA puts the body last; a required
// header element moved after it is reported missing, not found there.
func TestParseDoesNotLookPastTheBody(t *testing.T) {
	good, err := Build(sampleHeader())
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	i := strings.Index(s, "<custodian>")
	j := strings.Index(s, "</custodian>") + len("</custodian>")
	if i < 0 || j < i {
		t.Fatal("Build wrote no custodian")
	}
	custodian := s[i:j]
	moved := strings.Replace(s[:i]+s[j:], "</ClinicalDocument>", custodian+"</ClinicalDocument>", 1)
	if _, err := Parse([]byte(moved)); !errors.Is(err, ErrHeader) {
		t.Errorf("custodian after the body: got %v, want ErrHeader", err)
	}
}
