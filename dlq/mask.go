package dlq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/egisz-gateway/egisz-gateway/adapters/ident"
	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// maxTextPayload bounds a payload shown as text (one that is not JSON):
// poison records can be megabytes.
const maxTextPayload = 4 << 10

// MaskKey masks a patient key (topics.KeyPatient) for display, as
// ident.MaskPatientKey does.
func MaskKey(k []byte) string { return ident.MaskPatientKey(string(k)) }

// personalFields are the payload fields (topics payloads) that hold
// personal data, masked whatever their value looks like.
var personalFields = map[string]func(string) string{
	"snils":       ident.MaskSNILS,
	"enp":         ident.MaskENP,
	"patient_key": func(s string) string { return MaskKey([]byte(s)) },
	"family_name": maskName,
	"given_name":  maskName,
	"patronymic":  maskName,
	"birth_date":  func(string) string { return "****-**-**" },
	"local_id":    func(string) string { return "***" },
	"data":        hidden,
}

// plainTextFields are the payload's text fields that name things, not
// people (a diagnosis, a drug, an organization, a test, a reason's text);
// Cyrillic words elsewhere, in fields a source added, may be a name or an
// address and are masked.
var plainTextFields = map[string]bool{
	"name": true, "signa": true, "dose": true, "form": true, "unit": true,
	"cancel_reason": true, "message_ru": true, "reference_range": true,
}

// MaskName masks a person's name as the dead-letter views do: its first
// letter and ***. For other commands that list people (certificates).
func MaskName(s string) string { return ident.MaskName(s) }

func maskName(s string) string { return ident.MaskName(s) }

// contractFields are the JSON field names of every payload of the topic
// catalog. A field outside them was added by a source, and nothing says
// what it holds: a foreign patient's name in Latin letters, a phone or a
// passport number, a date of birth. Its value is hidden whole.
var contractFields = payloadFields(topics.Default())

// payloadFields collects the JSON names of the fields of every payload
// type of the catalog, nested structs and slices included.
func payloadFields(cat topics.Catalog) map[string]bool {
	names := map[string]bool{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name != "" {
				names[name] = true
			} else if !f.Anonymous {
				names[strings.ToLower(f.Name)] = true
			}
			walk(f.Type)
		}
	}
	for _, t := range cat {
		if t.Payload != nil {
			walk(t.Payload)
		}
	}
	return names
}

// MaskPayload returns the value for display. A JSON value comes back
// indented: personal fields masked, fields the contract does not name
// hidden whole, and in the rest digit runs that may be personal numbers
// and Cyrillic words (names, addresses) masked. Anything else comes back
// as text, cut to 4 KiB, with every word and number masked but the
// contract's field names, so its shape still shows. reveal skips the
// masking (the caller has checked the role and written the audit record).
func MaskPayload(v []byte, reveal bool) (pretty json.RawMessage, text string) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err == nil && !dec.More() {
		if !reveal {
			doc = maskJSON("", doc)
		}
		if out, err := json.MarshalIndent(doc, "", "  "); err == nil {
			return out, ""
		}
	}
	s := strings.ToValidUTF8(string(v), "\uFFFD")
	cut := ""
	if len(s) > maxTextPayload {
		s, cut = strings.ToValidUTF8(s[:maxTextPayload], ""), fmt.Sprintf("… (%d bytes in all)", len(v))
	}
	if !reveal {
		// Text that is not JSON has no fields to go by: a name may be in
		// any script and a number in any shape. Only the contract's field
		// names and the punctuation between them stay.
		s = words.ReplaceAllStringFunc(s, func(w string) string {
			if contractFields[w] {
				return w
			}
			return "***"
		})
	}
	return nil, s + cut
}

var (
	cyrillicWords = regexp.MustCompile(`\p{Cyrillic}+`)
	// words are runs of letters of any script, digits and underscores.
	words = regexp.MustCompile(`[\p{L}\p{N}_]+`)
)

// hidden is what stands for a value hidden whole.
func hidden(s string) string {
	return fmt.Sprintf("*** (%d characters hidden)", utf8.RuneCountInString(s))
}

func maskJSON(field string, v any) any {
	if field != "" && !contractFields[field] {
		return hideAll(v)
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = maskJSON(k, x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = maskJSON(field, x)
		}
		return t
	case string:
		if f, ok := personalFields[field]; ok {
			return f(t)
		}
		t = ident.ScrubDigits(t)
		if !plainTextFields[field] {
			t = cyrillicWords.ReplaceAllString(t, "***")
		}
		return t
	case json.Number:
		if _, ok := personalFields[field]; ok || len(t) >= 10 {
			return "***"
		}
		return t
	}
	return v
}

// hideAll hides every value under a field the contract does not name,
// keeping the keys of objects within, so the shape still shows.
func hideAll(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = hideAll(x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = hideAll(x)
		}
		return t
	case string:
		return hidden(t)
	case json.Number:
		return "***"
	}
	return v // true, false, null
}

// safeHeaders carry no personal data and are shown as they are.
var safeHeaders = map[string]bool{
	"ce_id": true, "ce_source": true, "ce_type": true, "ce_time": true, "ce_specversion": true,
	"ce_origintype": true, "ce_replaycount": true, "content-type": true, "traceparent": true, "tracestate": true,
	record.HReason: true, record.HMessage: true, record.HOwner: true, record.HField: true, record.HStage: true, record.HDestination: true,
	record.HOrigTopic: true, record.HOrigPartition: true, record.HOrigOffset: true, record.HOrigTimestamp: true, record.HAttempts: true,
	record.HFirstFailure: true, record.HLastFailure: true, record.HRetryable: true, record.HHTTPStatus: true, record.HReplayCount: true,
}

// Header is a record header for display.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// MaskHeaders returns the headers for display, every value not known to be
// safe scrubbed of digit runs unless reveal.
func MaskHeaders(hs []Header, reveal bool) []Header {
	out := make([]Header, len(hs))
	for i, h := range hs {
		v := strings.ToValidUTF8(h.Value, "\uFFFD")
		if !reveal && !safeHeaders[h.Key] {
			v = ident.ScrubDigits(v)
		}
		out[i] = Header{Key: h.Key, Value: v}
	}
	return out
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
