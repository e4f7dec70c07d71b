package topics

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SplitOutbound reads an outbound record's value: the envelope decoded,
// the event as raw JSON. An envelope of the gateway's own writing has the
// event last, so only the small head is decoded here and the event is
// cut out as it stands (the caller decodes what it needs of it, which
// also validates it); anything else takes the full decode.
func SplitOutbound(value []byte) (OutboundEvent, json.RawMessage, error) {
	return SplitOutboundWith(value, json.Unmarshal)
}

// SplitOutboundWith is SplitOutbound decoding with unmarshal, which must
// answer as encoding/json.Unmarshal does: the forward stages pass their
// faster codec, as they split every record they send.
func SplitOutboundWith(value []byte, unmarshal func([]byte, any) error) (OutboundEvent, json.RawMessage, error) {
	var ev OutboundEvent
	// No JSON string holds an unescaped quote, so the first `,"event":`
	// is the envelope's own key, ahead of anything inside the event.
	if i := bytes.Index(value, []byte(`,"event":`)); i > 0 && len(value) > 0 && value[len(value)-1] == '}' {
		head := append(append(make([]byte, 0, i+1), value[:i]...), '}')
		if err := unmarshal(head, &ev); err == nil {
			raw := json.RawMessage(bytes.TrimSpace(value[i+len(`,"event":`) : len(value)-1]))
			ev.Event = raw
			return ev, raw, nil
		}
	}
	var raw json.RawMessage
	ev.Event = &raw
	if err := unmarshal(value, &ev); err != nil {
		return OutboundEvent{}, nil, fmt.Errorf("outbound record: %w", err)
	}
	ev.Event = raw
	return ev, raw, nil
}
