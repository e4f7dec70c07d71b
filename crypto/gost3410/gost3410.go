// Package gost3410 implements ГОСТ Р 34.10-2012 digital signatures
// (RFC 7091) over the parameter sets of RFC 7836 (tc26) and RFC 4357
// (CryptoPro).
//
// Signatures are made and checked over a digest the caller computed
// (Streebog-256 for the 32-byte sets, Streebog-512 for the 64-byte ones, see
// crypto/streebog), in the byte layouts of RFC 4491 and RFC 9215: a public
// key is little-endian X || little-endian Y, a signature is big-endian s ||
// big-endian r. Those are the layouts OpenSSL's gost engine and CryptoPro
// use, and the tests check agreement with the engine.
//
// The arithmetic is fixed-size arithmetic over 4 or 8 64-bit limbs:
// pseudo-Mersenne reduction for p = 2^256 - 617 (tc26 256 A and B,
// CryptoPro A and XchA; pmfield.go) and Montgomery reduction for any other
// prime (field.go, mont_gen.go), in Jacobian coordinates (point.go), with
// a precomputed comb for k·P and an interleaved wNAF for u1·P + u2·Q.
// Verification, which runs for every signature of every document, takes
// about 1.3 times as long as crypto/ecdsa's P-256 in the same run on the
// pseudo-Mersenne sets and 1.6-1.8 times on the other 256-bit ones (2.0-2.3
// before those were added); signing 1.0-1.3 times P-256's
// (BenchmarkVerify, BenchmarkSign, whose cpu-ns/op is the steadier figure
// on a shared machine; go run ./cmd/bench --only crypto). Signing reads its precomputed table without secret-dependent
// memory accesses, but the package is not hardened against timing side
// channels as a certified СКЗИ is: keys that matter in production sign
// through crypto/signer's external signer.
package gost3410

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/egisz-gateway/egisz-gateway/crypto/streebog"
)

// Errors for bad input. Every error this package returns for a bad key,
// digest or signature wraps one of them; none carries key material.
var (
	// ErrUnknownCurve is returned for an OID that names no supported set.
	ErrUnknownCurve = errors.New("gost3410: unknown parameter set")
	// ErrInvalidPrivateKey is returned for a private key d outside (0, q)
	// or a key with no parameter set.
	ErrInvalidPrivateKey = errors.New("gost3410: invalid private key")
	// ErrInvalidPublicKey is returned for a public key that is not a point
	// of the set's prime-order subgroup, whose coordinates are out of
	// [0, p), or whose raw encoding has the wrong length.
	ErrInvalidPublicKey = errors.New("gost3410: invalid public key")
	// ErrDigestLength is returned for a digest whose length is not the
	// set's Size: 32 bytes (Streebog-256) or 64 (Streebog-512).
	ErrDigestLength = errors.New("gost3410: wrong digest length")
	// ErrSignatureLength is returned for a signature that is not 2·Size bytes.
	ErrSignatureLength = errors.New("gost3410: wrong signature length")
	// ErrSignatureRange is returned for a signature whose r or s is not in (0, q).
	ErrSignatureRange = errors.New("gost3410: signature r or s out of range")
	// ErrVerification is returned for a well-formed signature that does
	// not match the digest and key.
	ErrVerification = errors.New("gost3410: signature does not verify")
)

// Curve is a ГОСТ Р 34.10-2012 parameter set.
type Curve struct {
	// Name is the parameter set's name, e.g. "id-tc26-gost-3410-12-256-paramSetA".
	Name string
	// OID is the parameter set's object identifier.
	OID asn1.ObjectIdentifier

	size int

	// p is the field prime, a and b the Weierstrass coefficients, q the
	// prime order of the base point (gx, gy), cofactor the curve's order
	// divided by q. They never change after package initialisation.
	p, a, b, q, gx, gy, cofactor *big.Int

	// fast is the fixed-size arithmetic every operation uses; the
	// math/big arithmetic of bigcurve.go only checks it in tests.
	fast fastCurve
}

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

// known reports whether c is one of this package's parameter sets (from
// CurveByOID or Curves) rather than a Curve value made elsewhere, which
// carries none of the constants.
func (c *Curve) known() bool { return c != nil && c.fast != nil }

