package xmldsig

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// Errors of Verify.
var (
	// ErrSignatureStructure: the ds:Signature is not shaped as XMLDSig
	// requires (missing, repeated or unexpected elements).
	ErrSignatureStructure = errors.New("xmldsig: malformed Signature")
	// ErrUnsupportedTransform: a reference transform or canonicalization
	// method other than exc-c14n (optionally after enveloped-signature).
	ErrUnsupportedTransform = errors.New("xmldsig: unsupported transform or canonicalization")
	// ErrReferenceURI: a reference URI that is not a same-document "#id".
	ErrReferenceURI = errors.New("xmldsig: reference URI is not a same-document #id")
	// ErrDigestMismatch: a referenced element's digest differs from its
	// DigestValue: the element was changed after signing.
	ErrDigestMismatch = errors.New("xmldsig: digest mismatch")
	// ErrSignatureInvalid: the SignatureValue does not verify over the
	// canonical SignedInfo with the certificate's key.
	ErrSignatureInvalid = errors.New("xmldsig: signature value invalid")
	// ErrKeyMismatch: the certificate's key does not fit the signature
	// algorithm.
	ErrKeyMismatch = errors.New("xmldsig: certificate key does not fit the algorithm")
)

// VerifyDigestFunc checks a raw signature (the XMLDSig form: ECDSA r||s,
// ГОСТ s||r) over a digest with the certificate's public key. It returns nil
// only for a valid signature.
type VerifyDigestFunc func(cert *x509.Certificate, alg signer.Algorithm, digest, sig []byte) error

// VerifyOptions say how to find references and check signature values.
type VerifyOptions struct {
	// IDAttrs are the attributes whose values are IDs. Required.
	IDAttrs []Name
	// VerifyDigest checks the signature value. Nil means
	// VerifyDigestCertificate (ГОСТ 2012 and ECDSA P-256).
	VerifyDigest VerifyDigestFunc
}

// VerifiedReference is one reference that verified: the element it names
// and the digest method used.
type VerifiedReference struct {
	ID           string
	Element      *Element
	DigestMethod string
}

// Verified is what a verified signature covers. Callers must read only the
// elements listed here: anything else in the document is unsigned.
type Verified struct {
	Algorithm       signer.Algorithm
	SignatureMethod string
	References      []VerifiedReference
}

// Covers reports whether e is exactly (the same node as) one of the
// verified references' elements.
func (v *Verified) Covers(e *Element) bool {
	for _, r := range v.References {
		if r.Element == e {
			return true
		}
	}
	return false
}

