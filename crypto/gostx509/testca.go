package gostx509

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"sync"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// Parameter sets GenerateKey uses: CryptoPro A for 256-bit keys, the one
// most qualified certificates carry, and tc26 A for 512-bit keys.
var (
	oidParamSetCryptoProA = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 35, 1}
	oidParamSetTC26512A   = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 1}
)

// GenerateKey generates a key pair for alg: a *gost3410.PrivateKey on
// CryptoPro A (256) or tc26 A (512), or a P-256 *ecdsa.PrivateKey.
func GenerateKey(alg signer.Algorithm, rand io.Reader) (crypto.PrivateKey, crypto.PublicKey, error) {
	var oid asn1.ObjectIdentifier
	switch alg {
	case signer.GOST2012_256:
		oid = oidParamSetCryptoProA
	case signer.GOST2012_512:
		oid = oidParamSetTC26512A
	case signer.ECDSAP256SHA256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
		if err != nil {
			return nil, nil, fmt.Errorf("generate ECDSA key: %w", err)
		}
		return k, &k.PublicKey, nil
	default:
		return nil, nil, fmt.Errorf("%w: %v", ErrUnsupportedAlgorithm, alg)
	}
	curve, err := gost3410.CurveByOID(oid)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parameter set %v: %v", ErrUnsupportedAlgorithm, oid, err)
	}
	k, err := gost3410.GenerateKey(curve, rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generate ГОСТ key: %w", err)
	}
	return k, &k.PublicKey, nil
}

// keySigner is a DigestSigner over an in-process key.
type keySigner struct {
	key  crypto.PrivateKey
	alg  signer.Algorithm
	rand io.Reader
}

// NewDigestSigner returns a DigestSigner over an in-process private key (a
// *gost3410.PrivateKey or a P-256 *ecdsa.PrivateKey), drawing signature
// nonces from rand. It is for building test certificates and CRLs; the
// gateway's signatures go through crypto/signer's implementations.
func NewDigestSigner(key crypto.PrivateKey, rand io.Reader) (DigestSigner, error) {
	if rand == nil {
		return nil, fmt.Errorf("%w: nil random source", ErrMalformed)
	}
	var pub crypto.PublicKey
	switch k := key.(type) {
	case *gost3410.PrivateKey:
		if k == nil || k.D == nil {
			return nil, fmt.Errorf("%w: nil private key", ErrMalformed)
		}
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		if k == nil || k.D == nil {
			return nil, fmt.Errorf("%w: nil private key", ErrMalformed)
		}
		pub = &k.PublicKey
	default:
		return nil, fmt.Errorf("%w: private key type %T", ErrUnsupportedAlgorithm, key)
	}
	alg, err := KeyAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	return &keySigner{key: key, alg: alg, rand: rand}, nil
}

func (s *keySigner) Algorithm() signer.Algorithm { return s.alg }

func (s *keySigner) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch k := s.key.(type) {
	case *gost3410.PrivateKey:
		sig, err := k.SignDigest(s.rand, digest)
		if err != nil {
			return nil, fmt.Errorf("ГОСТ sign: %w", err)
		}
		return sig, nil
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(s.rand, k, digest)
		if err != nil {
			return nil, fmt.Errorf("ECDSA sign: %w", err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("%w: private key type %T", ErrUnsupportedAlgorithm, s.key)
}

// TestCA is a certification authority for tests, the load generator and
// the registry emulator: it issues ГОСТ (or ECDSA) certificates and CRLs
// that a Verifier trusting its root accepts. Safe for concurrent use.
type TestCA struct {
	// Certificate is the CA's certificate.
	Certificate *x509.Certificate
	// Key is the CA's private key.
	Key crypto.PrivateKey

	signer DigestSigner
	rand   io.Reader

	mu     sync.Mutex
	serial int64
}

// NewTestCA generates a key for alg and a self-signed root CA certificate
// for subject, valid from notBefore to notAfter.
func NewTestCA(ctx context.Context, alg signer.Algorithm, subject Subject, notBefore, notAfter time.Time, rand io.Reader) (*TestCA, error) {
	key, pub, err := GenerateKey(alg, rand)
	if err != nil {
		return nil, err
	}
	ds, err := NewDigestSigner(key, rand)
	if err != nil {
		return nil, err
	}
	der, err := CreateCertificate(ctx, &Template{
		SerialNumber: big.NewInt(1), Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, MaxPathLen: -1, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}, pub, nil, ds)
	if err != nil {
		return nil, fmt.Errorf("create root certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse root certificate: %w", err)
	}
	return &TestCA{Certificate: cert, Key: key, signer: ds, rand: rand, serial: 1}, nil
}

// NextSerial returns a serial number not yet issued by this CA.
func (ca *TestCA) NextSerial() *big.Int {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	ca.serial++
	return big.NewInt(ca.serial)
}

// Issue signs a certificate of tmpl for pub. A nil tmpl.SerialNumber is
// filled with NextSerial.
func (ca *TestCA) Issue(ctx context.Context, tmpl Template, pub crypto.PublicKey) (*x509.Certificate, error) {
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = ca.NextSerial()
	}
	der, err := CreateCertificate(ctx, &tmpl, pub, ca.Certificate, ca.signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	return cert, nil
}

// IssueKey generates a key of alg and issues a certificate of tmpl for it.
func (ca *TestCA) IssueKey(ctx context.Context, alg signer.Algorithm, tmpl Template) (crypto.PrivateKey, *x509.Certificate, error) {
	key, pub, err := GenerateKey(alg, ca.rand)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ca.Issue(ctx, tmpl, pub)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// IssueCA generates a key of the CA's algorithm and issues an intermediate
// CA for subject.
func (ca *TestCA) IssueCA(ctx context.Context, subject Subject, notBefore, notAfter time.Time) (*TestCA, error) {
	key, cert, err := ca.IssueKey(ctx, ca.signer.Algorithm(), Template{
		Subject: subject, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, MaxPathLen: -1, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	})
	if err != nil {
		return nil, err
	}
	ds, err := NewDigestSigner(key, ca.rand)
	if err != nil {
		return nil, err
	}
	return &TestCA{Certificate: cert, Key: key, signer: ds, rand: ca.rand, serial: 1}, nil
}

// SigningTemplate is a template for a personal or organisation signing
// certificate as qualified ones are: digitalSignature and
// contentCommitment, client authentication and e-mail protection.
func SigningTemplate(subject Subject, notBefore, notAfter time.Time) Template {
	return Template{
		Subject: subject, NotBefore: notBefore, NotAfter: notAfter, MaxPathLen: -1,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage: []asn1.ObjectIdentifier{OIDExtKeyUsageClientAuth, OIDExtKeyUsageEmailProtection},
	}
}

// CRL signs a CRL of tmpl and returns it parsed and as DER.
func (ca *TestCA) CRL(ctx context.Context, tmpl CRLTemplate) (*x509.RevocationList, []byte, error) {
	der, err := CreateCRL(ctx, &tmpl, ca.Certificate, ca.signer)
	if err != nil {
		return nil, nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse CRL: %w", err)
	}
	return crl, der, nil
}
