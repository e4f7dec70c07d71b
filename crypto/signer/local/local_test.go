package local

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer/pkcs12"
)

func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// keyKind is a key openssl makes: the genpkey arguments and whether it
// needs the gost engine.
type keyKind struct {
	name string
	gost bool
	args []string
}

var (
	ecKey      = keyKind{"ECDSA P-256", false, []string{"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}}
	gost256A   = keyKind{"ГОСТ 256 CryptoPro-A", true, []string{"-algorithm", "gost2012_256", "-pkeyopt", "paramset:A"}}
	gost256XA  = keyKind{"ГОСТ 256 CryptoPro-XchA", true, []string{"-algorithm", "gost2012_256", "-pkeyopt", "paramset:XA"}}
	gost256TCA = keyKind{"ГОСТ 256 tc26 paramSetA", true, []string{"-algorithm", "gost2012_256", "-pkeyopt", "paramset:TCA"}}
	gost512A   = keyKind{"ГОСТ 512 tc26 paramSetA", true, []string{"-algorithm", "gost2012_512", "-pkeyopt", "paramset:A"}}
	gost512B   = keyKind{"ГОСТ 512 tc26 paramSetB", true, []string{"-algorithm", "gost2012_512", "-pkeyopt", "paramset:B"}}
)

func (k keyKind) engine() []string {
	if k.gost {
		return []string{"-engine", "gost"}
	}
	return nil
}

// makeKeyAndCert writes prefix.key.pem and a self-signed prefix.pem.
func makeKeyAndCert(t *testing.T, dir, prefix string, k keyKind) {
	t.Helper()
	openssl(t, dir, append(append(append([]string{"genpkey"}, k.engine()...), k.args...), "-out", prefix+".key.pem")...)
	openssl(t, dir, append(append([]string{"req"}, k.engine()...), "-new", "-x509", "-key", prefix+".key.pem", "-subj", "/CN=local signer test", "-days", "2", "-out", prefix+".pem")...)
}

// verifyWithOpenSSL checks sig (raw, as SignDigest returns it) over digest
// with the public key of certFile, by openssl pkeyutl.
func verifyWithOpenSSL(t *testing.T, dir string, k keyKind, certFile string, alg signer.Algorithm, digest, sig []byte) {
	t.Helper()
	pub := openssl(t, dir, append(append([]string{"x509"}, k.engine()...), "-in", certFile, "-pubkey", "-noout")...)
	if err := os.WriteFile(filepath.Join(dir, "pub.pem"), []byte(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	if alg == signer.ECDSAP256SHA256 {
		der, err := gostx509.ECDSARawToASN1(sig)
		if err != nil {
			t.Fatal(err)
		}
		sig = der
	}
	if err := os.WriteFile(filepath.Join(dir, "digest.bin"), digest, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sig.bin"), sig, 0o600); err != nil {
		t.Fatal(err)
	}
	out := openssl(t, dir, append(append([]string{"pkeyutl"}, k.engine()...), "-verify", "-pubin", "-inkey", "pub.pem", "-in", "digest.bin", "-sigfile", "sig.bin")...)
	if !strings.Contains(out, "Signature Verified Successfully") {
		t.Fatalf("openssl does not verify the signature: %s", out)
	}
}

func signAndCheck(t *testing.T, dir string, k keyKind, certFile string, s *Signer) {
	t.Helper()
	for _, msg := range []string{"", "<soap:Body wsu:Id=\"body\">…</soap:Body>"} {
		h := s.Algorithm().NewHash()
		h.Write([]byte(msg))
		digest := h.Sum(nil)
		sig, err := s.SignDigest(context.Background(), digest)
		if err != nil {
			t.Fatalf("SignDigest: %v", err)
		}
		if len(sig) != s.Algorithm().SignatureSize() {
			t.Fatalf("signature is %d bytes, want %d", len(sig), s.Algorithm().SignatureSize())
		}
		if err := gostx509.VerifyDigest(s.Certificate(), digest, sig); err != nil {
			t.Fatalf("own verification: %v", err)
		}
		verifyWithOpenSSL(t, dir, k, certFile, s.Algorithm(), digest, sig)
	}
}

func TestLoadPEMFilesSignsWhatOpenSSLVerifies(t *testing.T) {
	testtool.Require(t, "openssl")
	tests := []struct {
		kind keyKind
		want signer.Algorithm
	}{
		{ecKey, signer.ECDSAP256SHA256},
		{gost256A, signer.GOST2012_256},
		{gost256XA, signer.GOST2012_256},
		{gost256TCA, signer.GOST2012_256},
		{gost512A, signer.GOST2012_512},
		{gost512B, signer.GOST2012_512},
	}
	for _, tc := range tests {
		t.Run(tc.kind.name, func(t *testing.T) {
			requireOpenSSL(t, tc.kind.gost)
			dir := t.TempDir()
			makeKeyAndCert(t, dir, "a", tc.kind)
			s, err := LoadPEMFiles(filepath.Join(dir, "a.key.pem"), filepath.Join(dir, "a.pem"), "")
			if err != nil {
				t.Fatalf("LoadPEMFiles: %v", err)
			}
			if s.Algorithm() != tc.want {
				t.Fatalf("algorithm %v, want %v", s.Algorithm(), tc.want)
			}
			signAndCheck(t, dir, tc.kind, "a.pem", s)
		})
	}
}

func TestLoadEncryptedPEMSignsWhatOpenSSLVerifies(t *testing.T) {
	testtool.Require(t, "openssl")
	tests := []struct {
		name string
		kind keyKind
		args []string // openssl pkcs8 -topk8 arguments
	}{
		{"ECDSA, PBES2 AES-256", ecKey, []string{"-v2", "aes-256-cbc"}},
		{"ГОСТ 256, PBES2 AES-256 with HMAC-Streebog-512", gost256A, []string{"-v2", "aes-256-cbc", "-v2prf", "id-tc26-hmac-gost-3411-2012-512"}},
		{"ГОСТ 512, PKCS #12 PBE 3DES", gost512A, []string{"-v1", "PBE-SHA1-3DES"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireOpenSSL(t, tc.kind.gost)
			dir := t.TempDir()
			makeKeyAndCert(t, dir, "a", tc.kind)
			openssl(t, dir, append(append(append([]string{"pkcs8"}, tc.kind.engine()...), "-topk8", "-in", "a.key.pem", "-out", "enc.pem", "-passout", "pass:pem-pass"), tc.args...)...)
			s, err := LoadPEMFiles(filepath.Join(dir, "enc.pem"), filepath.Join(dir, "a.pem"), "pem-pass")
			if err != nil {
				t.Fatalf("LoadPEMFiles: %v", err)
			}
			signAndCheck(t, dir, tc.kind, "a.pem", s)
		})
	}
}

func TestLoadPKCS12FileSignsWhatOpenSSLVerifies(t *testing.T) {
	testtool.Require(t, "openssl")
	tests := []struct {
		name string
		kind keyKind
		args []string
	}{
		{"ECDSA, OpenSSL 3 default", ecKey, nil},
		{"ГОСТ 256, OpenSSL 3 default", gost256A, nil},
		{"ГОСТ 512, OpenSSL 3 default", gost512A, nil},
		{"ГОСТ 256, Streebog MAC", gost256A, []string{"-macalg", "md_gost12_256"}},
		{"ГОСТ 512, Streebog-512 MAC", gost512A, []string{"-macalg", "md_gost12_512"}},
		{"ГОСТ 256, legacy 3DES", gost256A, []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireOpenSSL(t, tc.kind.gost)
			dir := t.TempDir()
			makeKeyAndCert(t, dir, "a", tc.kind)
			openssl(t, dir, append(append(append([]string{"pkcs12"}, tc.kind.engine()...), "-export", "-inkey", "a.key.pem", "-in", "a.pem", "-out", "a.p12", "-passout", "pass:s3cret"), tc.args...)...)
			s, err := LoadPKCS12File(filepath.Join(dir, "a.p12"), "s3cret")
			if err != nil {
				t.Fatalf("LoadPKCS12File: %v", err)
			}
			signAndCheck(t, dir, tc.kind, "a.pem", s)
		})
	}
}

func TestLoadPKCS12PicksTheKeysCertificate(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	makeKeyAndCert(t, dir, "a", gost256A)
	makeKeyAndCert(t, dir, "b", gost256A)
	makeKeyAndCert(t, dir, "c", gost512A)
	other := openssl(t, dir, "x509", "-in", "b.pem") + openssl(t, dir, "x509", "-in", "c.pem")
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	openssl(t, dir, "pkcs12", "-engine", "gost", "-export", "-inkey", "a.key.pem", "-in", "a.pem", "-certfile", "chain.pem", "-out", "a.p12", "-passout", "pass:s3cret")
	s, err := LoadPKCS12File(filepath.Join(dir, "a.p12"), "s3cret")
	if err != nil {
		t.Fatalf("LoadPKCS12File: %v", err)
	}
	want := pemCert(t, filepath.Join(dir, "a.pem"))
	if !s.Certificate().Equal(want) {
		t.Fatalf("signer certificate is %q, want the key's", s.Certificate().Subject)
	}
	if len(s.Chain()) != 2 {
		t.Errorf("chain has %d certificates, want the 2 others", len(s.Chain()))
	}
	signAndCheck(t, dir, gost256A, "a.pem", s)

	// A PEM bundle with the key's certificate last: file order cannot
	// pick it by luck.
	bundle := other + openssl(t, dir, "x509", "-in", "a.pem")
	keyPEM, err := os.ReadFile(filepath.Join(dir, "a.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s, err = LoadPEM(keyPEM, []byte(bundle), "")
	if err != nil {
		t.Fatalf("LoadPEM: %v", err)
	}
	if !s.Certificate().Equal(want) || len(s.Chain()) != 2 {
		t.Errorf("from the bundle: certificate %q, chain of %d; want the key's and 2", s.Certificate().Subject, len(s.Chain()))
	}
}

func pemCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := gostx509.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func TestLoadRefusals(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	dir := t.TempDir()
	makeKeyAndCert(t, dir, "a", gost256A)
	makeKeyAndCert(t, dir, "b", gost256A)
	makeKeyAndCert(t, dir, "big", gost512A)
	makeKeyAndCert(t, dir, "ec", ecKey)
	openssl(t, dir, "pkcs12", "-engine", "gost", "-export", "-inkey", "a.key.pem", "-in", "a.pem", "-out", "a.p12", "-passout", "pass:s3cret")
	openssl(t, dir, "pkcs12", "-engine", "gost", "-export", "-inkey", "a.key.pem", "-in", "a.pem", "-out", "gost89.p12", "-passout", "pass:s3cret", "-keypbe", "gost89", "-certpbe", "gost89")
	openssl(t, dir, "genpkey", "-engine", "gost", "-algorithm", "gost2001", "-pkeyopt", "paramset:A", "-out", "old.key.pem")
	openssl(t, dir, "pkcs8", "-engine", "gost", "-topk8", "-in", "ec.key.pem", "-out", "enc.key.pem", "-passout", "pass:s3cret")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p12 := read("a.p12")
	corrupt := bytes.Clone(p12)
	corrupt = corrupt[:len(corrupt)-7]

	tests := []struct {
		name      string
		load      func() (*Signer, error)
		wantErr   error
		wantOID   string
		forbidden string // text the error must not contain
	}{
		{"PEM key with another key's certificate", func() (*Signer, error) { return LoadPEM(read("a.key.pem"), read("b.pem"), "") }, ErrKeyCertificateMismatch, "", ""},
		{"256-bit key with a 512-bit certificate", func() (*Signer, error) { return LoadPEM(read("a.key.pem"), read("big.pem"), "") }, ErrKeyCertificateMismatch, "", ""},
		{"ГОСТ key with an ECDSA certificate", func() (*Signer, error) { return LoadPEM(read("a.key.pem"), read("ec.pem"), "") }, ErrKeyCertificateMismatch, "", ""},
		{"certificate file given as key", func() (*Signer, error) { return LoadPEM(read("a.pem"), read("a.pem"), "") }, gostx509.ErrMalformed, "", ""},
		{"key file given as certificate", func() (*Signer, error) { return LoadPEM(read("a.key.pem"), read("a.key.pem"), "") }, gostx509.ErrMalformed, "", ""},
		{"ГОСТ 2001 key", func() (*Signer, error) { return LoadPEM(read("old.key.pem"), read("a.pem"), "") }, gostx509.ErrUnsupportedAlgorithm, "", ""},
		{"encrypted PEM key without password", func() (*Signer, error) { return LoadPEM(read("enc.key.pem"), read("ec.pem"), "") }, ErrPasswordRequired, "", ""},
		{"encrypted PEM key, wrong password", func() (*Signer, error) { return LoadPEM(read("enc.key.pem"), read("ec.pem"), "wrong-password") }, pkcs12.ErrIncorrectPassword, "", "wrong-password"},
		{"PKCS #12 wrong password", func() (*Signer, error) { return LoadPKCS12(p12, "wrong-password") }, pkcs12.ErrIncorrectPassword, "", "wrong-password"},
		{"PKCS #12 truncated", func() (*Signer, error) { return LoadPKCS12(corrupt, "s3cret") }, pkcs12.ErrMalformed, "", ""},
		{"PKCS #12 gost89 PBE", func() (*Signer, error) { return LoadPKCS12(read("gost89.p12"), "s3cret") }, nil, "1.2.643.2.2.21", ""},
		{"missing file", func() (*Signer, error) { return LoadPKCS12File(filepath.Join(dir, "nope.p12"), "s3cret") }, os.ErrNotExist, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.load()
			if err == nil {
				t.Fatalf("loaded a signer (%v), want an error", s.Algorithm())
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
			if tc.wantOID != "" {
				var ue *pkcs12.UnsupportedAlgorithmError
				if !errors.As(err, &ue) || ue.OID.String() != tc.wantOID {
					t.Errorf("got %v, want an UnsupportedAlgorithmError for %s", err, tc.wantOID)
				}
			}
			if tc.forbidden != "" && strings.Contains(err.Error(), tc.forbidden) {
				t.Errorf("error text %q contains %q", err, tc.forbidden)
			}
		})
	}
}

func TestSignDigestRefusesBadInput(t *testing.T) {
	pki, err := GenerateDevPKI(context.Background(), signer.GOST2012_256, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := pki.Leaf
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		digest []byte
		want   error
	}{
		{"short digest", context.Background(), make([]byte, 31), ErrDigestSize},
		{"Streebog-512 digest for a 256-bit key", context.Background(), make([]byte, 64), ErrDigestSize},
		{"nil digest", context.Background(), nil, ErrDigestSize},
		{"canceled context", canceled, make([]byte, 32), context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.SignDigest(tc.ctx, tc.digest); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewRefusesUnsupportedKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := GenerateDevPKI(context.Background(), signer.ECDSAP256SHA256, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []any{p384, "not a key", nil} {
		if _, err := New(key, pki.Leaf.Certificate()); !errors.Is(err, ErrUnsupportedKey) {
			t.Errorf("New(%T): got %v, want ErrUnsupportedKey", key, err)
		}
	}
	if _, err := New(pki.Leaf.privateKey(), nil); !errors.Is(err, ErrKeyCertificateMismatch) || strings.Contains(err.Error(), "%!") {
		t.Errorf("nil certificate: got %v, want ErrKeyCertificateMismatch", err)
	}
	if _, err := New(pki.CA.privateKey(), pki.Leaf.Certificate()); !errors.Is(err, ErrKeyCertificateMismatch) {
		t.Errorf("CA key with leaf certificate: got %v, want ErrKeyCertificateMismatch", err)
	}
}

func TestDevPKIVerifiesWithOpenSSL(t *testing.T) {
	testtool.Require(t, "openssl")
	tests := []struct {
		alg  signer.Algorithm
		kind keyKind
	}{
		{signer.ECDSAP256SHA256, ecKey},
		{signer.GOST2012_256, gost256A},
		{signer.GOST2012_512, gost512A},
	}
	for _, tc := range tests {
		t.Run(tc.alg.String(), func(t *testing.T) {
			requireOpenSSL(t, tc.kind.gost)
			pki, err := GenerateDevPKI(context.Background(), tc.alg, time.Now(), 24*time.Hour)
			if err != nil {
				t.Fatalf("GenerateDevPKI: %v", err)
			}
			if got := pki.Leaf.Chain(); len(got) != 1 || !got[0].Equal(pki.CA.Certificate()) {
				t.Errorf("leaf chain is not [CA]")
			}
			dir := t.TempDir()
			if err := pki.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(filepath.Join(dir, "signer.key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode: %v %v", fi.Mode(), err)
			}
			out := openssl(t, dir, append(append([]string{"verify"}, tc.kind.engine()...), "-CAfile", "ca.pem", "signer.pem")...)
			if !strings.Contains(out, "signer.pem: OK") {
				t.Fatalf("openssl verify: %s", out)
			}
			loaded, err := LoadPEMFiles(filepath.Join(dir, "signer.key.pem"), filepath.Join(dir, "signer.pem"), "")
			if err != nil {
				t.Fatalf("LoadPEMFiles of the written PKI: %v", err)
			}
			if !loaded.Certificate().Equal(pki.Leaf.Certificate()) {
				t.Errorf("loaded certificate is not the leaf")
			}
			signAndCheck(t, dir, tc.kind, "signer.pem", loaded)
		})
	}
}

// requireOpenSSL needs openssl, and its ГОСТ engine when gost.
func requireOpenSSL(t *testing.T, gost bool) {
	t.Helper()
	if gost {
		testtool.RequireOpenSSLGost(t)
		return
	}
	testtool.Require(t, "openssl")
}
