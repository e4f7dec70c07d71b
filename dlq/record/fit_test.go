package record_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/dlq/record"
	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
)

func TestFitKeepsWhatFitsAndSaysWhatItLeftOut(t *testing.T) {
	orig := &kgo.Record{Topic: "in", Key: []byte("11223344595"), Value: bytes.Repeat([]byte("v"), 50_000),
		Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("id-1")}, {Key: "ce_source", Value: bytes.Repeat([]byte("s"), 5000)}}}
	parked := record.Park("dlq", orig, record.Failure{Reason: "OUTPUT_TOO_LARGE", Stage: "normalize"})
	whole := recsize.Batch(parked)
	for _, tc := range []struct {
		name      string
		limit     int
		minimal   bool
		truncated bool
	}{
		{"fits whole", whole, false, false},
		{"a byte short", whole - 1, false, true},
		{"far too small", 20_000, false, true},
		{"minimal", whole, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := record.Fit(parked, tc.limit, tc.minimal)
			if record.Truncated(got) != tc.truncated {
				t.Fatalf("truncated = %v, want %v", record.Truncated(got), tc.truncated)
			}
			if !tc.truncated {
				if got != parked {
					t.Fatal("a record that fits was changed")
				}
				return
			}
			if n := recsize.Batch(got); !tc.minimal && n > tc.limit {
				t.Errorf("fitted record is %d bytes, limit %d", n, tc.limit)
			}
			note, reason := "", ""
			for _, h := range got.Headers {
				switch h.Key {
				case record.HTruncated:
					note = string(h.Value)
				case record.HReason:
					reason = string(h.Value)
				}
			}
			if reason != "OUTPUT_TOO_LARGE" {
				t.Errorf("the dlq.* headers were not kept: reason %q", reason)
			}
			if !strings.Contains(note, "of 50000 bytes kept") {
				t.Errorf("note %q does not say how much of the value was kept", note)
			}
			if !bytes.HasPrefix(orig.Value, got.Value) {
				t.Error("the kept value is not a prefix of the original")
			}
			if tc.minimal && (len(got.Value) != 0 || !strings.Contains(note, "headers left out: ce_id,ce_source")) {
				t.Errorf("minimal form kept %d value bytes; note %q", len(got.Value), note)
			}
			if !tc.minimal && tc.limit > 20_000 && len(got.Value) < tc.limit-20_000 {
				t.Errorf("kept only %d bytes of the value under a limit of %d", len(got.Value), tc.limit)
			}
		})
	}
}
