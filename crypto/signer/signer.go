// Package signer is the one seam every signature the gateway makes goes
// through: WS-Security on SOAP messages to ИПС, detached CMS over a СЭМД in
// tests, the load generator and the emulator. Implementations live in
// subpackages: an in-process key for dev, tests and the emulator, and an
// external certified СКЗИ (CryptoPro DSS) for production.
//
// The interface signs a digest, not a message, so that a remote signer never
// receives the document itself (only its hash crosses the wire), and so that
// WS-Security and CMS, which each digest their own bytes, share it.
package signer

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"hash"

	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

// Algorithm is a signature algorithm together with the hash it signs.
type Algorithm int

const (
	// GOST2012_256 is ГОСТ Р 34.10-2012 with a 256-bit key over a
	// Streebog-256 digest (signWithDigest OID 1.2.643.7.1.1.3.2).
	GOST2012_256 Algorithm = iota + 1
	// GOST2012_512 is ГОСТ Р 34.10-2012 with a 512-bit key over a
	// Streebog-512 digest (1.2.643.7.1.1.3.3).
	GOST2012_512
	// ECDSAP256SHA256 is ECDSA on P-256 over SHA-256. The registries do
	// not take it; it exists so that our XML signatures can be checked by
	// tools that know no ГОСТ (xmlsec1).
	ECDSAP256SHA256
)

// String returns the algorithm's name.
func (a Algorithm) String() string {
	switch a {
	case GOST2012_256:
		return "GOST R 34.10-2012 256 / Streebog-256"
	case GOST2012_512:
		return "GOST R 34.10-2012 512 / Streebog-512"
	case ECDSAP256SHA256:
		return "ECDSA P-256 / SHA-256"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// NewHash returns a new hash of the kind the algorithm signs, or nil for an
// unknown algorithm.
func (a Algorithm) NewHash() hash.Hash {
	switch a {
	case GOST2012_256:
		return streebog.New256()
	case GOST2012_512:
		return streebog.New512()
	case ECDSAP256SHA256:
		return sha256.New()
	}
	return nil
}

// SignatureSize is the length of a raw signature: 64 or 128 bytes, or 0 for
// an unknown algorithm.
func (a Algorithm) SignatureSize() int {
	switch a {
	case GOST2012_256, ECDSAP256SHA256:
		return 64
	case GOST2012_512:
		return 128
	}
	return 0
}

// Signer signs digests with one private key and holds that key's certificate.
// Implementations are safe for concurrent use and never log or return key
// material, PINs or passwords in errors.
type Signer interface {
	// Algorithm is the key's algorithm.
	Algorithm() Algorithm
	// Certificate is the key's X.509 certificate.
	Certificate() *x509.Certificate
	// SignDigest signs digest, made with Algorithm().NewHash() over the
	// signed bytes, and returns the raw signature: for ГОСТ s || r, each
	// big-endian and of the key's size (RFC 4491 §2.2.2, RFC 9215), as
	// certificates, CMS and XMLDSig carry it; for ECDSA r || s, each 32
	// bytes big-endian (RFC 4050/6931 XMLDSig).
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}
