package xmldsig

import (
	"crypto/sha256"
	"hash"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

// Namespaces and algorithm URIs. Each URI is written here and nowhere else.
const (
	// NamespaceDSig is the XMLDSig namespace.
	NamespaceDSig = "http://www.w3.org/2000/09/xmldsig#"
	// ExcC14N is exclusive canonicalization without comments, also the
	// namespace of its InclusiveNamespaces element.
	ExcC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
	// ExcC14NWithComments is exclusive canonicalization with comments.
	// Accepted as a reference transform only: a same-document reference
	// drops comments anyway (XMLDSig §4.3.3.3), so it equals ExcC14N there.
	ExcC14NWithComments = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
	// EnvelopedSignature is the enveloped-signature transform.
	EnvelopedSignature = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

	// SignatureGOST2012_256 is ГОСТ Р 34.10-2012 (256) over Streebog-256 as
	// CryptoPro and ИПС name it.
	SignatureGOST2012_256 = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"
	// SignatureGOST2012_512 is the 512-bit counterpart.
	SignatureGOST2012_512 = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-512"
	// SignatureGOST2012_256More is the xmldsig-more (RFC 9231 style) name
	// of SignatureGOST2012_256, accepted on verification.
	SignatureGOST2012_256More = "http://www.w3.org/2001/04/xmldsig-more#gostr34102012-gostr34112012-256"
	// SignatureGOST2012_512More is the xmldsig-more name of SignatureGOST2012_512.
	SignatureGOST2012_512More = "http://www.w3.org/2001/04/xmldsig-more#gostr34102012-gostr34112012-512"
	// SignatureECDSASHA256 is ECDSA over SHA-256 (RFC 6931 §2.3.6).
	SignatureECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

	// DigestStreebog256 is Streebog-256 as CryptoPro and ИПС name it.
	DigestStreebog256 = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256"
	// DigestStreebog512 is Streebog-512 as CryptoPro and ИПС name it.
	DigestStreebog512 = "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-512"
	// DigestStreebog256More is the xmldsig-more name of Streebog-256.
	DigestStreebog256More = "http://www.w3.org/2001/04/xmldsig-more#gostr34112012-256"
	// DigestStreebog512More is the xmldsig-more name of Streebog-512.
	DigestStreebog512More = "http://www.w3.org/2001/04/xmldsig-more#gostr34112012-512"
	// DigestSHA256 is SHA-256 (XML Encryption's URI, as XMLDSig uses it).
	DigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
)

// signatureMethods maps every SignatureMethod URI accepted on verification
// to its algorithm.
var signatureMethods = map[string]signer.Algorithm{
	SignatureGOST2012_256:     signer.GOST2012_256,
	SignatureGOST2012_512:     signer.GOST2012_512,
	SignatureGOST2012_256More: signer.GOST2012_256,
	SignatureGOST2012_512More: signer.GOST2012_512,
	SignatureECDSASHA256:      signer.ECDSAP256SHA256,
}

// digestMethods maps every DigestMethod URI accepted on verification to its
// hash.
var digestMethods = map[string]func() hash.Hash{
	DigestStreebog256:     streebog.New256,
	DigestStreebog512:     streebog.New512,
	DigestStreebog256More: streebog.New256,
	DigestStreebog512More: streebog.New512,
	DigestSHA256:          sha256.New,
}

// signingURIs are the URIs written when signing with an algorithm: the
// CryptoPro names for ГОСТ, since that is what ИПС expects.
var signingURIs = map[signer.Algorithm]struct{ signature, digest string }{
	signer.GOST2012_256:    {SignatureGOST2012_256, DigestStreebog256},
	signer.GOST2012_512:    {SignatureGOST2012_512, DigestStreebog512},
	signer.ECDSAP256SHA256: {SignatureECDSASHA256, DigestSHA256},
}

// SignatureMethodAlgorithm returns the algorithm a SignatureMethod URI names.
func SignatureMethodAlgorithm(uri string) (signer.Algorithm, bool) {
	a, ok := signatureMethods[uri]
	return a, ok
}

// SigningURIs returns the SignatureMethod and DigestMethod URIs written when
// signing with alg.
func SigningURIs(alg signer.Algorithm) (signatureMethod, digestMethod string, ok bool) {
	u, ok := signingURIs[alg]
	return u.signature, u.digest, ok
}
