package jsoncodec

import (
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

type visit struct {
	At   time.Time `json:"at"`
	Code string    `json:"code"`
}

type event struct {
	ID      string            `json:"id"`
	SNILS   string            `json:"snils"`
	Age     int               `json:"age"`
	Visits  []visit           `json:"visits"`
	Extra   map[string]string `json:"extra,omitempty"`
	Raw     RawMessage        `json:"raw,omitempty"`
	Skipped bool              `json:"-"`
}

// Unmarshal answers as encoding/json does: the same value, and for what
// it refuses the same error text, which never quotes the input.
func TestUnmarshalAnswersAsTheStandardLibrary(t *testing.T) {
	cases := []struct {
		name  string
		value string
	}{
		{"an event", `{"id":"e-1","snils":"112-233-445 95","age":41,"visits":[{"at":"2026-01-02T03:04:05Z","code":"J06.9"}],"extra":{"a":"б"},"raw":{"x":[1,2]}}`},
		{"Cyrillic and escapes", `{"id":"Иванов \"Пётр\" \u0410","visits":[]}`},
		{"names in another case", `{"ID":"e-2","Snils":"x"}`},
		{"unknown fields", `{"id":"e-3","nobody":{"knows":[1,{"it":null}]}}`},
		{"nulls", `{"id":null,"visits":null,"extra":null}`},
		{"a СНИЛС sent as a number", `{"id":"e-4","snils":11223344595}`},
		{"a wrong type in an array", `{"visits":[{"at":true}]}`},
		{"a number too large", `{"age":1e400}`},
		{"a bad time", `{"visits":[{"at":"yesterday"}]}`},
		{"not JSON after a good start", `{"id":"e-5", 11223344595}`},
		{"cut short", `{"id":"e-6","snils":"112233`},
		{"trailing bytes", `{"id":"e-7"} 11223344595`},
		{"an array", `[1,2,3]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got, want event
			gotErr := Unmarshal([]byte(tc.value), &got)
			wantErr := stdjson.Unmarshal([]byte(tc.value), &want)
			if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
				t.Fatalf("error %v, encoding/json says %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded %+v, encoding/json decodes %+v", got, want)
			}
		})
	}
}

// Marshal writes what encoding/json writes, so records written before and
// after the codec changed are byte for byte alike.
func TestMarshalWritesWhatTheStandardLibraryWrites(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 123, time.FixedZone("MSK", 3*3600))
	values := map[string]any{
		"an event":  event{ID: "e-1", SNILS: "112-233-445 95", Age: 41, Visits: []visit{{At: at, Code: "J06.9"}}, Extra: map[string]string{"b": "1", "a": "<&>"}, Raw: RawMessage(`{"x": [1, 2]}`)},
		"bytes":     map[string][]byte{"value": []byte("binary\x00\xff")},
		"Cyrillic":  []string{"Иванов", "\u2028", "\"quoted\""},
		"a pointer": &visit{Code: "Z00"},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			got, err := Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := stdjson.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("wrote %s\nencoding/json writes %s", got, want)
			}
		})
	}
}

// The topic examples decode alike into a generic value.
func TestExamplesDecodeAlike(t *testing.T) {
	files, err := filepath.Glob("../../topics/examples/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := stdjson.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s decodes differently", filepath.Base(f))
		}
	}
}