// GenerateKey generates a key pair on c using rand.
func GenerateKey(c *Curve, rand io.Reader) (*PrivateKey, error) {
	if !c.known() {
		return nil, fmt.Errorf("generate key: %w: not one of this package's parameter sets", ErrInvalidPrivateKey)
	}
	d, err := randScalar(c, rand)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return NewPrivateKey(c, d)
}

// randScalar returns a uniformly distributed integer in [1, q-1]. It reads
// 8 more bytes than q has, so the bias left by the reduction is below 2⁻⁶⁴.
func randScalar(c *Curve, rand io.Reader) (*big.Int, error) {
	if rand == nil {
		return nil, errors.New("no random source")
	}
	buf := make([]byte, (c.q.BitLen()+7)/8+8)
	if _, err := io.ReadFull(rand, buf); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	qm1 := new(big.Int).Sub(c.q, big.NewInt(1))
	k := new(big.Int).SetBytes(buf)
	k.Mod(k, qm1)
	return k.Add(k, big.NewInt(1)), nil
}

// NewPrivateKey returns the private key d on c with its public key computed.
// d must be in (0, q).
func NewPrivateKey(c *Curve, d *big.Int) (*PrivateKey, error) {
	if !c.known() || d == nil {
		return nil, ErrInvalidPrivateKey
	}
	if d.Sign() <= 0 || d.Cmp(c.q) >= 0 {
		return nil, fmt.Errorf("%w: d is not in (0, q)", ErrInvalidPrivateKey)
	}
	x, y, inf := c.fast.baseMult(d)
	if inf {
		// Impossible for 0 < d < q, as P has order q.
		return nil, fmt.Errorf("%w: d·P is the point at infinity", ErrInvalidPrivateKey)
	}
	return &PrivateKey{
		PublicKey: PublicKey{Curve: c, X: x, Y: y},
		D:         new(big.Int).Set(d),
	}, nil
}

// NewPublicKey returns the public key (x, y) on c after checking the point is on the curve.
// The coordinates must be in [0, p) and the point must lie in the subgroup
// of order q (for the cofactor-4 sets, tc26 256 A and 512 C, that costs a
// scalar multiplication; on the others every curve point is in it).
func NewPublicKey(c *Curve, x, y *big.Int) (*PublicKey, error) {
	if !c.known() || x == nil || y == nil {
		return nil, ErrInvalidPublicKey
	}
	if x.Sign() < 0 || x.Cmp(c.p) >= 0 || y.Sign() < 0 || y.Cmp(c.p) >= 0 {
		return nil, fmt.Errorf("%w: coordinate out of range", ErrInvalidPublicKey)
	}
	if !c.isOnCurve(x, y) {
		return nil, fmt.Errorf("%w: point is not on the curve", ErrInvalidPublicKey)
	}
	// An affine point is never the identity, so for prime-order curves the
	// on-curve check is the whole story; with a cofactor, a point of small
	// order would make every signature under it meaningless.
	if c.cofactor.Cmp(big.NewInt(1)) != 0 {
		if _, _, inf := c.fast.doubleMult(new(big.Int), c.q, x, y); !inf {
			return nil, fmt.Errorf("%w: point is not in the prime-order subgroup", ErrInvalidPublicKey)
		}
	}
	return &PublicKey{Curve: c, X: new(big.Int).Set(x), Y: new(big.Int).Set(y)}, nil
}

// check reports whether pub is a usable key: a set, coordinates in range
// and a point on the curve. Keys from NewPublicKey pass; a struct filled by
// hand is checked again here (cheaply: the subgroup check is left to
// NewPublicKey) so that Verify never computes with garbage.
func (pub *PublicKey) check() error {
	if pub == nil || !pub.Curve.known() || pub.X == nil || pub.Y == nil {
		return ErrInvalidPublicKey
	}
	c := pub.Curve
	if pub.X.Sign() < 0 || pub.X.Cmp(c.p) >= 0 || pub.Y.Sign() < 0 || pub.Y.Cmp(c.p) >= 0 {
		return fmt.Errorf("%w: coordinate out of range", ErrInvalidPublicKey)
	}
	if !c.isOnCurve(pub.X, pub.Y) {
		return fmt.Errorf("%w: point is not on the curve", ErrInvalidPublicKey)
	}
	return nil
}

