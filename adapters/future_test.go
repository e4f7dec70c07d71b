package adapters_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters"
	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/adapters/source"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// mayLieAhead are the moments of events that are not when something
// happened and so may be later than now: a certificate's validity.
var mayLieAhead = map[string]bool{"certificate.not_before": true, "certificate.not_after": true}

// referenceFeeds are describe the world (posts until, certificates valid
// to), not events: their dates may lie ahead.
var referenceFeeds = map[string]bool{topics.FRMREmployee: true, topics.FRMOOrganization: true, topics.InfoSystems: true}

// momentField is one date-time field present in an example: its JSON path
// as the rejection names it (visits[0].at) and the steps to reach it in the
// decoded example.
type momentField struct {
	path  string
	steps []any // string keys and int indexes
}

// momentFields finds, by reflection over the payload type, every DateTime
// field the example v (decoded JSON) holds: a new field of the contract is
// found without anyone listing it here.
func momentFields(t reflect.Type, v any, path string, steps []any) []momentField {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		arr, _ := v.([]any)
		var out []momentField
		for i, e := range arr {
			out = append(out, momentFields(t.Elem(), e, fmt.Sprintf("%s[%d]", path, i), append(append([]any(nil), steps...), i))...)
		}
		return out
	case reflect.Struct:
		m, _ := v.(map[string]any)
		var out []momentField
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fv, ok := m[name]
			if !ok || name == "" || name == "-" {
				continue
			}
			p := name
			if path != "" {
				p = path + "." + name
			}
			st := append(append([]any(nil), steps...), name)
			if f.Type == reflect.TypeOf(topics.DateTime("")) {
				out = append(out, momentField{path: p, steps: st})
				continue
			}
			out = append(out, momentFields(f.Type, fv, p, st)...)
		}
		return out
	}
	return nil
}

func setAt(v any, steps []any, x any) {
	for i, s := range steps {
		last := i == len(steps)-1
		switch k := s.(type) {
		case string:
			m := v.(map[string]any)
			if last {
				m[k] = x
				return
			}
			v = m[k]
		case int:
			a := v.([]any)
			if last {
				a[k] = x
				return
			}
			v = a[k]
		}
	}
}

// TestEveryMomentIsNotInTheFuture sets each date-time of each event's
// example, one at a time, to 2099 and to just past the tolerance for
// publishers' clocks, and wants DATE_IN_FUTURE at that field; within the
// tolerance it passes.
func TestEveryMomentIsNotInTheFuture(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	opts := source.DefaultOptions()
	opts.Now = func() time.Time { return now }
	srcs := adapters.Sources(opts)
	checked := 0
	for topic, a := range srcs {
		if referenceFeeds[topic] {
			continue
		}
		tp, _ := topics.Default().Lookup(topic)
		var ex map[string]any
		if err := json.Unmarshal(readExample(t, topic), &ex); err != nil {
			t.Fatal(err)
		}
		for _, mf := range momentFields(tp.Payload, ex, "", nil) {
			suffix := mf.path[strings.LastIndexByte(mf.path, ']')+1:]
			suffix = strings.TrimPrefix(suffix, ".")
			if mayLieAhead[suffix] {
				continue
			}
			for _, tc := range []struct {
				name   string
				at     time.Time
				reject bool
			}{
				{"in 2099", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), true},
				{"just past the tolerance", now.Add(source.DefaultClockSkew + time.Second), true},
				{"within the tolerance", now.Add(source.DefaultClockSkew - time.Second), false},
			} {
				var m map[string]any
				_ = json.Unmarshal(readExample(t, topic), &m)
				setAt(m, mf.steps, tc.at.Format(time.RFC3339))
				b, _ := json.Marshal(m)
				_, rej := a.Decode(metaFor(a), b)
				got := false
				if rej != nil {
					for _, p := range rej.Problems {
						got = got || (p.Code == reasons.DateInFuture && p.Field == mf.path)
					}
				}
				if got != tc.reject {
					t.Errorf("%s %s %s: DATE_IN_FUTURE %v, want %v (%v)", examples[topic], mf.path, tc.name, got, tc.reject, rej)
				}
			}
			checked++
		}
	}
	// case: updated, opened, closed, two visits; document: created, two
	// signatures; prescription: issued; lab: completed, collected;
	// dispensation; identity.
	if checked < 13 {
		t.Errorf("checked %d moments; the walk over the examples is broken", checked)
	}
}

// TestClockSkewIsConfigured: one setting moves the tolerance for every
// field.
func TestClockSkewIsConfigured(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		skew   time.Duration
		ahead  time.Duration
		reject bool
	}{
		{time.Hour, 59 * time.Minute, false},
		{time.Hour, 61 * time.Minute, true},
		{0, time.Second, true},
		{0, 0, false},
	} {
		opts := source.DefaultOptions()
		opts.Now, opts.ClockSkew = func() time.Time { return now }, tc.skew
		a := adapters.Sources(opts)[topics.LabResult]
		b := mutate(t, topics.LabResult, func(m map[string]any) {
			set(m, "sample.collected_at", now.Add(tc.ahead).Format(time.RFC3339))
			set(m, "completed_at", now.Add(tc.ahead).Format(time.RFC3339))
		})
		_, rej := a.Decode(metaFor(a), b)
		if (rej != nil) != tc.reject {
			t.Errorf("skew %s, %s ahead: rejected %v, want %v (%v)", tc.skew, tc.ahead, rej != nil, tc.reject, rej)
		}
	}
}
