package wssec

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// VerifyOptions say what a verified envelope must satisfy.
type VerifyOptions struct {
	// TrustCertificate decides whether the signing certificate (from the
	// BinarySecurityToken) is trusted: chain, validity, revocation, usage.
	// Required: Verify refuses to run without it.
	TrustCertificate func(cert *x509.Certificate) error
	// VerifyDigest checks the raw signature value; nil means
	// xmldsig.VerifyDigestCertificate (ГОСТ 2012 and ECDSA P-256).
	VerifyDigest xmldsig.VerifyDigestFunc
	// MustSign lists the WS-Addressing headers that must be signed when
	// present. Nil means all of them; an empty non-nil slice means none.
	// The Body and the Timestamp must always be present and signed.
	MustSign []Part
	// MustHave lists the WS-Addressing headers that must be present (and
	// so, if listed in MustSign, signed).
	MustHave []Part
	// Now is the time the Timestamp is checked against (default time.Now()).
	Now time.Time
	// ClockSkew is tolerated on both Created and Expires (default 1 minute).
	ClockSkew time.Duration
	// Limits bound parsing.
	Limits xmldsig.Limits
}

// Timestamp is a verified wsu:Timestamp.
type Timestamp struct {
	Created, Expires time.Time
}

// Verified is a verified envelope. Read the message only through it: its
// elements are the very ones the signature covers, in the places a SOAP
// consumer looks for them.
type Verified struct {
	Version Version
	// Body is the envelope's soap:Body, signed.
	Body *xmldsig.Element
	// Header is the envelope's soap:Header. Only the elements in Headers
	// and Timestamp are signed by this check; other header blocks (such as
	// ИПС's transportHeader, which ИПС does not sign) are as received.
	Header *xmldsig.Element
	// Headers are the signed WS-Addressing header elements by part.
	Headers map[Part]*xmldsig.Element
	// Addressing holds the values of the signed WS-Addressing headers only.
	Addressing Addressing
	// Timestamp is the signed Timestamp.
	Timestamp Timestamp
	// Certificate is the signer's certificate, accepted by TrustCertificate.
	Certificate *x509.Certificate
	// Algorithm is the signature algorithm.
	Algorithm signer.Algorithm
	// Signature is what xmldsig verified, for callers that also need
	// other signed elements (such as a signed transportHeader).
	Signature *xmldsig.Verified
}

