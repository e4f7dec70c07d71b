package normalize_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/normalize"
	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// passThrough accepts every record: its value is the event, forwarded to
// ИЭМК and published to the pharmacy topic; its ce_id is its business id.
type passThrough struct{}

func (passThrough) Ready() error { return nil }

func (passThrough) Decide(in normalize.Input, _ time.Time) normalize.Verdict {
	return normalize.Verdict{
		Kind: "case", PatientKey: string(in.Key), DedupKey: in.Headers["ce_id"], Fingerprint: 1, Version: 1,
		Payload: in.Value, Routes: []string{topics.Outbound(topics.RegistryIEMK)},
		Publish: []normalize.Publish{{Topic: topics.PharmacyRx, Key: "rx-1", Value: in.Value,
			Headers: map[string]string{"ce_id": in.Headers["ce_id"], topics.HeaderRegion: "42"}}},
	}
}

func (passThrough) Settle(normalize.Input, *normalize.Verdict, normalize.SideReader, time.Time) {}

func (passThrough) Reason(code string) topics.Reason {
	return topics.Reason{Code: code, MessageRU: code, MessageEN: code, Owner: "mis"}
}

// passThroughOwned is passThrough whose events each name a business id of
// their own: they are written after the hop, so an output that does not
// fit is found in the hop's transaction.
type passThroughOwned struct{ passThrough }

func (passThroughOwned) Decide(in normalize.Input, now time.Time) normalize.Verdict {
	v := passThrough{}.Decide(in, now)
	v.Owner = "own|" + in.Headers["ce_id"]
	return v
}

func (passThroughOwned) Claim(string, string, normalize.SideReader) ([]normalize.SideWrite, []topics.Reason) {
	return nil, nil
}

// TestEachOutputAtItsLimit: for each topic the normalize stage writes an
// accepted event to (outbound, status, pharmacy), with that topic's limit
// made small, events whose record there is one byte under the limit and
// exactly at it are written, one a byte over is rejected OUTPUT_TOO_LARGE
// and parked whole, and the event behind it on the same partition is
// accepted. On the status topic the park's own status does not fit at
// first either: the stage parks again with the identifiers cut shorter.
func TestEachOutputAtItsLimit(t *testing.T) {
	t.Run("direct", func(t *testing.T) { testEachOutputAtItsLimit(t, passThrough{}) })
	// Through the hop the outputs are written in the business id's
	// partition; what is parked is still the ingress record.
	t.Run("through the hop", func(t *testing.T) { testEachOutputAtItsLimit(t, passThroughOwned{}) })
}