// MarshalRaw returns little-endian X || little-endian Y.
// Each coordinate takes Curve.Size() bytes. It returns nil for a key with no
// set or with coordinates that do not fit.
func (pub *PublicKey) MarshalRaw() []byte {
	if pub == nil || !pub.Curve.known() || pub.X == nil || pub.Y == nil {
		return nil
	}
	n := pub.Curve.size
	if pub.X.Sign() < 0 || pub.Y.Sign() < 0 || pub.X.BitLen() > 8*n || pub.Y.BitLen() > 8*n {
		return nil
	}
	out := make([]byte, 2*n)
	pub.X.FillBytes(out[:n])
	pub.Y.FillBytes(out[n:])
	reverse(out[:n])
	reverse(out[n:])
	return out
}

// UnmarshalPublicKeyRaw parses little-endian X || little-endian Y.
// raw must be exactly 2·c.Size() bytes and the point must pass NewPublicKey.
func UnmarshalPublicKeyRaw(c *Curve, raw []byte) (*PublicKey, error) {
	if !c.known() {
		return nil, ErrInvalidPublicKey
	}
	n := c.size
	if len(raw) != 2*n {
		return nil, fmt.Errorf("%w: raw key is %d bytes, want %d", ErrInvalidPublicKey, len(raw), 2*n)
	}
	return NewPublicKey(c, leInt(raw[:n]), leInt(raw[n:]))
}

// SignDigest signs a Streebog digest and returns s || r.
// The digest must be c.Size() bytes: Streebog-256 for the 256-bit sets,
// Streebog-512 for the 512-bit ones. rand supplies the entropy of the
// per-signature secret k, which is hashed with the key and the digest (see
// nonce) so that a failing random source does not expose the key; rand
// should still be a cryptographic source (crypto/rand.Reader).
func (k *PrivateKey) SignDigest(rand io.Reader, digest []byte) ([]byte, error) {
	if k == nil || !k.Curve.known() || k.D == nil || k.D.Sign() <= 0 || k.D.Cmp(k.Curve.q) >= 0 {
		return nil, fmt.Errorf("sign: %w", ErrInvalidPrivateKey)
	}
	c := k.Curve
	if len(digest) != c.size {
		return nil, fmt.Errorf("sign: %w: %d bytes, want %d", ErrDigestLength, len(digest), c.size)
	}
	e := digestToE(c, digest)
	// A k that gives r = 0 or s = 0 is drawn again (RFC 7091 §6.1 steps
	// 4 and 5); with a working random source that practically never happens,
	// so a source stuck on such values ends in an error, not a loop.
	for range 32 {
		kk, err := nonce(c, rand, k.D, digest)
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		r, s, ok := signWithK(k, e, kk)
		if ok {
			return encodeSignature(c, r, s), nil
		}
	}
	return nil, errors.New("sign: the random source gave only unusable nonces")
}

// nonce returns the per-signature secret k in [1, q-1], derived from fresh
// bytes of rand hashed (Streebog-512) together with the private key and the
// digest. With a good rand, k is as uniform as randScalar makes it; with a
// rand that repeats itself or is predictable, k still differs per digest and
// stays unknown to whoever does not hold d, so a broken random source does
// not give the key away through two signatures with one k (as it would with
// k read from rand alone).
func nonce(c *Curve, rand io.Reader, d *big.Int, digest []byte) (*big.Int, error) {
	if rand == nil {
		return nil, errors.New("no random source")
	}
	entropy := make([]byte, c.size)
	if _, err := io.ReadFull(rand, entropy); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	secret := d.FillBytes(make([]byte, c.size))
	need := (c.q.BitLen()+7)/8 + 8 // 8 spare bytes: bias below 2⁻⁶⁴
	out := make([]byte, 0, need+streebog.Size512)
	for block := byte(0); len(out) < need; block++ {
		h := streebog.New512()
		h.Write([]byte("gost3410 nonce"))
		h.Write([]byte{block, byte(c.size)})
		h.Write(entropy)
		h.Write(secret)
		h.Write(digest)
		out = h.Sum(out)
	}
	clear(secret)
	qm1 := new(big.Int).Sub(c.q, big.NewInt(1))
	k := new(big.Int).SetBytes(out[:need])
	clear(out)
	k.Mod(k, qm1)
	return k.Add(k, big.NewInt(1)), nil
}

