package source

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzScanMatchesEncodingJSON holds the one-pass scan to encoding/json:
// for any valid JSON object, the unknown members it finds are exactly the
// members a map decode finds whose names are not known, with the same
// values; and it finds nesting too deep exactly when there is.
func FuzzScanMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":{"c":[1,2,{"d":"}"}]},"e":"x\"y","f\u0067":null}`,
		`{"snils":"1","x":[[[[]]]],"y":"\\","z":{}}`,
		` { "A" : true , "b":"{[" } `,
		`{}`, `[]`, `"s"`,
	} {
		f.Add([]byte(s))
	}
	known := map[string]bool{"a": true, "snils": true}
	f.Fuzz(func(t *testing.T, b []byte) {
		first, deep, unknown := scan(b, 4, known)
		// Decode rejects invalid UTF-8 before it scans (encoding/json would
		// turn such bytes in names into U+FFFD); hold the scan to that case.
		if !json.Valid(b) || !utf8.Valid(b) {
			return
		}
		var v any
		_ = json.Unmarshal(b, &v)
		if d := tokenDepth(b); (d > 4) != (deep >= 0) {
			t.Fatalf("depth %d, scan says deep at %d", d, deep)
		}
		obj, ok := v.(map[string]any)
		if !ok || deep >= 0 {
			return
		}
		if first != '{' {
			t.Fatalf("first byte %q of an object", first)
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(b, &raw)
		want := map[string]json.RawMessage{}
		for k, val := range raw {
			if !known[strings.ToLower(k)] {
				want[k] = val
			}
		}
		if len(obj) != len(raw) {
			return // duplicate names: encoding/json keeps the last; not worth matching
		}
		if len(unknown) != len(want) {
			t.Fatalf("unknown %v, want %v", unknown, want)
		}
		for k, val := range want {
			if !bytes.Equal(bytes.TrimSpace(unknown[k]), bytes.TrimSpace(val)) {
				t.Fatalf("member %q: %s, want %s", k, unknown[k], val)
			}
		}
	})
}

// tokenDepth is the deepest nesting of the JSON text, from its tokens
// (decoding into a value would drop members with repeated names).
func tokenDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}
