package forward

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/cloudevents"
	"github.com/egisz-gateway/egisz-gateway/gateway/config"
	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
	"github.com/egisz-gateway/egisz-gateway/internal/kafkatest"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// byBody is a registry whose answer the event names: an event holding
// "answer-park" is refused for good, "answer-retry" fails transiently,
// anything else is registered.
type byBody struct{ statusOnly }

func (byBody) Build(value []byte, ceID, _ string) (Call, error) {
	return Call{Method: http.MethodPost, Path: "/x", Body: value, IdempotencyKey: ceID}, nil
}

func (byBody) Classify(call Call, _ int, _ string, _ []byte) Outcome {
	switch {
	case bytes.Contains(call.Body, []byte("answer-park")):
		return Outcome{Result: Park, HTTPStatus: 400, Reasons: []topics.Reason{{Code: "HTTP_4XX"}}}
	case bytes.Contains(call.Body, []byte("answer-retry")):
		return Outcome{Result: Retry, HTTPStatus: 503, Reasons: []topics.Reason{{Code: "HTTP_5XX"}}}
	}
	return Outcome{Result: Registered, HTTPStatus: 200}
}

// TestEachForwardOutputAtItsLimit: for each topic the forward stage writes
// (status, retry tier, dead letters), with that topic's limit made small,
// records whose output there is a byte under the limit and exactly at it
// are written; one a byte over is parked OUTPUT_TOO_LARGE in the
// registry's DLQ with a status (truncated, and marked so, when the DLQ is
// the topic too small for it); a registered record behind them on the same
// partition gets its status.
func TestEachForwardOutputAtItsLimit(t *testing.T) {
	const limit = 40_000
	reg := topics.RegistryIEMK
	for _, tc := range []struct {
		topic  string
		answer string                     // what the registry answers the sized records
		grow   func(r *kgo.Record, n int) // makes the record's output on topic n bytes larger
	}{
		{topics.StatusTopic, "answer-ok", growOrigin},
		{topics.Retry(reg, 30*time.Second), "answer-retry", growEvent},
		{topics.RegistryDLQ(reg), "answer-park", growEvent},
	} {
		t.Run(tc.topic, func(t *testing.T) {
			kc := kafkatest.New(t)
			ctx := kafkatest.Context(t, 2*time.Minute)
			cat := topics.Build([]time.Duration{30 * time.Second}).WithPrefix(kc.Prefix)
			for i := range cat {
				if cat[i].Name == kc.Prefix+tc.topic {
					cat[i].MaxMessageBytes = limit
				}
			}
			// Created as the catalog says, not through Ensure: a topic this
			// small breaks the catalog's size rules (Validate), as a
			// cluster's own limit can.
			createAll(t, ctx, kadm.NewClient(kc.Client(t)), cat)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
			defer srv.Close()
			opts := []kgo.Opt{kgo.SeedBrokers(kc.Brokers...),
				kgo.ProducerBatchMaxBytesFn(func(topic string) int32 { return recsize.ProducerLimit(cat.BatchMaxBytes(topic)) })}
			dest := config.DefaultDestination()
			dest.URL, dest.Attempts = srv.URL, 1
			dest.BackoffMin, dest.BackoffMax = config.Duration(time.Millisecond), config.Duration(2*time.Millisecond)
			now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			parked := NewParked(kc.Prefix+topics.RetryParkedState, testLog()).WithClient(opts)
			s, err := New(Config{
				Registry: reg, Catalog: cat, Prefix: kc.Prefix, InstanceID: "sizes", Dest: dest, ClientOpts: opts,
				Log: testLog(), Now: func() time.Time { return now }, Tiers: []time.Duration{30 * time.Second}, Parked: parked,
			}, byBody{})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _ = parked.Run(runCtx) }()
			go func() {
				defer wg.Done()
				if err := s.Run(runCtx); err != nil {
					t.Error(err)
				}
			}()
			defer func() { stop(); wg.Wait() }()

			pub := kc.Client(t, kgo.ProducerBatchMaxBytes(topics.LargeRecordBytes))
			publish := func(r *kgo.Record) {
				t.Helper()
				if err := pub.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			statuses := kafkatest.NewReader(t, kc, kc.Prefix+topics.StatusTopic)
			written := kafkatest.NewReader(t, kc, kc.Prefix+tc.topic)
			outbound := kc.Prefix + topics.Outbound(reg)

			probe := outboundRecord(outbound, "id-probe", tc.answer)
			tc.grow(probe, 20_000)
			publish(probe)
			base := recsize.Batch(findID(written.Wait(t, ctx, func(rs []*kgo.Record) bool { return findID(rs, "id-probe") != nil }), "id-probe"))
			sized := func(id string, bytes int) *kgo.Record {
				r := outboundRecord(outbound, id, tc.answer)
				tc.grow(r, 20_000+bytes-base)
				return r
			}
			for _, r := range []*kgo.Record{sized("id-under", limit-1), sized("id-atlim", limit), sized("id-overl", limit+1), outboundRecord(outbound, "id-behnd", "answer-ok")} {
				publish(r)
			}
			ok := map[string]bool{"id-probe": true, "id-under": true, "id-atlim": true, "id-overl": false}
			all := written.Wait(t, ctx, func(rs []*kgo.Record) bool { return findID(rs, "id-atlim") != nil })
			for id, want := range ok {
				if tc.topic == topics.StatusTopic {
					break // statuses are checked below
				}
				r := findID(all, id)
				if tc.topic == topics.RegistryDLQ(reg) {
					// The dead letters are the topic under test: the one over
					// is parked there truncated, and says so.
					if r == nil || record.Truncated(r) == want {
						t.Errorf("%s: parked %v, truncated %v; want truncated %v", id, r != nil, r != nil && record.Truncated(r), !want)
					}
					continue
				}
				if got := r != nil; got != want {
					t.Errorf("%s: written to %s: %v, want %v", id, tc.topic, got, want)
				}
			}
			for _, r := range all {
				if n := recsize.Batch(r); n > limit {
					t.Errorf("a record of %d bytes on a topic of %d", n, limit)
				}
			}
			got := statuses.Wait(t, ctx, func(rs []*kgo.Record) bool {
				return findStatus(rs, "id-behnd") != "" && findStatus(rs, "id-overl") != ""
			})
			if o := findStatus(got, "id-overl"); o != "rejected "+ReasonOutputTooLarge {
				t.Errorf("id-overl: status %q, want rejected %s", o, ReasonOutputTooLarge)
			}
			if o := findStatus(got, "id-behnd"); o != "registered" {
				t.Errorf("id-behnd: status %q, want registered", o)
			}
			dlqRecs := kafkatest.NewReader(t, kc, kc.Prefix+topics.RegistryDLQ(reg)).Wait(t, ctx, func(rs []*kgo.Record) bool { return findID(rs, "id-overl") != nil })
			for _, r := range dlqRecs {
				if id := cloudevents.Get(r.Headers, "ce_id"); id == "id-overl" && cloudevents.Get(r.Headers, record.HReason) != ReasonOutputTooLarge {
					t.Errorf("id-overl parked with %q", cloudevents.Get(r.Headers, record.HReason))
				}
			}
		})
	}
}

