package source

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
)

// Limits bound what a decoder accepts.
type Limits struct {
	MaxBytes int // the record value; 1 MiB by default
	MaxDepth int // JSON nesting; 32 by default (the deepest payload needs 5)
}

// DefaultLimits are the limits when nothing is configured.
func DefaultLimits() Limits { return Limits{MaxBytes: 1 << 20, MaxDepth: 32} }

// decode decodes value into dst, a pointer to a payload struct whose
// top-level JSON names (lower-cased) are known. It reports oversize values,
// invalid UTF-8, deep nesting, non-JSON, a non-object and wrong types as
// problems naming the byte offset or the field; it returns the top-level
// fields the payload type does not name, to be kept.
func decode(value []byte, lim Limits, dst any, known map[string]bool) (map[string]json.RawMessage, []Problem) {
	if lim.MaxBytes > 0 && len(value) > lim.MaxBytes {
		return nil, []Problem{{reasons.DecodeTooLarge, "", fmt.Sprintf("%d bytes, the limit is %d", len(value), lim.MaxBytes)}}
	}
	if !utf8.Valid(value) {
		return nil, []Problem{{reasons.DecodeInvalidUTF8, "", fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(value))}}
	}
	if at := loneSurrogateAt(value); at >= 0 {
		// encoding/json would put U+FFFD in its place without a word: a
		// name would reach the registries with a character lost.
		return nil, []Problem{{reasons.TextUnrepresentable, "", fmt.Sprintf("a \\u escape of half a UTF-16 surrogate pair at byte %d", at)}}
	}
	first, depthAt, unknown := scan(value, lim.MaxDepth, known)
	if depthAt >= 0 {
		return nil, []Problem{{reasons.DecodeTooDeep, "", fmt.Sprintf("nesting deeper than %d at byte %d", lim.MaxDepth, depthAt)}}
	}
	if first == 0 {
		return nil, []Problem{{reasons.DecodeNotJSON, "", "the value is empty"}}
	}
	if first != '{' {
		if stdjson.Valid(value) {
			return nil, []Problem{{reasons.DecodeNotObject, "", "the value is JSON but not an object"}}
		}
		return nil, []Problem{{reasons.DecodeNotJSON, "", "the value does not start a JSON object"}}
	}
	if err := json.Unmarshal(value, dst); err != nil {
		return nil, []Problem{jsonProblem(err)}
	}
	return unknown, nil
}

func jsonProblem(err error) Problem {
	var syn *stdjson.SyntaxError
	var typ *stdjson.UnmarshalTypeError
	var b64 base64.CorruptInputError
	switch {
	case errors.As(err, &b64):
		// The value is JSON; a string meant to carry bytes is not base64.
		// encoding/json does not say which field: Decoder.Start names it.
		return Problem{reasons.DecodeNotBase64, "", fmt.Sprintf("illegal base64 data at byte %d of the string", int64(b64))}
	case errors.As(err, &syn):
		return Problem{reasons.DecodeNotJSON, "", fmt.Sprintf("at byte %d: %s", syn.Offset, syn.Error())}
	case errors.As(err, &typ):
		return Problem{reasons.DecodeWrongType, typ.Field, fmt.Sprintf("expected %s, got a JSON %s", jsonKind(typ.Type), typ.Value)}
	}
	return Problem{reasons.DecodeNotJSON, "", err.Error()}
}

// jsonKind names a Go type as the JSON kind a sender must use.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1
}

