package cda_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/adapters/cda"
	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/internal/semdtest"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"github.com/egisz-gateway/egisz-gateway/topics"
)

// opensslCA is a CA, a doctor's and an organization's certificate made by
// openssl's ГОСТ engine with nothing of ours, in dir.
func opensslCA(t *testing.T, dir, algorithm, md string, ev topics.DocumentEvent) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ext.cnf"), []byte(`
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = emailProtection,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[encipher]
keyUsage = critical,keyEncipherment
authorityKeyIdentifier = keyid
`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"root.key", "doctor.key", "org.key"} {
		testtool.OpenSSL(t, dir, "genpkey", "-engine", "gost", "-algorithm", algorithm, "-pkeyopt", "paramset:A", "-out", k)
	}
	testtool.OpenSSL(t, dir, "req", "-engine", "gost", "-x509", "-new", "-key", "root.key", "-subj", "/CN=OpenSSL accredited CA/O=Test",
		"-config", "ext.cnf", "-extensions", "root", "-days", "30", "-"+md, "-out", "root.pem")
	p := ev.Signers[0].Person
	subjects := map[string]string{
		"doctor": "/CN=" + p.FamilyName + " " + p.GivenName + " " + p.Patronymic + "/SN=" + p.FamilyName + "/GN=" + p.GivenName + " " + p.Patronymic + "/SNILS=12345678964",
		"org":    "/CN=Больница/O=Больница/OGRN=" + semdtest.OGRNFor(ev.MOOID),
	}
	for name, subj := range subjects {
		testtool.OpenSSL(t, dir, "req", "-engine", "gost", "-new", "-utf8", "-key", name+".key", "-config", "ext.cnf", "-subj", subj, "-out", name+".csr")
		for _, ext := range []string{"leaf", "encipher"} {
			out := name + ".pem"
			if ext != "leaf" {
				out = name + "-" + ext + ".pem"
			}
			testtool.OpenSSL(t, dir, "x509", "-engine", "gost", "-req", "-in", name+".csr", "-CA", "root.pem", "-CAkey", "root.key",
				"-CAcreateserial", "-extfile", "ext.cnf", "-extensions", ext, "-days", "10", "-"+md, "-out", out)
		}
	}
}

// TestCheckOpenSSLSignedDocument: the same checks on a document signed by
// openssl's ГОСТ engine (cms -sign, detached) under a CA openssl made.
func TestCheckOpenSSLSignedDocument(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	ctx := context.Background()
	for _, tc := range []struct {
		algorithm, md string
		alg           signer.Algorithm
	}{
		{"gost2012_256", "md_gost12_256", signer.GOST2012_256},
		{"gost2012_512", "md_gost12_512", signer.GOST2012_512},
	} {
		t.Run(tc.algorithm, func(t *testing.T) {
			dir := t.TempDir()
			now := time.Now()
			ev := event()
			ev.CreatedAt = topics.DateTime(now.Add(-10 * time.Minute).Format(time.RFC3339))
			for i := range ev.Signers {
				ev.Signers[i].SignedAt = topics.DateTime(now.Format(time.RFC3339))
			}
			opensslCA(t, dir, tc.algorithm, tc.md, ev)
			file, err := semdtest.File(ev, 50<<10)
			if err != nil {
				t.Fatal(err)
			}
			other := append(append([]byte(nil), file...), ' ')
			for name, data := range map[string][]byte{"doc.xml": file, "other.xml": other} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sign := func(in string, args ...string) []byte {
				return testtool.OpenSSL(t, dir, append([]string{"cms", "-engine", "gost", "-sign", "-binary", "-in", in, "-md", tc.md, "-outform", "DER"}, args...)...)
			}
			doctorSig := sign("doc.xml", "-signer", "doctor.pem", "-inkey", "doctor.key")
			orgSig := sign("doc.xml", "-signer", "org.pem", "-inkey", "org.key")
			v, err := gostx509.LoadVerifier(filepath.Join(dir, "root.pem"), nil, false)
			if err != nil {
				t.Fatal(err)
			}
			checker, err := cda.NewChecker(cda.Config{Verifier: v})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name string
				sigs [][]byte
				want []string
			}{
				{"good document", [][]byte{doctorSig, orgSig}, nil},
				{"signature over another file", [][]byte{sign("other.xml", "-signer", "doctor.pem", "-inkey", "doctor.key"), orgSig},
					[]string{"INCONSISTENT_DIGESTS@signers", "SIGNATURE_DIGEST_MISMATCH@signers[0].signature"}},
				{"two signers in one container", [][]byte{sign("doc.xml", "-signer", "doctor.pem", "-inkey", "doctor.key", "-signer", "org.pem", "-inkey", "org.key"), orgSig},
					[]string{"MULTIPLE_SIGNERS@signers[0].signature"}},
				{"no certificate in the container", [][]byte{sign("doc.xml", "-signer", "doctor.pem", "-inkey", "doctor.key", "-nocerts"), orgSig},
					[]string{"NO_END_ENTITY_CERTIFICATE@signers[0].signature"}},
				{"no signed attributes", [][]byte{sign("doc.xml", "-signer", "doctor.pem", "-inkey", "doctor.key", "-noattr"), orgSig},
					[]string{"WRONG_SIGNATURE_FORMAT@signers[0].signature"}},
				{"doctor signed with the organization's certificate", [][]byte{orgSig, orgSig},
					[]string{"SIGNATURE_ORGANIZATION_CERT@signers[0].signature"}},
				{"certificate for key encipherment", [][]byte{sign("doc.xml", "-signer", "doctor-encipher.pem", "-inkey", "doctor.key"), orgSig},
					[]string{"INVALID_CERT_KEY_USAGE@signers[0].signature"}},
			} {
				t.Run(c.name, func(t *testing.T) {
					res := input{ev: ev, file: file, sigs: c.sigs, at: now.Add(time.Minute)}.check(ctx, checker)
					got := codes(res)
					want := append([]string(nil), c.want...)
					sort.Strings(want)
					if strings.Join(got, " ") != strings.Join(want, " ") {
						t.Errorf("problems\n got %v\nwant %v\n%v", got, want, res.Problems)
					}
					if c.want == nil && (len(res.Signers) != 2 || !res.Signers[0].Verified || res.Signers[0].Subject.SNILS != "12345678964" || res.Signers[1].Subject.OGRN == "") {
						t.Errorf("signers %+v", res.Signers)
					}
				})
			}
		})
	}
}

// TestCheckRefusesAnRSASignature: a CMS signature openssl makes with RSA,
// an algorithm РЭМД does not take.
func TestCheckRefusesAnRSASignature(t *testing.T) {
	testtool.Require(t, "openssl")
	ctx := context.Background()
	dir := t.TempDir()
	f := newFixture(t, signer.GOST2012_256)
	doc, err := f.pki.Make(ctx, event())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "doc.xml"), doc.File, 0o600); err != nil {
		t.Fatal(err)
	}
	testtool.OpenSSL(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-subj", "/CN=RSA/SNILS=12345678964",
		"-days", "1", "-out", "rsa.pem")
	doc.Signatures[0] = testtool.OpenSSL(t, dir, "cms", "-sign", "-binary", "-in", "doc.xml", "-signer", "rsa.pem", "-inkey", "rsa.key", "-outform", "DER")
	res := input{ev: doc.Event, file: doc.File, sigs: doc.Signatures, at: requestAt}.check(ctx, f.checker)
	if got := strings.Join(codes(res), " "); got != "UNKNOWN_ALGORITHM@signers[0].signature" {
		t.Errorf("problems %s (%v)", got, res.Problems)
	}
}
