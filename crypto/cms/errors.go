package cms

import "errors"

// Errors for signatures the gateway must refuse, each named after the
// РЭМД rejection it mirrors (PROTOCOLS.md §4) where there is one. Every
// error Parse and Verify return wraps one of these or one of gostx509's
// (ErrExpired, ErrNotYetValid and the chain errors).
var (
	// ErrMalformed is DER that does not parse as CMS SignedData, or a
	// field of it that does not (WRONG_SIGNATURE_FORMAT).
	ErrMalformed = errors.New("cms: malformed signature")
	// ErrNotSignedData is a ContentInfo of another content type.
	ErrNotSignedData = errors.New("cms: not SignedData")
	// ErrNotDetached is SignedData carrying its content: РЭМД takes
	// detached signatures only.
	ErrNotDetached = errors.New("cms: content is attached, want a detached signature")
	// ErrNoSigners is SignedData without a SignerInfo.
	ErrNoSigners = errors.New("cms: no signer")
	// ErrMultipleSigners is SignedData with more than one SignerInfo
	// (MULTIPLE_SIGNERS): one signer per container.
	ErrMultipleSigners = errors.New("cms: more than one signer")
	// ErrNoEndEntityCertificate is a signer whose certificate is not in
	// the container (NO_END_ENTITY_CERTIFICATE).
	ErrNoEndEntityCertificate = errors.New("cms: signer's certificate is not in the container")
	// ErrNoSignedAttributes is a SignerInfo without signed attributes: the
	// signing time and the content digest are signed attributes.
	ErrNoSignedAttributes = errors.New("cms: no signed attributes")
	// ErrNoSigningTime is a signer without the signingTime attribute
	// («отсутствует атрибут "Дата и время создания"»).
	ErrNoSigningTime = errors.New("cms: no signing time")
	// ErrBadAttribute is a contentType, messageDigest, signingTime or
	// signingCertificateV2 attribute missing, repeated, multi-valued or
	// of the wrong type, or a contentType that is not the content's.
	ErrBadAttribute = errors.New("cms: bad signed attribute")
	// ErrUnknownAlgorithm is a digest or signature algorithm this package
	// does not implement (UNKNOWN_ALGORITHM).
	ErrUnknownAlgorithm = errors.New("cms: unknown algorithm")
	// ErrAlgorithmMismatch is a digest or signature algorithm that does not
	// fit the signer's key.
	ErrAlgorithmMismatch = errors.New("cms: algorithm does not match the signer's key")
	// ErrDigestMismatch is content whose digest is not the messageDigest
	// attribute: the signature is over other content.
	ErrDigestMismatch = errors.New("cms: content digest does not match the signed digest")
	// ErrBadSignature is a signature over the signed attributes that does
	// not verify with the signer's key.
	ErrBadSignature = errors.New("cms: signature does not verify")
	// ErrSigningCertificateMismatch is a signingCertificateV2 attribute
	// naming another certificate than the signer's.
	ErrSigningCertificateMismatch = errors.New("cms: signingCertificateV2 names another certificate")
)