// Verify checks the ds:Signature element sig, which lies in a parsed
// document, with cert's key: the exc-c14n SignedInfo's signature first,
// then every reference, each resolved by ID to exactly one element of the
// document. It trusts nothing about cert: checking it is the caller's.
func Verify(sig *Element, cert *x509.Certificate, opts VerifyOptions) (*Verified, error) {
	if len(opts.IDAttrs) == 0 {
		return nil, errors.New("check signature: no ID attributes named")
	}
	if cert == nil {
		return nil, errors.New("check signature: no certificate")
	}
	verifyDigest := opts.VerifyDigest
	if verifyDigest == nil {
		verifyDigest = VerifyDigestCertificate
	}
	si, sv, err := signatureParts(sig)
	if err != nil {
		return nil, fmt.Errorf("check signature: %w", err)
	}
	kids := si.Elements()
	if len(kids) < 3 || !kids[0].Is(NamespaceDSig, "CanonicalizationMethod") || !kids[1].Is(NamespaceDSig, "SignatureMethod") {
		return nil, fmt.Errorf("check signature: SignedInfo: %w", ErrSignatureStructure)
	}
	if cm, _ := kids[0].AttrValue("", "Algorithm"); cm != ExcC14N {
		return nil, fmt.Errorf("check signature: CanonicalizationMethod: %w", ErrUnsupportedTransform)
	}
	siPrefixes, err := inclusivePrefixes(kids[0])
	if err != nil {
		return nil, fmt.Errorf("check signature: CanonicalizationMethod: %w", err)
	}
	sm, _ := kids[1].AttrValue("", "Algorithm")
	alg, ok := signatureMethods[sm]
	if !ok || len(kids[1].Elements()) != 0 {
		return nil, fmt.Errorf("check signature: SignatureMethod: %w", ErrUnsupportedAlgorithm)
	}

	// The signature over SignedInfo first: nothing the references say is
	// acted on before it is known to be signed.
	sigValue, err := decodeBase64(sv.Text())
	if err != nil {
		return nil, fmt.Errorf("check signature: SignatureValue: %w", ErrSignatureStructure)
	}
	h := alg.NewHash()
	if err := WriteCanonical(h, si, siPrefixes, nil); err != nil {
		return nil, fmt.Errorf("check signature: SignedInfo: %w", err)
	}
	if err := verifyDigest(cert, alg, h.Sum(nil), sigValue); err != nil {
		return nil, fmt.Errorf("check signature: SignatureValue: %w", err)
	}

	ix := IndexIDs(sig.Root(), opts.IDAttrs)
	out := &Verified{Algorithm: alg, SignatureMethod: sm}
	seen := map[string]bool{}
	for _, ref := range kids[2:] {
		if !ref.Is(NamespaceDSig, "Reference") {
			return nil, fmt.Errorf("check signature: SignedInfo: unexpected <%s>: %w", ref.Local, ErrSignatureStructure)
		}
		vr, err := verifyReference(ref, sig, ix)
		if err != nil {
			return nil, fmt.Errorf("check signature: %w", err)
		}
		if seen[vr.ID] {
			return nil, fmt.Errorf("check signature: %w", &ReferenceError{ID: vr.ID, Err: fmt.Errorf("referenced twice: %w", ErrSignatureStructure)})
		}
		seen[vr.ID] = true
		out.References = append(out.References, vr)
	}
	return out, nil
}

// signatureParts returns SignedInfo and SignatureValue, refusing anything
// but SignedInfo, SignatureValue, an optional KeyInfo and Objects.
func signatureParts(sig *Element) (si, sv *Element, err error) {
	if !sig.Is(NamespaceDSig, "Signature") {
		return nil, nil, fmt.Errorf("not a ds:Signature: %w", ErrSignatureStructure)
	}
	for _, c := range sig.Children {
		if t, ok := c.(*Text); ok && strings.TrimSpace(t.Data) != "" {
			return nil, nil, fmt.Errorf("text in Signature: %w", ErrSignatureStructure)
		}
	}
	kids := sig.Elements()
	if len(kids) < 2 || !kids[0].Is(NamespaceDSig, "SignedInfo") || !kids[1].Is(NamespaceDSig, "SignatureValue") {
		return nil, nil, fmt.Errorf("Signature needs SignedInfo then SignatureValue: %w", ErrSignatureStructure)
	}
	for i, k := range kids[2:] {
		if !(i == 0 && k.Is(NamespaceDSig, "KeyInfo")) && !k.Is(NamespaceDSig, "Object") {
			return nil, nil, fmt.Errorf("unexpected <%s> in Signature: %w", k.Local, ErrSignatureStructure)
		}
	}
	return kids[0], kids[1], nil
}