// Verify parses a signed SOAP envelope and checks it: the envelope's shape,
// the one wsse:Security header, the token its signature's KeyInfo names,
// the caller's trust in that certificate, the signature and every
// reference, that the Body, the Timestamp and the WS-Addressing headers
// (per opts) are the very elements signed, and the Timestamp's freshness.
func Verify(data []byte, opts VerifyOptions) (*Verified, error) {
	if opts.TrustCertificate == nil {
		return nil, errors.New("verify envelope: no TrustCertificate check given")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	skew := opts.ClockSkew
	if skew <= 0 {
		skew = time.Minute
	}
	root, err := xmldsig.Parse(data, opts.Limits)
	if err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	out := &Verified{Headers: map[Part]*xmldsig.Element{}}
	header, body, err := envelopeParts(root, out)
	if err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	security, sig, ts, err := securityParts(header)
	if err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	cert, err := tokenCertificate(root, security, sig)
	if err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	if err := opts.TrustCertificate(cert); err != nil {
		return nil, fmt.Errorf("verify envelope: %w: %w", ErrUntrusted, err)
	}
	v, err := xmldsig.Verify(sig, cert, xmldsig.VerifyOptions{IDAttrs: wsuID, VerifyDigest: opts.VerifyDigest})
	if err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	out.Certificate, out.Algorithm, out.Signature = cert, v.Algorithm, v

	// The signed Body and Timestamp must be these very elements: a
	// signature over a copy moved elsewhere does not count.
	if !v.Covers(body) {
		return nil, fmt.Errorf("verify envelope: %w", &PartError{Part: PartBody, Err: ErrUnsignedPart})
	}
	out.Body, out.Header = body, header
	if !v.Covers(ts) {
		return nil, fmt.Errorf("verify envelope: %w", &PartError{Part: PartTimestamp, Err: ErrUnsignedPart})
	}
	if err := checkAddressing(header, v, opts, out); err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	if out.Timestamp, err = checkTimestamp(ts, now, skew); err != nil {
		return nil, fmt.Errorf("verify envelope: %w", err)
	}
	return out, nil
}

// envelopeParts checks the envelope's shape (Header then Body, nothing
// else) and returns its Header and Body.
func envelopeParts(root *xmldsig.Element, out *Verified) (header, body *xmldsig.Element, err error) {
	switch {
	case root.Is(NamespaceSOAP11, "Envelope"):
		out.Version = SOAP11
	case root.Is(NamespaceSOAP12, "Envelope"):
		out.Version = SOAP12
	default:
		return nil, nil, fmt.Errorf("document element {%s}%s: %w", root.Space, root.Local, ErrNotEnvelope)
	}
	if hasText(root) {
		return nil, nil, fmt.Errorf("text in Envelope: %w", ErrNotEnvelope)
	}
	ns := root.Space
	kids := root.Elements()
	if len(kids) != 2 || !kids[0].Is(ns, "Header") || !kids[1].Is(ns, "Body") {
		return nil, nil, fmt.Errorf("Envelope must hold a Header then a Body and nothing else: %w", ErrNotEnvelope)
	}
	return kids[0], kids[1], nil
}

func hasText(e *xmldsig.Element) bool {
	for _, c := range e.Children {
		if t, ok := c.(*xmldsig.Text); ok && strings.TrimSpace(t.Data) != "" {
			return true
		}
	}
	return false
}

// securityParts finds the one wsse:Security header and in it the one
// Signature and the one Timestamp.
func securityParts(header *xmldsig.Element) (security, sig, ts *xmldsig.Element, err error) {
	secs := header.ChildrenNamed(NamespaceWSSE, "Security")
	if len(secs) != 1 {
		return nil, nil, nil, fmt.Errorf("%d wsse:Security headers, want 1: %w", len(secs), ErrSecurityHeader)
	}
	security = secs[0]
	sigs := security.ChildrenNamed(xmldsig.NamespaceDSig, "Signature")
	if len(sigs) != 1 {
		return nil, nil, nil, fmt.Errorf("%d Signatures in wsse:Security, want 1: %w", len(sigs), ErrSecurityHeader)
	}
	tss := security.ChildrenNamed(NamespaceWSU, "Timestamp")
	if len(tss) != 1 {
		return nil, nil, nil, fmt.Errorf("%d Timestamps in wsse:Security, want 1: %w", len(tss), ErrSecurityHeader)
	}
	return security, sigs[0], tss[0], nil
}

// tokenCertificate follows the signature's KeyInfo/SecurityTokenReference
// to one X.509 BinarySecurityToken of this Security header and parses it.
func tokenCertificate(root, security, sig *xmldsig.Element) (*x509.Certificate, error) {
	kis := sig.ChildrenNamed(xmldsig.NamespaceDSig, "KeyInfo")
	if len(kis) != 1 {
		return nil, fmt.Errorf("Signature has no KeyInfo: %w", ErrToken)
	}
	strs := kis[0].Elements()
	if len(strs) != 1 || !strs[0].Is(NamespaceWSSE, "SecurityTokenReference") {
		return nil, fmt.Errorf("KeyInfo must hold one wsse:SecurityTokenReference: %w", ErrToken)
	}
	refs := strs[0].Elements()
	if len(refs) != 1 || !refs[0].Is(NamespaceWSSE, "Reference") {
		return nil, fmt.Errorf("SecurityTokenReference must hold one wsse:Reference: %w", ErrToken)
	}
	uri, _ := refs[0].AttrValue("", "URI")
	if !strings.HasPrefix(uri, "#") || len(uri) < 2 {
		return nil, fmt.Errorf("token reference is not a local #id: %w", ErrToken)
	}
	if vt, ok := refs[0].AttrValue("", "ValueType"); ok && vt != ValueTypeX509v3 {
		return nil, fmt.Errorf("token reference ValueType is not X509v3: %w", ErrToken)
	}
	tok, err := xmldsig.IndexIDs(root, wsuID).Lookup(uri[1:])
	if err != nil {
		return nil, fmt.Errorf("token: %w: %w", ErrToken, err)
	}
	if tok.Parent != security || !tok.Is(NamespaceWSSE, "BinarySecurityToken") {
		return nil, fmt.Errorf("token reference does not name a BinarySecurityToken of this wsse:Security: %w", ErrToken)
	}
	if vt, _ := tok.AttrValue("", "ValueType"); vt != ValueTypeX509v3 {
		return nil, fmt.Errorf("BinarySecurityToken ValueType is not X509v3: %w", ErrToken)
	}
	if et, ok := tok.AttrValue("", "EncodingType"); ok && et != EncodingBase64Binary {
		return nil, fmt.Errorf("BinarySecurityToken EncodingType is not Base64Binary: %w", ErrToken)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(tok.Text()), ""))
	if err != nil {
		return nil, fmt.Errorf("BinarySecurityToken is not base64: %w", ErrToken)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("BinarySecurityToken: %w: %w", ErrToken, err)
	}
	return cert, nil
}