// scan makes one pass over the value and returns its first non-space byte
// (0 when there is none), the offset where nesting first exceeds max (-1
// when it never does; brackets inside strings do not count) and, for an
// object, its top-level members whose names known does not hold. The
// members are only meaningful once the value is known to be valid JSON.
func scan(b []byte, max int, known map[string]bool) (first byte, deepAt int, unknown map[string]json.RawMessage) {
	depth := 0
	inString := false
	keyStart, keyEnd, valStart := -1, -1, -1
	expectKey := false
	flush := func(end int) {
		if keyEnd < 0 || valStart < 0 {
			keyStart, keyEnd, valStart = -1, -1, -1
			return
		}
		raw := b[keyStart+1 : keyEnd]
		name, ok := string(raw), true
		if bytes.IndexByte(raw, '\\') >= 0 { // an escaped name: let encoding/json unquote it
			ok = json.Unmarshal(b[keyStart:keyEnd+1], &name) == nil
		}
		if ok && !known[strings.ToLower(name)] {
			if unknown == nil {
				unknown = map[string]json.RawMessage{}
			}
			unknown[name] = json.RawMessage(bytes.TrimSpace(b[valStart:end]))
		}
		keyStart, keyEnd, valStart = -1, -1, -1
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if first == 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			first = c
		}
		if inString {
			// Jump to the next quote or backslash: most bytes are string contents.
			j := quoteOrBackslash(b[i:])
			if j < 0 {
				break
			}
			i += j
			c = b[i]
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
				if depth == 1 && expectKey {
					keyEnd, expectKey = i, false
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
			if depth == 1 && keyStart < 0 {
				keyStart, expectKey = i, true
			}
		case ':':
			if depth == 1 && valStart < 0 {
				valStart = i + 1
			}
		case ',':
			if depth == 1 {
				flush(i)
			}
		case '{', '[':
			depth++
			if max > 0 && depth > max {
				return first, i, nil
			}
		case '}', ']':
			if depth == 1 {
				flush(i)
			}
			depth--
		}
	}
	return first, -1, unknown
}

// Contract is the checking plan of a payload type, read once from its
// struct tags: a field whose json tag lacks omitempty must not be empty
// (FIELD_REQUIRED), a list with a minItems tag must hold at least that many
// items (FIELD_REQUIRED: `[]` is as good as absent), a string with an enum
// tag must hold one of its values (FIELD_ENUM); nested structs, pointers
// and slices are followed.
type Contract struct {
	fields []contractField
	// base64 lists the JSON paths of the fields that carry bytes (base64
	// strings), list elements written as [], to name the field of a
	// DECODE_NOT_BASE64 that encoding/json reports without one.
	base64 []string
}

type contractField struct {
	index    int
	name     string
	required bool
	enum     string
	minItems int       // for a slice; 0 when the tag is absent
	sub      *Contract // for a struct, a pointer to one, or a slice of them
	slice    bool
}

// NewContract reads the plan of struct type t.
func NewContract(t reflect.Type) *Contract {
	c := newContract(t, map[reflect.Type]*Contract{})
	c.base64 = base64Paths(t, "", map[reflect.Type]bool{})
	return c
}

// base64Paths lists the JSON paths of t's []byte fields.
func base64Paths(t reflect.Type, path string, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	defer delete(seen, t)
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		ft, p := f.Type, joinPath(path, name)
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Uint8:
			out = append(out, p)
		case ft.Kind() == reflect.Slice:
			out = append(out, base64Paths(ft.Elem(), p+"[]", seen)...)
		default:
			out = append(out, base64Paths(ft, p, seen)...)
		}
	}
	return out
}

// base64Field is the field a DECODE_NOT_BASE64 is about: the payload's one
// base64 field or, when it has several, the first whose value in the
// record is not base64 (signers[1].signature, say); "" when none can be
// found.
func (c *Contract) base64Field(value []byte) string {
	if len(c.base64) == 1 {
		return c.base64[0]
	}
	var doc any
	if err := json.Unmarshal(value, &doc); err != nil {
		return ""
	}
	for _, p := range c.base64 {
		if f := badBase64At(doc, strings.Split(p, "."), ""); f != "" {
			return f
		}
	}
	return ""
}

// badBase64At walks a decoded JSON value along a base64Paths path (a
// segment ending in [] is an array) and returns the concrete path of the
// first string there that is not standard base64.
func badBase64At(v any, path []string, at string) string {
	if len(path) == 0 {
		s, ok := v.(string)
		if !ok {
			return ""
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return at
		}
		return ""
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	name, isArray := strings.CutSuffix(path[0], "[]")
	next := joinPath(at, name)
	if !isArray {
		return badBase64At(obj[name], path[1:], next)
	}
	items, _ := obj[name].([]any)
	for i, item := range items {
		if f := badBase64At(item, path[1:], fmt.Sprintf("%s[%d]", next, i)); f != "" {
			return f
		}
	}
	return ""
}

func newContract(t reflect.Type, seen map[reflect.Type]*Contract) *Contract {
	if c, ok := seen[t]; ok {
		return c
	}
	c := &Contract{}
	seen[t] = c
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		cf := contractField{index: i, name: name, required: !strings.Contains(opts, "omitempty"), enum: f.Tag.Get("enum")}
		if n, err := strconv.Atoi(f.Tag.Get("minItems")); err == nil && n > 0 && f.Type.Kind() == reflect.Slice {
			cf.minItems = n
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
			cf.slice = true
			ft = ft.Elem()
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			cf.sub = newContract(ft, seen)
		}
		c.fields = append(c.fields, cf)
	}
	return c
}

