package source

import "testing"

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
