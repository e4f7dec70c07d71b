package local

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// DevPKI is a throwaway certification authority and one signer it issued,
// for `dev`, tests and the emulator. Nothing it signs is trusted anywhere
// else.
type DevPKI struct {
	// CA is the self-signed authority's signer.
	CA *Signer
	// Leaf is the signer the authority certified; its Chain is [CA].
	Leaf *Signer
	// Authority is the CA as gostx509 builds it, to issue more
	// certificates or CRLs.
	Authority *gostx509.TestCA
}

// GenerateDevPKI makes a fresh CA (gostx509.NewTestCA) and a signing
// certificate it issues (gostx509.SigningTemplate), valid from an hour
// before now for validFor, both with alg's keys.
func GenerateDevPKI(ctx context.Context, alg signer.Algorithm, now time.Time, validFor time.Duration) (*DevPKI, error) {
	notBefore, notAfter := now.Add(-time.Hour), now.Add(validFor)
	ca, err := gostx509.NewTestCA(ctx, alg, gostx509.Subject{CommonName: "egisz-gateway dev CA", Organization: "egisz-gateway dev", Country: "RU"}, notBefore, notAfter, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate dev CA: %w", err)
	}
	leafKey, leafCert, err := ca.IssueKey(ctx, alg, gostx509.SigningTemplate(gostx509.Subject{CommonName: "egisz-gateway dev signer", Organization: "egisz-gateway dev", Country: "RU"}, notBefore, notAfter))
	if err != nil {
		return nil, fmt.Errorf("issue dev signer certificate: %w", err)
	}
	caSigner, err := New(ca.Key, ca.Certificate)
	if err != nil {
		return nil, err
	}
	leaf, err := newFromCandidates(leafKey, []*x509.Certificate{leafCert, ca.Certificate})
	if err != nil {
		return nil, err
	}
	return &DevPKI{CA: caSigner, Leaf: leaf, Authority: ca}, nil
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
