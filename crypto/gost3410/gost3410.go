// Package gost3410 implements ГОСТ Р 34.10-2012 digital signatures
// (RFC 7091) over the parameter sets of RFC 7836 (tc26) and RFC 4357
// (CryptoPro).
package gost3410

import (
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
)

var errNotImplemented = errors.New("gost3410: not implemented")

// Curve is a ГОСТ Р 34.10-2012 parameter set.
type Curve struct {
	// Name is the parameter set's name, e.g. "id-tc26-gost-3410-12-256-paramSetA".
	Name string
	// OID is the parameter set's object identifier.
	OID asn1.ObjectIdentifier

	size int
}

// CurveByOID returns the parameter set with the given OID.
func CurveByOID(oid asn1.ObjectIdentifier) (*Curve, error) { return nil, errNotImplemented }

// Curves returns every supported parameter set.
func Curves() []*Curve { return nil }

// Size returns the byte length of a coordinate and of each of r and s: 32 or 64.
func (c *Curve) Size() int { return c.size }

// PublicKey is a ГОСТ Р 34.10-2012 public key.
type PublicKey struct {
	Curve *Curve
	X, Y  *big.Int
}

// PrivateKey is a ГОСТ Р 34.10-2012 private key.
type PrivateKey struct {
	PublicKey
	D *big.Int
}

// GenerateKey generates a key pair on c using rand.
func GenerateKey(c *Curve, rand io.Reader) (*PrivateKey, error) { return nil, errNotImplemented }

// NewPrivateKey returns the private key d on c with its public key computed.
func NewPrivateKey(c *Curve, d *big.Int) (*PrivateKey, error) { return nil, errNotImplemented }

// NewPublicKey returns the public key (x, y) on c after checking the point is on the curve.
func NewPublicKey(c *Curve, x, y *big.Int) (*PublicKey, error) { return nil, errNotImplemented }

// MarshalRaw returns little-endian X || little-endian Y.
func (pub *PublicKey) MarshalRaw() []byte { return nil }

// UnmarshalPublicKeyRaw parses little-endian X || little-endian Y.
func UnmarshalPublicKeyRaw(c *Curve, raw []byte) (*PublicKey, error) { return nil, errNotImplemented }

// SignDigest signs a Streebog digest and returns s || r.
func (k *PrivateKey) SignDigest(rand io.Reader, digest []byte) ([]byte, error) {
	return nil, errNotImplemented
}

// VerifyDigest checks sig (s || r) over digest.
func VerifyDigest(pub *PublicKey, digest, sig []byte) error { return errNotImplemented }
