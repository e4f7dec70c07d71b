package testpki

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/cms"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/local"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
)

// TestRegenerate rewrites files/ when EGISZ_REGENERATE_TESTPKI=1 (then
// `make docs` copies them to docs/examples/testpki and the signed examples
// must be made again).
func TestRegenerate(t *testing.T) {
	if os.Getenv("EGISZ_REGENERATE_TESTPKI") != "1" {
		t.Skip("set EGISZ_REGENERATE_TESTPKI=1 to make a new test PKI")
	}
	out, err := Generate(context.Background(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range out {
		if err := os.WriteFile(filepath.Join("files", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommittedPKI: the committed certificates chain to the CA until the
// end of 2035 and from their start, carry the holders and serials the
// examples declare, hold the keys committed beside them, and are what
// docs/examples/testpki publishes.
func TestCommittedPKI(t *testing.T) {
	pki, v := loaded(t)
	cases := []struct {
		name    string
		s       interface{ Certificate() *x509.Certificate }
		subject gostx509.Subject
		serial  string
	}{
		{"doctor", pki.Doctor, DoctorSubject, "1d7a3f25c9b8e4000000000000000aa"},
		{"organization", pki.Organization, OrganizationSubject, "2aa41be00ce11f0000000000000004c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.s.Certificate()
			for _, at := range []time.Time{c.NotBefore, time.Date(2035, 12, 31, 23, 59, 0, 0, time.UTC), time.Now()} {
				if _, err := v.Verify(c, gostx509.VerifyOptions{At: at, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}); err != nil {
					t.Errorf("chain at %s: %v", at, err)
				}
			}
			got, err := gostx509.SubjectOf(c)
			if err != nil || got != tc.subject {
				t.Errorf("subject %+v (%v), want %+v", got, err, tc.subject)
			}
			if c.SerialNumber.Text(16) != tc.serial {
				t.Errorf("serial %s, want %s", c.SerialNumber.Text(16), tc.serial)
			}
		})
	}
	if DoctorSubject.SNILS == "" || OrganizationSubject.SNILS != "" || OrganizationSubject.OGRN == "" {
		t.Error("the doctor's certificate must carry a СНИЛС, the organization's an ОГРН and no СНИЛС")
	}
	// The keys sign what the certificates verify: a CMS signature by each.
	content := []byte("<ClinicalDocument/>")
	for _, sg := range []*local.Signer{pki.Doctor, pki.Organization} {
		signVerified(t, sg, content, time.Now())
	}
	for _, name := range FileNames {
		want, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", "docs", "examples", "testpki", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/examples/testpki/%s is stale or missing (%v): run `make docs`", name, err)
		}
	}
}

// TestOpenSSLAgrees: OpenSSL with its ГОСТ engine verifies the committed
// certificates against the committed CA and reads the committed keys.
func TestOpenSSLAgrees(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	for _, name := range FileNames {
		b, err := File(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, cert := range []string{DoctorCertFile, OrganizationCert} {
		out := testtool.OpenSSL(t, dir, "verify", "-engine", "gost", "-attime", "2082758340", "-CAfile", CAFile, cert) // 2035-12-31
		if !bytes.Contains(out, []byte(": OK")) {
			t.Errorf("openssl verify %s: %s", cert, out)
		}
	}
	for _, pair := range [][2]string{{DoctorKeyFile, DoctorCertFile}, {OrganizationKeyFile, OrganizationCert}} {
		fromKey := testtool.OpenSSL(t, dir, "pkey", "-engine", "gost", "-in", pair[0], "-pubout")
		fromCert := testtool.OpenSSL(t, dir, "x509", "-engine", "gost", "-in", pair[1], "-noout", "-pubkey")
		if !bytes.Equal(fromKey, fromCert) {
			t.Errorf("%s does not hold the key of %s", pair[0], pair[1])
		}
	}
	// The README's command signs what our CMS code verifies.
	content := []byte("<ClinicalDocument xmlns=\"urn:hl7-org:v3\"/>\n")
	if err := os.WriteFile(filepath.Join(dir, "document.cda.xml"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	testtool.OpenSSL(t, dir, "cms", "-sign", "-engine", "gost", "-binary", "-outform", "DER", "-in", "document.cda.xml",
		"-signer", DoctorCertFile, "-inkey", DoctorKeyFile, "-md", "md_gost12_256", "-out", "document.doctor.sig")
	der, err := os.ReadFile(filepath.Join(dir, "document.doctor.sig"))
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatalf("parse openssl's signature: %v", err)
	}
	if err := sd.Verify(bytes.NewReader(content)); err != nil {
		t.Errorf("openssl's signature does not verify: %v", err)
	}
	if err := sd.Verify(bytes.NewReader(append(content, ' '))); err == nil {
		t.Error("openssl's signature verifies over another file")
	}
}

// TestIssue: a certificate Issue makes chains to the committed CA, its
// signer's CMS signatures verify, and the same random stream makes the same
// certificate and signature again.
func TestIssue(t *testing.T) {
	pki, v := loaded(t)
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	tmpl := gostx509.SigningTemplate(gostx509.Subject{CommonName: "Иванов Иван Иванович", SNILS: "11223344595", Country: "RU"}, now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	tmpl.SerialNumber = big.NewInt(0xabc001)
	content := []byte("<ClinicalDocument/>")
	issue := func(seed uint64) ([]byte, []byte) {
		t.Helper()
		r := mrand.NewChaCha8([32]byte{byte(seed)})
		s, err := pki.Issue(context.Background(), tmpl, r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(s.Certificate(), gostx509.VerifyOptions{At: now, KeyUsage: x509.KeyUsageDigitalSignature}); err != nil {
			t.Fatalf("issued certificate: %v", err)
		}
		return s.Certificate().Raw, signVerified(t, s, content, now)
	}
	c1, s1 := issue(1)
	c2, s2 := issue(1)
	c3, _ := issue(2)
	if !bytes.Equal(c1, c2) || !bytes.Equal(s1, s2) {
		t.Error("the same random stream made another certificate or signature")
	}
	if bytes.Equal(c1, c3) {
		t.Error("another random stream made the same certificate")
	}
	tmpl.SerialNumber = nil
	if _, err := pki.Issue(context.Background(), tmpl, mrand.NewChaCha8([32]byte{})); err == nil {
		t.Error("issued a certificate without a serial number")
	}
}

// loaded is the committed PKI and a verifier trusting its CA.
func loaded(t *testing.T) (*PKI, *gostx509.Verifier) {
	t.Helper()
	pki, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	v, err := pki.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return pki, v
}

// signVerified signs content with s at the given time and checks that the
// signature verifies over it.
func signVerified(t *testing.T, s signer.Signer, content []byte, at time.Time) []byte {
	t.Helper()
	der, err := cms.Sign(context.Background(), s, bytes.NewReader(content), cms.SignOptions{SigningTime: at})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.Verify(bytes.NewReader(content)); err != nil {
		t.Fatalf("certificate %x: signature does not verify: %v", s.Certificate().SerialNumber, err)
	}
	return der
}
