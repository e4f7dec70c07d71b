package local

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gost3410"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// Curves the throwaway keys are made on: CryptoPro-A (RFC 4357), the
// 256-bit set most Russian certificates use, and tc26 512 paramSetA
// (RFC 7836).
var (
	oidCurveCryptoProA     = asn1.ObjectIdentifier{1, 2, 643, 2, 2, 35, 1}
	oidCurveTC26512ParamsA = asn1.ObjectIdentifier{1, 2, 643, 7, 1, 2, 1, 2, 1}
)

// DevPKI is a throwaway certification authority and one signer it issued,
// for `dev`, tests and the emulator. Nothing it signs is trusted anywhere
// else.
type DevPKI struct {
	// CA is the self-signed authority's signer.
	CA *Signer
	// Leaf is the signer the authority certified; its Chain is [CA].
	Leaf *Signer
}

// GenerateDevPKI makes a fresh CA key and certificate and a leaf key and
// certificate issued by it, valid from an hour before now for validFor,
// both with alg's keys.
func GenerateDevPKI(ctx context.Context, alg signer.Algorithm, now time.Time, validFor time.Duration) (*DevPKI, error) {
	caKey, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	leafKey, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("generate signer key: %w", err)
	}
	notBefore, notAfter := now.Add(-time.Hour), now.Add(validFor)

	caSigner := &keyOnly{key: caKey, alg: alg}
	caDER, err := gostx509.CreateCertificate(ctx, &gostx509.Template{
		SerialNumber: serial(),
		Subject:      gostx509.Subject{CommonName: "egisz-gateway dev CA", Organization: "egisz-gateway dev", Country: "RU"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		IsCA:         true,
		MaxPathLen:   0,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, publicOf(caKey), nil, caSigner)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	leafDER, err := gostx509.CreateCertificate(ctx, &gostx509.Template{
		SerialNumber: serial(),
		Subject:      gostx509.Subject{CommonName: "egisz-gateway dev signer", Organization: "egisz-gateway dev", Country: "RU"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		MaxPathLen:   -1,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		ExtKeyUsage:  []asn1.ObjectIdentifier{gostx509.OIDExtKeyUsageClientAuth, gostx509.OIDExtKeyUsageEmailProtection},
	}, publicOf(leafKey), caCert, caSigner)
	if err != nil {
		return nil, fmt.Errorf("create signer certificate: %w", err)
	}
	leafCert, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("parse signer certificate: %w", err)
	}
	ca, err := New(caKey, caCert)
	if err != nil {
		return nil, err
	}
	leaf, err := newFromCandidates(leafKey, []*x509.Certificate{leafCert, caCert})
	if err != nil {
		return nil, err
	}
	return &DevPKI{CA: ca, Leaf: leaf}, nil
}

// WriteFiles writes the PKI into dir as ca.pem (the CA certificate),
// signer.key.pem (the leaf's PKCS #8 key, mode 0600) and signer.pem (the
// leaf's certificate followed by the CA's), the files LoadPEMFiles and
// `openssl -engine gost` read.
func (p *DevPKI) WriteFiles(dir string) error {
	keyPEM, err := gostx509.MarshalPrivateKeyPEM(p.Leaf.privateKey())
	if err != nil {
		return fmt.Errorf("marshal signer key: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.CA.cert.Raw})
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Leaf.cert.Raw})
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"ca.pem", caPEM, 0o644},
		{"signer.pem", append(leafPEM, caPEM...), 0o644},
		{"signer.key.pem", keyPEM, 0o600},
	} {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("write dev PKI: %w", err)
		}
	}
	return nil
}

func (s *Signer) privateKey() crypto.PrivateKey {
	if s.gost != nil {
		return s.gost
	}
	return s.ec
}

func generateKey(alg signer.Algorithm) (crypto.PrivateKey, error) {
	switch alg {
	case signer.GOST2012_256, signer.GOST2012_512:
		oid := oidCurveCryptoProA
		if alg == signer.GOST2012_512 {
			oid = oidCurveTC26512ParamsA
		}
		c, err := gost3410.CurveByOID(oid)
		if err != nil {
			return nil, err
		}
		return gost3410.GenerateKey(c, rand.Reader)
	case signer.ECDSAP256SHA256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: algorithm %v", ErrUnsupportedKey, alg)
}

func publicOf(key crypto.PrivateKey) crypto.PublicKey {
	switch k := key.(type) {
	case *gost3410.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	}
	return nil
}

// keyOnly signs with a key that has no certificate yet: the CA's own,
// while its self-signed certificate is being made.
type keyOnly struct {
	key crypto.PrivateKey
	alg signer.Algorithm
}

func (k *keyOnly) Algorithm() signer.Algorithm { return k.alg }

func (k *keyOnly) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	s := &Signer{alg: k.alg, rand: rand.Reader}
	switch key := k.key.(type) {
	case *gost3410.PrivateKey:
		s.gost = key
	case *ecdsa.PrivateKey:
		s.ec = key
	}
	return s.SignDigest(ctx, digest)
}

// serial returns a random positive 63-bit serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil || n.Sign() == 0 {
		// crypto/rand does not fail on supported platforms; a fixed
		// serial is harmless for a throwaway CA.
		return big.NewInt(1)
	}
	return n
}
