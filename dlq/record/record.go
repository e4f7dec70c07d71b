// Package record is the dead-letter record format of DESIGN §5: a parked
// record keeps the original key, value and headers byte for byte and adds
// dlq.* headers that say where, when and why it failed. The stages park
// with it, and the operations service (package dlq) lists and replays
// what it wrote. It is apart from the service so that the runtime under
// gateway/ can park without importing the service's masking, which is
// the domain's (adapters/ident).
package record

import (
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Header names added to a parked record.
const (
	HReason          = "dlq.reason"         // stable code from the reason catalog
	HMessage         = "dlq.message"        // the reason's text, Russian, with the English after " / "
	HOwner           = "dlq.owner"          // who must act
	HField           = "dlq.field"          // the field at fault, when one is
	HStage           = "dlq.stage"          // normalize, forward, replay
	HDestination     = "dlq.destination"    // the registry, for the forward stage
	HOrigTopic       = "dlq.original.topic" //
	HOrigPartition   = "dlq.original.partition"
	HOrigOffset      = "dlq.original.offset"
	HOrigTimestamp   = "dlq.original.timestamp" // RFC 3339
	HAttempts        = "dlq.attempts"
	HFirstFailure    = "dlq.first_failure"
	HLastFailure     = "dlq.last_failure"
	HRetryable       = "dlq.retryable"
	HHTTPStatus      = "dlq.http_status"
	HResponseExcerpt = "dlq.response_excerpt"
	HReplayCount     = "dlq.replay_count"
	HFingerprintOld  = "dlq.fingerprint.stored"   // a dedup conflict: what the state held
	HFingerprintNew  = "dlq.fingerprint.received" // and what arrived
	HBusinessID      = "dlq.business_id"          // a cross-patient duplicate: the business id two patients share
)

// Failure is why a record is parked.
type Failure struct {
	Reason      string // the first reason's code
	Message     string // its text, Russian / English; never personal data
	Owner       string
	Field       string
	Stage       string
	Destination string
	Attempts    int
	First, Last time.Time
	Retryable   bool
	HTTPStatus  int
	Response    string // an excerpt of the registry's answer, scrubbed
	ReplayCount int
	Extra       []kgo.RecordHeader // stage-specific headers (fingerprints of a conflict)
}

// FailureOf is the failure a reason of the catalog makes: its code, its
// text (Russian, then the English after " / "), the owner who must act,
// the field at fault and whether trying again may help. The caller adds
// the stage, the destination, the attempts and the times.
func FailureOf(r topics.Reason) Failure {
	return Failure{Reason: r.Code, Message: r.MessageRU + " / " + r.MessageEN, Owner: r.Owner, Field: r.Field, Retryable: r.Retryable}
}

// Park returns the dead-letter record of orig for topic: orig's key, value
// and headers unchanged, followed by the dlq.* headers. Headers orig
// already carries from an earlier parking are replaced, so a record parked
// twice holds one current set. The replay count is f.ReplayCount, or the
// count orig carries from an operator's replay.
func Park(topic string, orig *kgo.Record, f Failure) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(orig.Headers)+16)
	for _, h := range orig.Headers {
		if !IsHeader(h.Key) {
			headers = append(headers, h)
		}
	}
	add := func(k, v string) {
		if v != "" {
			headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	attempts := f.Attempts
	if attempts == 0 {
		attempts = 1
	}
	if f.ReplayCount == 0 {
		// A record an operator replayed says so; failing again counts.
		for _, h := range orig.Headers {
			if h.Key == topics.HeaderReplayCount {
				f.ReplayCount, _ = strconv.Atoi(string(h.Value))
			}
		}
	}
	add(HReason, f.Reason)
	add(HMessage, f.Message)
	add(HOwner, f.Owner)
	add(HField, f.Field)
	add(HStage, f.Stage)
	add(HDestination, f.Destination)
	add(HOrigTopic, orig.Topic)
	add(HOrigPartition, strconv.Itoa(int(orig.Partition)))
	add(HOrigOffset, strconv.FormatInt(orig.Offset, 10))
	add(HOrigTimestamp, ts(orig.Timestamp))
	add(HAttempts, strconv.Itoa(attempts))
	add(HFirstFailure, ts(f.First))
	add(HLastFailure, ts(f.Last))
	add(HRetryable, strconv.FormatBool(f.Retryable))
	if f.HTTPStatus != 0 {
		add(HHTTPStatus, strconv.Itoa(f.HTTPStatus))
	}
	add(HResponseExcerpt, f.Response)
	add(HReplayCount, strconv.Itoa(f.ReplayCount))
	headers = append(headers, f.Extra...)
	return &kgo.Record{Topic: topic, Key: orig.Key, Value: orig.Value, Headers: headers}
}

// IsHeader reports whether k is a header this format adds (dlq.*): what
// a replay strips, and what a second park replaces.
func IsHeader(k string) bool { return len(k) > 4 && k[:4] == "dlq." }
