// Package cryptotest holds what tests of XML signatures share: an ECDSA
// P-256 signer with a self-signed certificate, for checking XML signatures
// with xmlsec1 (Debian's has no ГОСТ), and its key and certificate as PEM
// files for the tools.
package cryptotest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
)

// ECDSASigner is a P-256 signer.Signer with its key and certificate.
type ECDSASigner struct {
	*local.Signer
	Key  *ecdsa.PrivateKey
	Cert *x509.Certificate
}

// NewECDSASigner makes a P-256 key and a self-signed certificate for it,
// valid from an hour ago for a day, named cn; ca makes it a CA certificate
// too (a root xmlsec1 can be told to trust).
func NewECDSASigner(t testing.TB, cn string, ca bool) *ECDSASigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"МИС"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	s, err := local.New(key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return &ECDSASigner{Signer: s, Key: key, Cert: cert}
}

// WritePEM writes the key (key.pem) and the certificate (cert.pem) into dir.
func (s *ECDSASigner) WritePEM(t testing.TB, dir string) (keyFile, certFile string) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(s.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, certFile
}
