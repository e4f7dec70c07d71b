package cda

// The kind table: which ClinicalDocument/code and templateId a document of
// a РЭМД kind must carry. Two code systems meet here and must not be mixed
// (PROTOCOLS.md §0): the request's kind is an НСИ 1520 id (registrable
// document, one id per edition); the CDA's code is an НСИ 1522 code (kind
// of medical documentation), and the template names the edition.
//
// Sources, each row: the Schematron of semd_validator
// (github.com/1CMedicine/semd_validator, data/<1520 id>.sch, rules У1-3/У1-9
// for templateId and У1-5/У1-13 for code), whose data folders are named by
// the 1520 id, and nsi1520_kind_names.json of egisz-monitor-corp for the
// names (PROTOCOLS.md §0, §3).
//
// Kinds the public record does not map (the examples' 34, the load
// generator's 2, 5 and 7, and every other 1520 id) are not guessed: the
// document's code and templateId are then not checked against the kind
// (Check says so with KindMapped false in its Result), everything else is.
// A row added here is the whole change when a mapping becomes known.

// CodeSystemKind1522 is НСИ 1.2.643.5.1.13.13.11.1522, the kinds of
// medical documentation ClinicalDocument/code takes its code from.
const CodeSystemKind1522 = "1.2.643.5.1.13.13.11.1522"

// codeSystemsKind are the code systems rule Main01-5 of the Schematron
// allows for ClinicalDocument/code/@codeSystem (PROTOCOLS.md §0).
var codeSystemsKind = []string{
	CodeSystemKind1522,
	"1.2.643.5.1.13.2.1.1.646",
	"1.2.643.5.1.13.13.11.1115",
	"1.2.643.5.1.13.13.99.2.195",
}

// KindInfo is what a document of one РЭМД kind carries in its header.
type KindInfo struct {
	// Kind is the НСИ 1520 id, the request's kind.
	Kind string
	// Code is the НСИ 1522 code of ClinicalDocument/code.
	Code string
	// DisplayName is the 1522 code's name, as Build writes it.
	DisplayName string
	// TemplateID is ClinicalDocument/templateId/@root.
	TemplateID string
	// Title is the edition's name in НСИ 1520.
	Title string
}

// kinds is the table, keyed by the 1520 id.
var kinds = map[string]KindInfo{
	"148": {Kind: "148", Code: "86", DisplayName: "Рецепт на лекарственный препарат", TemplateID: "1.2.643.5.1.13.13.14.86.9.2",
		Title: "Рецепт на лекарственный препарат (CDA) Редакция 2"},
	"141": {Kind: "141", Code: "37", DisplayName: "Льготный рецепт на лекарственный препарат, изделие медицинского назначения и специализированный продукт лечебного питания",
		TemplateID: "1.2.643.5.1.13.13.14.37.9.4",
		Title:      "Льготный рецепт на лекарственный препарат, изделие медицинского назначения и специализированный продукт лечебного питания (CDA) Редакция 4"},
	"140": {Kind: "140", Code: "38", DisplayName: "Отпуск по рецепту на лекарственный препарат, изделие медицинского назначения и специализированный продукт лечебного питания",
		TemplateID: "1.2.643.5.1.13.13.14.38.9.4",
		Title:      "Отпуск по рецепту на лекарственный препарат, изделие медицинского назначения и специализированный продукт лечебного питания (CDA) Редакция 4"},
	"186": {Kind: "186", Code: "7", DisplayName: "Протокол лабораторного исследования", TemplateID: "1.2.643.5.1.13.13.14.7.9.5",
		Title: "Протокол лабораторного исследования (CDA) Редакция 5"},
}

// LookupKind returns the header a document of the 1520 kind must carry,
// and false for a kind the table does not map.
func LookupKind(kind string) (KindInfo, bool) {
	k, ok := kinds[kind]
	return k, ok
}