func outboundRecord(topic, ceID, answer string) *kgo.Record {
	b, _ := json.Marshal(topics.OutboundEvent{Kind: "case", PatientKey: "11223344595", DedupKey: ceID, Version: 1,
		Source: "1.2.643", ReceivedAt: "2026-12-07T12:00:00Z", Event: json.RawMessage(`{"answer":"` + answer + `","p":""}`)})
	// One timestamp for all, with every millisecond digit: a dead letter
	// repeats it (dlq.original.timestamp), and RFC 3339 drops trailing
	// zeros, which would make records differ in size by chance.
	ts := time.Date(2026, 12, 7, 11, 0, 0, 123_000_000, time.UTC)
	return &kgo.Record{Topic: topic, Key: []byte("11223344595"), Value: b, Timestamp: ts, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ceID)},
		{Key: "ce_source", Value: []byte("1.2.643")}, {Key: topics.HeaderOriginType, Value: []byte("t")},
	}}
}

func growEvent(r *kgo.Record, n int) {
	r.Value = bytes.Replace(r.Value, []byte(`"p":""`), []byte(`"p":"`+strings.Repeat("x", n)+`"`), 1)
}

func growOrigin(r *kgo.Record, n int) {
	for i, h := range r.Headers {
		if h.Key == topics.HeaderOriginType {
			r.Headers[i].Value = []byte("t" + strings.Repeat("x", n))
		}
	}
}

func findID(rs []*kgo.Record, id string) *kgo.Record {
	for _, r := range rs {
		if cloudevents.Get(r.Headers, "ce_id") == id {
			return r
		}
	}
	return nil
}

// findStatus is the outcome (and first reason) of the status of id.
func findStatus(rs []*kgo.Record, id string) string {
	for _, r := range rs {
		var s topics.Status
		if json.Unmarshal(r.Value, &s) == nil && s.CEID == id {
			if len(s.Reasons) > 0 {
				return s.Outcome + " " + s.Reasons[0].Code
			}
			return s.Outcome
		}
	}
	return ""
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
