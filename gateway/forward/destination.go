// Package forward is the forward stage (DESIGN §4): it reads one
// registry's outbound topic, calls the registry over HTTP and writes each
// record's outcome (status, DLQ record, РЭМД pending document) in the same
// Kafka transaction as the consumed offsets, so an offset is committed
// only with its outcome. The call itself is at-least-once, made safe by
// the idempotency key every call carries.
//
// Per registry (registry: what its outbound Stage and its retry Tiers
// share) it holds a concurrency limit, a token-bucket rate limit
// (limiter.go), one retry policy for every wait between attempts
// (retry.go: capped exponential backoff with jitter, Retry-After capped,
// a budget; go-retryablehttp is the HTTP client with its own retries
// off), and a gobreaker circuit breaker that pauses the registry's
// partitions while it is open (breaker.go). It knows Kafka and
// HTTP, not the registries: a Destination from the adapters builds the
// calls and reads the answers.
//
// # The seam a registry adapter implements
//
// Destination is all the stage knows of a registry, and it already carries
// what the registries' real protocols (ИПС SOAP with WS-Security, РЭМД's
// signed callbacks and getDocumentFile, N3 EMK) need, so that a protocol
// is a new adapter, not a change here:
//
//   - The body is bytes the adapter built, sent as they are: JSON today, a
//     SOAP envelope (XML) tomorrow. Call.Header carries the call's own
//     headers (Content-Type, SOAPAction); without a Content-Type a body is
//     sent as JSON.
//   - Sign runs between Build and every send: it takes the built call and
//     returns it signed (an XMLDSig/WS-Security header, a detached CMS
//     signature). A signing failure is retried like a transport failure,
//     because it is the signer's trouble (a busy HSM), not the event's.
//     Today's adapters return the call unchanged.
//   - Accepted is an outcome any registry may give: "taken, the result comes
//     on a callback". A registry whose Capabilities say Callbacks has its
//     accepted calls kept as pending documents, and the messages it sends
//     (its result callbacks and, with Files, its requests for a
//     document's file) authenticated and read by Inbound on a listener of
//     its own (CallbackPath, mTLS); Answer builds and signs what the
//     listener answers.
//   - Lookup is the reconciliation call: what the registry holds for a call
//     it answered "already registered", or for a pending document whose
//     callback never came.
package forward

import (
	"context"

	"github.com/egisz-gateway/egisz-gateway/seam"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// The call types are package seam's, shared with the adapters; the names
// here are aliases so the stage reads as before.
type (
	// Call is one request to a registry (seam.Call).
	Call = seam.Call
	// Result is what an answer means (seam.Result).
	Result = seam.Result
	// Outcome is the meaning of one answer (seam.Outcome).
	Outcome = seam.Outcome
	// CallbackResult is a registry's final answer on its callback (seam.CallbackResult).
	CallbackResult = seam.CallbackResult
	// Capabilities are what a registry adapter offers (seam.Capabilities).
	Capabilities = seam.Capabilities
)

// The results (seam's).
const (
	Registered = seam.Registered
	Accepted   = seam.Accepted
	Retry      = seam.Retry
	Park       = seam.Park
	Reconcile  = seam.Reconcile
	NotFound   = seam.NotFound
)

// Destination is one registry as the domain knows it.
type Destination interface {
	// Build turns an outbound record's value into the registry call.
	Build(value []byte, ceID, callbackURL string) (Call, error)
	// Sign takes a built call and returns it as it is to be sent, signed
	// where the registry's protocol wants a signature. It runs before
	// every send, a lookup's included.
	Sign(ctx context.Context, call Call) (Call, error)
	// Classify reads the answer to call.
	Classify(call Call, status int, retryAfter string, body []byte) Outcome
	// TransportFailure is the outcome of a call that got no answer.
	TransportFailure(err error) Outcome
	// Lookup is the call that finds what the registry holds for call, for
	// reconciliation; ok is false when the registry offers none.
	Lookup(call Call) (lookup Call, ok bool)
	// Capabilities say what the registry offers beyond calls and answers:
	// results on a callback, file requests.
	Capabilities() Capabilities
	// Inbound authenticates and reads a message the registry sent to the
	// callback listener (a registry with Callbacks): a result or a file
	// request. A message not signed by a certificate trusted for the
	// registry (unsigned, forged, expired, replayed) is an error wrapping
	// seam.ErrUnauthenticated (a seam.AuthError says why); any other error
	// is a message that does not read.
	Inbound(ctx context.Context, contentType string, body []byte) (seam.Inbound, error)
	// Answer is the listener's answer to in: for a result, that it is
	// recorded; for a file request, f (Found false: not held here).
	Answer(ctx context.Context, in seam.Inbound, f seam.File) seam.Answer
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
