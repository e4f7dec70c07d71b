package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
)

// Limits bound what a decoder accepts.
type Limits struct {
	MaxBytes int // the record value; 1 MiB by default
	MaxDepth int // JSON nesting; 32 by default (the deepest payload needs 5)
}

// DefaultLimits are the limits when nothing is configured.
func DefaultLimits() Limits { return Limits{MaxBytes: 1 << 20, MaxDepth: 32} }

// Decode decodes value into dst, a pointer to a payload struct. It reports
// oversize values, invalid UTF-8, deep nesting, non-JSON, a non-object and
// wrong types as problems naming the byte offset or the field; it returns
// the top-level fields the payload type does not name, to be kept.
func Decode(value []byte, lim Limits, dst any) (map[string]json.RawMessage, []Problem) {
	if lim.MaxBytes > 0 && len(value) > lim.MaxBytes {
		return nil, []Problem{{reasons.DecodeTooLarge, "", fmt.Sprintf("%d bytes, the limit is %d", len(value), lim.MaxBytes)}}
	}
	if !utf8.Valid(value) {
		return nil, []Problem{{reasons.DecodeInvalidUTF8, "", fmt.Sprintf("invalid UTF-8 at byte %d", invalidUTF8At(value))}}
	}
	first, depthAt := scan(value, lim.MaxDepth)
	if depthAt >= 0 {
		return nil, []Problem{{reasons.DecodeTooDeep, "", fmt.Sprintf("nesting deeper than %d at byte %d", lim.MaxDepth, depthAt)}}
	}
	if first == 0 {
		return nil, []Problem{{reasons.DecodeNotJSON, "", "the value is empty"}}
	}
	if first != '{' {
		if json.Valid(value) {
			return nil, []Problem{{reasons.DecodeNotObject, "", "the value is JSON but not an object"}}
		}
		return nil, []Problem{{reasons.DecodeNotJSON, "", "the value does not start a JSON object"}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(value, &fields); err != nil {
		return nil, []Problem{jsonProblem(err)}
	}
	if err := json.Unmarshal(value, dst); err != nil {
		return nil, []Problem{jsonProblem(err)}
	}
	known := jsonFieldNames(reflect.TypeOf(dst).Elem())
	var unknown map[string]json.RawMessage
	for k, v := range fields {
		if !known[strings.ToLower(k)] {
			if unknown == nil {
				unknown = map[string]json.RawMessage{}
			}
			unknown[k] = v
		}
	}
	return unknown, nil
}

func jsonProblem(err error) Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
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

// scan returns the first non-space byte (0 when there is none) and the
// offset where nesting first exceeds max (-1 when it never does). Brackets
// inside strings do not count.
func scan(b []byte, max int) (first byte, deepAt int) {
	depth := 0
	inString, escaped := false, false
	for i, c := range b {
		if first == 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			first = c
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if max > 0 && depth > max {
				return first, i
			}
		case '}', ']':
			depth--
		}
	}
	return first, -1
}

// jsonFieldNames lists, lower-cased as encoding/json matches them, the
// names a struct type decodes.
func jsonFieldNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = true
	}
	return out
}

// CheckContract walks a decoded payload against the contract's struct tags:
// a field whose json tag lacks omitempty must not be empty (FIELD_REQUIRED)
// and a string with an enum tag must hold one of its values (FIELD_ENUM).
// Optional nested structs are checked when present.
func CheckContract(v any) []Problem {
	var ps []Problem
	walkContract(reflect.ValueOf(v), "", &ps)
	return ps
}

func walkContract(v reflect.Value, path string, ps *[]Problem) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			child := joinPath(path, name)
			required := !strings.Contains(opts, "omitempty")
			if required && fv.IsZero() {
				*ps = append(*ps, Problem{reasons.FieldRequired, child, "required"})
				continue
			}
			if enum := f.Tag.Get("enum"); enum != "" && fv.Kind() == reflect.String && fv.String() != "" {
				if !inList(fv.String(), enum) {
					*ps = append(*ps, Problem{reasons.FieldEnum, child, "expected one of " + strings.ReplaceAll(enum, ",", ", ")})
				}
			}
			walkContract(fv, child, ps)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkContract(v.Index(i), fmt.Sprintf("%s[%d]", path, i), ps)
		}
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
