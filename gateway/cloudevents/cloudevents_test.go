package cloudevents

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func hdrs(kv ...string) []kgo.RecordHeader {
	var hs []kgo.RecordHeader
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, kgo.RecordHeader{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

func TestReading(t *testing.T) {
	hs := hdrs("ce_id", "a", "ce_time", "", "ce_id", "b")
	for _, tc := range []struct {
		name    string
		k       string
		get     string
		present bool
	}{
		{"the first of a name given twice", "ce_id", "a", true},
		{"an empty value is there", "ce_time", "", true},
		{"a name not given", "ce_source", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Get(hs, tc.k); got != tc.get {
				t.Errorf("Get = %q, want %q", got, tc.get)
			}
			if v, ok := Lookup(hs, tc.k); v != tc.get || ok != tc.present {
				t.Errorf("Lookup = %q, %v; want %q, %v", v, ok, tc.get, tc.present)
			}
		})
	}
	if m := Map(hs); !reflect.DeepEqual(m, map[string]string{"ce_id": "b", "ce_time": ""}) {
		t.Errorf("Map = %v: want the last value of a name given twice, empty values kept", m)
	}
}

func TestStartAndCarry(t *testing.T) {
	event := map[string]string{"ce_id": "e-1", "ce_source": "", "tracestate": "s", "ce_type": "not carried", "traceparent": "00-x"}
	for _, tc := range []struct {
		name  string
		value func(string) (string, bool)
		want  []kgo.RecordHeader
	}{
		{"present ones, empty included, in order", func(k string) (string, bool) { v, ok := event[k]; return v, ok },
			hdrs("ce_specversion", "1.0", "ce_type", "ru.egisz.status.v1", "content-type", "application/json",
				"ce_id", "e-1", "ce_source", "", "traceparent", "00-x", "tracestate", "s")},
		{"non-empty ones, through the caller's cut", func(k string) (string, bool) { v := event[k]; return v + "!", v != "" },
			hdrs("ce_specversion", "1.0", "ce_type", "ru.egisz.status.v1", "content-type", "application/json",
				"ce_id", "e-1!", "traceparent", "00-x!", "tracestate", "s!")},
		{"none", func(string) (string, bool) { return "", false },
			hdrs("ce_specversion", "1.0", "ce_type", "ru.egisz.status.v1", "content-type", "application/json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Carry(Start("ru.egisz.status.v1"), tc.value); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("headers\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}
