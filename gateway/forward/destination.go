// Package forward is the forward stage (DESIGN §4): it reads one
// registry's outbound topic, calls the registry over HTTP and writes each
// record's outcome (status, DLQ record, РЭМД pending document) in the same
// Kafka transaction as the consumed offsets, so an offset is committed
// only with its outcome. The call itself is at-least-once, made safe by
// the idempotency key every call carries.
//
// Per destination it holds a concurrency limit, a token-bucket rate limit,
// go-retryablehttp for retries in place (capped exponential backoff with
// jitter, Retry-After capped), and a gobreaker circuit breaker that
// pauses the destination's partitions while it is open. It knows Kafka and
// HTTP, not the registries: a Destination from the adapters builds the
// calls and reads the answers.
package forward

import (
	"time"

	"github.com/egisz-gateway/egisz-gateway/gateway/forward/pending"

	"github.com/egisz-gateway/egisz-gateway/topics"
)

// Call is one request to a registry.
type Call struct {
	Method         string
	Path           string // below the registry's base URL, query included
	Body           []byte
	IdempotencyKey string // the event's ce_id
	Lookup         bool   // a reconciliation lookup, not a registration
}

// Result is what an answer means.
type Result string

// The results.
const (
	Registered Result = "registered" // done; Outcome.RegistryID is set when the registry gave one
	Accepted   Result = "accepted"   // an asynchronous registry took it; its result comes on the callback
	Retry      Result = "retry"      // a transient failure
	Park       Result = "park"       // a permanent failure: to the DLQ with the reasons
	Reconcile  Result = "reconcile"  // the registry already has it: look it up
	NotFound   Result = "not_found"  // a lookup found nothing
)

// Outcome is the meaning of one answer.
type Outcome struct {
	Result     Result
	RegistryID string
	Reasons    []topics.Reason
	RetryAfter time.Duration
	HTTPStatus int
	Excerpt    string // the answer's start, scrubbed of personal data, for the DLQ
}

// CallbackResult is an asynchronous registry's final answer for one
// call; the pending documents' package settles with it.
type CallbackResult = pending.CallbackResult

// Destination is one registry as the domain knows it.
type Destination interface {
	// Build turns an outbound record's value into the registry call.
	Build(value []byte, ceID, callbackURL string) (Call, error)
	// Classify reads the answer to call.
	Classify(call Call, status int, retryAfter string, body []byte) Outcome
	// TransportFailure is the outcome of a call that got no answer.
	TransportFailure(err error) Outcome
	// Lookup is the call that finds what the registry holds for call, for
	// reconciliation; ok is false when the registry offers none.
	Lookup(call Call) (lookup Call, ok bool)
	// Async is true for a registry that answers later on a callback (РЭМД).
	Async() bool
	// ParseCallback reads an asynchronous registry's callback.
	ParseCallback(body []byte) (CallbackResult, error)
	// Reason is a catalog reason of the gateway's own (unbuildable event,
	// retries exhausted, callback missing).
	Reason(code string) topics.Reason
}

// Reason codes the stage uses; the adapters' catalog holds their texts.
const (
	ReasonUnbuildable     = "FORWARD_UNBUILDABLE"
	ReasonRetryExhausted  = "RETRIES_EXHAUSTED"
	ReasonOutputTooLarge  = "OUTPUT_TOO_LARGE" // what the record becomes cannot fit its topic
	ReasonOutputRefused   = "OUTPUT_REFUSED"   // the broker refused to write it
	ReasonCallbackMissing = "CALLBACK_MISSING"
)
