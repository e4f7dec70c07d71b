package topics

// The CloudEvents headers of every record of the catalog (the Kafka
// protocol binding, binary mode: each attribute a ce_ header), and the
// W3C trace context the gateway carries from an event to the records it
// derives from it. The contract's extension headers are beside the
// payloads they belong to (HeaderOriginType, HeaderReplayCount,
// HeaderRegion, ...).
const (
	HeaderSpecVersion = "ce_specversion" // always CloudEventsVersion
	HeaderID          = "ce_id"          // the event's id: with ce_source, its idempotency key
	HeaderSource      = "ce_source"      // the system that produced it
	HeaderType        = "ce_type"        // its type, one per topic (Topic.EventType)
	HeaderTime        = "ce_time"        // when it happened, RFC 3339; optional
	HeaderContentType = "content-type"   // application/json
	HeaderTraceparent = "traceparent"    // W3C trace context, carried when present
	HeaderTracestate  = "tracestate"
)

// CloudEventsVersion is the ce_specversion of every record.
const CloudEventsVersion = "1.0"

// ContentJSON is the content-type of every record's value.
const ContentJSON = "application/json"
