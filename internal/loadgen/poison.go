package loadgen

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// MaxPoisonBytes is the size of the largest poison value: five times the
// gateway's default limit, so the producer and the topics must let it
// through for the gateway to see it at all.
const MaxPoisonBytes = 5 << 20

// Poison kinds, in the order Poison cycles through them.
var poisonKinds = []struct {
	name string
	code string
}{
	{"not_json", reasons.DecodeNotJSON},
	{"too_large", reasons.DecodeTooLarge},
	{"invalid_utf8", reasons.DecodeInvalidUTF8},
	{"too_deep", reasons.DecodeTooDeep},
	{"no_ce_source", reasons.HeaderMissing},
	{"wrong_ce_type", reasons.HeaderTypeMismatch},
	{"no_ce_id", reasons.HeaderMissing},
}

// Poison makes a record no producer should send: a value that is not JSON,
// is 5 MiB, is not UTF-8 or nests too deep, or headers missing or wrong.
// Every one must be rejected, parked and answered; one without ce_id has
// no CEID to be answered under (Event.CEID is empty) and is found in the
// dead-letter queue instead.
func (g *Generator) Poison() Event {
	k := poisonKinds[g.poisons%len(poisonKinds)]
	g.poisons++
	p := g.patients[g.rnd.IntN(len(g.patients))]
	var body []byte
	switch k.name {
	case "not_json":
		body = []byte("<ClinicalDocument>не JSON: " + p.family + "</ClinicalDocument>")
	case "too_large":
		body = append([]byte(`{"x_blob":"`), bytes.Repeat([]byte("Z"), MaxPoisonBytes-len(`{"x_blob":""}`))...)
		body = append(body, `"}`...)
	case "invalid_utf8":
		body = []byte("{\"patient\":{\"family\":\"\xff\xfe\xfd\"}}")
	case "too_deep":
		body = []byte(strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200))
	default:
		_, d := g.clinicDoctor()
		body, _ = json.Marshal(g.caseBody(p, d, "poison-"+strconv.Itoa(g.poisons), 1, []string{"J06.9"}))
	}
	ev := g.event(topics.RMISCase, p.snils, "ru.egisz.rmis.case.v1", "poison_"+k.name, body, Rejected, k.code, nil)
	ev.Record.Value = body // never padded: the poison is the exact value
	switch k.name {
	case "no_ce_source":
		ev.Record.Headers = slices.DeleteFunc(ev.Record.Headers, func(h kgo.RecordHeader) bool { return h.Key == "ce_source" })
	case "wrong_ce_type":
		for i := range ev.Record.Headers {
			if ev.Record.Headers[i].Key == "ce_type" {
				ev.Record.Headers[i].Value = []byte("ru.egisz.lab.result.v1")
			}
		}
	case "no_ce_id":
		ev.Record.Headers = slices.DeleteFunc(ev.Record.Headers, func(h kgo.RecordHeader) bool { return h.Key == "ce_id" })
		ev.CEID = ""
	}
	return ev
}
