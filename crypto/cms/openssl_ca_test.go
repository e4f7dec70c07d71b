package cms

import (
	"bytes"
	"errors"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"os"
	"path/filepath"
	"testing"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

// TestOpenSSLOnly: a CA, a doctor's certificate with СНИЛС and ИНН and a
// detached signature, all made by openssl's gost engine with nothing of
// ours, verify here, and the doctor's identifiers are read from the result.
func TestOpenSSLOnly(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	for _, tc := range []struct {
		algorithm, paramset, md string
		alg                     signer.Algorithm
	}{
		{"gost2012_256", "A", "md_gost12_256", signer.GOST2012_256},
		{"gost2012_256", "TCA", "md_gost12_256", signer.GOST2012_256},
		{"gost2012_512", "A", "md_gost12_512", signer.GOST2012_512},
	} {
		t.Run(tc.algorithm+"-"+tc.paramset, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "ext.cnf", []byte(`
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`))
			for _, k := range []string{"root.key", "leaf.key"} {
				testtool.OpenSSL(t, dir, "genpkey", "-engine", "gost", "-algorithm", tc.algorithm, "-pkeyopt", "paramset:"+tc.paramset, "-out", k)
			}
			testtool.OpenSSL(t, dir, "req", "-engine", "gost", "-x509", "-new", "-key", "root.key", "-subj", "/CN=OpenSSL Root/O=Test",
				"-config", "ext.cnf", "-extensions", "root", "-days", "30", "-"+tc.md, "-out", "root.pem")
			testtool.OpenSSL(t, dir, "req", "-engine", "gost", "-new", "-key", "leaf.key", "-config", "ext.cnf",
				"-subj", "/CN=Petrova Anna/SN=Petrova/GN=Anna Sergeevna/SNILS=08765430300/INN=773301234567", "-out", "leaf.csr")
			testtool.OpenSSL(t, dir, "x509", "-engine", "gost", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key",
				"-set_serial", "4242", "-extfile", "ext.cnf", "-extensions", "leaf", "-days", "10", "-"+tc.md, "-out", "leaf.pem")
			doc := document(50 << 10)
			writeFile(t, dir, "doc.xml", doc)
			der := testtool.OpenSSL(t, dir, "cms", "-engine", "gost", "-sign", "-binary", "-in", "doc.xml", "-signer", "leaf.pem",
				"-inkey", "leaf.key", "-md", tc.md, "-outform", "DER")

			v, err := gostx509.LoadVerifier(filepath.Join(dir, "root.pem"), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			content, err := os.Open(filepath.Join(dir, "doc.xml"))
			if err != nil {
				t.Fatal(err)
			}
			defer content.Close()
			res, err := Verify(der, content, Options{Verifier: v})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.Algorithm != tc.alg || len(res.Chain) != 2 || res.Signer.SerialNumber.Int64() != 4242 {
				t.Errorf("algorithm %v, chain of %d, serial %v", res.Algorithm, len(res.Chain), res.Signer.SerialNumber)
			}
			s, err := gostx509.SubjectOf(res.Signer)
			if err != nil {
				t.Fatal(err)
			}
			if s.SNILS != "08765430300" || s.INN != "773301234567" || s.Surname != "Petrova" || s.GivenNames != "Anna Sergeevna" {
				t.Errorf("subject %+v", s)
			}
			h := tc.alg.NewHash()
			h.Write(doc)
			if got := h.Sum(nil); string(got) != string(res.Digest) {
				t.Error("Digest is not the document's")
			}
			// The same signature over one changed byte.
			doc[len(doc)/2] ^= 1
			if _, err := Verify(der, bytes.NewReader(doc), Options{Verifier: v}); !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("changed document: %v, want ErrDigestMismatch", err)
			}
		})
	}
}