// checkAddressing enforces opts.MustSign and opts.MustHave on the
// WS-Addressing headers, each a direct child of the Header, and records the
// signed ones.
func checkAddressing(header *xmldsig.Element, v *xmldsig.Verified, opts VerifyOptions, out *Verified) error {
	mustSign := map[Part]bool{}
	if opts.MustSign == nil {
		for _, p := range addressingParts {
			mustSign[p] = true
		}
	}
	for _, p := range opts.MustSign {
		mustSign[p] = true
	}
	for _, p := range addressingParts {
		found := header.ChildrenNamed(NamespaceWSA, string(p))
		if len(found) > 1 {
			return &PartError{Part: p, Err: ErrDuplicateHeader}
		}
		if len(found) == 0 {
			continue
		}
		e := found[0]
		if !v.Covers(e) {
			if mustSign[p] {
				return &PartError{Part: p, Err: ErrUnsignedPart}
			}
			continue
		}
		out.Headers[p] = e
		val := e.Text()
		if isEndpoint(p) {
			addrs := e.ChildrenNamed(NamespaceWSA, "Address")
			if len(addrs) != 1 {
				return &PartError{Part: p, Err: fmt.Errorf("endpoint without one wsa:Address: %w", ErrNotEnvelope)}
			}
			val = addrs[0].Text()
		}
		out.Addressing.set(p, strings.TrimSpace(val))
	}
	for _, p := range opts.MustHave {
		if header.ChildrenNamed(NamespaceWSA, string(p)) == nil {
			return &PartError{Part: p, Err: ErrMissingPart}
		}
	}
	return nil
}

// checkTimestamp reads Created and Expires and checks them against now.
func checkTimestamp(ts *xmldsig.Element, now time.Time, skew time.Duration) (Timestamp, error) {
	read := func(local string) (time.Time, error) {
		es := ts.ChildrenNamed(NamespaceWSU, local)
		if len(es) != 1 {
			return time.Time{}, fmt.Errorf("Timestamp needs one %s: %w", local, ErrTimestamp)
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(es[0].Text()))
		if err != nil {
			return time.Time{}, fmt.Errorf("Timestamp %s is not an xsd:dateTime with a zone: %w", local, ErrTimestamp)
		}
		return t, nil
	}
	created, err := read("Created")
	if err != nil {
		return Timestamp{}, err
	}
	expires, err := read("Expires")
	if err != nil {
		return Timestamp{}, err
	}
	if !expires.After(created) {
		return Timestamp{}, fmt.Errorf("Expires not after Created: %w", ErrTimestamp)
	}
	if created.After(now.Add(skew)) {
		return Timestamp{}, fmt.Errorf("created %s, now %s: %w", created.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrNotYetValid)
	}
	if !now.Add(-skew).Before(expires) {
		return Timestamp{}, fmt.Errorf("expired %s, now %s: %w", expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrExpired)
	}
	return Timestamp{Created: created, Expires: expires}, nil
}
