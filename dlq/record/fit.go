package record

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/gateway/recsize"
)

// HTruncated marks a dead-letter record that is not the original byte for
// byte: the original with the dlq.* headers did not fit the dead-letter
// topic. Its value says what was left out. Such a record is kept for an
// operator to see, and cannot be replayed.
const HTruncated = "dlq.truncated"

// MaxKeptBytes is the most of a long key or header value a truncated
// dead-letter record keeps, and the most of an identifier (ce_id,
// ce_source) a status of a record too large to write repeats.
const MaxKeptBytes = 1024

// Fit returns rec if its batch fits limit (recsize.Batch), else a
// truncated form of it that does, marked with HTruncated: the dlq.*
// headers whole, the key and other headers cut to MaxKeptBytes, and as
// much of the value as room is left for. With minimal, the value and the
// original headers are left out altogether, for a dead-letter topic that
// refused even the truncated form. rec is not changed.
func Fit(rec *kgo.Record, limit int, minimal bool) *kgo.Record {
	if !minimal && recsize.Fits(rec, limit) {
		return rec
	}
	out := &kgo.Record{Topic: rec.Topic, Partition: rec.Partition, Key: cut(rec.Key, MaxKeptBytes)}
	var dropped, cutHeaders []string
	for _, h := range rec.Headers {
		switch {
		case IsHeader(h.Key):
			out.Headers = append(out.Headers, h)
		case minimal:
			dropped = append(dropped, cutString(h.Key, 64))
		case len(h.Key) > MaxKeptBytes:
			dropped = append(dropped, cutString(h.Key, 64))
		default:
			if len(h.Value) > MaxKeptBytes {
				cutHeaders = append(cutHeaders, h.Key)
			}
			out.Headers = append(out.Headers, kgo.RecordHeader{Key: h.Key, Value: cut(h.Value, MaxKeptBytes)})
		}
	}
	note := func(kept int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "value: %d of %d bytes kept", kept, len(rec.Value))
		if len(rec.Key) > MaxKeptBytes {
			fmt.Fprintf(&b, "; key: %d of %d bytes kept", MaxKeptBytes, len(rec.Key))
		}
		if len(cutHeaders) > 0 {
			fmt.Fprintf(&b, "; headers cut to %d bytes: %s", MaxKeptBytes, strings.Join(cutHeaders, ","))
		}
		if len(dropped) > 0 {
			fmt.Fprintf(&b, "; headers left out: %s", strings.Join(dropped, ","))
		}
		return b.String()
	}
	out.Headers = append(out.Headers, kgo.RecordHeader{Key: HTruncated, Value: []byte(note(0))})
	if minimal {
		return out
	}
	// Room for the value: what the record takes without it, with the note
	// at its longest (the kept count as long as the whole), and the
	// varint of the value's length at its longest.
	last := len(out.Headers) - 1
	out.Headers[last].Value = []byte(note(len(rec.Value)))
	room := limit - recsize.Batch(out) - 8
	kept := max(0, min(room, len(rec.Value)))
	out.Value = rec.Value[:kept]
	out.Headers[last].Value = []byte(note(kept))
	return out
}

// Truncated reports whether r is a truncated dead-letter record (Fit).
func Truncated(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == HTruncated {
			return true
		}
	}
	return false
}

// Capped is s cut to MaxKeptBytes: an identifier repeated in a status
// must not make the status as large as the record it tells about.
func Capped(s string) string { return cutString(s, MaxKeptBytes) }

// MinimalKeptBytes is the most of an identifier a status repeats when even
// the status with identifiers of MaxKeptBytes could not be written.
const MinimalKeptBytes = 64

// KeptBytes is how much of an identifier a park's status repeats: all of
// MaxKeptBytes, or MinimalKeptBytes when an earlier park of the same input
// could not be written (minimal).
func KeptBytes(minimal bool) int {
	if minimal {
		return MinimalKeptBytes
	}
	return MaxKeptBytes
}

// Minimal says which records of a park to make as small as can be, given
// how many parks of the same input could not be written (attempt) and
// whether the last failed on the dead-letter topic (else on the status):
// the one that did not fit, and both from the third attempt on.
func Minimal(attempt int, dlqFailed bool) (dlqRecord, status bool) {
	switch {
	case attempt <= 0:
		return false, false
	case attempt == 1:
		return dlqFailed, !dlqFailed
	default:
		return true, true
	}
}

// CappedTo is s cut to n bytes.
func CappedTo(s string, n int) string { return cutString(s, n) }

func cut(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return b[:n]
}

func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
