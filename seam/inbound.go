package seam

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Inbound messages are what a registry sends to the gateway's callback
// listener (РЭМД's result callback and its request for a document's
// file). The registry's adapter authenticates and reads them; the runtime
// acts on them and sends the adapter's answer.

// InboundKind says what an inbound message is.
type InboundKind int

// The inbound kinds.
const (
	// InboundResult is a registry's final answer for an accepted call.
	InboundResult InboundKind = iota + 1
	// InboundFileRequest asks for the signed file of a document the
	// gateway registered (РЭМД's getDocumentFile).
	InboundFileRequest
)

// Inbound is one authenticated message from a registry.
type Inbound struct {
	Kind InboundKind
	// MessageID is the message's own id: the answer relates to it, and a
	// message seen twice is a replay.
	MessageID string
	// Result is an InboundResult's content.
	Result CallbackResult
	// LocalUID is the document an InboundFileRequest asks for.
	LocalUID string
}

// File is what the runtime found for a file request: the document's file
// as the document store holds it, or Found false.
type File struct {
	Found     bool
	LocalUID  string
	MediaType string
	Data      []byte
}

// Answer is the HTTP answer to an inbound message, as the adapter built
// (and signed) it.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// ErrUnauthenticated marks an inbound message that is not signed by a
// certificate the gateway trusts for that registry (unsigned, wrongly
// signed, expired, replayed): it is refused, counted and acts on nothing.
var ErrUnauthenticated = errors.New("inbound message not signed by a trusted registry certificate")

// MessageID is the WS-Addressing MessageID of the calls made for the
// event ceID in its send-th sending (0 the first; n after the document
// was sent again n times because its registry's result asked for it): a
// name-based UUID (version 5 layout over SHA-1) of both. A call tried
// again within one sending (a timeout, a 503) carries the same id, so
// the registry sees it as the same message; each new sending has its own,
// so that a late or repeated result of an earlier sending cannot settle
// the later one. A callback's relatesToMessage names the event and the
// sending it answers (the runtime indexes its pending documents by it).
func MessageID(ceID string, send int) string {
	name := "egisz-gateway/message-id/" + ceID
	if send > 0 {
		name += "/" + strconv.Itoa(send)
	}
	h := sha1.Sum([]byte(name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// AuthFailure says why an inbound message was refused, as the runtime
// counts it: a bounded set, so it can label a metric.
type AuthFailure string

// The authentication failures.
const (
	AuthUnsigned     AuthFailure = "unsigned"      // no signature, or a part that must be signed is not
	AuthBadSignature AuthFailure = "bad_signature" // a signature that does not verify
	AuthUntrusted    AuthFailure = "untrusted"     // signed by a certificate the gateway does not trust for the registry
	AuthExpired      AuthFailure = "expired"       // its Timestamp has passed, or lies in the future
	AuthReplayed     AuthFailure = "replayed"      // the same message seen before within its validity
)

// AuthFailures are every AuthFailure, for the metrics' series.
var AuthFailures = []AuthFailure{AuthUnsigned, AuthBadSignature, AuthUntrusted, AuthExpired, AuthReplayed}

// AuthError is an inbound message refused for Failure; it wraps
// ErrUnauthenticated and the error that found it. Its text is the
// failure's, never the message's content.
type AuthError struct {
	Failure AuthFailure
	Err     error
}

func (e *AuthError) Error() string {
	if e.Err == nil {
		return "inbound message refused: " + string(e.Failure)
	}
	return "inbound message refused: " + string(e.Failure) + ": " + e.Err.Error()
}

// Unwrap is ErrUnauthenticated and the cause.
func (e *AuthError) Unwrap() []error { return []error{ErrUnauthenticated, e.Err} }

// AuthFailure is the failure (AuthError implements AuthFailurer).
func (e *AuthError) AuthFailure() AuthFailure { return e.Failure }

// AuthFailurer is an error that says why it refused a message; an
// adapter's own refusal type implements it to be counted by its reason.
type AuthFailurer interface {
	error
	AuthFailure() AuthFailure
}

// AuthFailureOf is why err refused a message: the failure of the first
// AuthFailurer in its chain when that is one of AuthFailures, otherwise
// AuthBadSignature, for any error wrapping ErrUnauthenticated; ok is
// false when err does not wrap ErrUnauthenticated.
func AuthFailureOf(err error) (f AuthFailure, ok bool) {
	if !errors.Is(err, ErrUnauthenticated) {
		return "", false
	}
	var af AuthFailurer
	if errors.As(err, &af) && slices.Contains(AuthFailures, af.AuthFailure()) {
		return af.AuthFailure(), true
	}
	return AuthBadSignature, true
}
