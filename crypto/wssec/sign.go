package wssec

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// Envelope is what a caller puts in a message; Sign adds WS-Security.
type Envelope struct {
	// Version is SOAP11 or SOAP12.
	Version Version
	// Headers are header blocks of the caller's own (such as ИПС's
	// egisz:transportHeader), each one complete XML element declaring the
	// namespaces it uses. They are placed first in soap:Header, unsigned.
	Headers [][]byte
	// Addressing are the WS-Addressing headers; each present one is signed.
	Addressing Addressing
	// Body is the content of soap:Body: zero or more elements, each
	// declaring the namespaces it uses.
	Body []byte
}

// SignOptions tune Sign.
type SignOptions struct {
	// Now is the Timestamp's Created (default: time.Now()).
	Now time.Time
	// TTL is how long after Created the message expires (default 5 minutes).
	TTL time.Duration
	// Limits bound the parsing of the caller's headers and body.
	Limits xmldsig.Limits
}

// IDs given to the signed parts. They are fixed: a caller's XML that
// carries the same wsu:Id is refused, since references must be unambiguous.
var partIDs = map[Part]string{
	PartBody:      "id-body",
	PartTimestamp: "id-timestamp",
	PartAction:    "id-action",
	PartMessageID: "id-messageid",
	PartTo:        "id-to",
	PartReplyTo:   "id-replyto",
	PartFaultTo:   "id-faultto",
	PartRelatesTo: "id-relatesto",
}

const tokenID = "id-token"

// timeLayout is xsd:dateTime in UTC with milliseconds, as WSS4J writes it.
const timeLayout = "2006-01-02T15:04:05.000Z"

// Sign builds env as a SOAP envelope, adds a wsse:Security header with the
// signer's certificate as a BinarySecurityToken, a Timestamp and a signature
// over the Body, the Timestamp and every WS-Addressing header present, and
// returns the envelope's bytes.
func Sign(ctx context.Context, s signer.Signer, env Envelope, opts SignOptions) ([]byte, error) {
	soapNS := env.Version.Namespace()
	if soapNS == "" {
		return nil, fmt.Errorf("sign envelope: SOAP version %v: %w", env.Version, ErrBadInput)
	}
	cert := s.Certificate()
	if cert == nil {
		return nil, fmt.Errorf("sign envelope: signer has no certificate: %w", ErrBadInput)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	ttl := opts.TTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}

	envelope := xmldsig.NewElement(soapNS, "soap", "Envelope")
	envelope.DeclareNS("soap", soapNS)
	envelope.DeclareNS("wsse", NamespaceWSSE)
	envelope.DeclareNS("wsu", NamespaceWSU)
	envelope.DeclareNS("wsa", NamespaceWSA)
	header := xmldsig.NewElement(soapNS, "soap", "Header")
	envelope.AppendChild(header)
	body := xmldsig.NewElement(soapNS, "soap", "Body")
	body.SetAttr(NamespaceWSU, "wsu", "Id", partIDs[PartBody])
	envelope.AppendChild(body)

	for i, h := range env.Headers {
		e, err := xmldsig.Parse(h, opts.Limits)
		if err != nil {
			return nil, fmt.Errorf("sign envelope: header block %d: %w: %w", i, ErrBadInput, err)
		}
		header.AppendChild(e)
	}
	var refs []xmldsig.Reference
	for _, p := range addressingParts {
		v := env.Addressing.value(p)
		if v == "" {
			continue
		}
		e := xmldsig.NewElement(NamespaceWSA, "wsa", string(p))
		e.SetAttr(NamespaceWSU, "wsu", "Id", partIDs[p])
		if isEndpoint(p) {
			addr := xmldsig.NewElement(NamespaceWSA, "wsa", "Address")
			addr.SetText(v)
			e.AppendChild(addr)
		} else {
			e.SetText(v)
		}
		header.AppendChild(e)
		refs = append(refs, xmldsig.Reference{ID: partIDs[p]})
	}

	security := xmldsig.NewElement(NamespaceWSSE, "wsse", "Security")
	mustUnderstand := "1"
	if env.Version == SOAP12 {
		mustUnderstand = "true"
	}
	security.SetAttr(soapNS, "soap", "mustUnderstand", mustUnderstand)
	header.AppendChild(security)

	ts := xmldsig.NewElement(NamespaceWSU, "wsu", "Timestamp")
	ts.SetAttr(NamespaceWSU, "wsu", "Id", partIDs[PartTimestamp])
	created := xmldsig.NewElement(NamespaceWSU, "wsu", "Created")
	created.SetText(now.UTC().Format(timeLayout))
	expires := xmldsig.NewElement(NamespaceWSU, "wsu", "Expires")
	expires.SetText(now.Add(ttl).UTC().Format(timeLayout))
	ts.AppendChild(created)
	ts.AppendChild(expires)
	security.AppendChild(ts)

	bst := xmldsig.NewElement(NamespaceWSSE, "wsse", "BinarySecurityToken")
	bst.SetAttr("", "", "EncodingType", EncodingBase64Binary)
	bst.SetAttr("", "", "ValueType", ValueTypeX509v3)
	bst.SetAttr(NamespaceWSU, "wsu", "Id", tokenID)
	bst.SetText(base64.StdEncoding.EncodeToString(cert.Raw))
	security.AppendChild(bst)

	if len(env.Body) > 0 {
		// Parsed inside a bare wrapper: the body's elements must declare
		// their own namespaces, exactly as they will be read.
		wrapped := make([]byte, 0, len(env.Body)+7)
		wrapped = append(append(append(wrapped, "<b>"...), env.Body...), "</b>"...)
		w, err := xmldsig.Parse(wrapped, opts.Limits)
		if err != nil {
			return nil, fmt.Errorf("sign envelope: body: %w: %w", ErrBadInput, err)
		}
		for _, c := range w.Children {
			if t, ok := c.(*xmldsig.Text); ok {
				if !isBlank(t.Data) {
					return nil, fmt.Errorf("sign envelope: body: text outside elements: %w", ErrBadInput)
				}
			}
			body.AppendChild(c)
		}
	}
	refs = append([]xmldsig.Reference{{ID: partIDs[PartBody]}, {ID: partIDs[PartTimestamp]}}, refs...)

	if dups := xmldsig.IndexIDs(envelope, wsuID).Duplicates(); len(dups) > 0 {
		return nil, fmt.Errorf("sign envelope: wsu:Id %q used twice (the caller's XML reuses one of ours): %w", dups[0], ErrBadInput)
	}

	str := xmldsig.NewElement(NamespaceWSSE, "wsse", "SecurityTokenReference")
	ref := xmldsig.NewElement(NamespaceWSSE, "wsse", "Reference")
	ref.SetAttr("", "", "URI", "#"+tokenID)
	ref.SetAttr("", "", "ValueType", ValueTypeX509v3)
	str.AppendChild(ref)
	if _, err := xmldsig.Sign(ctx, s, security, refs, xmldsig.SignOptions{IDAttrs: wsuID, KeyInfo: []*xmldsig.Element{str}}); err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	return xmldsig.Serialize(envelope), nil
}

func isBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}
