// Package jsoncodec is the JSON codec of the record path: every ingress
// event decoded, every status, outbound record and pending entry encoded.
// It is github.com/segmentio/encoding/json, a drop-in replacement for
// encoding/json that decodes in one pass where the standard library makes
// two (validate, then decode) and allocates less; JSON was a third of the
// gateway's CPU per event (docs/BENCHMARKS.md).
//
// What it refuses, the standard library decodes again: the fast decoder's
// errors quote the input, which may be personal data, and the standard
// library's errors (an offset, a field, a kind of value) are the ones
// senders read in rejection texts. Its answer stands either way.
//
// It imports nothing of ours, so adapters and gateway may use it. topics
// does not: the contracts import nothing of ours (DESIGN.md §1), and its
// SplitOutbound (which the forward stages call with this codec, through
// SplitOutboundWith) keeps encoding/json for everyone else.
package jsoncodec

import (
	stdjson "encoding/json"
	"reflect"

	"github.com/segmentio/encoding/json"
)

// RawMessage is encoding/json's RawMessage.
type RawMessage = stdjson.RawMessage

// Marshal encodes v as encoding/json.Marshal does.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes b into v, which must be a non-nil pointer, as
// encoding/json.Unmarshal does, errors included.
func Unmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err == nil {
		return nil
	}
	// The fast decoder may have filled part of v; the standard library
	// must start from what the caller passed, as it would have.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
	return stdjson.Unmarshal(b, v)
}
