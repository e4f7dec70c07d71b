package remd

import (
	"errors"

	"github.com/egisz-gateway/egisz-gateway/crypto/wssec"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
	"github.com/egisz-gateway/egisz-gateway/seam"
)

// Refusal reasons: the one word Inbound's error carries, for the runtime
// to count refused messages by (RefusalReason). The five of a message not
// authenticated wrap seam.ErrUnauthenticated and are spelled as the
// runtime's seam.AuthFailure values; ReasonMalformed and ReasonBadRequest
// wrap ErrBadMessage.
const (
	// ReasonUnsigned: no WS-Security signature, or one that leaves a part
	// that must be signed (Body, Timestamp, Action, MessageID) unsigned.
	ReasonUnsigned = "unsigned"
	// ReasonBadSignature: a signature that does not verify, or a token,
	// timestamp or header layout that cannot be trusted to mean what the
	// signature covers.
	ReasonBadSignature = "bad_signature"
	// ReasonUntrusted: signed by a certificate the configuration does not
	// trust for РЭМД/ИПС.
	ReasonUntrusted = "untrusted"
	// ReasonExpired: the signed Timestamp has expired or is not yet valid.
	ReasonExpired = "expired"
	// ReasonReplayed: the same signed message (MessageID and
	// Timestamp.Created) was taken before, within its lifetime.
	ReasonReplayed = "replayed"
	// ReasonMalformed: not an XML SOAP envelope at all (nothing to judge
	// a signature on: a client speaking something else, not a forger).
	ReasonMalformed = "malformed"
	// ReasonBadRequest: a verified message the gateway cannot act on
	// (unknown Action, body not of the expected shape, Content-Type not
	// SOAP or not the envelope's version).
	ReasonBadRequest = "bad_request"
)

// ErrBadMessage marks an inbound message that is authentic, or no SOAP
// envelope at all, but that the gateway cannot act on: the caller answers
// it as the sender's fault. It acts on nothing either way.
var ErrBadMessage = errors.New("remd: inbound message cannot be read")

// refusal is the error Inbound returns. Its text is fixed words only: the
// causes below it may quote what a certificate or the message holds
// (names in a subject, values of the body), which must not reach a log.
// errors.Is and errors.As still reach the cause.
type refusal struct {
	reason string
	kind   error // seam.ErrUnauthenticated or ErrBadMessage
	what   string
	cause  error
}

func (e *refusal) Error() string {
	s := "remd inbound message refused (" + e.reason + ")"
	if e.what != "" {
		s += ": " + e.what
	}
	return s + ": " + e.kind.Error()
}

func (e *refusal) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// RefusalReason returns the reason word of an error Inbound returned (one
// of the Reason constants), or "" for any other error.
func RefusalReason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ""
}

func unauthenticated(reason, what string, cause error) error {
	return &refusal{reason: reason, kind: seam.ErrUnauthenticated, what: what, cause: cause}
}

func badMessage(what string, cause error) error {
	return &refusal{reason: ReasonBadRequest, kind: ErrBadMessage, what: what, cause: cause}
}

func malformed(what string, cause error) error {
	return &refusal{reason: ReasonMalformed, kind: ErrBadMessage, what: what, cause: cause}
}

// verifyRefusal names what failed in wssec.Verify: its sentinels say
// which check refused the message, and each maps to one reason. The text
// kept is the sentinel's own, which quotes nothing of the message.
func verifyRefusal(err error) error {
	for _, m := range []struct {
		sentinel error
		reason   string
	}{
		{wssec.ErrSecurityHeader, ReasonUnsigned},
		{wssec.ErrUnsignedPart, ReasonUnsigned},
		{wssec.ErrMissingPart, ReasonUnsigned},
		{wssec.ErrUntrusted, ReasonUntrusted},
		{wssec.ErrExpired, ReasonExpired},
		{wssec.ErrNotYetValid, ReasonExpired},
		{wssec.ErrToken, ReasonBadSignature},
		{wssec.ErrDuplicateHeader, ReasonBadSignature},
		{wssec.ErrTimestamp, ReasonBadSignature},
	} {
		if errors.Is(err, m.sentinel) {
			what := m.sentinel.Error()
			var pe *wssec.PartError
			if errors.As(err, &pe) {
				what = string(pe.Part) + ": " + what
			}
			return unauthenticated(m.reason, what, err)
		}
	}
	for _, s := range []error{wssec.ErrNotEnvelope, xmldsig.ErrMalformed, xmldsig.ErrTooLarge, xmldsig.ErrTooDeep, xmldsig.ErrTooManyNodes, xmldsig.ErrDTD} {
		if errors.Is(err, s) {
			return malformed(s.Error(), err)
		}
	}
	// What is left is xmldsig's: a reference or the signature value that
	// does not verify, or a signature it cannot read.
	return unauthenticated(ReasonBadSignature, "signature does not verify", err)
}
