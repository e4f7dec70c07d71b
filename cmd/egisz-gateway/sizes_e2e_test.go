package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/adapters/reasons"
	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// padded is a case of exactly size bytes, padded by an unknown field
// (unknown fields are kept and forwarded).
func padded(t *testing.T, prefix, snils, ceID string, size int) *kgo.Record {
	r := caseRecord(t, prefix, snils, ceID, 1, false, ceID)
	var m map[string]any
	if err := json.Unmarshal(r.Value, &m); err != nil {
		t.Fatal(err)
	}
	m["x_padding"] = ""
	b, _ := json.Marshal(m)
	m["x_padding"] = strings.Repeat("p", size-len(b))
	r.Value, _ = json.Marshal(m)
	if len(r.Value) != size {
		t.Fatalf("padded case is %d bytes, want %d", len(r.Value), size)
	}
	return r
}

// TestValuesAtTheSizeLimitsGetOneOutcomeEach: the value of exactly 1 MiB
// that blocked its partition (issue 26) is accepted and forwarded; one
// byte more is rejected DECODE_TOO_LARGE; a record with a ce_id of 4.5 MiB
// (whole in its status's header and value, more than the status topic
// takes) is rejected HEADER_INVALID and parked whole, its status carrying
// the ce_id cut short; and a valid event behind them on the same
// partition gets its outcome.
func TestValuesAtTheSizeLimitsGetOneOutcomeEach(t *testing.T) {
	kc, ctx, _ := prepareCluster(t)
	pub := kc.Client(t, kgo.ProducerBatchMaxBytes(topics.LargeRecordBytes))
	const snils = "11223344595" // one key: one partition, every record behind the one before
	bigID := "big-" + strings.Repeat("i", 9<<19)
	recs := []*kgo.Record{
		padded(t, kc.Prefix, snils, "at-limit", 1<<20),
		padded(t, kc.Prefix, snils, "over-limit", 1<<20+1),
		caseRecord(t, kc.Prefix, snils, "big-id", 1, false, bigID),
		caseRecord(t, kc.Prefix, snils, "behind", 1, false, "behind"),
	}
	status := newStatusReader(t, kc)
	startGateway(t, kc, "sizes-1")
	produceAll(t, ctx, pub, recs)
	status.waitFor(t, ctx, len(recs))
	got := status.snapshot(t, ctx)
	want := map[string]string{"at-limit": "accepted", "over-limit": "rejected", "big-": "rejected", "behind": "accepted"}
	for id, outcome := range want {
		o := got[id]
		if id == "big-" {
			// Its status carries the ce_id cut short, with a mark.
			for k, v := range got {
				if strings.HasPrefix(k, "big-") && len(k) < 2048 {
					o = v
				}
			}
		}
		if len(o) != 1 || o[0] != outcome {
			t.Errorf("%.20s: outcomes %v, want exactly [%s]", id, o, outcome)
		}
	}
	parked := readAll(t, ctx, kc, kc.Prefix+topics.DLQIngress, 2)
	var codes []string
	for _, r := range parked {
		for _, h := range r.Headers {
			if h.Key == record.HReason {
				codes = append(codes, string(h.Value))
			}
		}
		if bytes.HasPrefix([]byte(headerOf(r, "ce_id")), []byte("big-")) && (record.Truncated(r) || headerOf(r, "ce_id") != bigID) {
			t.Error("the big-id record fits the DLQ whole but was not parked whole")
		}
	}
	if strings.Join(codes, ",") != reasons.DecodeTooLarge+","+reasons.HeaderInvalid {
		t.Errorf("parked with %v, want %s then %s", codes, reasons.DecodeTooLarge, reasons.HeaderInvalid)
	}
	out := readAll(t, ctx, kc, kc.Prefix+topics.Outbound(topics.RegistryIEMK), 2)
	if len(out) != 2 {
		t.Errorf("%d records forwarded to ИЭМК, want the 1 MiB case and the one behind", len(out))
	}
}

func headerOf(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}
