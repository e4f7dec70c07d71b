package cms

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"github.com/egisz-gateway/egisz-gateway/internal/testtool"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/egisz-gateway/egisz-gateway/crypto/gostx509"
	"github.com/egisz-gateway/egisz-gateway/crypto/signer"
)

var allAlgorithms = []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512, signer.ECDSAP256SHA256}

func TestSignVerify(t *testing.T) {
	doc := document(50 << 10)
	for _, alg := range allAlgorithms {
		for _, v2 := range []bool{false, true} {
			name := alg.String()
			if v2 {
				name += " signingCertificateV2"
			}
			t.Run(name, func(t *testing.T) {
				p := newPKI(t, alg)
				at := t0.Add(-time.Hour)
				der, err := Sign(t.Context(), p.doctor, bytes.NewReader(doc), SignOptions{
					SigningTime: at, Certificates: []*x509.Certificate{p.inter.Certificate}, SigningCertificateV2: v2})
				if err != nil {
					t.Fatal(err)
				}
				res, err := Verify(der, bytes.NewReader(doc), Options{Verifier: p.verifier(t)})
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				h := alg.NewHash()
				h.Write(doc)
				if !bytes.Equal(res.Digest, h.Sum(nil)) {
					t.Error("Digest is not the document's digest")
				}
				if !res.Signer.Equal(p.doctor.Certificate()) || !res.SigningTime.Equal(at) || res.Algorithm != alg {
					t.Errorf("result %v %v %v", res.Signer.SerialNumber, res.SigningTime, res.Algorithm)
				}
				if len(res.Chain) != 3 {
					t.Errorf("chain of %d", len(res.Chain))
				}
				s, err := gostx509.SubjectOf(res.Signer)
				if err != nil || s.SNILS != doctor.SNILS {
					t.Errorf("signer's СНИЛС not read back: %v", err)
				}
				// The same file signed by another signer digests the same.
				q := newPKI(t, alg)
				der2, err := Sign(t.Context(), q.doctor, bytes.NewReader(doc), SignOptions{SigningTime: at})
				if err != nil {
					t.Fatal(err)
				}
				res2, err := Verify(der2, bytes.NewReader(doc), Options{})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(res.Digest, res2.Digest) {
					t.Error("two signatures of one file report different digests")
				}
			})
		}
	}
}

// TestOpenSSLSignsWeVerify: `openssl cms -sign` with the engine makes
// containers this package verifies, and the ones it must refuse are
// refused for the reason they have.
func TestOpenSSLSignsWeVerify(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	for _, alg := range []signer.Algorithm{signer.GOST2012_256, signer.GOST2012_512} {
		t.Run(alg.String(), func(t *testing.T) {
			md := map[signer.Algorithm]string{signer.GOST2012_256: "md_gost12_256", signer.GOST2012_512: "md_gost12_512"}[alg]
			p := newPKI(t, alg)
			second := newPKI(t, alg)
			dir := t.TempDir()
			doc := document(50 << 10)
			docFile := writeFile(t, dir, "doc.xml", doc)
			otherFile := writeFile(t, dir, "other.xml", append([]byte("!"), doc...))
			writeFile(t, dir, "signer.pem", pemCert(p.doctor.Certificate()))
			writeFile(t, dir, "signer.key", pemKey(t, p.doctorKey))
			writeFile(t, dir, "second.pem", pemCert(second.doctor.Certificate()))
			writeFile(t, dir, "second.key", pemKey(t, second.doctorKey))
			writeFile(t, dir, "inter.pem", pemCert(p.inter.Certificate))
			sign := func(extra ...string) []byte {
				args := append([]string{"cms", "-engine", "gost", "-sign", "-binary", "-in", docFile, "-md", md, "-outform", "DER"}, extra...)
				return testtool.OpenSSL(t, dir, args...)
			}
			plain := []string{"-signer", "signer.pem", "-inkey", "signer.key"}
			for _, tc := range []struct {
				name    string
				der     []byte
				content string
				want    error
			}{
				{"detached", sign(append(plain, "-certfile", "inter.pem")...), docFile, nil},
				{"subject key identifier", sign(append(plain, "-keyid", "-certfile", "inter.pem")...), docFile, nil},
				{"other content", sign(plain...), otherFile, ErrDigestMismatch},
				{"two signers", sign(append(plain, "-signer", "second.pem", "-inkey", "second.key")...), docFile, ErrMultipleSigners},
				{"no certificates", sign(append(plain, "-nocerts")...), docFile, ErrNoEndEntityCertificate},
				{"attached", sign(append(plain, "-nodetach")...), docFile, ErrNotDetached},
				{"no signed attributes", sign(append(plain, "-noattr")...), docFile, ErrNoSignedAttributes},
			} {
				t.Run(tc.name, func(t *testing.T) {
					content, err := os.Open(tc.content)
					if err != nil {
						t.Fatal(err)
					}
					defer content.Close()
					res, err := Verify(tc.der, content, Options{Verifier: p.verifier(t)})
					if !errors.Is(err, tc.want) {
						t.Fatalf("Verify: %v, want %v", err, tc.want)
					}
					if err == nil && (!res.Signer.Equal(p.doctor.Certificate()) || time.Since(res.SigningTime) > time.Hour) {
						t.Errorf("signer %v at %v", res.Signer.SerialNumber, res.SigningTime)
					}
				})
			}
		})
	}
}

