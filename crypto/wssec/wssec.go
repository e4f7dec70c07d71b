// Package wssec builds and verifies SOAP 1.1 and 1.2 envelopes signed with
// WS-Security the way ЕГИСЗ's ИПС expects them: a wsse:Security header with
// an X.509 BinarySecurityToken, a wsu:Timestamp and a ds:Signature whose
// exc-c14n references cover the Body, the Timestamp and the WS-Addressing
// headers, each by its wsu:Id, and whose KeyInfo names the token.
//
// The XML and signature work is crypto/xmldsig's; this package knows where
// each part of an envelope lives and insists on it, so that a verified
// envelope's Body is the Body a consumer reads (no signature wrapping).
package wssec

import (
	"errors"
	"fmt"

	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// Namespaces and URIs of SOAP, WS-Security and WS-Addressing, each written
// here and nowhere else.
const (
	// NamespaceSOAP11 is the SOAP 1.1 envelope namespace.
	NamespaceSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	// NamespaceSOAP12 is the SOAP 1.2 envelope namespace.
	NamespaceSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
	// NamespaceWSSE is the WS-Security 1.0 secext namespace.
	NamespaceWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	// NamespaceWSU is the WS-Security utility namespace (wsu:Id, wsu:Timestamp).
	NamespaceWSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	// NamespaceWSA is WS-Addressing 1.0 (2005/08).
	NamespaceWSA = "http://www.w3.org/2005/08/addressing"
	// ValueTypeX509v3 marks a BinarySecurityToken holding one X.509v3 certificate.
	ValueTypeX509v3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
	// EncodingBase64Binary marks a base64-encoded BinarySecurityToken.
	EncodingBase64Binary = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
	// AnonymousAddress is WS-Addressing's anonymous endpoint (reply on the
	// same connection).
	AnonymousAddress = "http://www.w3.org/2005/08/addressing/anonymous"
)

// wsuID is the ID attribute references resolve: wsu:Id, and only it.
var wsuID = []xmldsig.Name{{Space: NamespaceWSU, Local: "Id"}}

// Version is a SOAP version.
type Version int

const (
	// SOAP11 is SOAP 1.1 (text/xml).
	SOAP11 Version = 1
	// SOAP12 is SOAP 1.2 (application/soap+xml).
	SOAP12 Version = 2
)

// Namespace returns the version's envelope namespace, or "" for an unknown
// version.
func (v Version) Namespace() string {
	switch v {
	case SOAP11:
		return NamespaceSOAP11
	case SOAP12:
		return NamespaceSOAP12
	}
	return ""
}

// ContentType returns the HTTP Content-Type the version is sent with.
func (v Version) ContentType() string {
	if v == SOAP12 {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// String returns "SOAP 1.1" or "SOAP 1.2".
func (v Version) String() string {
	switch v {
	case SOAP11:
		return "SOAP 1.1"
	case SOAP12:
		return "SOAP 1.2"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// Part names a part of an envelope that a signature can cover.
type Part string

// The parts: the Body, the security Timestamp and the WS-Addressing headers.
const (
	PartBody      Part = "Body"
	PartTimestamp Part = "Timestamp"
	PartAction    Part = "Action"
	PartMessageID Part = "MessageID"
	PartTo        Part = "To"
	PartReplyTo   Part = "ReplyTo"
	PartFaultTo   Part = "FaultTo"
	PartRelatesTo Part = "RelatesTo"
)

// addressingParts are the WS-Addressing headers in the order they are
// written.
var addressingParts = []Part{PartAction, PartMessageID, PartTo, PartReplyTo, PartFaultTo, PartRelatesTo}

// Addressing are the WS-Addressing values of a message. Empty values are
// left out; ReplyTo and FaultTo are endpoint addresses.
type Addressing struct {
	Action    string
	MessageID string
	To        string
	ReplyTo   string
	FaultTo   string
	RelatesTo string
}

func (a Addressing) value(p Part) string {
	switch p {
	case PartAction:
		return a.Action
	case PartMessageID:
		return a.MessageID
	case PartTo:
		return a.To
	case PartReplyTo:
		return a.ReplyTo
	case PartFaultTo:
		return a.FaultTo
	case PartRelatesTo:
		return a.RelatesTo
	}
	return ""
}

func (a *Addressing) set(p Part, v string) {
	switch p {
	case PartAction:
		a.Action = v
	case PartMessageID:
		a.MessageID = v
	case PartTo:
		a.To = v
	case PartReplyTo:
		a.ReplyTo = v
	case PartFaultTo:
		a.FaultTo = v
	case PartRelatesTo:
		a.RelatesTo = v
	}
}

// isEndpoint reports whether a part holds an endpoint reference
// (wsa:Address inside) rather than a plain URI.
func isEndpoint(p Part) bool { return p == PartReplyTo || p == PartFaultTo }

// Errors of Sign and Verify. Verify wraps them with what was checked.
var (
	// ErrBadInput: the envelope to sign is incomplete or its XML is not
	// acceptable (see the wrapped xmldsig error).
	ErrBadInput = errors.New("wssec: bad envelope input")
	// ErrNotEnvelope: the document is not a SOAP 1.1 or 1.2 envelope of
	// the expected shape (Header then Body, nothing else).
	ErrNotEnvelope = errors.New("wssec: not a SOAP envelope")
	// ErrSecurityHeader: no wsse:Security header, more than one, or one
	// without exactly one Signature and one Timestamp.
	ErrSecurityHeader = errors.New("wssec: bad wsse:Security header")
	// ErrToken: the KeyInfo does not name one X.509 BinarySecurityToken of
	// the Security header, or the token is not a certificate.
	ErrToken = errors.New("wssec: bad security token")
	// ErrUntrusted: the caller's trust check refused the certificate.
	ErrUntrusted = errors.New("wssec: certificate not trusted")
	// ErrUnsignedPart: a part that must be signed is not covered by the
	// signature (as the very element of the envelope that carries it).
	ErrUnsignedPart = errors.New("wssec: part not signed")
	// ErrMissingPart: a part the caller requires is absent.
	ErrMissingPart = errors.New("wssec: required part missing")
	// ErrDuplicateHeader: a WS-Addressing header appears more than once.
	ErrDuplicateHeader = errors.New("wssec: header repeated")
	// ErrTimestamp: the Timestamp is malformed (Created or Expires missing
	// or not xsd:dateTime, or Expires not after Created).
	ErrTimestamp = errors.New("wssec: malformed timestamp")
	// ErrExpired: the Timestamp's Expires has passed (beyond the skew).
	ErrExpired = errors.New("wssec: message expired")
	// ErrNotYetValid: the Timestamp's Created is in the future (beyond the skew).
	ErrNotYetValid = errors.New("wssec: message created in the future")
)

// PartError says which part failed.
type PartError struct {
	Part Part
	Err  error
}

func (e *PartError) Error() string { return fmt.Sprintf("%s: %v", e.Part, e.Err) }

// Unwrap returns the cause.
func (e *PartError) Unwrap() error { return e.Err }
