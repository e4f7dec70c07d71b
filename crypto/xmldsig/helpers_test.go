package xmldsig

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// ecdsaSigner is an in-process P-256 signer.Signer for the tests.
type ecdsaSigner struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func (s *ecdsaSigner) Algorithm() signer.Algorithm    { return signer.ECDSAP256SHA256 }
func (s *ecdsaSigner) Certificate() *x509.Certificate { return s.cert }
func (s *ecdsaSigner) SignDigest(_ context.Context, digest []byte) ([]byte, error) {
	if len(digest) != sha256.Size {
		return nil, errors.New("digest length")
	}
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, digest)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out, nil
}

// newECDSASigner makes a self-signed P-256 certificate and its signer.
func newECDSASigner(t testing.TB) *ecdsaSigner {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "xmldsig test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ecdsaSigner{key: key, cert: cert}
}

func (s *ecdsaSigner) writePEM(t testing.TB, dir string) (keyFile, certFile string) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, "key.pem")
	certFile = filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return keyFile, certFile
}

// needXmlsec1 returns xmlsec1's path, skipping the test when it is missing
// (failing it under CI=true).
func needXmlsec1(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xmlsec1 missing under CI: apt-get install -y xmlsec1")
		}
		t.Skip("xmlsec1 missing: apt-get install -y xmlsec1")
	}
	return p
}

// xmlsecPreDigest signs doc (a template with one exc-c14n reference) with
// xmlsec1 and returns the bytes xmlsec1 digested for that reference: its
// exclusive canonical form of the referenced element.
func xmlsecPreDigest(t *testing.T, doc []byte, idAttrArgs []string, prefixList string) []byte {
	t.Helper()
	bin := needXmlsec1(t)
	dir := t.TempDir()
	s := newECDSASigner(t)
	keyFile, _ := s.writePEM(t, dir)
	in := filepath.Join(dir, "in.xml")
	if err := os.WriteFile(in, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--sign", "--privkey-pem", keyFile, "--store-references"}, idAttrArgs...)
	args = append(args, "--output", filepath.Join(dir, "out.xml"), in)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xmlsec1 %v: %v\n%s", args, err, out)
	}
	const startMark, endMark = "== PreDigest data - start buffer:\n", "\n== PreDigest data - end buffer"
	i := bytes.Index(out, []byte(startMark))
	j := bytes.Index(out, []byte(endMark))
	if i < 0 || j < i {
		t.Fatalf("no pre-digest data in xmlsec1's output:\n%s", out)
	}
	return out[i+len(startMark) : j]
}