// TestWeSignOpenSSLVerifies: containers made here pass `openssl cms
// -verify` against the root, and fail it over other content.
func TestWeSignOpenSSLVerifies(t *testing.T) {
	testtool.RequireOpenSSLGost(t)
	for _, alg := range allAlgorithms {
		for _, v2 := range []bool{false, true} {
			name := alg.String()
			if v2 {
				name += " signingCertificateV2"
			}
			t.Run(name, func(t *testing.T) {
				p := newPKI(t, alg)
				dir := t.TempDir()
				doc := document(50 << 10)
				writeFile(t, dir, "doc.xml", doc)
				writeFile(t, dir, "other.xml", append([]byte("!"), doc...))
				writeFile(t, dir, "root.pem", pemCert(p.root.Certificate))
				// Now: openssl checks the certificates at the clock's time.
				der, err := Sign(t.Context(), p.doctor, bytes.NewReader(doc), SignOptions{
					Certificates: []*x509.Certificate{p.inter.Certificate}, SigningCertificateV2: v2})
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, dir, "doc.p7s", der)
				args := []string{"cms", "-engine", "gost", "-verify", "-binary", "-inform", "DER", "-in", "doc.p7s",
					"-CAfile", "root.pem", "-out", os.DevNull, "-attime", fmt.Sprint(t0.Unix())}
				if _, err := testtool.RunOpenSSL(dir, append(args, "-content", "doc.xml")...); err != nil {
					t.Errorf("openssl cms -verify: %v", err)
				}
				_, err = testtool.RunOpenSSL(dir, append(args, "-content", "other.xml")...)
				if err == nil || !strings.Contains(err.Error(), "content verify error") {
					t.Errorf("openssl cms -verify over other content: %v", err)
				}
				// openssl reads our signed attributes as we wrote them.
				text := string(testtool.OpenSSL(t, dir, "cms", "-engine", "gost", "-cmsout", "-print", "-inform", "DER", "-in", "doc.p7s"))
				for _, want := range []string{"signingTime", "messageDigest", "contentType"} {
					if !strings.Contains(text, want) {
						t.Errorf("openssl -print lacks %s", want)
					}
				}
				if v2 != strings.Contains(text, "id-smime-aa-signingCertificateV2") {
					t.Errorf("signingCertificateV2 %v, openssl -print:\n%s", v2, text)
				}
			})
		}
	}
}

// TestSigningTimeEncodings: signing times before 2050 are UTCTime, later
// ones GeneralizedTime (RFC 5652 §11.3), and both read back.
func TestSigningTimeEncodings(t *testing.T) {
	p := newPKI(t, signer.GOST2012_256)
	for _, at := range []time.Time{t0, time.Date(2051, 3, 4, 5, 6, 7, 0, time.UTC)} {
		der, err := Sign(t.Context(), p.doctor, bytes.NewReader(nil), SignOptions{SigningTime: at})
		if err != nil {
			t.Fatal(err)
		}
		sd, err := Parse(der)
		if err != nil {
			t.Fatalf("%v: %v", at, err)
		}
		if !sd.SigningTime.Equal(at) {
			t.Errorf("signing time %v read back as %v", at, sd.SigningTime)
		}
		tag := byte(asn1.TagUTCTime)
		if at.Year() >= 2050 {
			tag = asn1.TagGeneralizedTime
		}
		enc, _ := asn1.MarshalWithParams(at, map[bool]string{true: "generalized", false: "utc"}[at.Year() >= 2050])
		if enc[0] != tag || !bytes.Contains(der, enc) {
			t.Errorf("%v not encoded as tag %d", at, tag)
		}
	}
}
