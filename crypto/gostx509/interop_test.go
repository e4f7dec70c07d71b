package gostx509

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// opensslCA makes a root CA with openssl's gost engine, issues two
// personal certificates and revokes the second in a CRL. It returns the
// file paths.
type opensslFiles struct {
	dir, root, leaf, revokedLeaf, crl string
}

func makeOpenSSLCA(t *testing.T, algorithm, paramset, md string) opensslFiles {
	t.Helper()
	dir := t.TempDir()
	f := opensslFiles{dir: dir, root: filepath.Join(dir, "root.pem"), leaf: filepath.Join(dir, "leaf.pem"),
		revokedLeaf: filepath.Join(dir, "revoked.pem"), crl: filepath.Join(dir, "crl.pem")}
	writeFile(t, dir, "index.txt", nil)
	writeFile(t, dir, "serial", []byte("1000\n"))
	writeFile(t, dir, "crlnumber", []byte("01\n"))
	writeFile(t, dir, "ca.cnf", []byte(`
[ca]
default_ca = testca
[testca]
dir = .
database = index.txt
serial = serial
crlnumber = crlnumber
new_certs_dir = .
certificate = root.pem
private_key = root.key
default_md = `+md+`
default_days = 30
default_crl_days = 7
policy = anything
copy_extensions = copy
unique_subject = no
[anything]
commonName = supplied
surname = optional
givenName = optional
SNILS = optional
INN = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = OpenSSL GOST Root
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = clientAuth,emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`))
	gen := func(name string) {
		testtool.OpenSSL(t, dir, "genpkey", "-engine", "gost", "-algorithm", algorithm, "-pkeyopt", "paramset:"+paramset, "-out", name)
	}
	gen("root.key")
	testtool.OpenSSL(t, dir, "req", "-engine", "gost", "-x509", "-new", "-key", "root.key", "-config", "ca.cnf", "-extensions", "root", "-days", "365", "-"+md, "-out", "root.pem")
	for _, name := range []string{"leaf", "revoked"} {
		gen(name + ".key")
		testtool.OpenSSL(t, dir, "req", "-engine", "gost", "-new", "-key", name+".key", "-config", "ca.cnf",
			"-subj", "/CN=Ivanov Ivan/SN=Ivanov/GN=Ivan Ivanovich/SNILS=11223344595/INN=500100732259", "-out", name+".csr")
		testtool.OpenSSL(t, dir, "ca", "-engine", "gost", "-batch", "-config", "ca.cnf", "-extensions", "leaf", "-in", name+".csr", "-out", name+".pem", "-notext")
	}
	testtool.OpenSSL(t, dir, "ca", "-engine", "gost", "-batch", "-config", "ca.cnf", "-revoke", "revoked.pem")
	testtool.OpenSSL(t, dir, "ca", "-engine", "gost", "-batch", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem")
	return f
}

func loadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := ParseCertificatesPEM(readFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// TestOpenSSLCertificatesVerify: a CA, certificates and a CRL made by
// openssl's gost engine verify here, and the holder's identifiers read.
func TestOpenSSLCertificatesVerify(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	for _, tc := range []struct {
		algorithm, paramset, md string
		alg                     signer.Algorithm
	}{
		{"gost2012_256", "A", "md_gost12_256", signer.GOST2012_256},
		{"gost2012_256", "TCB", "md_gost12_256", signer.GOST2012_256},
		{"gost2012_512", "C", "md_gost12_512", signer.GOST2012_512},
	} {
		t.Run(tc.algorithm+"-"+tc.paramset, func(t *testing.T) {
			f := makeOpenSSLCA(t, tc.algorithm, tc.paramset, tc.md)
			v, err := LoadVerifier(f.root, []string{f.crl}, true)
			if err != nil {
				t.Fatal(err)
			}
			leaf := loadCert(t, f.leaf)
			opts := VerifyOptions{KeyUsage: x509.KeyUsageContentCommitment, ExtKeyUsage: []asn1.ObjectIdentifier{OIDExtKeyUsageEmailProtection}}
			if _, err := v.Verify(leaf, opts); err != nil {
				t.Fatalf("openssl's certificate: %v", err)
			}
			if _, err := v.Verify(loadCert(t, f.revokedLeaf), opts); !errors.Is(err, ErrRevoked) {
				t.Errorf("openssl-revoked certificate: %v, want ErrRevoked", err)
			}
			opts.At = leaf.NotAfter.Add(time.Hour)
			if _, err := v.Verify(leaf, opts); !errors.Is(err, ErrExpired) {
				t.Errorf("after NotAfter: %v, want ErrExpired", err)
			}
			s, err := SubjectOf(leaf)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Subject{CommonName: "Ivanov Ivan", Surname: "Ivanov", GivenNames: "Ivan Ivanovich", SNILS: "11223344595", INN: "500100732259"}); s != want {
				t.Errorf("subject %+v, want %+v", s, want)
			}
			if a, err := Algorithm(leaf); err != nil || a != tc.alg {
				t.Errorf("Algorithm = %v, %v", a, err)
			}
		})
	}
}

// TestOurCertificatesInOpenSSL: a chain and CRLs built here pass `openssl
// verify` with CRL checks, and a revoked certificate fails it.
func TestOurCertificatesInOpenSSL(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			p := newPKI(t, alg)
			_, revoked, err := p.inter.IssueKey(t.Context(), alg, SigningTemplate(doctor, t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)))
			if err != nil {
				t.Fatal(err)
			}
			_, interCRL, err := p.inter.CRL(t.Context(), CRLTemplate{Number: big.NewInt(3), ThisUpdate: t0.AddDate(0, 0, -1), NextUpdate: t0.AddDate(0, 0, 7),
				Revoked: []Revocation{{SerialNumber: revoked.SerialNumber, RevokedAt: t0.AddDate(0, 0, -1)}}})
			if err != nil {
				t.Fatal(err)
			}
			_, rootCRL, err := p.root.CRL(t.Context(), CRLTemplate{Number: big.NewInt(1), ThisUpdate: t0.AddDate(0, 0, -1), NextUpdate: t0.AddDate(0, 0, 7)})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFile(t, dir, "root.pem", pemCert(p.root.Certificate))
			writeFile(t, dir, "inter.pem", pemCert(p.inter.Certificate))
			writeFile(t, dir, "leaf.pem", pemCert(p.leaf))
			writeFile(t, dir, "revoked.pem", pemCert(revoked))
			writeFile(t, dir, "crls.pem", append(pemEncode("X509 CRL", interCRL), pemEncode("X509 CRL", rootCRL)...))
			args := []string{"verify", "-engine", "gost", "-CAfile", "root.pem", "-untrusted", "inter.pem",
				"-crl_check_all", "-CRLfile", "crls.pem", "-attime", fmt.Sprint(t0.Unix()), "-x509_strict"}
			if out, err := testtool.RunOpenSSL(dir, append(args, "leaf.pem")...); err != nil || !strings.Contains(string(out), "OK") {
				t.Errorf("openssl verify of our chain: %v %s", err, out)
			}
			out, err := testtool.RunOpenSSL(dir, append(args, "revoked.pem")...)
			if err == nil || !strings.Contains(err.Error(), "revoked") {
				t.Errorf("openssl verify of our revoked certificate: %v %s", err, out)
			}
			// openssl prints our subject's СНИЛС and ИНН as NumericString.
			text := string(testtool.OpenSSL(t, dir, "x509", "-in", "leaf.pem", "-noout", "-subject", "-nameopt", "RFC2253,show_type,-esc_msb"))
			for _, want := range []string{"SNILS=NUMERICSTRING:11223344595", "INN=NUMERICSTRING:500100732259"} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl subject %q lacks %q", text, want)
				}
			}
		})
	}
}