func testEachOutputAtItsLimit(t *testing.T, domain normalize.Domain) {
	for _, tc := range []struct {
		topic string
		// grow makes an input's record on topic n bytes larger: the value
		// (outbound, pharmacy carry the event) or ce_type (repeated once in
		// the status's value, up to the 1 KiB the stage carries of a
		// header: the status's limit is made smaller than that).
		grow         func(r *kgo.Record, n int)
		limit, probe int
	}{
		{topics.Outbound(topics.RegistryIEMK), growValue, 40_000, 20_000},
		{topics.PharmacyRx, growValue, 40_000, 20_000},
		{topics.StatusTopic, growType, 1_000, 200},
	} {
		limit := tc.limit
		t.Run(tc.topic, func(t *testing.T) {
			kc := kafkatest.New(t)
			ctx := kafkatest.Context(t, 2*time.Minute)
			cat := topics.Default().WithPrefix(kc.Prefix)
			for i := range cat {
				if cat[i].Name == kc.Prefix+tc.topic {
					cat[i].MaxMessageBytes = int32(limit)
				}
			}
			// Created as the catalog says, not through Ensure: a topic this
			// small breaks the catalog's size rules (Validate), as a
			// cluster's own limit can.
			createAll(t, ctx, kadm.NewClient(kc.Client(t)), cat)
			opts := []kgo.Opt{kgo.SeedBrokers(kc.Brokers...),
				kgo.ProducerBatchMaxBytesFn(func(topic string) int32 { return recsize.ProducerLimit(cat.BatchMaxBytes(topic)) })}
			now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			defer startStage(t, ctx, normalize.Config{Catalog: cat, Prefix: kc.Prefix, InstanceID: "sizes", ClientOpts: opts,
				Now: func() time.Time { return now }, Log: quiet()}, domain)()

			pub := kc.Client(t, kgo.ProducerBatchMaxBytes(topics.LargeRecordBytes))
			publish := func(r *kgo.Record) {
				t.Helper()
				if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			statuses := kafkatest.NewReader(t, kc, kc.Prefix+topics.StatusTopic)
			written := kafkatest.NewReader(t, kc, kc.Prefix+tc.topic)

			// The probe's record on the topic gives the size of the others.
			probe := input(kc.Prefix, "id-probe")
			tc.grow(probe, tc.probe)
			publish(probe)
			seen := written.Wait(t, ctx, func(rs []*kgo.Record) bool { return find(rs, "id-probe") != nil })
			base := recsize.Batch(find(seen, "id-probe"))
			sized := func(id string, bytes int) *kgo.Record {
				r := input(kc.Prefix, id)
				tc.grow(r, tc.probe+bytes-base)
				return r
			}
			for _, r := range []*kgo.Record{sized("id-under", limit-1), sized("id-atlim", limit), sized("id-overl", limit+1), input(kc.Prefix, "id-behnd")} {
				publish(r)
			}
			want := map[string]string{"id-probe": "accepted", "id-under": "accepted", "id-atlim": "accepted", "id-overl": "rejected", "id-behnd": "accepted"}
			got := statuses.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= len(want) })
			outcomes := map[string][]string{}
			for _, r := range got {
				s, o := statusOf(t, r)
				outcomes[s.CEID] = append(outcomes[s.CEID], o)
			}
			for id, o := range want {
				if o == "rejected" {
					o += " " + normalize.ReasonOutputTooLarge
				}
				if len(outcomes[id]) != 1 || outcomes[id][0] != o {
					t.Errorf("%s: outcomes %v, want exactly [%s]", id, outcomes[id], o)
				}
			}
			if tc.topic != topics.StatusTopic {
				all := written.Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 4 })
				for id := range want {
					if (find(all, id) != nil) != (want[id] == "accepted") {
						t.Errorf("%s: written to %s: %v, outcome %s", id, tc.topic, find(all, id) != nil, want[id])
					}
				}
				for _, r := range all {
					if n := recsize.Batch(r); n > limit {
						t.Errorf("a record of %d bytes on a topic of %d", n, limit)
					}
				}
			}
			parked := kafkatest.NewReader(t, kc, kc.Prefix+topics.DLQIngress).Wait(t, ctx, func(rs []*kgo.Record) bool { return len(rs) >= 1 })
			if len(parked) != 1 || find(parked, "id-overl") == nil || record.Truncated(parked[0]) {
				t.Fatalf("parked %d records; want id-overl whole", len(parked))
			}
			for _, h := range parked[0].Headers {
				if h.Key == record.HOrigTopic && string(h.Value) != kc.Prefix+topics.RMISCase {
					t.Errorf("parked a record of %s, not the ingress record", h.Value)
				}
			}
		})
	}
}

func input(prefix, ceID string) *kgo.Record {
	return &kgo.Record{Topic: prefix + topics.RMISCase, Key: []byte("11223344595"), Value: []byte(`{"p":""}`), Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte("1.2.643.5.1.13.13.12.1.42.202")}, {Key: "ce_type", Value: []byte("t")},
	}}
}

func growValue(r *kgo.Record, n int) { r.Value = []byte(`{"p":"` + strings.Repeat("x", n) + `"}`) }

func growType(r *kgo.Record, n int) {
	for i, h := range r.Headers {
		if h.Key == "ce_type" {
			r.Headers[i].Value = []byte("t" + strings.Repeat("x", n))
		}
	}
}

// find returns the record whose ce_id header is id.
func find(rs []*kgo.Record, id string) *kgo.Record {
	for _, r := range rs {
		for _, h := range r.Headers {
			if h.Key == "ce_id" && string(h.Value) == id {
				return r
			}
		}
	}
	return nil
}

// createAll creates every topic of cat with its catalog configuration.
func createAll(t *testing.T, ctx context.Context, adm *kadm.Client, cat topics.Catalog) {
	t.Helper()
	for _, tp := range cat {
		resp, err := adm.CreateTopic(ctx, tp.Partitions, -1, topics.TopicConfigs(tp), tp.Name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create %s: %v", tp.Name, err)
		}
	}
	if err := topics.WaitUsable(ctx, adm, cat.Names()...); err != nil {
		t.Fatal(err)
	}
}
