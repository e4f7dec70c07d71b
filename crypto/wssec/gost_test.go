package wssec

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
	"github.com/egisz-gateway/egisz-gateway/crypto/xmldsig"
)

// keySigner is a signer.Signer over an in-process key and its certificate.
type keySigner struct {
	gostx509.DigestSigner
	cert *x509.Certificate
}

func (s keySigner) Certificate() *x509.Certificate { return s.cert }

// gostPKI is a test CA of alg, a signing certificate it issued and the
// chain verifier that trusts the CA, wired as TrustCertificate is meant to
// be in production.
type gostPKI struct {
	signer signer.Signer
	trust  func(*x509.Certificate) error
	ca     *x509.Certificate
}

func newGostPKI(t testing.TB, alg signer.Algorithm) gostPKI {
	t.Helper()
	ctx := context.Background()
	nb, na := time.Now().Add(-24*time.Hour), time.Now().Add(365*24*time.Hour)
	ca, err := gostx509.NewTestCA(ctx, alg, gostx509.Subject{CommonName: "Тестовый УЦ", Organization: "Test", Country: "RU"}, nb, na, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := ca.IssueKey(ctx, alg, gostx509.SigningTemplate(gostx509.Subject{CommonName: "МИС", Organization: "Клиника", Country: "RU"}, nb, na))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := gostx509.NewDigestSigner(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := gostx509.NewVerifier(gostx509.VerifierConfig{Roots: []*x509.Certificate{ca.Certificate}})
	if err != nil {
		t.Fatal(err)
	}
	trust := func(c *x509.Certificate) error {
		_, err := v.Verify(c, gostx509.VerifyOptions{KeyUsage: x509.KeyUsageDigitalSignature})
		return err
	}
	return gostPKI{signer: keySigner{DigestSigner: ds, cert: cert}, trust: trust, ca: ca.Certificate}
}

func TestGOSTSignVerify(t *testing.T) {
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512} {
		pki := newGostPKI(t, alg)
		other := newGostPKI(t, alg)
		for _, ver := range []Version{SOAP11, SOAP12} {
			t.Run(fmt.Sprintf("%v %v", alg, ver), func(t *testing.T) {
				doc, err := Sign(context.Background(), pki.signer, testEnvelope(ver), SignOptions{Now: t0})
				if err != nil {
					t.Fatal(err)
				}
				sigURI, digURI, _ := xmldsig.SigningURIs(alg)
				if !bytes.Contains(doc, []byte(`Algorithm="`+sigURI+`"`)) || !bytes.Contains(doc, []byte(`Algorithm="`+digURI+`"`)) {
					t.Fatalf("envelope does not name %s and %s", sigURI, digURI)
				}
				opts := VerifyOptions{TrustCertificate: pki.trust, Now: t0}
				v, err := Verify(doc, opts)
				if err != nil {
					t.Fatal(err)
				}
				if v.Algorithm != alg || v.Addressing.Action != "sendDocument" {
					t.Errorf("verified %v %+v", v.Algorithm, v.Addressing)
				}

				// the refusals hold for ГОСТ as for ECDSA
				if _, err := Verify(bytes.Replace(doc, []byte("текст"), []byte("ТЕКСТ"), 1), opts); !errors.Is(err, xmldsig.ErrDigestMismatch) {
					t.Errorf("tampered body: %v", err)
				}
				sv := []byte("<ds:SignatureValue>")
				i := bytes.Index(doc, sv) + len(sv)
				bad := append([]byte(nil), doc...)
				bad[i+5] ^= 'A' ^ 'B'
				if bad[i+5] == doc[i+5] {
					bad[i+5] = 'C'
				}
				if _, err := Verify(bad, opts); !errors.Is(err, xmldsig.ErrSignatureInvalid) && !errors.Is(err, xmldsig.ErrSignatureStructure) {
					t.Errorf("changed signature value: %v", err)
				}
				if _, err := Verify(doc, VerifyOptions{TrustCertificate: other.trust, Now: t0}); !errors.Is(err, ErrUntrusted) {
					t.Errorf("certificate of another CA: %v", err)
				}
				swapped := bytes.Replace(doc, []byte(base64.StdEncoding.EncodeToString(pki.signer.Certificate().Raw)),
					[]byte(base64.StdEncoding.EncodeToString(other.signer.Certificate().Raw)), 1)
				if _, err := Verify(swapped, VerifyOptions{TrustCertificate: other.trust, Now: t0}); !errors.Is(err, xmldsig.ErrSignatureInvalid) {
					t.Errorf("token swapped for a trusted other key: %v", err)
				}
			})
		}
	}
}

// The xmldsig-more URIs ИПС's peers may write verify as the CryptoPro ones.
func TestGOSTXmldsigMoreURIs(t *testing.T) {
	pki := newGostPKI(t, signer.GOST2012_256)
	doc, err := Sign(context.Background(), pki.signer, testEnvelope(SOAP12), SignOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	// Rename the URIs, then sign the renamed SignedInfo again.
	doc = bytes.ReplaceAll(doc, []byte(xmldsig.SignatureGOST2012_256), []byte(xmldsig.SignatureGOST2012_256More))
	doc = bytes.ReplaceAll(doc, []byte(xmldsig.DigestStreebog256), []byte(xmldsig.DigestStreebog256More))
	root, err := xmldsig.Parse(doc, xmldsig.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var si, sv *xmldsig.Element
	root.Walk(func(e *xmldsig.Element) bool {
		switch {
		case e.Is(xmldsig.NamespaceDSig, "SignedInfo"):
			si = e
		case e.Is(xmldsig.NamespaceDSig, "SignatureValue"):
			sv = e
		}
		return true
	})
	c, err := xmldsig.Canonicalize(si, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := signer.GOST2012_256.NewHash()
	h.Write(c)
	sig, err := pki.signer.SignDigest(context.Background(), h.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	sv.SetText(base64.StdEncoding.EncodeToString(sig))
	v, err := Verify(xmldsig.Serialize(root), VerifyOptions{TrustCertificate: pki.trust, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if v.Signature.SignatureMethod != xmldsig.SignatureGOST2012_256More || v.Signature.References[0].DigestMethod != xmldsig.DigestStreebog256More {
		t.Errorf("verified %+v", v.Signature)
	}
}

// An independent check of a ГОСТ-signed envelope: OpenSSL's ГОСТ engine
// computes each reference's Streebog digest over the exc-c14n bytes (which
// xmlsec1 confirms for ECDSA) and verifies the SignatureValue over the
// canonical SignedInfo with the certificate's key.
func TestGOSTEnvelopeAgreesWithOpenSSL(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	for _, tc := range []struct {
		alg signer.Algorithm
		md  string
	}{{signer.GOST2012_256, "-md_gost12_256"}, {signer.GOST2012_512, "-md_gost12_512"}} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			pki := newGostPKI(t, tc.alg)
			doc, err := Sign(context.Background(), pki.signer, testEnvelope(SOAP12), SignOptions{Now: t0})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			file := func(n string) string { return filepath.Join(dir, n) }
			write := func(n string, b []byte) {
				if err := os.WriteFile(file(n), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ssl := func(args ...string) []byte {
				out, err := exec.Command("openssl", args...).Output()
				if err != nil {
					t.Fatalf("openssl %v: %v", args, err)
				}
				return out
			}
			write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.signer.Certificate().Raw}))
			write("pub.pem", ssl("x509", "-engine", "gost", "-in", file("cert.pem"), "-pubkey", "-noout"))

			root, err := xmldsig.Parse(doc, xmldsig.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			ids := xmldsig.IndexIDs(root, wsuID)
			var si, sv *xmldsig.Element
			var refs []*xmldsig.Element
			root.Walk(func(e *xmldsig.Element) bool {
				switch {
				case e.Is(xmldsig.NamespaceDSig, "SignedInfo"):
					si = e
				case e.Is(xmldsig.NamespaceDSig, "SignatureValue"):
					sv = e
				case e.Is(xmldsig.NamespaceDSig, "Reference"):
					refs = append(refs, e)
				}
				return true
			})
			for _, r := range refs {
				uri, _ := r.AttrValue("", "URI")
				target, err := ids.Lookup(uri[1:])
				if err != nil {
					t.Fatal(err)
				}
				c, err := xmldsig.Canonicalize(target, nil)
				if err != nil {
					t.Fatal(err)
				}
				write("ref", c)
				want := base64.StdEncoding.EncodeToString(ssl("dgst", "-engine", "gost", tc.md, "-binary", file("ref")))
				if got := r.ChildrenNamed(xmldsig.NamespaceDSig, "DigestValue")[0].Text(); got != want {
					t.Errorf("%s: DigestValue %s, openssl's Streebog %s", uri, got, want)
				}
			}
			c, err := xmldsig.Canonicalize(si, nil)
			if err != nil {
				t.Fatal(err)
			}
			write("si", c)
			write("digest", ssl("dgst", "-engine", "gost", tc.md, "-binary", file("si")))
			sig, err := base64.StdEncoding.DecodeString(sv.Text())
			if err != nil {
				t.Fatal(err)
			}
			write("sig", sig)
			out, err := exec.Command("openssl", "pkeyutl", "-engine", "gost", "-verify", "-pubin", "-inkey", file("pub.pem"),
				"-in", file("digest"), "-sigfile", file("sig")).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("Verified Successfully")) {
				t.Fatalf("openssl does not verify the envelope's ГОСТ signature: %v\n%s", err, out)
			}
			sig[len(sig)/2] ^= 1
			write("sig", sig)
			if out, err := exec.Command("openssl", "pkeyutl", "-engine", "gost", "-verify", "-pubin", "-inkey", file("pub.pem"),
				"-in", file("digest"), "-sigfile", file("sig")).CombinedOutput(); err == nil && bytes.Contains(out, []byte("Verified Successfully")) {
				t.Fatal("openssl verified a changed signature: the check proves nothing")
			}
		})
	}
}