// names lists the JSON names of the type's fields, lower-cased as
// encoding/json matches them.
func (c *Contract) names() map[string]bool {
	out := make(map[string]bool, len(c.fields))
	for _, f := range c.fields {
		out[strings.ToLower(f.name)] = true
	}
	return out
}

// Check walks a decoded payload (a pointer to the plan's type).
func (c *Contract) Check(v any) []Problem {
	var ps []Problem
	c.walk(reflect.ValueOf(v), "", &ps)
	return ps
}

func (c *Contract) walk(v reflect.Value, path string, ps *[]Problem) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	for i := range c.fields {
		f := &c.fields[i]
		fv := v.Field(f.index)
		if f.required && fv.IsZero() {
			*ps = append(*ps, Problem{reasons.FieldRequired, joinPath(path, f.name), "required"})
			continue
		}
		if f.minItems > 0 && fv.Len() < f.minItems {
			*ps = append(*ps, Problem{reasons.FieldRequired, joinPath(path, f.name), fmt.Sprintf("at least %d item(s) required, got %d", f.minItems, fv.Len())})
			continue
		}
		if f.enum != "" && fv.Kind() == reflect.String && fv.Len() > 0 && !inList(fv.String(), f.enum) {
			*ps = append(*ps, Problem{reasons.FieldEnum, joinPath(path, f.name), "expected one of " + strings.ReplaceAll(f.enum, ",", ", ")})
		}
		if f.sub == nil {
			continue
		}
		if f.slice {
			for j := 0; j < fv.Len(); j++ {
				f.sub.walk(fv.Index(j), joinPath(path, f.name)+"["+strconv.Itoa(j)+"]", ps)
			}
			continue
		}
		f.sub.walk(fv, joinPath(path, f.name), ps)
	}
}

func inList(s, list string) bool {
	for _, v := range strings.Split(list, ",") {
		if v == s {
			return true
		}
	}
	return false
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// loneSurrogateAt returns the offset of the first \u escape inside a JSON
// string that is half of a UTF-16 surrogate pair without its other half,
// or -1. value is valid UTF-8; it need not be valid JSON.
//
// It runs on every record, and a document event carries its CDA in
// base64 (tens of KiB to 1 MiB): it jumps from quote to quote and, inside
// a string, to the next quote or backslash with bytes.IndexByte rather
// than looking at each byte, and a value with no backslash has no escape
// at all.
func loneSurrogateAt(value []byte) int {
	if bytes.IndexByte(value, '\\') < 0 {
		return -1
	}
	inString := false
	for i := 0; i < len(value); i++ {
		var j int
		if inString {
			j = quoteOrBackslash(value[i:])
		} else {
			j = bytes.IndexByte(value[i:], '"') // outside strings only a quote matters
		}
		if j < 0 {
			return -1
		}
		i += j
		switch b := value[i]; {
		case b == '"':
			inString = !inString
		case b == '\\':
			if i+1 < len(value) && value[i+1] != 'u' {
				i++ // an escaped character, perhaps a quote
				continue
			}
			u, ok := hex4(value, i+2)
			if !ok {
				continue // not a \u escape the decoder takes; it reports that
			}
			switch {
			case u >= 0xDC00 && u <= 0xDFFF:
				return i // a low half with no high half before it
			case u >= 0xD800 && u <= 0xDBFF:
				if i+7 < len(value) && value[i+6] == '\\' && value[i+7] == 'u' {
					if lo, ok := hex4(value, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 11 // the pair
						continue
					}
				}
				return i
			}
			i += 5
		}
	}
	return -1
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b, or -1.
// Two bytes.IndexByte (vectorized) beat one bytes.IndexAny (a byte at a
// time) on the long strings of base64 an event carries.
func quoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		q = len(b)
	}
	if bs := bytes.IndexByte(b[:q], '\\'); bs >= 0 {
		return bs
	}
	if q == len(b) {
		return -1
	}
	return q
}

// hex4 reads four hex digits at value[at:].
func hex4(value []byte, at int) (rune, bool) {
	if at+4 > len(value) {
		return 0, false
	}
	var u rune
	for _, c := range value[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			u = u<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return u, true
}
