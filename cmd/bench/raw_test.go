package main

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/internal/loadgen"
)

// The raw pipeline beside a scenario must do the Kafka work the gateway's
// stages counted: the same hops, and per record read the same records
// written, onward and terminal.
func TestSameWorkFollowsTheStages(t *testing.T) {
	type hops map[string]map[string]float64 // hop -> topic (unprefixed) -> records per record read
	for _, tc := range []struct {
		name string
		d    map[string]stageCounts
		want hops
		ins  map[string]string // hop -> topic it reads
	}{
		{"normalize alone", map[string]stageCounts{"normalize": {committed: 2, in: 1000, out: 3000}},
			hops{"normalize": {"status": 1, "state": 2}}, map[string]string{"normalize": "ingress"}},
		{"normalize and forward, РЭМД's callbacks with its hop", map[string]stageCounts{
			"normalize":              {in: 1000, out: 3000},
			"forward-iemk":           {in: 500, out: 500},
			"forward-remd":           {in: 300, out: 600},
			"forward-remd-callbacks": {in: 300, out: 600},
			"forward-erx":            {in: 0, out: 0}, // idle: no hop
		}, hops{
			"normalize":    {"outbound-remd": 0.3, "outbound-iemk": 0.5, "status": 1, "state": 1.2},
			"forward-remd": {"status": 2, "state": 2},
			"forward-iemk": {"status": 1},
		}, map[string]string{"forward-remd": "outbound-remd", "forward-iemk": "outbound-iemk"}},
		{"retry tiers in the order of their delays", map[string]stageCounts{
			"normalize":       {in: 1000, out: 2500},
			"forward-iemk":    {in: 500, out: 600},
			"retry-iemk-10s":  {in: 20, out: 20},
			"retry-iemk-2s":   {in: 100, out: 100},
			"retry-iemk-30s":  {},
			"retry-iemk-oops": {in: 5, out: 5}, // not a tier's name: left out
		}, hops{
			"normalize":      {"outbound-iemk": 0.5, "status": 1, "state": 1},
			"forward-iemk":   {"retry-iemk-2s": 0.2, "status": 1},
			"retry-iemk-2s":  {"retry-iemk-10s": 0.2, "status": 0.8},
			"retry-iemk-10s": {"status": 1},
		}, map[string]string{"retry-iemk-2s": "retry-iemk-2s", "retry-iemk-10s": "retry-iemk-10s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := sameWork("x.", []string{"b:9092"}, tc.d)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Check(); err != nil {
				t.Fatalf("a shape the raw pipeline does not run: %v", err)
			}
			if len(p.Hops) != len(tc.want) {
				t.Fatalf("hops %+v, want %v", p.Hops, tc.want)
			}
			if p.Hops[0].Name != "normalize" || p.Hops[0].In != "x.ingress" {
				t.Errorf("first hop %s reads %s, want normalize reading x.ingress", p.Hops[0].Name, p.Hops[0].In)
			}
			if len(p.Read) != 1 || p.Read[0] != "x.status" {
				t.Errorf("reads %v, want x.status", p.Read)
			}
			for _, h := range p.Hops {
				want, ok := tc.want[h.Name]
				if !ok {
					t.Errorf("unexpected hop %s", h.Name)
					continue
				}
				if in, ok := tc.ins[h.Name]; ok && h.In != "x."+in {
					t.Errorf("hop %s reads %s, want x.%s", h.Name, h.In, in)
				}
				if len(h.Out) != len(want) {
					t.Errorf("hop %s writes %v, want %v", h.Name, h.Out, want)
				}
				for topic, r := range want {
					if got := h.Out["x."+topic]; math.Abs(got-r) > 1e-9 {
						t.Errorf("hop %s writes %v to %s per record, want %v", h.Name, got, topic, r)
					}
				}
			}
		})
	}
	if _, err := sameWork("x.", nil, map[string]stageCounts{"forward-iemk": {in: 5}}); err == nil || !strings.Contains(err.Error(), "normalize stage read nothing") {
		t.Errorf("no normalize input: %v", err)
	}
}

// The note sets raw franz-go's records per event and each hop's times
// beside the stages' own.
func TestSameWorkNote(t *testing.T) {
	p := kafkatest.Pipeline{Hops: []kafkatest.Hop{{Name: "normalize"}, {Name: "forward-iemk"}, {Name: "idle"}}}
	res := kafkatest.PipelineResult{Written: 4500, Phases: map[string]kafkatest.Phases{
		"normalize":    {Transactions: 10, Write: 50 * time.Millisecond, End: 150 * time.Millisecond},
		"forward-iemk": {Transactions: 4, Write: 8 * time.Millisecond, End: 80 * time.Millisecond},
	}}
	d := map[string]stageCounts{"normalize": {out: 3000}, "forward-iemk": {out: 1500}}
	want := "raw franz-go ran 3 transactional hops and wrote 4.50 records per event; the gateway's stages wrote 4.50; " +
		"raw franz-go's transactions: normalize 5 ms writing, 15 ending it, forward-iemk 2 ms writing, 20 ending it"
	if got := sameWorkNote(p, res, d, 1000); got != want {
		t.Errorf("note:\n%s\nwant\n%s", got, want)
	}
}

// Raw franz-go is fed the scenario's own events, at most rawValues of them.
func TestFeedValuesAreTheEventsFed(t *testing.T) {
	for _, n := range []int{0, 3, rawValues + 5} {
		evs := make([]loadgen.Event, n)
		for i := range evs {
			evs[i].Record = &kgo.Record{Value: []byte(strconv.Itoa(i))}
		}
		got := feedValues(evs)
		if len(got) != min(n, rawValues) {
			t.Fatalf("%d events: %d values, want %d", n, len(got), min(n, rawValues))
		}
		for i, v := range got {
			if string(v) != strconv.Itoa(i) {
				t.Fatalf("%d events: value %d is %q, want event %d's", n, i, v, i)
			}
		}
	}
}