func verifyReference(ref, sig *Element, ix *IDIndex) (VerifiedReference, error) {
	uri, _ := ref.AttrValue("", "URI")
	if !strings.HasPrefix(uri, "#") || len(uri) == 1 || strings.ContainsAny(uri, "()/ ") {
		return VerifiedReference{}, &ReferenceError{ID: strings.TrimPrefix(uri, "#"), Err: ErrReferenceURI}
	}
	id := uri[1:]
	fail := func(err error) (VerifiedReference, error) {
		return VerifiedReference{}, &ReferenceError{ID: id, Err: err}
	}
	kids := ref.Elements()
	var transforms *Element
	if len(kids) > 0 && kids[0].Is(NamespaceDSig, "Transforms") {
		transforms, kids = kids[0], kids[1:]
	}
	if len(kids) != 2 || !kids[0].Is(NamespaceDSig, "DigestMethod") || !kids[1].Is(NamespaceDSig, "DigestValue") {
		return fail(ErrSignatureStructure)
	}
	dm, _ := kids[0].AttrValue("", "Algorithm")
	newHash, ok := digestMethods[dm]
	if !ok {
		return fail(fmt.Errorf("DigestMethod: %w", ErrUnsupportedAlgorithm))
	}
	want, err := decodeBase64(kids[1].Text())
	if err != nil {
		return fail(fmt.Errorf("DigestValue: %w", ErrSignatureStructure))
	}
	// Exactly: [enveloped-signature] exc-c14n. Without a final exc-c14n
	// the node-set would be serialized with inclusive C14N 1.0, which is
	// not implemented here.
	if transforms == nil {
		return fail(ErrUnsupportedTransform)
	}
	ts := transforms.Elements()
	enveloped := false
	if len(ts) == 2 {
		if a, _ := ts[0].AttrValue("", "Algorithm"); a != EnvelopedSignature || !ts[0].Is(NamespaceDSig, "Transform") {
			return fail(ErrUnsupportedTransform)
		}
		enveloped = true
		ts = ts[1:]
	}
	if len(ts) != 1 || !ts[0].Is(NamespaceDSig, "Transform") {
		return fail(ErrUnsupportedTransform)
	}
	if a, _ := ts[0].AttrValue("", "Algorithm"); a != ExcC14N && a != ExcC14NWithComments {
		return fail(ErrUnsupportedTransform)
	}
	prefixes, err := inclusivePrefixes(ts[0])
	if err != nil {
		return fail(err)
	}

	target, err := ix.Lookup(id)
	if err != nil {
		return VerifiedReference{}, err
	}
	var exclude *Element
	if enveloped {
		exclude = sig
	} else {
		for p := sig; p != nil; p = p.Parent {
			if p == target {
				// The signature inside what it signs needs the
				// enveloped-signature transform; without it the digest
				// could never have matched.
				return fail(ErrDigestMismatch)
			}
		}
	}
	h := newHash()
	if err := WriteCanonical(h, target, prefixes, exclude); err != nil {
		return fail(err)
	}
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return fail(ErrDigestMismatch)
	}
	return VerifiedReference{ID: id, Element: target, DigestMethod: dm}, nil
}

// inclusivePrefixes reads an optional ec:InclusiveNamespaces child of a
// Transform or CanonicalizationMethod; any other child is refused.
func inclusivePrefixes(method *Element) ([]string, error) {
	kids := method.Elements()
	switch {
	case len(kids) == 0:
		return nil, nil
	case len(kids) == 1 && kids[0].Is(ExcC14N, "InclusiveNamespaces"):
		list, _ := kids[0].AttrValue("", "PrefixList")
		return strings.Fields(list), nil
	}
	return nil, fmt.Errorf("unexpected content in <%s>: %w", method.Local, ErrUnsupportedTransform)
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

// VerifyDigestCertificate checks a raw XMLDSig signature value (ГОСТ s||r,
// ECDSA r||s) over digest with the certificate's key, after checking that
// the key is of the algorithm the SignatureMethod names: a ГОСТ 2012 key
// (256 or 512) or an ECDSA P-256 key.
func VerifyDigestCertificate(cert *x509.Certificate, alg signer.Algorithm, digest, sig []byte) error {
	err := gostx509.VerifyDigestWithAlgorithm(cert, alg, digest, sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gostx509.ErrBadSignature):
		return ErrSignatureInvalid
	case errors.Is(err, gostx509.ErrAlgorithmMismatch), errors.Is(err, gostx509.ErrUnsupportedAlgorithm):
		return fmt.Errorf("%w: %w", ErrKeyMismatch, err)
	}
	return fmt.Errorf("%w: %w", ErrSignatureInvalid, err)
}