// digestToE returns e = α mod q, with α the digest read as a little-endian
// integer and e = 0 replaced by 1 (RFC 7091 §6.1 step 2). RFC 7091 states
// its examples with α as an integer; the byte order is the one in which
// Streebog (crypto/streebog, as openssl dgst prints it) writes its output
// and OpenSSL's gost engine reads it back, which the agreement tests check
// by signing and verifying across the two implementations.
func digestToE(c *Curve, digest []byte) *big.Int {
	e := leInt(digest)
	e.Mod(e, c.q)
	if e.Sign() == 0 {
		e.SetInt64(1)
	}
	return e
}

// signWithK computes the signature (r, s) of e with the nonce k
// (RFC 7091 §6.1 steps 3-5). ok is false when r or s comes out 0 and
// another k must be drawn. It is separate from SignDigest so that the RFC's
// examples, which fix k, can be reproduced.
func signWithK(priv *PrivateKey, e, k *big.Int) (r, s *big.Int, ok bool) {
	c := priv.Curve
	x, _, inf := c.fast.baseMult(k)
	if inf {
		return nil, nil, false
	}
	r = new(big.Int).Mod(x, c.q)
	if r.Sign() == 0 {
		return nil, nil, false
	}
	// s = (r·d + k·e) mod q.
	s = new(big.Int).Mul(r, priv.D)
	ke := new(big.Int).Mul(k, e)
	s.Add(s, ke)
	s.Mod(s, c.q)
	if s.Sign() == 0 {
		return nil, nil, false
	}
	return r, s, true
}

// encodeSignature returns big-endian s || big-endian r, Size bytes each.
func encodeSignature(c *Curve, r, s *big.Int) []byte {
	out := make([]byte, 2*c.size)
	s.FillBytes(out[:c.size])
	r.FillBytes(out[c.size:])
	return out
}

// VerifyDigest checks sig (s || r) over digest.
// It returns nil for a good signature, ErrVerification for a well-formed one
// that does not match, and ErrInvalidPublicKey, ErrDigestLength,
// ErrSignatureLength or ErrSignatureRange (wrapped) for bad input.
func VerifyDigest(pub *PublicKey, digest, sig []byte) error {
	if err := pub.check(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	c := pub.Curve
	if len(digest) != c.size {
		return fmt.Errorf("verify: %w: %d bytes, want %d", ErrDigestLength, len(digest), c.size)
	}
	if len(sig) != 2*c.size {
		return fmt.Errorf("verify: %w: %d bytes, want %d", ErrSignatureLength, len(sig), 2*c.size)
	}
	// RFC 7091 §6.2 step 1: 0 < r < q and 0 < s < q.
	s := new(big.Int).SetBytes(sig[:c.size])
	r := new(big.Int).SetBytes(sig[c.size:])
	if r.Sign() == 0 || r.Cmp(c.q) >= 0 || s.Sign() == 0 || s.Cmp(c.q) >= 0 {
		return fmt.Errorf("verify: %w", ErrSignatureRange)
	}
	e := digestToE(c, digest)
	// v = e⁻¹, z1 = s·v, z2 = -r·v (mod q), C = z1·P + z2·Q, R = x_C mod q.
	// The inverse is math/big's: everything here is public, and its GCD
	// measured about 5 times faster than Fermat in the Montgomery field for
	// 256-bit q (2.6 µs against 12) and 18 times for 512-bit q (5 µs
	// against 90).
	v := new(big.Int).ModInverse(e, c.q)
	z1 := new(big.Int).Mul(s, v)
	z1.Mod(z1, c.q)
	z2 := new(big.Int).Mul(r, v)
	z2.Neg(z2)
	z2.Mod(z2, c.q)
	if !c.fast.verifyX(z1, z2, pub.X, pub.Y, r) {
		return fmt.Errorf("verify: %w", ErrVerification)
	}
	return nil
}

// leInt reads b as a little-endian unsigned integer.
func leInt(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i, v := range b {
		be[len(b)-1-i] = v
	}
	return new(big.Int).SetBytes(be)
}

// reverse reverses b in place.
func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// isOnCurve reports whether (x, y), both already in [0, p), satisfies
// y² = x³ + a·x + b (mod p).
func (c *Curve) isOnCurve(x, y *big.Int) bool {
	lhs := new(big.Int).Mul(y, y)
	lhs.Mod(lhs, c.p)
	rhs := new(big.Int).Mul(x, x)
	rhs.Add(rhs, c.a)
	rhs.Mul(rhs, x)
	rhs.Add(rhs, c.b)
	rhs.Mod(rhs, c.p)
	return lhs.Cmp(rhs) == 0
}
