package normalize

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/state"
)

func TestHopRoundTrip(t *testing.T) {
	ts := time.UnixMilli(1_765_000_000_123)
	for _, h := range []hop{
		{Kind: hopClaim, Owner: "case|1.2.643|root:ext", PatientKey: "11223344595", DedupKey: "11223344595|case|root:ext", Outcome: "update",
			Entry: state.Entry{Fingerprint: 1<<63 + 5, Version: -3, Seen: 1<<32 - 1}, Prev: state.Entry{Fingerprint: 9, Version: 1 << 40, Seen: 1}, HadPrev: true, StatePartition: 5,
			Ingress: &kgo.Record{Topic: "p.egisz.rmis.case.v1", Partition: 4, Offset: 1 << 40, Timestamp: ts, Key: []byte("11223344595"), Value: []byte(`{"a":1}`),
				Headers: []kgo.RecordHeader{{Key: "ce_id", Value: []byte("e1")}, {Key: "empty", Value: []byte{}}, {Key: "nil"}}},
			Records: []*kgo.Record{
				{Topic: "p.egisz.out.iemk.v1", Key: []byte("11223344595"), Value: bytes.Repeat([]byte("x"), 300), Timestamp: ts},
				{Topic: "p.egisz.status.v1", Key: []byte("k"), Value: []byte(`{}`), Timestamp: ts, Headers: []kgo.RecordHeader{{Key: "ce_type", Value: []byte("s")}}},
			}},
		{Kind: hopRelease, Owner: "", PatientKey: "", Outcome: "", Ingress: &kgo.Record{Timestamp: ts}},
	} {
		got, err := decodeHop(encodeHop(h))
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != h.Kind || got.Owner != h.Owner || got.PatientKey != h.PatientKey || got.DedupKey != h.DedupKey || got.Outcome != h.Outcome ||
			got.Entry != h.Entry || got.Prev != h.Prev || got.HadPrev != h.HadPrev || got.StatePartition != h.StatePartition || len(got.Records) != len(h.Records) {
			t.Fatalf("got %+v, want %+v", got, h)
		}
		for i, want := range append([]*kgo.Record{h.Ingress}, h.Records...) {
			r := got.Ingress
			if i > 0 {
				r = got.Records[i-1]
			}
			if r.Topic != want.Topic || r.Partition != want.Partition || r.Offset != want.Offset || !r.Timestamp.Equal(want.Timestamp) ||
				!bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value) || len(r.Headers) != len(want.Headers) {
				t.Fatalf("record %d: got %+v, want %+v", i, r, want)
			}
			for j := range want.Headers {
				if r.Headers[j].Key != want.Headers[j].Key || !bytes.Equal(r.Headers[j].Value, want.Headers[j].Value) {
					t.Errorf("record %d header %d: got %+v, want %+v", i, j, r.Headers[j], want.Headers[j])
				}
			}
		}
	}
}

// Every cut of a hop record, and a byte too many, is an error, not a panic
// or a record made up.
func TestHopTruncatedIsAnError(t *testing.T) {
	b := encodeHop(hop{Kind: hopClaim, Owner: "o", PatientKey: "p", Outcome: "new",
		Ingress: &kgo.Record{Topic: "t", Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}},
		Records: []*kgo.Record{{Topic: "u", Value: []byte("w")}}})
	for i := 0; i < len(b); i++ {
		if _, err := decodeHop(b[:i]); err == nil {
			t.Errorf("a hop cut to %d of %d bytes decoded", i, len(b))
		}
	}
	if _, err := decodeHop(append(b, 0)); err == nil {
		t.Error("a hop with a byte after its end decoded")
	}
}

func FuzzDecodeHop(f *testing.F) {
	f.Add(encodeHop(hop{Kind: hopRelease, Owner: "o", Ingress: &kgo.Record{Topic: "t"}, Records: []*kgo.Record{{Topic: "u"}}}))
	f.Add([]byte{hopVersion, hopClaim, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHop(b)
		if err != nil {
			return
		}
		if again, err := decodeHop(encodeHop(h)); err != nil || again.Owner != h.Owner || again.Entry != h.Entry || len(again.Records) != len(h.Records) {
			t.Fatalf("a decoded hop does not survive encoding: %v", err)
		}
	})
}
