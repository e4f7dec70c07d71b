package normalize

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/eos"
	"github.com/egisz-gateway/egisz-gateway/gateway/state"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// perPatient is a domain whose verdicts depend on the partition's side
// tables, in order: the third accepted event of a patient is refused. Its
// values are "dedupkey version fingerprint", or "bad" for a record Decide
// refuses. It counts its Decide calls.
type perPatient struct{ decided atomic.Int64 }

const perPatientTable = "count"

func (*perPatient) Ready() error { return nil }

func (d *perPatient) Decide(in Input, _ time.Time) Verdict {
	d.decided.Add(1)
	f := strings.Fields(string(in.Value))
	if len(f) != 3 {
		return Verdict{Reasons: []topics.Reason{{Code: "BAD"}}}
	}
	version, _ := strconv.ParseInt(f[1], 10, 64)
	fp, _ := strconv.ParseUint(f[2], 10, 64)
	return Verdict{Kind: "case", PatientKey: string(in.Key), DedupKey: f[0], Version: version, Fingerprint: fp,
		Payload: []byte(`{"v":` + f[1] + `}`), Routes: []string{topics.Outbound(topics.RegistryIEMK)}}
}

func (*perPatient) Settle(_ Input, v *Verdict, side SideReader, _ time.Time) {
	old, _ := side.Side(perPatientTable, v.PatientKey)
	n, _ := strconv.Atoi(string(old))
	if n >= 2 {
		*v = Verdict{Reasons: []topics.Reason{{Code: "THIRD"}}}
		return
	}
	v.Side = append(v.Side, SideWrite{Table: perPatientTable, Key: v.PatientKey, Value: []byte(strconv.Itoa(n + 1))})
}

func (*perPatient) Reason(code string) topics.Reason { return topics.Reason{Code: code} }

// bareStage is a Stage without Kafka holding partition 0's state, every
// key's partition (one hop partition), at a fixed time.
func bareStage(d Domain, at time.Time) *Stage {
	n := &Stage{
		cfg:    Config{Expiry: time.Hour, SweepEvery: time.Hour, Now: func() time.Time { return at }, Log: slog.New(slog.DiscardHandler)},
		domain: d, changelog: topics.NormalizeState, status: topics.StatusTopic, dlqTopic: topics.DLQIngress,
		hopTopic: topics.NormalizeBusiness, hopPartitions: 1, keyPartitioner: kgo.StickyKeyPartitioner(nil).ForTopic(""),
		stores: map[int32]*store{0: {Store: state.NewStore(0)}}, touched: map[int32]*store{},
		prepared: map[*kgo.Record]prepared{}, eventTypes: map[string]string{},
	}
	n.m = newMetrics(nil, n)
	return n
}

// TestPreparedBatchDecidesAsUnprepared: deciding a batch's records
// concurrently beforehand (Prepare) changes nothing of what the stage
// writes, in what order, nor of the side tables read in partition order;
// and the prepared verdicts are used, not made again.
func TestPreparedBatchDecidesAsUnprepared(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	values := []struct{ key, value string }{
		{"p1", "a 1 11"}, {"p2", "b 1 21"}, {"p1", "a 1 11"}, // a duplicate
		{"p1", "c 1 31"}, {"p1", "d 1 41"}, // p1's third accepted: refused
		{"p2", "b 2 22"},                   // an update
		{"p4", "h 1 81"}, {"p4", "h 1 82"}, // a conflict
		{"p3", "bad"}, {"", "e 1 51"}, {"p3", "f 1 61"}, {"p2", "g 1 71"},
	}
	var batch []*kgo.Record
	for i, v := range values {
		batch = append(batch, &kgo.Record{Topic: topics.RMISCase, Partition: 0, Offset: int64(i), Key: []byte(v.key), Value: []byte(v.value),
			Headers: []kgo.RecordHeader{{Key: topics.HeaderID, Value: fmt.Appendf(nil, "ev-%d", i)}}})
	}
	run := func(prepare bool) ([]*kgo.Record, int64) {
		d := &perPatient{}
		n := bareStage(d, at)
		if prepare {
			n.Prepare(context.Background(), batch)
			if got := d.decided.Load(); got != int64(len(batch)) {
				t.Fatalf("Prepare decided %d records, want %d", got, len(batch))
			}
		}
		var out eos.Output
		for _, r := range batch {
			if err := n.Transform(context.Background(), r, &out); err != nil {
				t.Fatal(err)
			}
		}
		n.Committed()
		return out.Records(), d.decided.Load()
	}
	plain, plainDecided := run(false)
	prepared, preparedDecided := run(true)
	if plainDecided != int64(len(batch)) || preparedDecided != int64(len(batch)) {
		t.Errorf("Decide called %d times unprepared and %d prepared, want %d each", plainDecided, preparedDecided, len(batch))
	}
	if len(plain) != len(prepared) {
		t.Fatalf("%d records written unprepared, %d prepared", len(plain), len(prepared))
	}
	outcomes := map[string]int{}
	for i := range plain {
		a, b := plain[i], prepared[i]
		if a.Topic != b.Topic || a.Partition != b.Partition || !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) || fmt.Sprint(a.Headers) != fmt.Sprint(b.Headers) {
			t.Errorf("record %d differs:\nunprepared %s %q %s\n  prepared %s %q %s", i, a.Topic, a.Key, a.Value, b.Topic, b.Key, b.Value)
		}
		if a.Topic == topics.StatusTopic {
			var st topics.Status
			if err := json.Unmarshal(a.Value, &st); err != nil {
				t.Fatal(err)
			}
			outcomes[st.Outcome]++
		}
	}
	// The batch exercises what order decides: without these the
	// comparison could pass on a batch that tests nothing.
	want := map[string]int{"accepted": 6, "duplicate": 1, "update": 1, "conflict": 1, "rejected": 3}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v", outcomes, want)
	}
}
