package gostx509

import (
	"errors"
	"fmt"
	"math/big"
)

// Errors for bad input. Every error this package returns wraps exactly one
// of them, so that callers map failures to a rejection code with errors.Is.
// None of them carries a key, a name or an identifier of the holder.
var (
	// ErrMalformed is DER, PEM or a field that does not parse.
	ErrMalformed = errors.New("malformed")
	// ErrUnsupportedAlgorithm is a key, signature or digest algorithm, or a
	// parameter set, this package does not implement.
	ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")
	// ErrAlgorithmMismatch is a signature or digest algorithm that does not
	// fit the key (another size, another family), or a digest of the wrong
	// length.
	ErrAlgorithmMismatch = errors.New("algorithm does not match the key")
	// ErrBadSignature is a signature that does not verify.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrMalformedIdentifier is a СНИЛС, ИНН, ОГРН or ОГРНИП attribute that is
	// not the digits it must be.
	ErrMalformedIdentifier = errors.New("malformed identifier in subject")

	// ErrExpired is a certificate past its NotAfter at the time checked.
	ErrExpired = errors.New("certificate has expired")
	// ErrNotYetValid is a certificate before its NotBefore at the time checked.
	ErrNotYetValid = errors.New("certificate is not yet valid")
	// ErrUnknownIssuer is a certificate whose issuer is neither a trusted
	// root nor an intermediate at hand: the chain cannot be built.
	ErrUnknownIssuer = errors.New("certificate signed by unknown authority")
	// ErrNotCA is an issuer without basicConstraints cA, or without
	// keyCertSign (cRLSign for a CRL) in its key usage.
	ErrNotCA = errors.New("issuer is not a certification authority")
	// ErrPathLength is a chain longer than an issuer's pathLenConstraint allows.
	ErrPathLength = errors.New("path length constraint exceeded")
	// ErrKeyUsage is an end-entity certificate whose key usage or extended
	// key usage does not allow what it is used for.
	ErrKeyUsage = errors.New("key usage does not allow this use")
	// ErrUnhandledCriticalExtension is a critical extension this package
	// does not understand (RFC 5280 §4.2: the certificate must be rejected).
	ErrUnhandledCriticalExtension = errors.New("unhandled critical extension")
	// ErrRevoked is a certificate listed in its issuer's CRL as revoked at
	// or before the time checked.
	ErrRevoked = errors.New("certificate is revoked")
	// ErrNoCRL is a certificate whose issuer has no CRL at hand when CRLs
	// are required.
	ErrNoCRL = errors.New("no CRL from the issuer")
	// ErrCRLNotCurrent is a CRL whose thisUpdate is after, or nextUpdate
	// before, now (VerifyOptions.Now): a CRL nobody refreshed.
	ErrCRLNotCurrent = errors.New("CRL is not current")
)

// CertError is a chain verification failure of one certificate. Err is one
// of the sentinel errors above; Depth counts from the end-entity
// certificate (0) towards the root.
type CertError struct {
	// Err is the sentinel error saying what failed.
	Err error
	// Depth is the failing certificate's place in the chain, 0 the leaf.
	Depth int
	// Serial is the failing certificate's serial number.
	Serial *big.Int
	// Detail says more, without personal data; may be empty.
	Detail string
}

// Error says which certificate failed and why, naming it by depth and
// serial number only (a subject may hold personal data).
func (e *CertError) Error() string {
	s := fmt.Sprintf("certificate at depth %d", e.Depth)
	if e.Serial != nil {
		s += fmt.Sprintf(" (serial %x)", e.Serial)
	}
	s += ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the sentinel error.
func (e *CertError) Unwrap() error { return e.Err }
