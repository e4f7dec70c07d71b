package dlq

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		err  bool
	}{
		{"egisz.dlq.remd/3/17", ID{"egisz.dlq.remd", 3, 17}, false},
		{"egisz.dlq.ingress/0/0", ID{"egisz.dlq.ingress", 0, 0}, false},
		{"a/b/egisz.dlq.iemk/1/2", ID{"a/b/egisz.dlq.iemk", 1, 2}, false}, // the topic is what precedes the last two parts
		{"egisz.dlq.remd/3", ID{}, true},
		{"/3/17", ID{}, true},
		{"egisz.dlq.remd/x/17", ID{}, true},
		{"egisz.dlq.remd/3/-1", ID{}, true},
		{"egisz.dlq.remd/99999999999/1", ID{}, true},
		{"", ID{}, true},
	} {
		got, err := ParseID(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("ParseID(%q).String() = %q", tc.in, got.String())
		}
	}
}

func TestMaskKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"11223344595", "112-***-*** 95"},
		{"enp:5056410878123457", "enp:50************57"},
		{"enp:12", "enp:***"},
		{"local:1.2.643.5.1.13.13.12.1.42.202:P-000123", "local:1.2.643.5.1.13.13.12.1.42.202:***"},
		{"unexpected 112-233-445 95 key", "unexpected ************** key"},
		{"", ""},
		{"\xff\xfe", "?"},
	} {
		if got := MaskKey([]byte(tc.in)); got != tc.want {
			t.Errorf("MaskKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMaskPayload(t *testing.T) {
	caseJSON := topics.Example("case.json")
	for _, tc := range []struct {
		name      string
		in        []byte
		reveal    bool
		json      bool
		has, lack []string
	}{
		{name: "a case", in: caseJSON, json: true,
			has:  []string{`"snils": "112-***-*** 95"`, `"family_name": "И***"`, `"birth_date": "****-**-**"`, `"enp": "50************57"`, `"local_id": "***"`, `"code": "J06.9"`, `"name": "Острая инфекция верхних дыхательных путей неуточненная"`, `"mo_oid": "1.2.643.5.1.13.13.12.1.42.202"`},
			lack: []string{"112-233-445 95", "Иванова", "Мария", "1985-03-21", "5056410878123457", "P-000123", "123-456-789 64", "Петров"}},
		{name: "a case revealed", in: caseJSON, reveal: true, json: true, has: []string{"112-233-445 95", "Иванова", "1985-03-21"}},
		{name: "fields the contract does not name", in: []byte(`{"comment":"пациент 11223344595 жалуется","n":11223344595,"qty":2,"ok":true}`), json: true,
			has: []string{`"comment": "*** (28 characters hidden)"`, `"n": "***"`, `"qty": "***"`, `"ok": true`}, lack: []string{"11223344595", "пациент"}},
		{name: "a foreign patient in added fields", in: []byte(`{"patient":{"snils":"112-233-445 95","passport":"AB 1234567","contact":{"phone":"+49 30 1234567","name":"John Smith"}},"note":"John Smith, born 1980-02-29"}`), json: true,
			has:  []string{`"passport": "*** (10 characters hidden)"`, `"phone": "*** (14 characters hidden)"`, `"note": "*** (27 characters hidden)"`},
			lack: []string{"John", "Smith", "1980-02-29", "1234567", "AB "}},
		{name: "contract fields keep their values", in: []byte(`{"kind":"148","mo_oid":"1.2.643.5.1.13.13.12.1.42.202","visits":[{"at":"2026-05-01T10:00:00+03:00"}]}`), json: true,
			has: []string{`"kind": "148"`, `"mo_oid": "1.2.643.5.1.13.13.12.1.42.202"`, `"at": "2026-05-01T10:00:00+03:00"`}},
		{name: "a signed file", in: []byte(`{"file":{"data":"PENsaW5pY2FsRG9jdW1lbnQ+"}}`), json: true, has: []string{"24 characters hidden"}, lack: []string{"PENsaW5p"}},
		{name: "not JSON", in: []byte("snils=112-233-445 95; name=Иванова"), has: []string{"snils=***-***-*** ***; name=***"}, lack: []string{"112-233-445 95", "Иванова"}},
		{name: "broken JSON of a foreign patient", in: []byte(`{"patient":{"family_name":"Smith","given_name":"John","birth_date":"1980-02-29","phone":"+49 30 1234567","passport":"AB 1234567"`),
			has:  []string{`{"patient":{"family_name":"***","given_name":"***","birth_date":"***-***-***","***":"+*** *** ***","***":"*** ***"`},
			lack: []string{"Smith", "John", "1980", "1234567"}},
		{name: "invalid UTF-8", in: []byte("\xff\xfe 11223344595"), has: []string{"\uFFFD"}, lack: []string{"11223344595"}},
		{name: "two JSON values", in: []byte(`{} {}`), has: []string{"{} {}"}},
		{name: "a name in Latin letters", in: []byte("Smith John 1980-02-29 tel 84951234567"), has: []string{"*** *** ***-***-*** *** ***"}, lack: []string{"Smith", "John", "1980", "84951234567"}},
		{name: "5 MiB", in: []byte(strings.Repeat("1234567890 ", 500_000)), has: []string{"bytes in all"}, lack: []string{"1234567890"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pretty, text := MaskPayload(tc.in, tc.reveal)
			out := string(pretty) + text
			if (len(pretty) > 0) != tc.json {
				t.Errorf("JSON %v, want %v: %.200s", len(pretty) > 0, tc.json, out)
			}
			if tc.json && !json.Valid(pretty) {
				t.Errorf("not valid JSON: %.200s", out)
			}
			if len(out) > 10_000 {
				t.Errorf("%d bytes shown; want the payload cut", len(out))
			}
			for _, s := range tc.has {
				if !strings.Contains(out, s) {
					t.Errorf("lacks %q: %.2000s", s, out)
				}
			}
			for _, s := range tc.lack {
				if strings.Contains(out, s) {
					t.Errorf("holds %q", s)
				}
			}
		})
	}
}

func TestMaskHeaders(t *testing.T) {
	in := []Header{{"ce_id", "1234567890123"}, {"x-patient", "112-233-445 95"}, {record.HOrigOffset, "12345678901"}, {record.HResponseExcerpt, "snils 11223344595"}}
	got := MaskHeaders(in, false)
	want := []string{"1234567890123", "**************", "12345678901", "snils ***********"}
	for i, h := range got {
		if h.Value != want[i] {
			t.Errorf("%s: %q, want %q", h.Key, h.Value, want[i])
		}
	}
	if MaskHeaders(in, true)[1].Value != "112-233-445 95" {
		t.Error("revealed headers are masked")
	}
}

func TestFilterMatch(t *testing.T) {
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	e := Entry{ID: ID{"egisz.dlq.iemk", 2, 5}, ParkedAt: at, Key: []byte("11223344595"),
		Reason: "XDSUnknownPatientId", Owner: "registry", Source: "mis-a", Destination: "iemk"}
	replayed, purged := e, e
	replayed.Mark, purged.Mark = &Mark{State: StateReplayed}, &Mark{State: StatePurged}
	for _, tc := range []struct {
		name string
		f    Filter
		e    Entry
		want bool
	}{
		{"empty selects a parked record", Filter{}, e, true},
		{"empty selects a replayed one", Filter{}, replayed, true},
		{"empty leaves out a purged one", Filter{}, purged, false},
		{"state purged", Filter{States: []string{StatePurged}}, purged, true},
		{"state parked leaves out replayed", Filter{States: []string{StateParked}}, replayed, false},
		{"topic", Filter{Topics: []string{"egisz.dlq.iemk"}}, e, true},
		{"other topic", Filter{Topics: []string{"egisz.dlq.remd"}}, e, false},
		{"one of two reasons", Filter{Reasons: []string{"X", "XDSUnknownPatientId"}}, e, true},
		{"owner", Filter{Owners: []string{"clinic"}}, e, false},
		{"source", Filter{Sources: []string{"mis-a"}}, e, true},
		{"destination", Filter{Destinations: []string{"remd"}}, e, false},
		{"since", Filter{Since: at}, e, true},
		{"since later", Filter{Since: at.Add(time.Second)}, e, false},
		{"until is exclusive", Filter{Until: at}, e, false},
		{"until later", Filter{Until: at.Add(time.Second)}, e, true},
		{"patient as written", Filter{Patient: "112-233-445 95"}, e, true},
		{"patient as digits", Filter{Patient: "11223344595"}, e, true},
		{"other patient", Filter{Patient: "112-233-445 96"}, e, false},
		{"id", Filter{IDs: []ID{{"egisz.dlq.iemk", 2, 5}}}, e, true},
		{"other id", Filter{IDs: []ID{{"egisz.dlq.iemk", 2, 6}}}, e, false},
	} {
		if got := tc.f.Match(&tc.e); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestFilterCheckAndString(t *testing.T) {
	if err := (Filter{States: []string{"lost"}}).Check(); err == nil {
		t.Error("unknown state passes")
	}
	at := time.Now()
	if err := (Filter{Since: at, Until: at.Add(-time.Hour)}).Check(); err == nil {
		t.Error("a range ending before it starts passes")
	}
	s := Filter{Topics: []string{"egisz.dlq.remd"}, Reasons: []string{"A", "B"}, Patient: "112-233-445 95",
		IDs: []ID{{"egisz.dlq.remd", 1, 2}}}.String()
	if want := "topic=egisz.dlq.remd reason=A,B patient=112-***-*** 95 id=egisz.dlq.remd/1/2"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	if (Filter{}).String() != "all" {
		t.Errorf("empty filter: %q", Filter{}.String())
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		role Role
		may  []Action
		not  []Action
	}{
		{RoleViewer, []Action{ActList, ActShow}, []Action{ActReveal, ActReplay, ActPurge, ActAudit}},
		{RoleAuditor, []Action{ActList, ActShow, ActReveal, ActAudit}, []Action{ActReplay, ActPurge}},
		{RoleOperator, []Action{ActList, ActShow, ActReveal, ActReplay, ActPurge}, []Action{ActAudit}},
		{Role(""), nil, []Action{ActList, ActShow, ActReveal, ActReplay, ActPurge, ActAudit}},
	} {
		for _, a := range tc.may {
			if !tc.role.May(a) {
				t.Errorf("%q may not %s", tc.role, a)
			}
		}
		for _, a := range tc.not {
			if tc.role.May(a) {
				t.Errorf("%q may %s", tc.role, a)
			}
		}
	}
	if _, err := ParseRole("admin"); err == nil {
		t.Error("ParseRole accepts admin")
	}
}

// TestParkCountsReplays: a record an operator replayed is parked again
// with its replay count, and its old dlq headers are replaced.
func TestParkCountsReplays(t *testing.T) {
	orig := &kgo.Record{Topic: "egisz.rmis.case.v1", Key: []byte("k"), Value: []byte("{}"), Headers: []kgo.RecordHeader{
		{Key: "ce_id", Value: []byte("id-1")}, {Key: topics.HeaderReplayCount, Value: []byte("2")}, {Key: record.HReason, Value: []byte("OLD")},
	}}
	e := ParseEntry("egisz.dlq.ingress", record.Park("egisz.dlq.ingress", orig, record.Failure{Reason: "NEW", Stage: "normalize"}))
	if e.ReplayCount != 2 || e.Reason != "NEW" || e.CEID != "id-1" {
		t.Errorf("parked again: replay count %d, reason %q, ce_id %q; want 2, NEW, id-1", e.ReplayCount, e.Reason, e.CEID)
	}
	n := 0
	for _, h := range e.Headers {
		if h.Key == record.HReason {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d dlq.reason headers, want 1", n)
	}
}

func TestReplayRecordGoesBackWhereItFailed(t *testing.T) {
	s := &Service{cfg: Config{Prefix: "p.", Catalog: topics.Default()}}
	hs := []kgo.RecordHeader{
		{Key: "ce_id", Value: []byte("id-1")}, {Key: topics.HeaderReplayCount, Value: []byte("1")},
		{Key: "egisz_retry_due", Value: []byte("2026-01-01T00:00:00Z")}, {Key: "egisz_remd_resends", Value: []byte("2")},
	}
	for _, tc := range []struct {
		name, dlqTopic, origTopic, want string
	}{
		{"an ingress record to its topic", topics.DLQIngress, "p." + topics.RMISDocument, "p." + topics.RMISDocument},
		{"a registry's record to its outbound topic, not the tier it failed in", topics.RegistryDLQ(topics.RegistryREMD), "p.egisz.retry.remd.5m", "p." + topics.Outbound(topics.RegistryREMD)},
		{"an ingress record from a topic that is not ingress", topics.DLQIngress, "p." + topics.StatusTopic, ""},
		{"a record parked truncated: its original is not kept whole", topics.DLQIngress, "p." + topics.RMISDocument + "#truncated", ""},
	} {
		orig, truncated := strings.CutSuffix(tc.origTopic, "#truncated")
		parked := record.Park("p."+tc.dlqTopic, &kgo.Record{Topic: orig, Key: []byte("k"), Value: []byte("v"), Headers: hs}, record.Failure{Reason: "X"})
		if truncated {
			parked = record.Fit(parked, 0, true)
		}
		e := ParseEntry(tc.dlqTopic, parked)
		r, err := s.replayRecord(&e)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: replayed to %s, want an error", tc.name, r.Topic)
			}
			continue
		}
		if err != nil || r.Topic != tc.want {
			t.Errorf("%s: %v, %v; want %s", tc.name, r, err, tc.want)
			continue
		}
		var keys []string
		for _, h := range r.Headers {
			keys = append(keys, h.Key+"="+string(h.Value))
		}
		if got := strings.Join(keys, " "); got != "ce_id=id-1 ce_replaycount=2" {
			t.Errorf("%s: headers %s; want the event's own, and the replay count one higher", tc.name, got)
		}
		if string(r.Key) != "k" || string(r.Value) != "v" {
			t.Errorf("%s: key or value changed", tc.name)
		}
	}
}
