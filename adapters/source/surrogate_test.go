package source

import (
	"bytes"
	"strings"
	"testing"
)

func TestLoneSurrogateAt(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		want       int
	}{
		{"none", `{"a":"Иванова"}`, -1},
		{"a pair", `{"a":"\ud83d\ude00"}`, -1},
		{"a pair in capitals", `{"a":"\uD83D\uDE00"}`, -1},
		{"a lone high half", `{"a":"x\ud83dy"}`, 7},
		{"a high half at the end", `{"a":"\ud83d"}`, 6},
		{"a high half before another high half", `{"a":"\ud83d\ud83d\ude00"}`, 6},
		{"a lone low half", `{"a":"\ude00"}`, 6},
		{"an escaped backslash, then text", `{"a":"\\ud800"}`, -1},
		{"an escaped quote does not end the string", `{"a":"\"\udc00"}`, 8},
		{"a key", `{"\udc00":1}`, 2},
		{"a short escape", `{"a":"\ud8"}`, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loneSurrogateAt([]byte(tc.json)); got != tc.want {
				t.Errorf("loneSurrogateAt(%s) = %d, want %d", tc.json, got, tc.want)
			}
		})
	}
}

// loneSurrogateAtByByte is loneSurrogateAt as first written, looking at
// every byte: the oracle the jumping version must agree with.
func loneSurrogateAtByByte(value []byte) int {
	inString := false
	for i := 0; i < len(value); i++ {
		switch b := value[i]; {
		case b == '"':
			inString = !inString
		case b == '\\' && inString:
			if i+1 < len(value) && value[i+1] != 'u' {
				i++
				continue
			}
			u, ok := hex4(value, i+2)
			if !ok {
				continue
			}
			switch {
			case u >= 0xDC00 && u <= 0xDFFF:
				return i
			case u >= 0xD800 && u <= 0xDBFF:
				if i+7 < len(value) && value[i+6] == '\\' && value[i+7] == 'u' {
					if lo, ok := hex4(value, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 11
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

// surrogateSeeds are inputs where the jumps could go wrong: escapes and
// quotes outside strings, at the ends, back to back, in long runs.
var surrogateSeeds = []string{
	``, `"`, `\`, `\"`, `"\`, `"\"`, `"\\"`, `\ud800`, `"\ud800`, `"\ud800"`,
	`{"a":"x"}\udc00`, `\"\udc00"`, `"a"\udc00"\udc00"`, `"\\\udc00"`, `"\\\\udc00"`,
	`"\ud800\udc00\ud800"`, `"\ud800\u"`, `"\ud800\udc0"`, `"\u\udc00"`,
	`{"data":"` + strings.Repeat("QUJD", 1000) + `","n":"\ud83d"}`,
	`{"data":"` + strings.Repeat("QUJD", 1000) + `"}`,
	`{"a":"` + strings.Repeat(`\\`, 100) + `\udc00"}`,
}

func TestLoneSurrogateAtAgreesWithByteScan(t *testing.T) {
	for _, s := range surrogateSeeds {
		if got, want := loneSurrogateAt([]byte(s)), loneSurrogateAtByByte([]byte(s)); got != want {
			t.Errorf("loneSurrogateAt(%.60q) = %d, the byte scan says %d", s, got, want)
		}
	}
}

func FuzzLoneSurrogateAt(f *testing.F) {
	for _, s := range surrogateSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := loneSurrogateAt(b), loneSurrogateAtByByte(b); got != want {
			t.Errorf("loneSurrogateAt(%q) = %d, the byte scan says %d", b, got, want)
		}
	})
}

func TestQuoteOrBackslash(t *testing.T) {
	for _, s := range []string{"", "abc", `"`, `\`, `ab"c\d`, `ab\c"d`, strings.Repeat("x", 100) + `\`, strings.Repeat("x", 100) + `"`} {
		if got, want := quoteOrBackslash([]byte(s)), bytes.IndexAny([]byte(s), `"\`); got != want {
			t.Errorf("quoteOrBackslash(%q) = %d, want %d", s, got, want)
		}
	}
}
