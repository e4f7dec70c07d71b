package seam

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The call types are what a registry adapter (adapters/destination) and the
// forward stage (gateway/forward) say to each other: the adapter builds a
// Call and reads the answer into an Outcome, the stage sends the call and
// acts on the outcome. They are defined once here so that neither side
// copies the other's field by field.

// Call is one request to a registry.
type Call struct {
	Method string
	Path   string // below the registry's base URL, query included
	// Body is sent as it is: JSON today, a SOAP envelope (XML) for the
	// registries behind ИПС. A nil Body sends none.
	Body []byte
	// Header holds the call's own headers, such as Content-Type and
	// SOAPAction. Without a Content-Type a call with a body is sent as
	// JSON (application/json; charset=utf-8).
	Header         map[string]string
	IdempotencyKey string // the event's ce_id: a re-send is recognised as one
	// Send is which sending of the event this is: 0 the first, n after
	// its registry's result had it sent again n times. The registries
	// behind ИПС name the message by it (MessageID).
	Send   int
	Lookup bool // a reconciliation lookup, not a registration
}

// Result is what an answer means.
type Result string

// The results.
const (
	Registered Result = "registered" // done; Outcome.RegistryID is set when the registry gave one
	// Accepted: the registry took the call and its result comes later on
	// the registry's callback (РЭМД today; any registry may answer so).
	Accepted  Result = "accepted"
	Retry     Result = "retry"     // a transient failure: try again later
	Park      Result = "park"      // a permanent failure: to the DLQ with the reasons
	Reconcile Result = "reconcile" // the registry already has it: look it up
	NotFound  Result = "not_found" // a lookup found nothing
)

// Outcome is the meaning of one answer.
type Outcome struct {
	Result     Result
	RegistryID string
	Reasons    []topics.Reason
	RetryAfter time.Duration // the registry's Retry-After, when it sent one
	HTTPStatus int
	Excerpt    string // the answer's start with personal data masked, for the DLQ
}

// CallbackResult is a registry's final answer for one accepted call,
// delivered on its callback.
type CallbackResult struct {
	RequestID string // the call's idempotency key (ce_id), when the callback names it
	// MessageID is the MessageID of the call it answers (its
	// relatesToMessage), when the callback names the call so: the runtime
	// finds the call's event by it (seam.MessageID).
	MessageID  string
	Registered bool
	RegistryID string
	Reasons    []topics.Reason
	Retry      bool // worth sending again
}

// ParseRetryAfter reads a Retry-After header value (RFC 9110 §10.2.3):
// delay-seconds (digits only) or an HTTP-date, as the time left after now.
// Anything else, and a date already past, is 0: no advice.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if digitsOnly(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return time.Duration(math.MaxInt64) // out of range: the caller's cap applies
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Capabilities are what a registry adapter offers beyond building calls
// and reading answers; the forward stage wires each one it finds.
type Capabilities struct {
	// Callbacks: the registry may answer a call Accepted and deliver the
	// result later on a callback, which the gateway takes on a listener
	// of its own (mTLS), apart from /metrics. The stage then keeps the
	// accepted calls as pending documents until their callback comes or
	// a reconciliation lookup settles them.
	Callbacks bool
	// Files: the registry fetches the documents it was told about from
	// the gateway (РЭМД's getDocumentFile), on the callback listener.
	Files bool
}
