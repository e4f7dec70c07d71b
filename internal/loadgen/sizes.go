package loadgen

import (
	"fmt"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	json "github.com/egisz-gateway/egisz-gateway/internal/jsoncodec"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// MaxValueBytes is the gateway's default limit on a record value
// (normalize.max_record_bytes): a value of this size is accepted, one byte
// more is refused DECODE_TOO_LARGE.
const MaxValueBytes = 1 << 20

// LargeHeaderBytes is the ce_source of a "size_headers" event: under the
// ingress topic's limit, far over what the contract takes of a ce_source
// (HEADER_INVALID), and, repeated whole in the outbound record (header and
// envelope) and the status, more than any output topic takes: its
// rejection must carry it cut short.
const LargeHeaderBytes = 9 << 19 // 4.5 MiB

// Size kinds, in the order Sized cycles through them, with the outcome
// each must get.
var sizeKinds = []struct {
	name, expect, code string
	value              int // the value's exact size; 0 leaves it as made
}{
	{"size_under", Accepted, "", MaxValueBytes - 1},
	{"size_at", Accepted, "", MaxValueBytes},
	{"size_over", Rejected, reasons.DecodeTooLarge, MaxValueBytes + 1},
	{"size_headers", Rejected, reasons.HeaderInvalid, 0},
}

// Sized makes a valid case at and around the gateway's size limits: values
// a byte under, at and a byte over the limit on values (padded by an
// unknown field, which the gateway keeps and forwards), and one whose
// ce_source of 4.5 MiB is rejected HEADER_INVALID and parked whole: neither
// its outputs nor its rejection may hold its partition back.
func (g *Generator) Sized() Event {
	k := sizeKinds[g.sized%len(sizeKinds)]
	g.sized++
	p := g.patients[g.rnd.IntN(len(g.patients))]
	_, d := g.clinicDoctor()
	g.seq++
	c := g.caseBody(p, d, fmt.Sprintf("SIZE-%d-%07d", g.cfg.Seed%1000, g.seq), 1, []string{pick(g.rnd, icd10)})
	body, _ := json.Marshal(c)
	if k.value > 0 {
		body = padTo(body, k.value)
	}
	var regs []string
	if k.expect == Accepted {
		regs = []string{string(topics.RegistryIEMK)}
	}
	ev := g.event(topics.RMISCase, p.snils, "ru.egisz.rmis.case.v1", k.name, body, k.expect, k.code, regs)
	ev.Record.Value = body // never padded further: the size is the point
	if k.name == "size_headers" {
		for i := range ev.Record.Headers {
			if ev.Record.Headers[i].Key == "ce_source" {
				ev.Record.Headers[i].Value = []byte(strings.Repeat("s", LargeHeaderBytes))
			}
		}
	}
	return ev
}

// padTo adds an unknown field to a JSON object so that it is exactly n bytes.
func padTo(body []byte, n int) []byte {
	const open, closing = `,"x_padding":"`, `"}`
	pad := n - (len(body) - 1) - len(open) - len(closing)
	if pad < 0 {
		return body
	}
	out := make([]byte, 0, n)
	out = append(out, body[:len(body)-1]...)
	out = append(out, open...)
	out = append(out, strings.Repeat("p", pad)...)
	return append(out, closing...)
}
