// Package local is a signer.Signer over a private key held in this process:
// a ГОСТ Р 34.10-2012 key (256 or 512 bits) or an ECDSA P-256 key, with its
// certificate. It serves dev, tests and the registry emulator; production
// signs through a certified СКЗИ (package dss), since a key in process
// memory is not one.
//
// Keys come from a PKCS #8 "PRIVATE KEY" PEM file as `openssl genpkey
// [-engine gost]` writes it plus a certificate PEM file, or from a PKCS #12
// file with its password. A key and a certificate that do not belong
// together are refused at load, proven by signing and verifying a probe
// digest rather than by comparing encodings.
package local

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// ErrKeyCertificateMismatch is returned at load when no certificate given
// holds the private key's public key.
var ErrKeyCertificateMismatch = errors.New("local signer: private key does not match the certificate")

// ErrUnsupportedKey is returned for a key of another kind than ГОСТ Р
// 34.10-2012 or ECDSA P-256.
var ErrUnsupportedKey = errors.New("local signer: unsupported private key")

// ErrDigestSize is returned by SignDigest for a digest of the wrong length
// for the key's algorithm.
var ErrDigestSize = errors.New("local signer: digest size does not match the algorithm")

// Signer signs with an in-process key. It is safe for concurrent use.
type Signer struct {
	alg   signer.Algorithm
	cert  *x509.Certificate
	chain []*x509.Certificate
	gost  *gost3410.PrivateKey
	ec    *ecdsa.PrivateKey
	rand  io.Reader
}

var _ signer.Signer = (*Signer)(nil)

// New returns a signer for key, a *gost3410.PrivateKey or a P-256
// *ecdsa.PrivateKey, and its certificate. It fails with
// ErrKeyCertificateMismatch when cert does not hold key's public key.
func New(key crypto.PrivateKey, cert *x509.Certificate) (*Signer, error) {
	return newFromCandidates(key, []*x509.Certificate{cert})
}

// newFromCandidates picks, of certs, the first certificate that holds
// key's public key; the others become the chain.
func newFromCandidates(key crypto.PrivateKey, certs []*x509.Certificate) (*Signer, error) {
	s := &Signer{rand: rand.Reader}
	switch k := key.(type) {
	case *gost3410.PrivateKey:
		if k == nil || k.Curve == nil || k.D == nil {
			return nil, fmt.Errorf("%w: empty ГОСТ key", ErrUnsupportedKey)
		}
		s.gost = k
		s.alg = signer.GOST2012_256
		if k.Curve.Size() == 64 {
			s.alg = signer.GOST2012_512
		}
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key not on P-256", ErrUnsupportedKey)
		}
		s.ec = k
		s.alg = signer.ECDSAP256SHA256
	default:
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, key)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate", ErrKeyCertificateMismatch)
	}

	// One probe signature, verified with each candidate's public key,
	// proves the pair whatever the encodings (a ГОСТ curve has several
	// OIDs; CryptoPro-A and tc26-256-B are the same curve).
	probe := s.alg.NewHash()
	probe.Write([]byte("egisz-gateway local signer key/certificate probe"))
	digest := probe.Sum(nil)
	sig, err := s.sign(digest)
	if err != nil {
		return nil, fmt.Errorf("probe signature: %w", err)
	}
	var reasons []error
	for i, c := range certs {
		if c == nil {
			reasons = append(reasons, fmt.Errorf("certificate %d is nil", i+1))
			continue
		}
		alg, err := gostx509.Algorithm(c)
		if err != nil {
			reasons = append(reasons, fmt.Errorf("certificate %d: %w", i+1, err))
			continue
		}
		if alg != s.alg {
			reasons = append(reasons, fmt.Errorf("certificate %d is for %s, the key is %s", i+1, alg, s.alg))
			continue
		}
		if err := gostx509.VerifyDigest(c, digest, sig); err != nil {
			reasons = append(reasons, fmt.Errorf("certificate %d holds another %s key", i+1, alg))
			continue
		}
		s.cert = c
		for j, other := range certs {
			if j != i && other != nil {
				s.chain = append(s.chain, other)
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrKeyCertificateMismatch, errors.Join(reasons...))
}

// Algorithm is the key's algorithm.
func (s *Signer) Algorithm() signer.Algorithm { return s.alg }

// Certificate is the key's certificate.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// Chain returns the other certificates the key's file or bundle held
// (intermediates, a CA), for a CMS certificate set. It may be empty.
func (s *Signer) Chain() []*x509.Certificate { return s.chain }

// Public returns the key's public key: a *gost3410.PublicKey or an
// *ecdsa.PublicKey.
func (s *Signer) Public() crypto.PublicKey {
	if s.gost != nil {
		return &s.gost.PublicKey
	}
	return &s.ec.PublicKey
}

// SignDigest signs digest, made with Algorithm().NewHash(), and returns
// the raw signature: s || r for ГОСТ, r || s for ECDSA.
func (s *Signer) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if want := s.alg.NewHash().Size(); len(digest) != want {
		return nil, fmt.Errorf("%w: %d bytes, %s signs %d", ErrDigestSize, len(digest), s.alg, want)
	}
	return s.sign(digest)
}

func (s *Signer) sign(digest []byte) ([]byte, error) {
	if s.gost != nil {
		sig, err := s.gost.SignDigest(s.rand, digest)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", s.alg, err)
		}
		return sig, nil
	}
	r, ss, err := ecdsa.Sign(s.rand, s.ec, digest)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", s.alg, err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return sig, nil
}
