package cms

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// t0 is the tests' fixed "now".
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// keySigner is a signer.Signer over an in-process key, for tests.
type keySigner struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s keySigner) Certificate() *x509.Certificate { return s.cert }

func newKeySigner(t testing.TB, key crypto.PrivateKey, cert *x509.Certificate) signer.Signer {
	t.Helper()
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keySigner{ds, cert}
}

// pki is a root, an issuing CA and a doctor with a key.
type pki struct {
	root, inter *gostx509.TestCA
	doctor      signer.Signer
	doctorKey   crypto.PrivateKey
}

var doctor = gostx509.Subject{CommonName: "Иванов Иван Иванович", Surname: "Иванов", GivenNames: "Иван Иванович", SNILS: "11223344595", INN: "500100732259"}

func newPKI(t testing.TB, alg signer.Algorithm) *pki {
	t.Helper()
	ctx := context.Background()
	root, err := gostx509.NewTestCA(ctx, alg, gostx509.Subject{CommonName: "Test Root CA"}, t0.AddDate(-5, 0, 0), t0.AddDate(10, 0, 0), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.IssueCA(ctx, gostx509.Subject{CommonName: "Test Issuing CA"}, t0.AddDate(-2, 0, 0), t0.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := inter.IssueKey(ctx, alg, gostx509.SigningTemplate(doctor, t0.AddDate(0, -6, 0), t0.AddDate(0, 6, 0)))
	if err != nil {
		t.Fatal(err)
	}
	return &pki{root: root, inter: inter, doctor: newKeySigner(t, key, cert), doctorKey: key}
}

func (p *pki) verifier(t testing.TB) *gostx509.Verifier {
	t.Helper()
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{p.root.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t testing.TB, key crypto.PrivateKey) []byte {
	t.Helper()
	p, err := gostx509.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// document is a 50 KiB stand-in for a СЭМД.
func document(n int) []byte {
	doc := make([]byte, n)
	for i := range doc {
		doc[i] = byte(i*7 + i>>8)
	}
	return doc
}
